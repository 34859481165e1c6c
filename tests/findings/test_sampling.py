import math

import pytest

from lims.findings.sampling import (
    SamplingOutcome,
    arbitrary_plan,
    bayesian_plan,
    binomial_plan,
    extrapolate_net_weight,
    hypergeometric_plan,
    sampling_plan,
    select_units,
    statement,
    supports,
)

# DOMAIN.md 2.5, 95 % confidence and k = 90 % unless stated. Columns: HG 0/1/2 negatives,
# HG 0 negatives with K0 = TRUNC(kN), BB (beta-binomial, uniform prior) 0/1/2 negatives,
# HG 95 %/50 %, HG 95 %/75 %, HG 99 %/90 %. None is the table's "—" (cannot be reached).
# One cell differs from the document, on purpose: BB 0 negatives at N = 15 is 11, not 12. With
# n = 11 all positive, the 4 untested units follow BetaBinomial(4, 12, 1) and 14 positives are
# needed, so R >= 3: P(R = 4) = B(16, 1)/B(12, 1) = 12/16 = 0.75 and
# P(R = 3) = 4·B(15, 2)/B(12, 1) = 4·12/(16·15) = 0.20, together exactly 0.95, which meets
# "P >= 1 - alpha" (DOMAIN.md 2.4). The table's 12 is a floating-point tie read as 0.9499...
REFERENCE = {
    10: (8, 10, None, 10, 8, 10, None, 3, 6, 9),
    15: (12, 15, None, 12, 11, 15, None, 4, 8, 13),
    20: (12, 17, 20, 16, 12, 17, 20, 4, 7, 15),
    25: (16, 22, 25, 16, 15, 22, 25, 4, 8, 19),
    30: (15, 22, 27, 19, 15, 22, 27, 4, 9, 20),
    40: (18, 26, 32, 21, 17, 26, 32, 4, 9, 23),
    50: (19, 29, 36, 22, 19, 28, 36, 4, 9, 26),
    60: (20, 31, 39, 23, 20, 30, 39, 4, 9, 28),
    75: (23, 35, 44, 23, 22, 34, 44, 5, 10, 32),
    100: (23, 36, 46, 25, 22, 35, 46, 5, 10, 33),
    150: (25, 39, 50, 26, 24, 38, 50, 5, 10, 36),
    200: (26, 40, 53, 27, 25, 39, 52, 5, 10, 38),
    300: (27, 42, 55, 28, 26, 41, 55, 5, 11, 40),
    500: (28, 44, 58, 28, 27, 43, 57, 5, 11, 41),
    1000: (28, 45, 59, 29, 27, 44, 58, 5, 11, 43),
    10000: (29, 46, 61, 29, 28, 45, 60, 5, 11, 44),
}


@pytest.mark.parametrize("population", REFERENCE)
def test_reference_table(population):
    expected = REFERENCE[population]
    got = (
        *(hypergeometric_plan(population, negatives=x).sample_size for x in range(3)),
        hypergeometric_plan(population, boundary="trunc").sample_size,
        *(bayesian_plan(negatives=x, population=population).sample_size for x in range(3)),
        hypergeometric_plan(population, proportion=0.5).sample_size,
        hypergeometric_plan(population, proportion=0.75).sample_size,
        hypergeometric_plan(population, confidence=0.99).sample_size,
    )
    assert got == expected


def test_beta_binomial_tie_at_n15_is_reached():
    assert bayesian_plan(population=15).sample_size == 11
    assert not supports(bayesian_plan(population=15), 10, 0)


@pytest.mark.parametrize(("negatives", "n"), [(0, 29), (1, 46), (2, 61), (3, 76)])
def test_binomial_large_n_limits(negatives, n):
    assert binomial_plan(negatives=negatives).sample_size == n


@pytest.mark.parametrize(("negatives", "n"), [(0, 28), (1, 45), (2, 60), (3, 75)])
def test_bayesian_beta_large_n_limits(negatives, n):
    assert bayesian_plan(negatives=negatives).sample_size == n


