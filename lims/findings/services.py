"""Findings: recording them, the SWGDRUG gate, submission, four-eyes review and the snapshot.

Versions: an approved finding is amended by `reopen`, which copies it into a new draft version
that supersedes it. The old version stays "approved" (its certificate stays valid) until the new
version is approved; only then does the old one become "superseded".
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date

from flask import current_app
from sqlalchemy import func, or_, select

from lims.audit.services import as_text, canonical_json, record, record_changes
from lims.auth.access import can
from lims.auth.models import User
from lims.auth.services import confirm_password
from lims.custody.services import ensure_unblocked
from lims.db import MAX_ID, db, utcnow
from lims.errors import Conflict, Forbidden, Invalid, NotFound
from lims.esign.models import Signature
from lims.esign.services import record_signature, signatures_for
from lims.findings import sampling, scheme
from lims.findings.models import (
    EDITABLE,
    RESULTS,
    Finding,
    FindingSubstance,
    FindingTechnique,
)
from lims.intake.models import STATUS_TRANSITIONS, Sample
from lims.intake.services import change_status, get_sample, subject_of
from lims.library.models import LegalStatus, Substance, SubstanceSynonym
from lims.library.services import get_substance, legal_status_on
from lims.measurements.models import Measurement, SpectrumRecord
from lims.search.models import Search, SearchHit
from lims.spectra.processing import Recipe
from lims.units import format_weight

FINDING_FIELDS = ("result", "scope", "conclusion", "limitations", "cannabis",
                  "same_aliquot_reason")
SAMPLING_FIELDS = ("sampling_method", "population", "proportion", "confidence", "negatives",
                   "seed", "selected_units_json", "tested", "positives", "sampling_statement")
WEIGHT_FIELDS = ("net_weight_method", "unit_weights_json", "net_weight_mg", "net_weight_lower_mg",
                 "net_weight_upper_mg", "net_weight_confidence")
SUBJECT = "finding"


# --- reading -------------------------------------------------------------------------------


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
            problems.append(("techniques", f"The hit linked to {_technique_name(row)} (search"
                                           f" {row.search_hit.search_id}, rank"
                                           f" {row.search_hit.rank}) is no longer accepted."))
    if finding.sampling_method and (finding.tested is None or finding.positives is None):
        problems.append(("sampling", "Record how many of the selected units were tested and"
                                     " how many were positive."))
    return problems


# --- creating and editing ------------------------------------------------------------------


def _subject(finding: Finding) -> dict:
    return subject_of(finding.sample)


def _text(data: dict, name: str, limit: int = 10000) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Invalid(f"{name}: must be text.", name)
    value = value.strip()
    if len(value) > limit:
        raise Invalid(f"{name}: at most {limit} characters.", name)
    return value


def _flag(data: dict, name: str, default: bool) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise Invalid(f"{name}: must be true or false.", name)
    return value


def _clean_finding(data: dict) -> dict:
    result = data.get("result")
    if result not in RESULTS:
        raise Invalid(f"Choose the result: {', '.join(RESULTS)}.", "result")
    limitations = _text(data, "limitations")
    if not limitations:
        raise Invalid("State the limitations of the finding, or write “none”.", "limitations")
    return {"result": result, "scope": _text(data, "scope"),
            "conclusion": _text(data, "conclusion"), "limitations": limitations,
            "cannabis": _flag(data, "cannabis", False),
            "same_aliquot_reason": _text(data, "same_aliquot_reason") or None}


def _items(finding: Finding, data: dict, name: str, add) -> None:
    """Add each item of a list in the body, naming the item in any error."""
    items = data.get(name) or []
    if not isinstance(items, list):
        raise Invalid(f"{name}: give a list of objects.", name)
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise Invalid(f"{name}[{index}]: must be an object.", name)
        try:
            add(item)
        except Invalid as error:
            field = f"{name}[{index}].{error.field or ''}".rstrip(".")
            raise Invalid(f"{name}[{index}]: {error.message}", field) from error


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
    record(actor, "create", SUBJECT, finding.id, new=values, **_subject(finding))
    _items(finding, data, "techniques", lambda item: add_technique(actor, finding, item))
    _items(finding, data, "substances", lambda item: add_substance(actor, finding, item))
    for name, setter in (("sampling", set_sampling), ("net_weight", set_net_weight)):
        if data.get(name) is not None:
            if not isinstance(data[name], dict):
                raise Invalid(f"{name}: must be an object.", name)
            try:
                setter(actor, finding, data[name])
            except Invalid as error:
                raise Invalid(f"{name}: {error.message}", f"{name}.{error.field}") from error
    return finding


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


def update_finding(actor: User, finding: Finding, data: dict) -> dict:
    """Change the result, scope, conclusion, limitations or flags of a draft; audited."""
    check_editable(actor, finding)
    merged = {name: data.get(name, getattr(finding, name)) for name in FINDING_FIELDS}
    values = _clean_finding(merged)
    changes = {name: (getattr(finding, name), value) for name, value in values.items()
               if getattr(finding, name) != value}
    for name, (_old, new) in changes.items():
        setattr(finding, name, new)
    record_changes(actor, SUBJECT, finding.id, changes, reason=None, **_subject(finding))
    return changes


def _optional_id(data: dict, name: str) -> int | None:
    value = data.get(name)
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise Invalid(f"{name}: must be a number.", name) from None
    if not 0 < number <= MAX_ID:
        raise Invalid(f"{name}: no such record.", name)
    return number


def _clean_technique(finding: Finding, data: dict) -> dict:
    sample = finding.sample
    code = _text(data, "technique").upper()
    if code not in scheme.TECHNIQUES:
        raise Invalid(f"Unknown technique {code!r}; choose one of the catalogue"
                      f" ({', '.join(scheme.TECHNIQUES)}).", "technique")
    samples = {s.lab_number: s for s in family(sample)}
    ids = {s.id for s in samples.values()}
    measurement_id = _optional_id(data, "measurement_id")
    hit_id = _optional_id(data, "search_hit_id")
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
    aliquot = _text(data, "aliquot", 40).upper() or (
        measurement.sample.lab_number if measurement else sample.lab_number)
    if aliquot not in samples:
        raise Invalid(f"{aliquot} is not {sample.lab_number} or one of its sub-samples"
                      f" ({', '.join(samples)}).", "aliquot")
    if measurement is not None and measurement.sample.lab_number != aliquot:
        raise Invalid(f"Measurement {measurement.id} was made on"
                      f" {measurement.sample.lab_number}, not on {aliquot}.", "aliquot")
    run = _text(data, "run", 120) or (f"measurement {measurement.id}" if measurement else "")
    if not run:
        raise Invalid("Give the run reference (instrument run, plate or test record), or"
                      " attach the measurement.", "run")
    return {"technique": code, "positive": _flag(data, "positive", True), "aliquot": aliquot,
            "run": run, "measurement_id": measurement.id if measurement else None,
            "search_hit_id": hit_id, "method_ref": _text(data, "method_ref", 200),
            "note": _text(data, "note", 2000)}


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
           new={"row": row.id, **values}, **_subject(finding))
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
           **_subject(finding))


def _find_substance(data: dict) -> Substance:
    substance_id = _optional_id(data, "substance_id")
    if substance_id is not None:
        try:
            return get_substance(substance_id)
        except NotFound:
            raise Invalid(f"No substance {substance_id}.", "substance_id") from None
    name = _text(data, "substance", 255)
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


def _percent(data: dict, name: str) -> float | None:
    value = data.get(name)
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise Invalid(f"{name}: must be a number of percent.", name) from None
    if not 0 <= number <= 100:
        raise Invalid(f"{name}: must be between 0 and 100 %.", name)
    return number


def add_substance(actor: User, finding: Finding, data: dict) -> FindingSubstance:
    """Add an identified substance with its salt form and purity (where determined)."""
    check_editable(actor, finding)
    substance = _find_substance(data)
    if any(row.substance_id == substance.id for row in finding.substances):
        raise Invalid(f"{substance.name} is already in this finding.", "substance_id")
    purity = _percent(data, "purity_percent")
    uncertainty = _percent(data, "purity_uncertainty_percent")
    if uncertainty is not None and purity is None:
        raise Invalid("Give the purity that the uncertainty belongs to.", "purity_percent")
    row = FindingSubstance(substance=substance, salt_form=_text(data, "salt_form", 120),
                           purity_percent=purity, purity_uncertainty_percent=uncertainty,
                           position=_next_position(finding.substances))
    finding.substances.append(row)
    db.session.flush()
    record(actor, "substance_added", SUBJECT, finding.id, field="substances",
           new={"row": row.id, "substance": substance.name, "salt_form": row.salt_form,
                "purity_percent": _num(purity), "uncertainty": _num(uncertainty)},
           **_subject(finding))
    _refresh_statement(finding)
    return row


def remove_substance(actor: User, finding: Finding, substance_row_id: int) -> None:
    """Remove an identified substance from a draft."""
    check_editable(actor, finding)
    row = _row(finding.substances, substance_row_id, "substance", finding)
    finding.substances.remove(row)
    record(actor, "substance_removed", SUBJECT, finding.id, field="substances",
           old={"row": row.id, "substance": row.substance.name}, **_subject(finding))
    _refresh_statement(finding)


# --- sampling and net weight ---------------------------------------------------------------


def _value_error(error: ValueError) -> Invalid:
    """The pure modules say 'field: message'; keep the field for the form."""
    field, _, message = str(error).partition(": ")
    return Invalid(message[:1].upper() + message[1:] if message else field,
                   field if message else None)


def _whole(data: dict, name: str, default: int | None = None) -> int | None:
    value = data.get(name, default)
    if value in (None, ""):
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise Invalid(f"{name}: must be a whole number of 0 or more.", name)
    return value


def _fraction(data: dict, name: str, default: float) -> float:
    value = data.get(name, default)
    if value in (None, ""):
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise Invalid(f"{name}: must be a number between 0 and 1 (e.g. 0.9).", name)
    return float(value)


def plan_from(data: dict) -> sampling.SamplingPlan:
    """The sampling plan for the method, N, k, confidence and negatives given (not stored)."""
    method = data.get("method")
    if method not in sampling.METHODS:
        raise Invalid(f"Choose a sampling method: {', '.join(sampling.METHODS)}.", "method")
    population = _whole(data, "population")
    if not population:
        raise Invalid("Give the number of units in the item, at least 1.", "population")
    try:
        return sampling.sampling_plan(method, population, _fraction(data, "proportion", 0.9),
                                      _fraction(data, "confidence", 0.95),
                                      _whole(data, "negatives", 0))
    except ValueError as error:
        raise _value_error(error) from error


def compare_plans(data: dict) -> list[sampling.SamplingPlan]:
    """The three statistical plans side by side for the same claim (calculator preview)."""
    return [plan_from({**data, "method": method}) for method in sampling.STATISTICAL]


@dataclass(frozen=True)
class SamplingPreview:
    """What the calculator shows before the plan is saved."""

    plan: sampling.SamplingPlan
    comparison: list[sampling.SamplingPlan]
    seed: int | None
    units: list[int]


def preview_sampling(data: dict) -> SamplingPreview:
    """The plan, the three statistical plans for comparison and the units a seed selects."""
    plan = plan_from(data)
    seed, units = _whole(data, "seed"), []
    if plan.reachable:
        try:
            seed, units = sampling.select_units(plan.population, plan.sample_size, seed)
        except ValueError as error:
            raise _value_error(error) from error
    return SamplingPreview(plan, compare_plans(data), seed, units)


def _stored_plan(finding: Finding) -> sampling.SamplingPlan:
    return plan_from({"method": finding.sampling_method, "population": finding.population,
                      "proportion": finding.proportion, "confidence": finding.confidence,
                      "negatives": finding.negatives})


def _statement(finding: Finding) -> str:
    """The sampling sentence once the outcome is known, else ''."""
    if not finding.sampling_method or finding.tested is None or finding.positives is None:
        return ""
    names = " and ".join(row.substance.name for row in finding.substances)
    outcome = sampling.SamplingOutcome(names or "a controlled substance", finding.tested,
                                       finding.positives, seed=finding.seed)
    try:
        return sampling.statement(_stored_plan(finding), outcome)
    except ValueError as error:
        raise _value_error(error) from error


def _refresh_statement(finding: Finding) -> None:
    finding.sampling_statement = _statement(finding)


def set_sampling(actor: User, finding: Finding, data: dict) -> sampling.SamplingPlan:
    """Compute the plan, select the units at random (seed stored) and write the statement."""
    check_editable(actor, finding)
    plan = plan_from(data)
    if not plan.reachable:
        raise Invalid(plan.reason, "method")
    seed = _whole(data, "seed")
    if seed is None and finding.population == plan.population:
        seed = finding.seed  # the units chosen earlier may be tested already: keep them
    try:
        seed, units = sampling.select_units(plan.population, plan.sample_size, seed)
    except ValueError as error:
        raise _value_error(error) from error
    tested, positives = _whole(data, "tested"), _whole(data, "positives")
    if (tested is None) != (positives is None):
        raise Invalid("Give both the units tested and the positives, or neither yet.",
                      "tested" if tested is None else "positives")
    if tested is not None and not 1 <= tested <= plan.population:
        raise Invalid(f"Between 1 and {plan.population} units can be tested.", "tested")
    if positives is not None and positives > tested:
        raise Invalid("There cannot be more positives than units tested.", "positives")
    old = {name: getattr(finding, name) for name in SAMPLING_FIELDS}
    statistical = plan.method in sampling.STATISTICAL
    finding.sampling_method, finding.population = plan.method, plan.population
    finding.proportion = plan.proportion if statistical else None
    finding.confidence = plan.confidence if statistical else None
    finding.negatives = plan.negatives
    finding.seed, finding.selected_units_json = seed, json.dumps(units)
    finding.tested, finding.positives = tested, positives
    _refresh_statement(finding)
    new = {name: getattr(finding, name) for name in SAMPLING_FIELDS}
    record(actor, "sampling_set", SUBJECT, finding.id, field="sampling",
           old=_plain(old) if old["sampling_method"] else None, new=_plain(new),
           **_subject(finding))
    if finding.unit_weights_mg and old["population"] != finding.population:
        # An extrapolated net weight scales with the number of units: store it anew, so that
        # the page, the snapshot and the certificate keep showing the same figure.
        set_net_weight(actor, finding, _stored_weight_data(finding))
    return plan


def weight_from(finding: Finding, data: dict) -> sampling.NetWeight:
    """The net weight: a measured total, or extrapolated from unit weights (not stored)."""
    method = data.get("method")
    if method == "measured":
        total = _whole(data, "net_weight_mg")
        if total is None:
            raise Invalid("Give the total net weight measured.", "net_weight_mg")
        return sampling.NetWeight(total, total, total, None,
                                  f"Measured: total net weight {format_weight(total)}.",
                                  measured=True)
    if method != "extrapolated":
        raise Invalid("Choose measured or extrapolated.", "method")
    weights = data.get("unit_weights_mg") or []
    population = _whole(data, "population") or finding.population or finding.sample.unit_count
    if finding.population and population != finding.population:
        raise Invalid(f"The sampling plan counts {finding.population} units, not"
                      f" {population}.", "population")
    interval = data.get("interval") or "two-sided"
    try:
        return sampling.extrapolate_net_weight(weights, population,
                                               _fraction(data, "confidence", 0.95), interval)
    except ValueError as error:
        raise _value_error(error) from error


def _stored_weight_data(finding: Finding) -> dict:
    """The net-weight inputs as stored, in the form set_net_weight takes them."""
    if not finding.unit_weights_mg:
        return {"method": "measured", "net_weight_mg": finding.net_weight_mg}
    interval = "lower" if finding.net_weight_upper_mg is None else "two-sided"
    return {"method": "extrapolated", "unit_weights_mg": finding.unit_weights_mg,
            "population": finding.population,
            "confidence": finding.net_weight_confidence or 0.95, "interval": interval}


def net_weight_of(finding: Finding) -> sampling.NetWeight | None:
    """The stored net weight with the description of how it was obtained."""
    if finding.net_weight_method is None:
        return None
    return weight_from(finding, _stored_weight_data(finding))


def set_net_weight(actor: User, finding: Finding, data: dict) -> sampling.NetWeight:
    """Store the net weight: measured total, or extrapolated from the weighed units."""
    check_editable(actor, finding)
    weight = weight_from(finding, data)
    old = {name: getattr(finding, name) for name in WEIGHT_FIELDS}
    extrapolated = data.get("method") == "extrapolated"
    if extrapolated and not finding.population:
        finding.population = _whole(data, "population") or finding.sample.unit_count
    finding.net_weight_method = "measured" if weight.measured else "extrapolated"
    finding.unit_weights_json = json.dumps(list(data.get("unit_weights_mg") or [])
                                           if extrapolated else [])
    finding.net_weight_mg, finding.net_weight_lower_mg = weight.estimate_mg, weight.lower_mg
    finding.net_weight_upper_mg = weight.upper_mg
    finding.net_weight_confidence = weight.confidence
    new = {name: getattr(finding, name) for name in WEIGHT_FIELDS}
    record(actor, "net_weight_set", SUBJECT, finding.id, field="net_weight",
           old=_plain(old) if old["net_weight_method"] else None, new=_plain(new),
           **_subject(finding))
    return weight


# --- submission and review -----------------------------------------------------------------


def _set_status(actor: User, finding: Finding, status: str, reason: str | None = None) -> None:
    record(actor, "status", SUBJECT, finding.id, field="status", old=finding.status, new=status,
           reason=reason, **_subject(finding))
    finding.status = status


def _sign(actor: User, finding: Finding, meaning: str, digest: str) -> Signature:
    return record_signature(actor, meaning=meaning, subject_type=SUBJECT,
                            subject_id=str(finding.id), content_sha256=digest,
                            **_subject(finding))


def submit(actor: User, finding: Finding, password: str) -> Signature:
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
    confirm_password(actor, password)  # before any write: a wrong password writes nothing else
    finding.submitted_at = utcnow()
    finding.reviewed_by, finding.reviewed_at = None, None
    _set_status(actor, finding, "submitted")
    return _sign(actor, finding, "performed", finding_sha256(finding))


def check_reviewer(actor: User, finding: Finding) -> None:
    """Refuse a review by the author, by a role that may not review, or of an unsubmitted one."""
    if actor.id == finding.author_id:
        raise Forbidden("The author cannot review their own finding.")
    if not can(actor, "finding.review"):
        raise Forbidden("Your role may not review findings (finding.review).")
    if finding.status != "submitted":
        raise Conflict(f"Finding {finding.id} is {finding.status}; only a submitted finding"
                       f" can be reviewed.")


def approve(actor: User, finding: Finding, password: str) -> tuple[Signature, Signature]:
    """A second person signs the finding as reviewed and approved over the same hash."""
    check_reviewer(actor, finding)
    ensure_unblocked(finding.sample)
    problems = readiness(finding)
    if problems:
        raise Invalid(" ".join(message for _, message in problems), problems[0][0])
    confirm_password(actor, password)
    digest = finding_sha256(finding)
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


def return_finding(actor: User, finding: Finding, password: str, reason: str) -> None:
    """A reviewer sends the finding back to its author with the reason."""
    check_reviewer(actor, finding)
    reason = (reason or "").strip()
    if not reason:
        raise Invalid("Give the reason for returning the finding to its author.", "reason")
    confirm_password(actor, password)
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
           reason=reason, **_subject(new))
    return new


# --- the snapshot --------------------------------------------------------------------------


def _num(value: float | None) -> str | None:
    """Fractional numbers as exact text: the canonical JSON of the audit trail has no floats."""
    return None if value is None else repr(float(value))


def _plain(values: dict) -> dict:
    return {name: _num(value) if isinstance(value, float) else value
            for name, value in values.items()}


def _technique_name(row: FindingTechnique) -> str:
    return scheme.TECHNIQUES[row.technique].name


def _measurement_json(measurement: Measurement | None) -> dict | None:
    if measurement is None:
        return None
    instrument = measurement.instrument
    return {"id": measurement.id,
            "instrument": instrument.name if instrument else None,
            "instrument_model": instrument.model if instrument else None,
            "instrument_serial": instrument.serial if instrument else None,
            "calibration_due": as_text(instrument.calibration_due) if instrument else None,
            "out_of_calibration": measurement.out_of_calibration,
            "acquired_at": as_text(measurement.acquired_at),
            "raw_sha256": measurement.raw_sha256, "filename": measurement.original_filename}


def _search_json(hit: SearchHit | None) -> dict | None:
    if hit is None:
        return None
    search = hit.search
    spectrum: SpectrumRecord = search.spectrum
    recipe = Recipe.from_dict(search.recipe).describe(x_unit=spectrum.x_unit, kind=spectrum.kind)
    return {"search_id": search.id, "library": search.library_name,
            "library_version": search.library_version, "library_sha256": search.library_sha256,
            "algorithm": search.algorithm, "algorithm_label": search.algorithm_label,
            "recipe_summary": recipe, "rank": hit.rank, "substance": hit.substance_name,
            "score": _num(hit.score), "raw": _num(hit.raw), "spectrum_id": search.spectrum_id,
            "entry_id": hit.entry_id}


def finding_snapshot(finding: Finding) -> dict:
    """The reviewed content as plain JSON-ready values (fractional numbers as exact text)."""
    day = legal_status_date(finding)
    result = gate(finding)
    return {
        "finding_id": finding.id, "version": finding.version, "result": finding.result,
        "scope": finding.scope, "conclusion": finding.conclusion,
        "limitations": finding.limitations,
        "substances": [{
            "name": row.substance.name, "cas": row.substance.cas,
            "formula": row.substance.formula, "salt_form": row.salt_form,
            "purity_percent": _num(row.purity_percent),
            "purity_uncertainty_percent": _num(row.purity_uncertainty_percent),
            "legal_status": [{"regime": status.regime, "schedule": status.schedule,
                              "effective_from": status.effective_from.isoformat(),
                              "reference": status.reference}
                             for status in legal_status_on(row.substance, day)],
        } for row in finding.substances],
        "legal_status_date": day.isoformat(),
        "techniques": [{
            "code": row.technique, "name": _technique_name(row),
            "category": scheme.TECHNIQUES[row.technique].category, "positive": row.positive,
            "aliquot": row.aliquot, "run": row.run, "method_ref": row.method_ref,
            "measurement": _measurement_json(row.measurement),
            "search": _search_json(row.search_hit),
        } for row in finding.techniques],
        "scheme": {"ok": result.ok, "rule": result.rule,
                   "counted": [{"code": t.code, "name": t.name, "category": t.category}
                               for t in result.counted],
                   "notes": list(result.notes)},
        "sampling": None if not finding.sampling_method else {
            "method": finding.sampling_method, "population": finding.population,
            "proportion": _num(finding.proportion), "confidence": _num(finding.confidence),
            "negatives": finding.negatives, "seed": finding.seed,
            "selected_units": finding.selected_units, "tested": finding.tested,
            "positives": finding.positives, "statement": finding.sampling_statement},
        "net_weight": None if not finding.net_weight_method else {
            "method": finding.net_weight_method, "value_mg": finding.net_weight_mg,
            "lower_mg": finding.net_weight_lower_mg, "upper_mg": finding.net_weight_upper_mg,
            "confidence": _num(finding.net_weight_confidence)},
        "author": {"name": finding.author.full_name, "username": finding.author.username},
        "submitted_at": as_text(finding.submitted_at),
        "amendment_reason": finding.amendment_reason,
        "supersedes_finding_id": finding.supersedes_id,
    }


def finding_sha256(finding: Finding) -> str:
    """SHA-256 of the canonical JSON of the finding's snapshot: what the signatures bind."""
    return hashlib.sha256(canonical_json(finding_snapshot(finding)).encode()).hexdigest()
