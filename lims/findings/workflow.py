"""Finding workflow: create and edit, technique and substance rows, submit, review, amend.

Versions: an approved finding is amended by `reopen`, which copies it into a new draft version
that supersedes it. The old version stays "approved" (its certificate stays valid) until the new
version is approved; only then does the old one become "superseded".
"""

from __future__ import annotations

import json
from contextlib import contextmanager

from sqlalchemy import func, or_, select

from lims.audit.services import canonical_json, record, record_changes
from lims.auth.models import User
from lims.custody.services import ensure_unblocked
from lims.db import db, utcnow
from lims.errors import Conflict, Forbidden, Invalid, NotFound
from lims.esign.models import Signature
from lims.esign.services import confirm_signer, record_signature, signatures_for
from lims.findings.models import EDITABLE, Finding, FindingSubstance, FindingTechnique
from lims.findings.quantities import (
    SAMPLING_FIELDS,
    WEIGHT_FIELDS,
    refresh_statement,
    set_net_weight,
    set_sampling,
)
from lims.findings.reading import (
    SUBJECT,
    audit_subject,
    check_editable,
    check_reviewer,
    current_finding,
    family,
    readiness,
)
from lims.findings.snapshot import (
    changes_between,
    exact,
    finding_snapshot,
    sha256_of,
    signed_snapshot,
)
from lims.intake.models import STATUS_TRANSITIONS, Sample
from lims.intake.services import change_status
from lims.library.models import Substance, SubstanceSynonym
from lims.library.services import get_substance
from lims.measurements.models import Measurement
from lims.search.models import SearchHit

FINDING_FIELDS = ("result", "scope", "conclusion", "limitations", "cannabis",
                  "same_aliquot_reason")


def _stripped(data: dict, name: str) -> str:
    """A text value as the forms validated it, stripped ('' when absent)."""
    return (data.get(name) or "").strip()


def _clean_finding(data: dict) -> dict:
    return {"result": data["result"], "scope": _stripped(data, "scope"),
            "conclusion": _stripped(data, "conclusion"),
            "limitations": _stripped(data, "limitations"),
            "cannabis": bool(data.get("cannabis")),
            "same_aliquot_reason": _stripped(data, "same_aliquot_reason") or None}


@contextmanager
def _named(part: str):
    """Name the part of a request body (e.g. techniques[1]) in a refusal raised inside."""
    try:
        yield
    except Invalid as error:
        field = f"{part}.{error.field or ''}".rstrip(".")
        raise Invalid(f"{part}: {error.message}", field) from error


def create_finding(actor: User, sample: Sample, data: dict) -> Finding:
    """Start the finding of a sample (optionally with substances, techniques, sampling, weight)."""
    ensure_unblocked(sample)
    existing = current_finding(sample)
    if existing is not None:
        raise Conflict(f"{sample.lab_number} already has finding {existing.id} (version"
                       f" {existing.version}, {existing.status}); change or amend that one.")
    values = _clean_finding(data)
    finding = Finding(sample=sample, version=1, status="draft", author=actor,
                      created_at=utcnow(), negatives=0, selected_units_json="[]",
                      unit_weights_json="[]", sampling_statement="", **values)
    db.session.add(finding)
    db.session.flush()
    record(actor, "create", SUBJECT, finding.id, new=values, **audit_subject(finding))
    for name, add in (("techniques", add_technique), ("substances", add_substance)):
        for index, item in enumerate(data.get(name) or []):
            with _named(f"{name}[{index}]"):
                add(actor, finding, item)
    for name, setter in (("sampling", set_sampling), ("net_weight", set_net_weight)):
        if data.get(name) is not None:
            with _named(name):
                setter(actor, finding, data[name])
    return finding


def update_finding(actor: User, finding: Finding, data: dict) -> dict:
    """Change the result, scope, conclusion, limitations or flags of a draft; audited."""
    check_editable(actor, finding)
    merged = {name: data.get(name, getattr(finding, name)) for name in FINDING_FIELDS}
    values = _clean_finding(merged)
    changes = {name: (getattr(finding, name), value) for name, value in values.items()
               if getattr(finding, name) != value}
    for name, (_old, new) in changes.items():
        setattr(finding, name, new)
    record_changes(actor, SUBJECT, finding.id, changes, reason=None, **audit_subject(finding))
    return changes