def test_other_claims_large_n():
    assert binomial_plan(proportion=0.5).sample_size == 5
    assert binomial_plan(proportion=0.75).sample_size == 11
    assert binomial_plan(confidence=0.99).sample_size == 44
    assert bayesian_plan(proportion=0.5).sample_size == 4
    assert bayesian_plan(proportion=0.75).sample_size == 10
    assert bayesian_plan(confidence=0.99).sample_size == 43


def test_worked_values_of_section_2_2():
    # N = 10: K0 = 8; n = 7 leaves C(8,7)/C(10,7) = 8/120 > 0.05, n = 8 gives 1/45.
    assert not supports(hypergeometric_plan(10), 7, 0)
    assert supports(hypergeometric_plan(10), 8, 0)
    # N = 100: n = 22 gives 0.0549, n = 23 gives 0.0472.
    plan = hypergeometric_plan(100)
    assert (plan.sample_size, supports(plan, 22, 0)) == (23, False)
    # Binomial: 0.9^28 = 0.0523 fails, 0.9^29 = 0.0471 passes.
    assert not supports(binomial_plan(), 28, 0)


def test_claimed_share_is_exact_not_floating_point():
    # 0.7 · 10 is 7.000000000000001 in floats; K0 must be 6: C(6,5)/C(10,5) = 6/252 <= 0.05
    # while n = 4 gives 15/210 = 0.071. With K0 = 7 (the float trap) n would be 6.
    assert hypergeometric_plan(10, proportion=0.7).sample_size == 5


def test_bayesian_prior_changes_the_plan():
    # Beta(2, 1) prior, no negatives: P(θ > k) = 1 - k^(n + 2) >= 0.95 first at n + 2 = 29.
    plan = bayesian_plan(prior=(2, 1))
    assert plan.sample_size == 27
    text = statement(plan, SamplingOutcome("MDMA", 27, 27, 1, "tablets"))
    assert "Beta(2, 1) prior" in text


def test_hypergeometric_not_monotone_in_population():
    assert hypergeometric_plan(25).sample_size == 16
    assert hypergeometric_plan(30).sample_size == 15


def test_unreachable_claim_says_why():
    plan = hypergeometric_plan(10, negatives=2)
    assert not plan.reachable
    assert plan.sample_size is None
    assert "at most 8 can be positive, fewer than the 9 needed" in plan.reason
    beta_binomial = bayesian_plan(negatives=2, population=15)
    assert not beta_binomial.reachable
    assert "at most 13 can be positive, fewer than the 14 needed" in beta_binomial.reason


def test_binomial_plan_larger_than_population_is_unreachable():
    plan = binomial_plan(population=20)
    assert not plan.reachable
    assert "needs 29 units but the population has only 20" in plan.reason
    assert binomial_plan(population=29).sample_size == 29


def test_more_negatives_than_units_is_unreachable():
    plan = hypergeometric_plan(3, negatives=3)
    assert not plan.reachable
    assert "3 negatives allowed among only 3 units" in plan.reason


def test_arbitrary_plans():
    assert arbitrary_plan("square-root", 25).sample_size == 5
    assert arbitrary_plan("square-root", 26).sample_size == 6  # ⌈√26⌉
    assert arbitrary_plan("twenty-plus-ten-percent", 100).sample_size == 28
    assert arbitrary_plan("twenty-plus-ten-percent", 101).sample_size == 29  # 20 + ⌈8.1⌉
    assert arbitrary_plan("twenty-plus-ten-percent", 12).sample_size == 12
    assert arbitrary_plan("single-unit", 40).sample_size == 1
    assert arbitrary_plan("all-units", 40).sample_size == 40


def test_sampling_plan_dispatches_by_method():
    assert sampling_plan("hypergeometric", 100).sample_size == 23
    assert sampling_plan("bayesian", 100).sample_size == 22
    assert sampling_plan("binomial").sample_size == 29
    assert sampling_plan("square-root", 100).sample_size == 10


