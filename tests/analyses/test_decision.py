"""Decision rules at and around the limits: exactly on them, at ±U, inside and outside w."""

import pytest

from lims.analyses.decision import (
    LABELLED_STRENGTH_TOLERANCES,
    Rule,
    Verdict,
    decide,
    declared_strength_decision,
)

P, CP, CF, F = Verdict.PASS, Verdict.CONDITIONAL_PASS, Verdict.CONDITIONAL_FAIL, Verdict.FAIL
U = 0.1  # expanded uncertainty; the upper limit is 10.0, so TL - U = 9.9 and TL + U = 10.1
UPPER_CASES = [
    # value, simple, guarded acceptance, guarded rejection, non-binary
    (9.8, P, P, P, P),     # well inside, beyond the guard band
    (9.9, P, P, P, P),     # exactly TL - w: the acceptance limit is inside
    (9.95, P, F, P, CP),   # inside the guard band below the limit
    (10.0, P, F, P, CP),   # exactly on the limit
    (10.05, F, F, P, CF),  # just above the limit, within w
    (10.1, F, F, P, CF),   # exactly TL + w: the rejection limit
    (10.2, F, F, F, F),    # beyond the guard band
]
RULES = (Rule.SIMPLE_ACCEPTANCE, Rule.GUARDED_ACCEPTANCE, Rule.GUARDED_REJECTION,
         Rule.NON_BINARY)


@pytest.mark.parametrize(("value", *[r.name for r in RULES]), UPPER_CASES)
def test_upper_limit(value, SIMPLE_ACCEPTANCE, GUARDED_ACCEPTANCE, GUARDED_REJECTION,
                     NON_BINARY):
    expected = (SIMPLE_ACCEPTANCE, GUARDED_ACCEPTANCE, GUARDED_REJECTION, NON_BINARY)
    got = tuple(decide(value, U, rule=rule, upper=10.0).verdict for rule in RULES)
    assert got == expected


@pytest.mark.parametrize(("value", *[r.name for r in RULES]), UPPER_CASES)
def test_lower_limit_mirrors_the_upper(value, SIMPLE_ACCEPTANCE, GUARDED_ACCEPTANCE,
                                       GUARDED_REJECTION, NON_BINARY):
    expected = (SIMPLE_ACCEPTANCE, GUARDED_ACCEPTANCE, GUARDED_REJECTION, NON_BINARY)
    mirrored = round(20.0 - value, 10)  # 9.9 above the limit 10 becomes 10.1 below it
    got = tuple(decide(mirrored, U, rule=rule, lower=10.0).verdict for rule in RULES)
    assert got == expected


@pytest.mark.parametrize(("value", "simple", "guarded", "non_binary"), [
    (39.7, P, F, CP), (39.8, P, P, P), (40.0, P, P, P), (40.2, P, P, P),
    (40.25, P, F, CP), (40.3, P, F, CP), (40.35, F, F, CF), (40.5, F, F, F), (39.5, F, F, F),
])
def test_two_sided_interval(value, simple, guarded, non_binary):
    def verdict(rule):
        return decide(value, U, rule=rule, lower=39.7, upper=40.3).verdict
    assert (verdict(Rule.SIMPLE_ACCEPTANCE), verdict(Rule.GUARDED_ACCEPTANCE),
            verdict(Rule.NON_BINARY)) == (simple, guarded, non_binary)


def test_a_stated_multiple_widens_the_guard_band():
    assert decide(9.85, U, rule=Rule.GUARDED_ACCEPTANCE, upper=10.0).verdict is P
    decision = decide(9.85, U, rule=Rule.GUARDED_ACCEPTANCE, upper=10.0, guard_multiple=2)
    assert decision.verdict is F
    assert "guard band w = 2 × U = 0.2" in decision.statement


def test_the_statement_names_the_verdict_rule_and_specification():
    decision = decide(10.05, U, rule=Rule.NON_BINARY, upper=10.0, unit="mg/L")
    assert decision.rule is Rule.NON_BINARY
    assert decision.statement.startswith("Conditional fail: the measured value 10.05 mg/L")
    assert "U = 0.1 mg/L" in decision.statement
    assert "the upper limit 10 mg/L" in decision.statement
    assert "ILAC-G8:09/2019 4.2.3" in decision.statement
    simple = decide(9.0, U, rule=Rule.SIMPLE_ACCEPTANCE, lower=5.0, upper=10.0, unit="mg/L")
    assert "the tolerance interval 5 to 10 mg/L" in simple.statement
    assert "simple acceptance" in simple.statement and "guard band" not in simple.statement


def test_spirit_drink_labelled_40_percent_against_the_legal_tolerance():
    legal = LABELLED_STRENGTH_TOLERANCES["spirit_drinks_and_other"]
    assert legal.tolerance == 0.3 and "Annex XII, point 4" in legal.reference
    inside = declared_strength_decision(39.75, 0.05, 40.0, "spirit_drinks_and_other",
                                        rule=Rule.GUARDED_ACCEPTANCE)
    assert inside.verdict is P
    assert "Labelled 40 % vol, legal tolerance ± 0.3 % vol" in inside.statement
    in_band = declared_strength_decision(39.72, 0.05, 40.0, "spirit_drinks_and_other",
                                         rule=Rule.GUARDED_ACCEPTANCE)
    assert in_band.verdict is F
    beer = declared_strength_decision(5.4, 0.05, 5.0, "beer_up_to_5_5",
                                      rule=Rule.SIMPLE_ACCEPTANCE)
    assert beer.verdict is P


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"upper": None}, "lower or upper"),
    ({"lower": 10.0, "upper": 9.0}, "lower 10 must be below upper 9"),
    ({"upper": 10.0, "uncertainty": -0.1}, "uncertainty -0.1"),
    ({"upper": 10.0, "guard_multiple": -1}, "guard_multiple -1"),
    ({"lower": 9.9, "upper": 10.0, "rule": Rule.GUARDED_ACCEPTANCE}, "no acceptance zone"),
])
def test_bad_input_names_the_parameter(kwargs, words):
    arguments = {"uncertainty": U, "rule": Rule.SIMPLE_ACCEPTANCE, **kwargs}
    with pytest.raises(ValueError, match=words):
        decide(9.95, **arguments)


def test_an_unknown_product_category_lists_the_known_ones():
    with pytest.raises(ValueError, match="category 'wine' is not one of beer_over_5_5"):
        declared_strength_decision(12.0, 0.1, 12.5, "wine", rule=Rule.SIMPLE_ACCEPTANCE)
