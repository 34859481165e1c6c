"""The investigator's view of their cases: status, a timeline, certificates and custody."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from lims.auth.models import User
from lims.certificates.models import Certificate
from lims.custody.services import timeline
from lims.db import db
from lims.findings.models import Finding
from lims.intake.models import SAMPLE_STATUSES, Case, Sample
from lims.intake.services import visible_cases
from lims.measurements.models import Instrument, Measurement


@dataclass(frozen=True)
class CaseRow:
    """One line of the investigator's case list."""

    case: Case
    n_samples: int
    status: str
    n_certificates: int


@dataclass(frozen=True)
class Milestone:
    """One dated step of a case: `lane` is 'Case', a lab number or 'Certificates'."""

    at: datetime
    lane: str
    kind: str
    text: str


def status_summary(counts: dict[str, int]) -> str:
    """Sample statuses of a case in workflow order, e.g. '2 reported · 1 in analysis'."""
    parts = [f"{counts[s]} {s.replace('_', ' ')}" for s in SAMPLE_STATUSES if counts.get(s)]
    return " · ".join(parts) or "no items yet"


def my_cases(user: User) -> list[CaseRow]:
    """The cases visible to the user, newest first, with item counts and certificates."""
    cases = list(db.session.scalars(visible_cases(user).order_by(Case.received_at.desc(),
                                                                  Case.id.desc())))
    ids = [case.id for case in cases]
    statuses: dict[int, dict[str, int]] = {case_id: {} for case_id in ids}
    for case_id, status, count in db.session.execute(
            select(Sample.case_id, Sample.status, func.count(Sample.id))
            .where(Sample.case_id.in_(ids)).group_by(Sample.case_id, Sample.status)):
        statuses[case_id][status] = count
    certificates = dict(db.session.execute(
        select(Certificate.case_id, func.count(Certificate.id))
        .where(Certificate.case_id.in_(ids), Certificate.status == "issued")
        .group_by(Certificate.case_id)).all())
    return [CaseRow(case, sum(statuses[case.id].values()), status_summary(statuses[case.id]),
                    certificates.get(case.id, 0)) for case in cases]


def _custody_text(event) -> str:
    kind = event.event_type.replace("_", " ")
    text = f"{kind}: {event.from_label} → {event.to_label}"
    if not event.seal_ok:
        text += " (seal discrepancy)"
    return text


def case_timeline(case: Case) -> list[Milestone]:
    """Receipt, custody events, measurements, findings and certificates of a case, by time."""
    steps = [Milestone(case.received_at, "Case", "received",
                       f"Case received from {case.customs_office}")]
    by_id = {sample.id: sample.lab_number for sample in case.samples}
    for sample in case.samples:
        steps += [Milestone(event.occurred_at, sample.lab_number, "custody",
                            _custody_text(event)) for event in timeline(sample)]
    for sample_id, technique, at in db.session.execute(
            select(Measurement.sample_id, Instrument.technique, Measurement.uploaded_at)
            .outerjoin(Instrument).where(Measurement.sample_id.in_(by_id))):
        steps.append(Milestone(at, by_id[sample_id], "analysis",
                               f"{technique or 'Instrument'} measurement recorded"))
    steps += _finding_steps(by_id) + _certificate_steps(case)
    return sorted(steps, key=lambda step: step.at)


def timeline_lanes(case: Case, steps: list[Milestone]) -> list[str]:
    """Rows of the timeline picture: the case, each item, then certificates if any."""
    lanes = ["Case", *(sample.lab_number for sample in case.samples)]
    return lanes + (["Certificates"] if any(s.lane == "Certificates" for s in steps) else [])


def _finding_steps(by_id: dict[int, str]) -> list[Milestone]:
    steps = []
    for row in db.session.execute(
            select(Finding.sample_id, Finding.version, Finding.status, Finding.submitted_at,
                   Finding.reviewed_at).where(Finding.sample_id.in_(by_id))):
        lane = by_id[row.sample_id]
        if row.submitted_at is not None:
            steps.append(Milestone(row.submitted_at, lane, "finding",
                                   f"Finding version {row.version} submitted for review"))
        if row.reviewed_at is not None and row.status in ("approved", "superseded"):
            steps.append(Milestone(row.reviewed_at, lane, "finding",
                                   f"Finding version {row.version} approved"))
    return steps


def _certificate_steps(case: Case) -> list[Milestone]:
    steps = []
    for cert in db.session.scalars(select(Certificate).where(Certificate.case_id == case.id)
                                   .order_by(Certificate.id)):
        verb = "issued, amending an earlier certificate" if cert.amends_id else "issued"
        steps.append(Milestone(cert.issued_at, "Certificates", "certificate",
                               f"Certificate {cert.number} {verb}"))
        if cert.withdrawn_at is not None:
            steps.append(Milestone(cert.withdrawn_at, "Certificates", "withdrawn",
                                   f"Certificate {cert.number} withdrawn: "
                                   f"{cert.withdrawal_reason}"))
    return steps
