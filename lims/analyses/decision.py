"""Decision rules for statements of conformity (ISO/IEC 17025 7.8.6) per ILAC-G8:09/2019.

The rules and the guard band w follow ILAC-G8:09/2019 section 4.2 and the EURACHEM/CITAC
guide "Use of uncertainty information in compliance assessment" (2nd ed., 2021): U is the
expanded uncertainty (U = k·u) and w = r·U for a stated multiple r (r = 1 by default). A
specification is an upper limit, a lower limit or both (a two-sided tolerance interval); a
value exactly on an acceptance limit is inside the zone it closes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum


class Verdict(Enum):
    """The outcome a report states."""

    PASS = "pass"
    CONDITIONAL_PASS = "conditional pass"
    CONDITIONAL_FAIL = "conditional fail"
    FAIL = "fail"


class Rule(Enum):
    """A decision rule, with the name and the clause a report cites."""

    SIMPLE_ACCEPTANCE = ("simple acceptance (shared risk, w = 0)", "ILAC-G8:09/2019 4.2.1")
    GUARDED_ACCEPTANCE = ("guarded acceptance (binary, acceptance limit = TL ∓ w)",
                          "ILAC-G8:09/2019 4.2.2")
    GUARDED_REJECTION = ("guarded rejection (binary, rejection limit = TL ± w)",
                         "EURACHEM/CITAC guide, 2nd ed. 2021")
    NON_BINARY = ("non-binary statement with guard band (pass, conditional pass, "
                  "conditional fail, fail)", "ILAC-G8:09/2019 4.2.3")

    @property
    def label(self) -> str:
        """The rule's name as printed."""
        return self.value[0]

    @property
    def reference(self) -> str:
        """The clause the rule comes from."""
        return self.value[1]


@dataclass(frozen=True)
class Decision:
    """A verdict, the rule that gave it and the sentence a report prints."""

    verdict: Verdict
    rule: Rule
    statement: str


def _at_least(margin: float, bound: float) -> bool:
    """Whether margin >= bound, treating decimal round-off (40.3 - 40.2 vs 0.1) as equality."""
    return margin >= bound or math.isclose(margin, bound, rel_tol=1e-9, abs_tol=1e-12)


def _verdict(rule: Rule, margin: float, w: float) -> Verdict:
    """The verdict from the distance inside the tolerance zone (negative outside it)."""
    if rule is Rule.SIMPLE_ACCEPTANCE:
        return Verdict.PASS if _at_least(margin, 0.0) else Verdict.FAIL
    if rule is Rule.GUARDED_ACCEPTANCE:
        return Verdict.PASS if _at_least(margin, w) else Verdict.FAIL
    if rule is Rule.GUARDED_REJECTION:
        return Verdict.PASS if _at_least(margin, -w) else Verdict.FAIL
    if _at_least(margin, w):
        return Verdict.PASS
    if _at_least(margin, 0.0):
        return Verdict.CONDITIONAL_PASS
    return Verdict.CONDITIONAL_FAIL if _at_least(margin, -w) else Verdict.FAIL


def _specification(lower: float | None, upper: float | None, unit: str) -> str:
    """The tolerance zone in words."""
    if lower is not None and upper is not None:
        return f"the tolerance interval {lower:g} to {upper:g} {unit}"
    return f"the upper limit {upper:g} {unit}" if upper is not None else \
        f"the lower limit {lower:g} {unit}"