@pytest.mark.parametrize(("call", "field"), [
    (lambda: hypergeometric_plan(0), "population"),
    (lambda: hypergeometric_plan(10.5), "population"),
    (lambda: hypergeometric_plan(100, proportion=1.0), "proportion"),
    (lambda: hypergeometric_plan(100, confidence=95), "confidence"),
    (lambda: hypergeometric_plan(100, negatives=-1), "negatives"),
    (lambda: hypergeometric_plan(100, boundary="round"), "boundary"),
    (lambda: bayesian_plan(prior=(0, 1)), "prior"),
    (lambda: bayesian_plan(prior=("a", 1)), "prior"),
    (lambda: arbitrary_plan("half", 10), "method"),
    (lambda: sampling_plan("hypergeometric"), "population"),
    (lambda: sampling_plan("guess", 10), "method"),
    (lambda: select_units(10, 11), "n"),
    (lambda: select_units(10, 2, seed=-5), "seed"),
    (lambda: supports(hypergeometric_plan(10), 3, 4), "tested"),
])
def test_bad_input_names_the_field(call, field):
    with pytest.raises(ValueError, match=f"^{field}:"):
        call()


def test_select_units_same_seed_same_units():
    seed, units = select_units(500, 28, seed=1234567)
    assert seed == 1234567
    assert select_units(500, 28, seed=1234567) == (seed, units)
    assert len(set(units)) == 28
    assert units == sorted(units)
    assert units[0] >= 1 and units[-1] <= 500
    # Pins NumPy's stream: if an upgrade changes it, stored seeds no longer re-create selections.
    assert units[:5] == [4, 30, 40, 51, 57]
    assert select_units(500, 28, seed=7654321)[1] != units


def test_select_units_makes_a_seed_when_none_given():
    seed, units = select_units(50, 5)
    assert isinstance(seed, int) and seed >= 0
    assert select_units(50, 5, seed=seed) == (seed, units)
    assert select_units(3, 3, seed=1)[1] == [1, 2, 3]


def test_statement_all_positive_hypergeometric():
    text = statement(hypergeometric_plan(500), SamplingOutcome("cocaine", 28, 28, 1234567,
                                                               "packages"))
    assert text == ("28 of 500 packages were selected at random (seed 1234567) and tested; all"
                    " contained cocaine. With 95 % confidence at least 90 % of the 500 packages"
                    " contain cocaine (hypergeometric, ENFSI/UNODC sampling guidelines).")


def test_statement_with_allowed_negative():
    plan = hypergeometric_plan(500, negatives=1)
    text = statement(plan, SamplingOutcome("cocaine", 44, 43, 99, "packages"))
    assert text == ("44 of 500 packages were selected at random (seed 99) and tested; 43"
                    " contained cocaine and 1 did not. With 95 % confidence at least 90 % of the"
                    " 500 packages contain cocaine (hypergeometric, ENFSI/UNODC sampling"
                    " guidelines).")


def test_statement_unplanned_negative_weakens_the_claim_honestly():
    plan = hypergeometric_plan(500)
    text = statement(plan, SamplingOutcome("cocaine", 28, 27, 1234567, "packages"))
    assert "27 contained cocaine and 1 did not." in text
    assert ("These results do not support the planned claim that at least 90 % of the 500"
            " packages contain cocaine with 95 % confidence.") in text
    # The weaker claim the results do support, at the largest whole percentage.
    assert text.endswith("With 95 % confidence at least 84 % of the 500 packages contain"
                         " cocaine (hypergeometric, ENFSI/UNODC sampling guidelines).")
    assert supports(plan, 28, 1, 0.84) and not supports(plan, 28, 1, 0.85)


def test_statement_too_few_tested_does_not_claim_the_plan():
    text = statement(hypergeometric_plan(500), SamplingOutcome("cocaine", 23, 23, 1, "packages"))
    assert "do not support the planned claim" in text
    assert "at least 88 % of the 500 packages" in text


