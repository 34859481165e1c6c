"""Reading findings: scoped lookups, legal status, the SWGDRUG gate, readiness, the guards."""

from __future__ import annotations

from datetime import date

from flask import current_app
from sqlalchemy import select

from lims.auth.access import can
from lims.auth.models import User
from lims.custody.services import ensure_unblocked
from lims.db import db
from lims.errors import Conflict, Forbidden, NotFound
from lims.esign.models import Signature
from lims.esign.services import signatures_for
from lims.findings import scheme
from lims.findings.models import EDITABLE, Finding, FindingSubstance, FindingTechnique
from lims.intake.models import Sample
from lims.intake.services import get_sample, subject_of
from lims.library.models import LegalStatus
from lims.library.services import legal_status_on
from lims.measurements.models import Measurement
from lims.search.models import Search, SearchHit

SUBJECT = "finding"


def get_finding(user: User, finding_id: int) -> Finding:
    """A finding the user may see (through its sample's case), or NotFound."""
    finding = db.session.get(Finding, finding_id)
    if finding is None:
        raise NotFound(f"No finding {finding_id}.")
    try:
        get_sample(user, finding.sample.lab_number)
    except NotFound:
        raise NotFound(f"No finding {finding_id}.") from None
    return finding


def findings_of(sample: Sample) -> list[Finding]:
    """Every version of every finding of a sample, oldest first."""
    return list(db.session.scalars(select(Finding).where(Finding.sample_id == sample.id)
                                   .order_by(Finding.version, Finding.id)))


def current_finding(sample: Sample) -> Finding | None:
    """The newest version of the sample's finding, or None."""
    return db.session.scalar(select(Finding).where(Finding.sample_id == sample.id)
                             .order_by(Finding.version.desc()).limit(1))


def signatures(finding: Finding) -> list[Signature]:
    """The electronic signatures of a finding, oldest first."""
    return signatures_for(SUBJECT, str(finding.id))


def family(sample: Sample) -> list[Sample]:
    """The sample and all its sub-samples and aliquots, depth first."""
    out, todo = [], [sample]
    while todo:
        current = todo.pop(0)
        out.append(current)
        todo[:0] = current.children
    return out


def linkable_measurements(sample: Sample) -> list[Measurement]:
    """Measurements of the sample and its sub-samples, newest first."""
    ids = [s.id for s in family(sample)]
    return list(db.session.scalars(select(Measurement).where(Measurement.sample_id.in_(ids))
                                   .order_by(Measurement.id.desc())))


def linkable_hits(sample: Sample) -> list[SearchHit]:
    """Accepted library hits of searches of the spectra of the sample and its sub-samples."""
    ids = [s.id for s in family(sample)]
    return list(db.session.scalars(
        select(SearchHit).join(Search).where(Search.sample_id.in_(ids),
                                             SearchHit.decision == "accepted")
        .order_by(Search.id, SearchHit.rank)))


def legal_status_date(finding: Finding) -> date:
    """The day legal status is judged on: the seizure date, else the receipt date (lab zone)."""
    case = finding.sample.case
    when = case.seized_at or case.received_at
    return when.astimezone(current_app.config["LIMS"].timezone).date()


def legal_statuses(finding: Finding) -> list[tuple[FindingSubstance, list[LegalStatus]]]:
    """Each identified substance with the control-list entries in force on the seizure date."""
    day = legal_status_date(finding)
    return [(row, legal_status_on(row.substance, day)) for row in finding.substances]


def gate(finding: Finding) -> scheme.GateResult:
    """The SWGDRUG gate over the finding's technique results (reviewable: data attached)."""
    results = [scheme.SchemeResult(t.technique, t.positive, t.aliquot, t.run,
                                   reviewable=t.measurement_id is not None)
               for t in finding.techniques]
    return scheme.evaluate(results, cannabis=finding.cannabis,
                           same_aliquot_reason=finding.same_aliquot_reason)


def technique_name(row: FindingTechnique) -> str:
    """The catalogue name of a technique row."""
    return scheme.TECHNIQUES[row.technique].name


def readiness(finding: Finding) -> list[tuple[str, str]]:
    """What still stops submission or approval, as (field, message); empty when ready."""
    problems = []
    if not finding.conclusion.strip():
        problems.append(("conclusion", "Write the conclusion."))
    if finding.result == "identified":
        if not finding.substances:
            problems.append(("substances", "Name the substance identified."))
        result = gate(finding)
        if not result.ok:
            problems.append(("techniques", " ".join(result.missing)))
    elif finding.result == "not_detected":
        if not finding.scope.strip():
            problems.append(("scope", "State the scope of the scheme: which substances or"
                                      " classes it would have detected."))
        if finding.substances:
            problems.append(("substances", "Remove the substances: none was detected."))
    for row in finding.techniques:
        if row.search_hit is not None and row.search_hit.decision != "accepted":
            problems.append(("techniques", f"The hit linked to {technique_name(row)} (search"
                                           f" {row.search_hit.search_id}, rank"
                                           f" {row.search_hit.rank}) is no longer accepted."))
    if finding.sampling_method and (finding.tested is None or finding.positives is None):
        problems.append(("sampling", "Record how many of the selected units were tested and"
                                     " how many were positive."))
    return problems


def audit_subject(finding: Finding) -> dict:
    """The case and sample keys of a finding's audit entries."""
    return subject_of(finding.sample)


def check_editable(actor: User, finding: Finding) -> None:
    """Refuse changes unless the finding is a draft or returned and the actor is its author."""
    if finding.status not in EDITABLE:
        hint = " Amend it through its certificate." if finding.status == "approved" else ""
        raise Conflict(f"Finding {finding.id} is {finding.status}; it can no longer be"
                       f" changed.{hint}")
    if actor.id != finding.author_id:
        raise Forbidden(f"Only the author, {finding.author.full_name}, can change finding"
                        f" {finding.id}.")
    ensure_unblocked(finding.sample)


def check_reviewer(actor: User, finding: Finding) -> None:
    """Refuse a review by the author, by a role that may not review, or of an unsubmitted one."""
    if actor.id == finding.author_id:
        raise Forbidden("The author cannot review their own finding.")
    if not can(actor, "finding.review"):
        raise Forbidden("Your role may not review findings (finding.review).")
    if finding.status != "submitted":
        raise Conflict(f"Finding {finding.id} is {finding.status}; only a submitted finding"
                       f" can be reviewed.")
