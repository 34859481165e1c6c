"""Sampling plans for multi-unit seizures, random unit selection and net-weight extrapolation.

The formulas are those of DOMAIN.md section 2 (UNODC ST/NAR/38 = ENFSI DWG sampling guidelines):
N units in the population, n tested, x negatives among them, claim "at least k of the N units
are positive" with confidence 1 - alpha.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction

import numpy as np
from scipy import stats

from lims.units import format_weight

STATISTICAL = ("hypergeometric", "binomial", "bayesian")
ARBITRARY = ("square-root", "twenty-plus-ten-percent", "single-unit", "all-units")
METHODS = STATISTICAL + ARBITRARY
BOUNDARIES = ("ceil", "trunc")
INTERVALS = ("two-sided", "lower")
SOURCE = "ENFSI/UNODC sampling guidelines"
# The beta and beta-binomial tails come from floating-point scipy; a probability within this
# distance of the target counts as reaching it, so exact ties are not lost to rounding
# (N = 15, k = 90 %, no negatives: n = 11 gives P = 0.75 + 0.20 = 0.95 exactly).
TOLERANCE = 1e-12
_ARBITRARY_TEXT = {
    "square-root": "the square-root rule (n = √N)",
    "twenty-plus-ten-percent": "the 20 + 10 % rule (n = 20 + 10 % of the units above 20)",
    "single-unit": "a single-unit plan",
    "all-units": "testing all units",
}


@dataclass(frozen=True)
class SamplingPlan:
    """How many units to test for a claim, or why the claim cannot be reached."""

    method: str
    population: int | None
    sample_size: int | None
    proportion: float | None = None
    confidence: float | None = None
    negatives: int = 0
    prior: tuple[float, float] | None = None
    boundary: str = "ceil"
    reason: str | None = None

    @property
    def reachable(self) -> bool:
        """True when a sample size exists for the claim."""
        return self.sample_size is not None


@dataclass(frozen=True)
class SamplingOutcome:
    """What testing the selected units found, for the certificate's sampling statement."""

    substance: str
    tested: int
    positives: int
    seed: int | None = None
    unit_name: str = "units"


@dataclass(frozen=True)
class NetWeight:
    """Total net weight in mg of all units: measured, or extrapolated with its interval."""

    estimate_mg: int
    lower_mg: int
    upper_mg: int | None
    confidence: float | None
    method: str
    measured: bool


def hypergeometric_plan(population: int, proportion: float = 0.9, confidence: float = 0.95,
                        negatives: int = 0, boundary: str = "ceil") -> SamplingPlan:
    """Smallest n for a finite population (DOMAIN.md 2.2); boundary 'trunc' is K0 = TRUNC(kN)."""
    _check_population(population)
    if boundary not in BOUNDARIES:
        raise ValueError(f"boundary: must be one of {', '.join(BOUNDARIES)}, not {boundary!r}.")
    plan = SamplingPlan("hypergeometric", population, None, *_claim(proportion, confidence),
                        _count("negatives", negatives), boundary=boundary)
    return _search(plan, population)


def binomial_plan(proportion: float = 0.9, confidence: float = 0.95, negatives: int = 0,
                  population: int | None = None) -> SamplingPlan:
    """Smallest n for a large population (DOMAIN.md 2.3); population only bounds n and names it."""
    if population is not None:
        _check_population(population)
    plan = SamplingPlan("binomial", population, None, *_claim(proportion, confidence),
                        _count("negatives", negatives))
    return _search(plan, None)


def bayesian_plan(proportion: float = 0.9, confidence: float = 0.95, negatives: int = 0,
                  population: int | None = None,
                  prior: tuple[float, float] = (1.0, 1.0)) -> SamplingPlan:
    """Smallest n with posterior P(claim) >= confidence: beta-binomial for N, beta without."""
    if population is not None:
        _check_population(population)
    try:
        a, b = (float(value) for value in prior)
    except (TypeError, ValueError):
        a = b = math.nan
    if not (a > 0 and b > 0 and math.isfinite(a) and math.isfinite(b)):
        raise ValueError("prior: both beta parameters must be positive numbers.")
    plan = SamplingPlan("bayesian", population, None, *_claim(proportion, confidence),
                        _count("negatives", negatives), prior=(a, b))
    return _search(plan, population)