def test_statement_when_nothing_supports_a_claim():
    # 1 positive among 100 tested of 10000: even "at least 1 %" (K0 = 99) is not shown, as
    # P(at least 1 positive in 100 | 99 positives) = 1 - C(9901,100)/C(10000,100) ≈ 0.63.
    text = statement(hypergeometric_plan(10000), SamplingOutcome("heroin", 100, 1, 5, "bags"))
    assert text == ("100 of 10000 bags were selected at random (seed 5) and tested; 1 contained"
                    " heroin and 99 did not. These results do not support the planned claim that"
                    " at least 90 % of the 10000 bags contain heroin with 95 % confidence. The"
                    " results apply only to the 100 bags tested.")


def test_statement_single_positive_in_small_population_supports_only_that_unit():
    # 1 positive of 10 proves at least 1 unit = 10 %, with certainty; nothing more.
    text = statement(hypergeometric_plan(10), SamplingOutcome("heroin", 3, 1, 5, "bags"))
    assert text.endswith("With 95 % confidence at least 10 % of the 10 bags contain heroin"
                         " (hypergeometric, ENFSI/UNODC sampling guidelines).")


def test_statement_none_positive():
    text = statement(hypergeometric_plan(500), SamplingOutcome("cocaine", 28, 0, 1, "packages"))
    assert text.endswith("none contained cocaine. No conclusion is drawn about the 472 packages"
                         " not tested.")


def test_statement_bayesian_and_trunc_and_binomial():
    outcome = SamplingOutcome("MDMA", 27, 27, 3, "tablets")
    assert statement(bayesian_plan(population=500), outcome).endswith(
        "With 95 % probability at least 90 % of the 500 tablets contain MDMA (Bayesian,"
        " beta-binomial with a Beta(1, 1) prior, ENFSI/UNODC sampling guidelines).")
    outcome = SamplingOutcome("MDMA", 28, 28, 3, "tablets")
    assert statement(bayesian_plan(), outcome).endswith(
        "With 95 % probability at least 90 % of the tablets contain MDMA (Bayesian, beta"
        " distribution with a Beta(1, 1) prior, ENFSI/UNODC sampling guidelines).")
    assert statement(bayesian_plan(), outcome).startswith("28 tablets were selected at random")
    # K0 = TRUNC(kN) proves K > kN, so the sentence says "more than".
    assert "more than 90 % of the 500 tablets" in statement(
        hypergeometric_plan(500, boundary="trunc"), outcome)
    outcome = SamplingOutcome("MDMA", 29, 29, 3, "tablets")
    assert "(binomial, ENFSI/UNODC" in statement(binomial_plan(population=5000), outcome)


def test_statement_arbitrary_plan_draws_no_conclusion():
    text = statement(arbitrary_plan("square-root", 25), SamplingOutcome("heroin", 5, 5, 42, "bags"))
    assert text == ("5 of 25 bags were selected at random (seed 42) and tested; all contained"
                    " heroin. The selection followed the square-root rule (n = √N), a"
                    " non-statistical plan: no conclusion is drawn about the 20 bags not tested.")
    single = statement(arbitrary_plan("single-unit", 25), SamplingOutcome("heroin", 1, 1))
    assert single.startswith("1 of 25 units was selected and tested; it contained heroin.")


def test_statement_every_unit_tested():
    text = statement(hypergeometric_plan(10), SamplingOutcome("cocaine", 10, 9, None, "bricks"))
    assert text == "All 10 bricks were tested; 9 contained cocaine and 1 did not."