def _clean_technique(finding: Finding, data: dict) -> dict:
    sample = finding.sample
    code = data["technique"]
    samples = {s.lab_number: s for s in family(sample)}
    ids = {s.id for s in samples.values()}
    measurement_id, hit_id = data.get("measurement_id"), data.get("search_hit_id")
    measurement = None
    if measurement_id is not None:
        measurement = db.session.get(Measurement, measurement_id)
        if measurement is None or measurement.sample_id not in ids:
            raise Invalid(f"Measurement {measurement_id} was not made on {sample.lab_number}"
                          f" or its sub-samples.", "measurement_id")
    if hit_id is not None:
        hit = db.session.get(SearchHit, hit_id)
        if hit is None or hit.search.sample_id not in ids:
            raise Invalid(f"No library hit {hit_id} on the spectra of {sample.lab_number}.",
                          "search_hit_id")
        if hit.decision != "accepted":
            raise Invalid(f"Hit {hit.rank} of search {hit.search_id} ({hit.substance_name}) is"
                          f" not accepted; only accepted hits can support a finding.",
                          "search_hit_id")
        searched = hit.search.spectrum.measurement
        if measurement is not None and measurement.id != searched.id:
            raise Invalid(f"The hit comes from measurement {searched.id}, not"
                          f" {measurement.id}.", "search_hit_id")
        measurement = searched
    aliquot = _stripped(data, "aliquot").upper() or (
        measurement.sample.lab_number if measurement else sample.lab_number)
    if aliquot not in samples:
        raise Invalid(f"{aliquot} is not {sample.lab_number} or one of its sub-samples"
                      f" ({', '.join(samples)}).", "aliquot")
    if measurement is not None and measurement.sample.lab_number != aliquot:
        raise Invalid(f"Measurement {measurement.id} was made on"
                      f" {measurement.sample.lab_number}, not on {aliquot}.", "aliquot")
    run = _stripped(data, "run") or (f"measurement {measurement.id}" if measurement else "")
    if not run:
        raise Invalid("Give the run reference (instrument run, plate or test record), or"
                      " attach the measurement.", "run")
    return {"technique": code, "positive": data.get("positive", True), "aliquot": aliquot,
            "run": run, "measurement_id": measurement.id if measurement else None,
            "search_hit_id": hit_id, "method_ref": _stripped(data, "method_ref"),
            "note": _stripped(data, "note")}


def _next_position(rows) -> int:
    return max((row.position for row in rows), default=0) + 1


def add_technique(actor: User, finding: Finding, data: dict) -> FindingTechnique:
    """Add one technique result (with its measurement and accepted hit, if any)."""
    check_editable(actor, finding)
    values = _clean_technique(finding, data)
    row = FindingTechnique(**values, position=_next_position(finding.techniques))
    finding.techniques.append(row)
    db.session.flush()
    record(actor, "technique_added", SUBJECT, finding.id, field="techniques",
           new={"row": row.id, **values}, **audit_subject(finding))
    return row


def _row(rows, row_id: int, what: str, finding: Finding):
    for row in rows:
        if row.id == row_id:
            return row
    raise NotFound(f"Finding {finding.id} has no {what} row {row_id}.", f"{what}_id")


def remove_technique(actor: User, finding: Finding, technique_id: int) -> None:
    """Remove one technique result from a draft."""
    check_editable(actor, finding)
    row = _row(finding.techniques, technique_id, "technique", finding)
    finding.techniques.remove(row)
    record(actor, "technique_removed", SUBJECT, finding.id, field="techniques",
           old={"row": row.id, "technique": row.technique, "run": row.run},
           **audit_subject(finding))