def arbitrary_plan(method: str, population: int) -> SamplingPlan:
    """A non-statistical plan of DOMAIN.md 2.6 (√N, 20 + 10 %, a single unit) or all units."""
    _check_population(population)
    if method == "square-root":
        size = math.isqrt(population - 1) + 1  # ⌈√N⌉ in integers
    elif method == "twenty-plus-ten-percent":
        # The rule is stated for N >= 20; below that it would exceed N, so every unit is tested.
        size = population if population <= 20 else 20 + -(-(population - 20) // 10)
    elif method == "single-unit":
        size = 1
    elif method == "all-units":
        size = population
    else:
        raise ValueError(f"method: must be one of {', '.join(ARBITRARY)}, not {method!r}.")
    return SamplingPlan(method, population, size)


def sampling_plan(method: str, population: int | None = None, proportion: float = 0.9,
                  confidence: float = 0.95, negatives: int = 0,
                  prior: tuple[float, float] = (1.0, 1.0), boundary: str = "ceil"
                  ) -> SamplingPlan:
    """The plan for any method in METHODS, as chosen on a form."""
    if method == "hypergeometric":
        if population is None:
            raise ValueError("population: the hypergeometric plan needs the number of units.")
        return hypergeometric_plan(population, proportion, confidence, negatives, boundary)
    if method == "binomial":
        return binomial_plan(proportion, confidence, negatives, population)
    if method == "bayesian":
        return bayesian_plan(proportion, confidence, negatives, population, prior)
    if method in ARBITRARY and population is None:
        raise ValueError("population: a non-statistical plan needs the number of units.")
    if method in ARBITRARY:
        return arbitrary_plan(method, population)
    raise ValueError(f"method: must be one of {', '.join(METHODS)}, not {method!r}.")


def supports(plan: SamplingPlan, tested: int, negatives: int,
             proportion: float | None = None) -> bool:
    """Whether x negatives among n tested units support the plan's claim (or one at proportion)."""
    if plan.method not in STATISTICAL:
        raise ValueError(f"method: {plan.method} is not a statistical plan.")
    # The binomial search may pass the population; it then reports the plan as unreachable.
    limit = tested if plan.population is None or plan.method == "binomial" else plan.population
    if not 0 <= _count("negatives", negatives) <= _count("tested", tested) <= limit or not tested:
        raise ValueError("tested: must be at least 1, at most the population, and not fewer than"
                         " the negatives.")
    k = plan.proportion if proportion is None else _between_0_and_1("proportion", proportion)
    alpha = 1 - Fraction(str(plan.confidence))
    n, x = tested, negatives
    if plan.method == "hypergeometric":
        total = plan.population
        claimed = _positives_needed(plan, k) - 1  # K0: the most positives for which it is false
        # P(at most x negatives | N, D0 = N - K0 negatives, n drawn), in exact integers.
        tail = sum(math.comb(total - claimed, j) * math.comb(claimed, n - j) for j in range(x + 1))
        return Fraction(tail, math.comb(total, n)) <= alpha
    if plan.method == "binomial":
        return float(stats.binom.cdf(x, n, 1 - k)) <= float(alpha) + TOLERANCE
    a, b = plan.prior
    if plan.population is None:
        posterior = float(stats.beta.sf(k, a + n - x, b + x))
    else:
        # Positives still needed among the N - n untested units, which follow a beta-binomial.
        short = _positives_needed(plan, k) - (n - x)
        untested = plan.population - n
        if short <= 0:
            return True
        if short > untested:
            return False
        posterior = float(stats.betabinom.sf(short - 1, untested, a + n - x, b + x))
    return posterior >= float(1 - alpha) - TOLERANCE


def select_units(population: int, n: int, seed: int | None = None) -> tuple[int, list[int]]:
    """Pick n of the units 1..N at random; returns the seed (made if None) and the sorted units."""
    _check_population(population)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= population:
        raise ValueError(f"n: must be a whole number from 1 to {population}.")
    if seed is None:
        seed = secrets.randbelow(10**9)
    elif isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError("seed: must be a whole number of 0 or more.")
    # NumPy does not promise the same stream across major versions: store the units too.
    chosen = np.random.default_rng(seed).choice(population, size=n, replace=False) + 1
    return seed, sorted(int(unit) for unit in chosen)


def statement(plan: SamplingPlan, outcome: SamplingOutcome) -> str:
    """The certificate's sampling sentence: what was tested, found, and what that supports."""
    _check_outcome(plan, outcome)
    total, noun, n = plan.population, outcome.unit_name, outcome.tested
    negatives = n - outcome.positives
    found = _found(outcome)
    if total is not None and n == total:
        return f"All {total} {noun} were tested; {found}."
    selected = f"{n} of {total} {noun}" if total is not None else f"{n} {noun}"
    verb = "was" if n == 1 else "were"
    how = "" if outcome.seed is None else f"at random (seed {outcome.seed}) "
    head = f"{selected} {verb} selected {how}and tested; {found}."
    if plan.method in ARBITRARY:
        return (f"{head} The selection followed {_ARBITRARY_TEXT[plan.method]}, a non-statistical"
                f" plan: no conclusion is drawn about the {total - n} {noun} not tested.")
    if outcome.positives == 0:
        rest = f"{total - n} {noun}" if total is not None else noun
        return f"{head} No conclusion is drawn about the {rest} not tested."
    if supports(plan, n, negatives):
        return f"{head} {_claim_sentence(plan, plan.proportion, outcome)}"
    refused = (f"{head} These results do not support the planned claim that"
               f" {_claim_words(plan, plan.proportion, outcome)} with"
               f" {_percent(plan.confidence)} {_certainty(plan)}.")
    fallback = _best_supported(plan, n, negatives)
    if fallback is None:
        return f"{refused} The results apply only to the {n} {noun} tested."
    return f"{refused} {_claim_sentence(plan, fallback, outcome)}"


def extrapolate_net_weight(weights_mg: Sequence[int], population: int,
                           confidence: float = 0.95, interval: str = "two-sided") -> NetWeight:
    """Total net weight of N units from n weighed ones (DOMAIN.md 2.7); all weighed: measured."""
    _check_population(population)
    if interval not in INTERVALS:
        raise ValueError(f"interval: must be one of {', '.join(INTERVALS)}, not {interval!r}.")
    _between_0_and_1("confidence", confidence)
    weights = list(weights_mg)
    if any(isinstance(w, bool) or not isinstance(w, int) or w < 0 for w in weights):
        raise ValueError("weights_mg: every net weight must be a whole number of mg, 0 or more.")
    n = len(weights)
    if n > population:
        raise ValueError(f"weights_mg: {n} weights for a population of {population} units.")
    measured = sum(weights)
    if n == population:
        return NetWeight(measured, measured, measured, None,
                         f"Measured: all {n} units weighed; total {format_weight(measured)}.",
                         measured=True)
    if n < 2:
        raise ValueError("weights_mg: at least two units must be weighed to extrapolate.")
    mean = measured / n
    sd = float(np.std(weights, ddof=1))
    tail = 1 - confidence if interval == "lower" else (1 - confidence) / 2
    t = float(stats.t.ppf(1 - tail, n - 1))
    margin = population * t * sd / math.sqrt(n) * math.sqrt((population - n) / population)
    estimate = population * mean
    # The units actually weighed are certainly there: the bound never drops below their sum.
    lower = max(math.floor(estimate - margin), measured)
    upper = None if interval == "lower" else math.ceil(estimate + margin)
    kind = "one-sided lower bound" if interval == "lower" else "two-sided confidence interval"
    method = (f"Extrapolated from {n} of {population} units weighed: mean net weight"
              f" {format_weight(round(mean))}, standard deviation {format_weight(round(sd))};"
              f" total = {population} × mean, {_percent(confidence)} {kind} from Student's t"
              f" with {n - 1} degrees of freedom and the finite-population correction"
              f" √((N − n)/N) (ST/NAR/38 ch. 7; SWGDRUG SD-6).")
    rounded = (2 * population * measured + n) // (2 * n)  # N·mean to the mg, halves up
    return NetWeight(rounded, lower, upper, confidence, method, measured=False)


def _search(plan: SamplingPlan, stop: int | None) -> SamplingPlan:
    """The plan with the smallest sample size supporting its claim, or the reason there is none."""
    x = plan.negatives
    if plan.population is not None and x >= plan.population:
        return replace(plan, reason=f"{x} negatives allowed among only {plan.population} units.")
    size = _smallest(x + 1, stop, lambda n: supports(plan, n, x))
    if size is None:
        return replace(plan, reason=(
            f"Cannot be reached: with {x} negatives among {plan.population} units at most"
            f" {plan.population - x} can be positive, fewer than the"
            f" {_positives_needed(plan, plan.proportion)} needed for"
            f" {_claim_words(plan, plan.proportion)}."))
    if plan.population is not None and size > plan.population:
        return replace(plan, reason=(
            f"Cannot be reached: the binomial plan needs {size} units but the population has"
            f" only {plan.population}; use the hypergeometric plan."))
    return replace(plan, sample_size=size)


def _smallest(start: int, stop: int | None, holds: Callable[[int], bool]) -> int | None:
    """Smallest n >= start (up to stop) for a condition that stays true once it holds."""
    failed, step, n = start - 1, 1, start
    while not holds(n):
        if stop is not None and n >= stop:
            return None
        failed, n, step = n, n + step, step * 2
        if stop is not None:
            n = min(n, stop)
    while n - failed > 1:
        middle = (failed + n) // 2
        if holds(middle):
            n = middle
        else:
            failed = middle
    return n


def _positives_needed(plan: SamplingPlan, proportion: float) -> int:
    """Positive units that make the claim true: ⌈kN⌉, or TRUNC(kN) + 1 (DOMAIN.md 2.2)."""
    share = Fraction(str(proportion)) * plan.population  # exact: 0.7 · 10 is 7, not 7.000...1
    return math.floor(share) + 1 if plan.boundary == "trunc" else math.ceil(share)


def _best_supported(plan: SamplingPlan, tested: int, negatives: int) -> float | None:
    """The largest whole percentage below the planned one that the results do support."""
    start = math.ceil(Fraction(str(plan.proportion)) * 100) - 1
    for percent in range(start, 0, -1):
        if supports(plan, tested, negatives, percent / 100):
            return percent / 100
    return None


def _claim_sentence(plan: SamplingPlan, proportion: float, outcome: SamplingOutcome) -> str:
    """'With 95 % confidence at least 90 % of the 500 packages contain cocaine (method)'."""
    words = _claim_words(plan, proportion, outcome)
    return (f"With {_percent(plan.confidence)} {_certainty(plan)} {words}"
            f" ({_method_text(plan)}, {SOURCE}).")


def _claim_words(plan: SamplingPlan, proportion: float,
                 outcome: SamplingOutcome | None = None) -> str:
    """'at least 90 % of the 500 packages contain cocaine' (TRUNC boundary: 'more than')."""
    bound = "more than" if plan.method == "hypergeometric" and plan.boundary == "trunc" else (
        "at least")
    claim = f"{bound} {_percent(proportion)}"
    if outcome is None:
        return f"{claim} of the units positive"
    noun = outcome.unit_name
    whole = f"the {plan.population} {noun}" if plan.population is not None else f"the {noun}"
    return f"{claim} of {whole} contain {outcome.substance}"


def _certainty(plan: SamplingPlan) -> str:
    """Frequentist plans give confidence, Bayesian ones a posterior probability."""
    return "probability" if plan.method == "bayesian" else "confidence"


def _method_text(plan: SamplingPlan) -> str:
    """The method as the certificate names it."""
    if plan.method != "bayesian":
        return plan.method
    model = "beta distribution" if plan.population is None else "beta-binomial"
    a, b = plan.prior
    return f"Bayesian, {model} with a Beta({a:g}, {b:g}) prior"


def _found(outcome: SamplingOutcome) -> str:
    """'all contained cocaine', '27 contained cocaine and 1 did not', 'none contained cocaine'."""
    n, positives, substance = outcome.tested, outcome.positives, outcome.substance
    if n == 1:
        return f"it contained {substance}" if positives else f"it did not contain {substance}"
    if positives == n:
        return f"{'both' if n == 2 else 'all'} contained {substance}"
    if positives == 0:
        return f"{'neither' if n == 2 else 'none'} contained {substance}"
    return f"{positives} contained {substance} and {n - positives} did not"


def _percent(value: float) -> str:
    """0.95 -> '95 %', 0.995 -> '99.5 %'."""
    return f"{format((Decimal(str(value)) * 100).normalize(), 'f')} %"


def _claim(proportion: float, confidence: float) -> tuple[float, float]:
    """Validated claimed proportion k and confidence 1 - alpha."""
    return _between_0_and_1("proportion", proportion), _between_0_and_1("confidence", confidence)


def _between_0_and_1(name: str, value: float) -> float:
    """A number strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise ValueError(f"{name}: must be a number between 0 and 1 (e.g. 0.9), not {value!r}.")
    return float(value)


def _count(name: str, value: int) -> int:
    """A whole number of 0 or more."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name}: must be a whole number of 0 or more.")
    return value


def _check_population(population: int) -> None:
    """A population of at least one unit."""
    if isinstance(population, bool) or not isinstance(population, int) or population < 1:
        raise ValueError("population: must be a whole number of units, at least 1.")


def _check_outcome(plan: SamplingPlan, outcome: SamplingOutcome) -> None:
    """The outcome fits the plan: counts consistent, a seed for statistical plans."""
    if not plan.reachable:
        raise ValueError(f"plan: has no sample size ({plan.reason})")
    tested = _count("tested", outcome.tested)
    if tested < 1 or (plan.population is not None and tested > plan.population):
        raise ValueError("tested: must be between 1 and the number of units.")
    if _count("positives", outcome.positives) > tested:
        raise ValueError("positives: cannot exceed the number of units tested.")
    if not outcome.substance.strip():
        raise ValueError("substance: name the substance tested for.")
    all_tested = plan.population is not None and tested == plan.population
    if plan.method in STATISTICAL and outcome.seed is None and not all_tested:
        raise ValueError("seed: a statistical plan needs the seed of the random selection.")