def decide(value: float, uncertainty: float, *, rule: Rule, lower: float | None = None,
           upper: float | None = None, guard_multiple: float = 1.0, unit: str = "") -> Decision:
    """Apply a decision rule to a measured value with expanded uncertainty U (same unit)."""
    if lower is None and upper is None:
        raise ValueError("lower or upper: give at least one tolerance limit")
    if lower is not None and upper is not None and lower >= upper:
        raise ValueError(f"lower {lower:g} must be below upper {upper:g}")
    if not uncertainty >= 0 or not math.isfinite(uncertainty):
        raise ValueError(f"uncertainty {uncertainty} must be a finite expanded uncertainty >= 0")
    if not guard_multiple >= 0 or not math.isfinite(guard_multiple):
        raise ValueError(f"guard_multiple {guard_multiple} must be finite and >= 0")
    if not math.isfinite(value):
        raise ValueError(f"value {value} must be a finite number")
    w = 0.0 if rule is Rule.SIMPLE_ACCEPTANCE else guard_multiple * uncertainty
    if rule is Rule.GUARDED_ACCEPTANCE and lower is not None and upper is not None \
            and not upper - lower > 2 * w:
        raise ValueError(f"guard band w = {w:g} {unit} leaves no acceptance zone between "
                         f"{lower:g} and {upper:g} {unit}")
    margins = [m for m in (None if upper is None else upper - value,
                           None if lower is None else value - lower) if m is not None]
    verdict = _verdict(rule, min(margins), w)
    guard = "" if rule is Rule.SIMPLE_ACCEPTANCE else \
        f", guard band w = {guard_multiple:g} × U = {w:g} {unit}"
    statement = (f"{verdict.value.capitalize()}: the measured value {value:g} {unit} "
                 f"(expanded uncertainty U = {uncertainty:g} {unit}) was assessed against "
                 f"{_specification(lower, upper, unit)} under the decision rule "
                 f"{rule.label}, {rule.reference}{guard}.")
    return Decision(verdict, rule, " ".join(statement.split()))


@dataclass(frozen=True)
class StrengthTolerance:
    """A legal tolerance (± % vol) on the labelled alcoholic strength, with its source."""

    tolerance: float
    products: str
    reference: str


_ANNEX_XII = "Regulation (EU) No 1169/2011, Art. 28(2) and Annex XII, point "
# Regulation (EU) No 1169/2011 Annex XII (positive or negative tolerances, absolute values,
# "without prejudice to the tolerances deriving from the method of analysis"). Spirit drinks
# have no row of their own and fall under point 4. Wine of CN 2204 is labelled under
# Delegated Regulation (EU) 2019/33, Art. 44, whose figures we could not verify: left out.
LABELLED_STRENGTH_TOLERANCES = {
    "beer_up_to_5_5": StrengthTolerance(
        0.5, "beer of CN 2203 00 up to 5.5 % vol; still beverages of CN 2206 00 from grapes",
        _ANNEX_XII + "1"),
    "beer_over_5_5": StrengthTolerance(
        1.0, "beer over 5.5 % vol; sparkling beverages of CN 2206 00 from grapes, cider, "
        "perry, fruit wine and similar, mead", _ANNEX_XII + "2"),
    "macerated": StrengthTolerance(
        1.5, "beverages containing macerated fruit or parts of plants", _ANNEX_XII + "3"),
    "spirit_drinks_and_other": StrengthTolerance(
        0.3, "spirit drinks and any other beverage over 1.2 % vol", _ANNEX_XII + "4"),
}


def declared_strength_decision(found: float, uncertainty: float, declared: float,
                               category: str, *, rule: Rule,
                               guard_multiple: float = 1.0) -> Decision:
    """Decide found against the labelled strength ± its legal tolerance (all in % vol)."""
    if category not in LABELLED_STRENGTH_TOLERANCES:
        raise ValueError(f"category {category!r} is not one of "
                         f"{', '.join(sorted(LABELLED_STRENGTH_TOLERANCES))}")
    legal = LABELLED_STRENGTH_TOLERANCES[category]
    decision = decide(found, uncertainty, rule=rule, lower=declared - legal.tolerance,
                      upper=declared + legal.tolerance, guard_multiple=guard_multiple,
                      unit="% vol")
    statement = (f"{decision.statement} Labelled {declared:g} % vol, legal tolerance "
                 f"± {legal.tolerance:g} % vol ({legal.reference}).")
    return Decision(decision.verdict, rule, statement)