@pytest.mark.parametrize(("plan", "outcome", "field"), [
    (hypergeometric_plan(500), SamplingOutcome("cocaine", 28, 28), "seed"),
    (hypergeometric_plan(500), SamplingOutcome("cocaine", 28, 29, 1), "positives"),
    (hypergeometric_plan(500), SamplingOutcome("cocaine", 501, 2, 1), "tested"),
    (hypergeometric_plan(500), SamplingOutcome(" ", 28, 28, 1), "substance"),
    (hypergeometric_plan(10, negatives=2), SamplingOutcome("cocaine", 10, 8, 1), "plan"),
])
def test_statement_refuses_inconsistent_outcome(plan, outcome, field):
    with pytest.raises(ValueError, match=f"^{field}:"):
        statement(plan, outcome)


# Ten net weights (mg) with mean 1020 and deviations ±100, ±25, ±25 and four zeros: the sum of
# squared deviations is 2·100² + 4·25² = 22500, so s = √(22500/9) = 50 mg exactly, which is the
# DOMAIN.md 2.7 worked example (N = 100, n = 10, w̄ = 1.020 g, s = 0.050 g).
WEIGHTS = [1120, 920, 1045, 995, 1045, 995, 1020, 1020, 1020, 1020]


def test_net_weight_two_sided_worked_example():
    result = extrapolate_net_weight(WEIGHTS, 100)
    # Half-width 100 · t(0.975, 9) · 50/√10 · √(90/100) = 100 · 2.26216 · 15.8114 · 0.948683
    # = 3393.2 mg: 102.0 g ± 3.39 g. Lower rounds down, upper up.
    assert (result.estimate_mg, result.lower_mg, result.upper_mg) == (102000, 98606, 105394)
    assert result.confidence == 0.95
    assert not result.measured
    assert "10 of 100 units" in result.method
    assert "95 % two-sided confidence interval" in result.method


def test_net_weight_one_sided_lower_bound_worked_example():
    # 102000 - 100 · t(0.95, 9) · 15.8114 · 0.948683 = 102000 - 100 · 1.83311 · 15.0000
    # = 99250.3 mg: the document's 99.25 g.
    result = extrapolate_net_weight(WEIGHTS, 100, interval="lower")
    assert (result.estimate_mg, result.lower_mg, result.upper_mg) == (102000, 99250, None)
    assert "one-sided lower bound" in result.method


def test_net_weight_finite_population_correction_narrows_with_more_units():
    # Same weights, N = 20: half-width 20 · 2.26216 · 15.8114 · √(10/20) = 505.8 mg.
    result = extrapolate_net_weight(WEIGHTS, 20)
    assert (result.estimate_mg, result.lower_mg, result.upper_mg) == (20400, 19894, 20906)
    assert math.isclose(20400 - 505.8, result.lower_mg, abs_tol=1)


def test_net_weight_all_units_weighed_is_measured():
    result = extrapolate_net_weight(WEIGHTS, 10)
    assert (result.estimate_mg, result.lower_mg, result.upper_mg) == (10200, 10200, 10200)
    assert result.measured and result.confidence is None
    assert result.method == "Measured: all 10 units weighed; total 10.200 g."


def test_net_weight_lower_bound_never_below_weighed_units():
    # Very uneven weights: the t interval would reach below the 2 units actually weighed.
    result = extrapolate_net_weight([10, 5000], 3)
    assert result.lower_mg == 5010
    assert result.estimate_mg == 7515  # 3 · 2505


@pytest.mark.parametrize(("weights", "population", "kwargs", "field"), [
    ([1000], 10, {}, "weights_mg"),
    ([1000, 1.5], 10, {}, "weights_mg"),
    ([1000, -1], 10, {}, "weights_mg"),
    ([1, 2, 3], 2, {}, "weights_mg"),
    ([1, 2], 0, {}, "population"),
    ([1, 2], 10, {"confidence": 1.5}, "confidence"),
    ([1, 2], 10, {"interval": "upper"}, "interval"),
])
def test_net_weight_bad_input_names_the_field(weights, population, kwargs, field):
    with pytest.raises(ValueError, match=f"^{field}:"):
        extrapolate_net_weight(weights, population, **kwargs)