def _find_substance(data: dict) -> Substance:
    substance_id = data.get("substance_id")
    if substance_id is not None:
        try:
            return get_substance(substance_id)
        except NotFound:
            raise Invalid(f"No substance {substance_id}.", "substance_id") from None
    name = _stripped(data, "substance")
    if not name:
        raise Invalid("Choose the substance identified.", "substance_id")
    key = name.lower()
    found = db.session.scalar(select(Substance).where(
        or_(func.lower(Substance.name) == key, Substance.cas == name)))
    found = found or db.session.scalar(select(Substance).join(SubstanceSynonym).where(
        func.lower(SubstanceSynonym.name) == key).limit(1))
    if found is None:
        raise Invalid(f"No substance {name!r} in the substance register; add it there first.",
                      "substance")
    return found


def add_substance(actor: User, finding: Finding, data: dict) -> FindingSubstance:
    """Add an identified substance with its salt form and purity (where determined)."""
    check_editable(actor, finding)
    substance = _find_substance(data)
    if any(row.substance_id == substance.id for row in finding.substances):
        raise Invalid(f"{substance.name} is already in this finding.", "substance_id")
    purity, uncertainty = data.get("purity_percent"), data.get("purity_uncertainty_percent")
    if uncertainty is not None and purity is None:
        raise Invalid("Give the purity that the uncertainty belongs to.", "purity_percent")
    row = FindingSubstance(substance=substance, salt_form=_stripped(data, "salt_form"),
                           purity_percent=purity, purity_uncertainty_percent=uncertainty,
                           position=_next_position(finding.substances))
    finding.substances.append(row)
    db.session.flush()
    record(actor, "substance_added", SUBJECT, finding.id, field="substances",
           new={"row": row.id, "substance": substance.name, "salt_form": row.salt_form,
                "purity_percent": exact(purity), "uncertainty": exact(uncertainty)},
           **audit_subject(finding))
    refresh_statement(finding)
    return row


def remove_substance(actor: User, finding: Finding, substance_row_id: int) -> None:
    """Remove an identified substance from a draft."""
    check_editable(actor, finding)
    row = _row(finding.substances, substance_row_id, "substance", finding)
    finding.substances.remove(row)
    record(actor, "substance_removed", SUBJECT, finding.id, field="substances",
           old={"row": row.id, "substance": row.substance.name}, **audit_subject(finding))
    refresh_statement(finding)


# --- submission and review -----------------------------------------------------------------


def _set_status(actor: User, finding: Finding, status: str, reason: str | None = None) -> None:
    record(actor, "status", SUBJECT, finding.id, field="status", old=finding.status, new=status,
           reason=reason, **audit_subject(finding))
    finding.status = status


def _sign(actor: User, finding: Finding, meaning: str, digest: str) -> Signature:
    return record_signature(actor, meaning=meaning, subject_type=SUBJECT,
                            subject_id=str(finding.id), content_sha256=digest,
                            **audit_subject(finding))


def submit(actor: User, finding: Finding, password: str, code: str = "") -> Signature:
    """The author signs the finding as performed; an identification must pass the gate."""
    if finding.status not in EDITABLE:
        raise Conflict(f"Finding {finding.id} is {finding.status}; it cannot be submitted.")
    if actor.id != finding.author_id:
        raise Forbidden(f"Only the author, {finding.author.full_name}, can submit finding"
                        f" {finding.id}.")
    ensure_unblocked(finding.sample)
    problems = readiness(finding)
    if problems:
        raise Invalid(" ".join(message for _, message in problems), problems[0][0])
    confirm_signer(actor, password, code)  # before any write: a wrong one writes nothing else
    finding.submitted_at = utcnow()
    finding.reviewed_by, finding.reviewed_at = None, None
    _set_status(actor, finding, "submitted")
    # Frozen here: what the author signs is what the reviewer approves and the certificate prints.
    finding.submitted_snapshot = canonical_json(finding_snapshot(finding))
    return _sign(actor, finding, "performed", sha256_of(finding.submitted_snapshot))


