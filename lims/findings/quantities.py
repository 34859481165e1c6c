"""Sampling plan and net weight of a finding: previews (not stored) and audited setters."""

from __future__ import annotations

import json
from dataclasses import dataclass

from lims.audit.services import record
from lims.auth.models import User
from lims.errors import Invalid
from lims.findings import sampling
from lims.findings.models import Finding
from lims.findings.reading import SUBJECT, audit_subject, check_editable
from lims.findings.snapshot import plain
from lims.units import format_weight

SAMPLING_FIELDS = ("sampling_method", "population", "proportion", "confidence", "negatives",
                   "seed", "selected_units_json", "tested", "positives", "sampling_statement")


WEIGHT_FIELDS = ("net_weight_method", "unit_weights_json", "net_weight_mg", "net_weight_lower_mg",
                 "net_weight_upper_mg", "net_weight_confidence")


def _value_error(error: ValueError) -> Invalid:
    """The pure modules say 'field: message'; keep the field for the form."""
    field, _, message = str(error).partition(": ")
    return Invalid(message[:1].upper() + message[1:] if message else field,
                   field if message else None)


def plan_from(data: dict) -> sampling.SamplingPlan:
    """The sampling plan for the method, N, k, confidence and negatives given (not stored)."""
    try:
        return sampling.sampling_plan(data["method"], data["population"],
                                      data.get("proportion") or 0.9,
                                      data.get("confidence") or 0.95, data.get("negatives") or 0)
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
    seed, units = data.get("seed"), []
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


def refresh_statement(finding: Finding) -> None:
    """Rewrite the stored sampling sentence after a change to the plan, outcome or substances."""
    finding.sampling_statement = _statement(finding)


def set_sampling(actor: User, finding: Finding, data: dict) -> sampling.SamplingPlan:
    """Compute the plan, select the units at random (seed stored) and write the statement."""
    check_editable(actor, finding)
    plan = plan_from(data)
    if not plan.reachable:
        raise Invalid(plan.reason, "method")
    seed = data.get("seed")
    if seed is None and finding.population == plan.population:
        seed = finding.seed  # the units chosen earlier may be tested already: keep them
    try:
        seed, units = sampling.select_units(plan.population, plan.sample_size, seed)
    except ValueError as error:
        raise _value_error(error) from error
    tested, positives = data.get("tested"), data.get("positives")
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
    refresh_statement(finding)
    new = {name: getattr(finding, name) for name in SAMPLING_FIELDS}
    record(actor, "sampling_set", SUBJECT, finding.id, field="sampling",
           old=plain(old) if old["sampling_method"] else None, new=plain(new),
           **audit_subject(finding))
    if finding.unit_weights_mg and old["population"] != finding.population:
        # An extrapolated net weight scales with the number of units: store it anew, so that
        # the page, the snapshot and the certificate keep showing the same figure.
        set_net_weight(actor, finding, _stored_weight_data(finding))
    return plan


def weight_from(finding: Finding, data: dict) -> sampling.NetWeight:
    """The net weight: a measured total, or extrapolated from unit weights (not stored)."""
    method = data.get("method")
    if method == "measured":
        total = data.get("net_weight_mg")
        if total is None:
            raise Invalid("Give the total net weight measured.", "net_weight_mg")
        return sampling.NetWeight(total, total, total, None,
                                  f"Measured: total net weight {format_weight(total)}.",
                                  measured=True)
    if method != "extrapolated":
        raise Invalid("Choose measured or extrapolated.", "method")
    weights = data.get("unit_weights_mg") or []
    population = data.get("population") or finding.population or finding.sample.unit_count
    if finding.population and population != finding.population:
        raise Invalid(f"The sampling plan counts {finding.population} units, not"
                      f" {population}.", "population")
    interval = data.get("interval") or "two-sided"
    try:
        return sampling.extrapolate_net_weight(weights, population,
                                               data.get("confidence") or 0.95, interval)
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
        finding.population = data.get("population") or finding.sample.unit_count
    finding.net_weight_method = "measured" if weight.measured else "extrapolated"
    finding.unit_weights_json = json.dumps(list(data.get("unit_weights_mg") or [])
                                           if extrapolated else [])
    finding.net_weight_mg, finding.net_weight_lower_mg = weight.estimate_mg, weight.lower_mg
    finding.net_weight_upper_mg = weight.upper_mg
    finding.net_weight_confidence = weight.confidence
    new = {name: getattr(finding, name) for name in WEIGHT_FIELDS}
    record(actor, "net_weight_set", SUBJECT, finding.id, field="net_weight",
           old=plain(old) if old["net_weight_method"] else None, new=plain(new),
           **audit_subject(finding))
    return weight