def _signed_by_author(finding: Finding) -> str:
    """The content hash of the author's latest "performed" signature, checked against now.

    Refused (409, naming what changed) when the finding as it reads now, or its frozen copy,
    is not what the author signed: e.g. a substance renamed after submission.
    """
    performed = [s for s in signatures_for(SUBJECT, str(finding.id)) if s.meaning == "performed"]
    if not performed:
        raise Conflict(f"Finding {finding.id} carries no author's signature.", "finding")
    signed = performed[-1].content_sha256
    frozen = finding.submitted_snapshot
    if frozen is not None and sha256_of(frozen) != signed:
        raise Conflict(f"Finding {finding.id}: the stored copy of what the author signed does "
                       "not match the signature; it cannot be approved.", "finding")
    live = canonical_json(finding_snapshot(finding))
    if sha256_of(live) != signed:
        changed = changes_between(signed_snapshot(finding), json.loads(live)) if frozen else []
        what = "; ".join(changed[:5]) + (f" (and {len(changed) - 5} more)"
                                         if len(changed) > 5 else "")
        raise Conflict(f"Finding {finding.id} changed after its author signed it"
                       f"{': ' + what if what else ''}. Return it so that the author checks "
                       "and signs it again.", "finding")
    return signed


def approve(actor: User, finding: Finding, password: str,
            code: str = "") -> tuple[Signature, Signature]:
    """A second person signs the finding as reviewed and approved over the same hash."""
    check_reviewer(actor, finding)
    ensure_unblocked(finding.sample)
    problems = readiness(finding)
    if problems:
        raise Invalid(" ".join(message for _, message in problems), problems[0][0])
    digest = _signed_by_author(finding)  # before the password: a refusal writes nothing
    confirm_signer(actor, password, code)
    signed = (_sign(actor, finding, "reviewed", digest), _sign(actor, finding, "approved", digest))
    finding.reviewed_by, finding.reviewed_at = actor, utcnow()
    finding.snapshot_sha256 = digest
    _set_status(actor, finding, "approved")
    old = finding.supersedes
    if old is not None and old.status == "approved":
        _set_status(actor, old, "superseded", reason=f"Amended by finding {finding.id}")
    sample = finding.sample
    if "reported" in STATUS_TRANSITIONS[sample.status]:
        change_status(actor, sample, "reported",
                      f"Finding {finding.id} (version {finding.version}) approved")
    return signed


def return_finding(actor: User, finding: Finding, password: str, reason: str,
                   code: str = "") -> None:
    """A reviewer sends the finding back to its author with the reason."""
    check_reviewer(actor, finding)
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("Give the reason for returning the finding to its author.", "reason")
    confirm_signer(actor, password, code)
    finding.reviewed_by, finding.reviewed_at = actor, utcnow()
    finding.return_reason = reason
    _set_status(actor, finding, "returned", reason=reason)


def reopen(actor: User, finding: Finding, reason: str) -> Finding:
    """A new draft version of an approved finding (the old one stays approved until then)."""
    if finding.status != "approved":
        raise Conflict(f"Finding {finding.id} is {finding.status}; only an approved finding"
                       f" can be amended.")
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("Give the reason for the amendment.", "reason")
    newest = current_finding(finding.sample)
    if newest.id != finding.id:
        raise Conflict(f"Finding {finding.id} is already being amended by finding {newest.id}.")
    copied = {name: getattr(finding, name)
              for name in FINDING_FIELDS + SAMPLING_FIELDS + WEIGHT_FIELDS}
    substances, techniques = list(finding.substances), list(finding.techniques)
    new = Finding(sample=finding.sample, version=finding.version + 1, supersedes=finding,
                  amendment_reason=reason, status="draft", author=finding.author,
                  created_at=utcnow(), **copied)
    new.substances = [FindingSubstance(substance_id=row.substance_id, salt_form=row.salt_form,
                                       purity_percent=row.purity_percent,
                                       purity_uncertainty_percent=row.purity_uncertainty_percent,
                                       position=row.position) for row in substances]
    new.techniques = [FindingTechnique(technique=row.technique, positive=row.positive,
                                       aliquot=row.aliquot, run=row.run,
                                       measurement_id=row.measurement_id,
                                       search_hit_id=row.search_hit_id,
                                       method_ref=row.method_ref, note=row.note,
                                       position=row.position) for row in techniques]
    db.session.add(new)
    db.session.flush()
    record(actor, "amend", SUBJECT, new.id, new={"supersedes": finding.id,
                                                 "version": new.version},
           reason=reason, **audit_subject(new))
    return new
