"""Exact scores against their oracles: matchms CosineGreedy, scipy distances, hand-computed MF."""

import math
import os

import numpy as np
import pytest
from scipy.spatial import distance

from libsearch import scores

SEED = 20261201


def matchms_cosine():
    """matchms CosineGreedy(tolerance=0.1) as a function of (query, reference) peak arrays."""
    try:
        from matchms import Spectrum
        from matchms.logging_functions import set_matchms_logger_level
        from matchms.similarity import CosineGreedy
    except ImportError:
        reason = "matchms is not installed (pip install -e '.[test]')"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must not skip the oracle tests")
        pytest.skip(reason)
    set_matchms_logger_level("ERROR")  # it warns about missing precursor m/z on every spectrum
    similarity = CosineGreedy(tolerance=0.1)

    def score(query, reference):
        result = similarity.pair(Spectrum(mz=reference[:, 0], intensities=reference[:, 1]),
                                 Spectrum(mz=query[:, 0], intensities=query[:, 1]))
        return float(result["score"]), int(result["matches"])

    return score


def peaks(mz, intensity):
    return np.column_stack((np.asarray(mz, dtype=float), np.asarray(intensity, dtype=float)))


def random_pairs(rng, count):
    """Random and adversarial peak lists: dense decimal m/z (many conflicts), near-tolerance
    offsets, tied intensities (tied products), single peaks, disjoint ranges."""
    for number in range(count):
        style = number % 6
        n1, n2 = (int(v) for v in rng.integers(1, 40, 2))
        if style == 0:  # nominal masses, as EI libraries: at most one partner per peak
            mz1 = np.unique(rng.integers(30, 200, n1)).astype(float)
            mz2 = np.unique(rng.integers(30, 200, n2)).astype(float)
        elif style == 1:  # dense decimals: peaks with two or more partners, greedy matters
            mz1 = np.sort(rng.uniform(100, 103, n1))
            mz2 = np.sort(rng.uniform(100, 103, n2))
        elif style == 2:  # exactly 0.1 (and 0.05) apart on a 0.05 grid: the tolerance edge
            mz1 = np.unique(np.round(rng.integers(0, 60, n1) * 0.05 + 100, 2))
            mz2 = np.unique(np.round(rng.integers(0, 60, n2) * 0.05 + 100, 2))
        elif style == 3:  # one peak each, close or not
            mz1 = np.array([100.0])
            mz2 = np.array([100.0 + float(rng.choice([0.0, 0.05, 0.1, 0.1000001, 0.3]))])
        elif style == 4:  # disjoint ranges: no match at all
            mz1 = np.sort(rng.uniform(50, 60, n1))
            mz2 = np.sort(rng.uniform(70, 80, n2))
        else:  # duplicated m/z values inside one spectrum
            mz1 = np.sort(rng.choice([100.0, 100.05, 100.1, 100.2], n1))
            mz2 = np.sort(rng.choice([100.0, 100.05, 100.1, 100.2], n2))
        if number % 2:  # few distinct intensities: many tied products
            i1 = rng.choice([1.0, 2.0, 4.0], mz1.size)
            i2 = rng.choice([1.0, 2.0, 4.0], mz2.size)
        else:
            i1 = rng.pareto(1.2, mz1.size) + 0.01
            i2 = rng.pareto(1.2, mz2.size) + 0.01
        yield peaks(mz1, i1), peaks(mz2, i2)


def test_cosine_greedy_equals_matchms_on_random_and_adversarial_pairs():
    oracle = matchms_cosine()
    rng = np.random.default_rng(SEED)
    compared = conflicted = 0
    for query, reference in random_pairs(rng, 1500):
        expected = oracle(query, reference)
        got = scores.cosine_greedy(query, reference)
        assert abs(got[0] - expected[0]) <= 1e-12, (query, reference, got, expected)
        assert got[1] == expected[1], (query, reference, got, expected)
        compared += 1
        conflicted += got[1] < min(len(query), len(reference)) and got[0] > 0
    assert compared == 1500
    assert conflicted > 100  # the greedy walk was exercised, not only the one-partner path


def test_cosine_greedy_many_equals_the_pairwise_function():
    rng = np.random.default_rng(SEED + 1)
    pairs = list(random_pairs(rng, 60))
    query = pairs[0][0]
    references = [reference for _, reference in pairs]
    offsets = np.concatenate(([0], np.cumsum([len(r) for r in references])))
    stacked = np.concatenate(references)
    many, matches = scores.cosine_greedy_many(query, stacked[:, 0], stacked[:, 1], offsets)
    for k, reference in enumerate(references):
        assert (many[k], matches[k]) == scores.cosine_greedy(query, reference)


def test_cosine_greedy_edge_cases():
    oracle = matchms_cosine()
    one = peaks([100.0], [5.0])
    assert scores.cosine_greedy(one, one) == (1.0, 1)
    assert scores.cosine_greedy(one, peaks([100.3], [5.0])) == (0.0, 0)
    assert scores.cosine_greedy(np.zeros((0, 2)), one) == (0.0, 0)
    assert scores.cosine_greedy(one, np.zeros((0, 2))) == (0.0, 0)
    # Two query peaks fight for one library peak: the larger product wins, as in matchms.
    query = peaks([100.0, 100.08], [1.0, 3.0])
    reference = peaks([100.04], [2.0])
    assert scores.cosine_greedy(query, reference) == pytest.approx(oracle(query, reference),
                                                                   abs=1e-15)
    assert scores.cosine_greedy(query, reference)[1] == 1
    # Equal products: matchms's stable sort, reversed, takes the later candidate first.
    query = peaks([100.0, 100.1], [2.0, 2.0])
    reference = peaks([100.05, 100.15], [2.0, 2.0])
    assert scores.cosine_greedy(query, reference) == pytest.approx(oracle(query, reference),
                                                                   abs=1e-15)
    # Unsorted input is sorted first (matchms Spectrum requires sorted peaks).
    shuffled = peaks([120.0, 100.0, 110.0], [1.0, 2.0, 3.0])
    assert scores.cosine_greedy(shuffled, shuffled) == pytest.approx((1.0, 3))


# --- NIST Identity: hand-computed cases ---------------------------------------------------------


def test_nominal_binning_and_preprocessing():
    # ceil(57.3 - 0.649) = ceil(56.651) = 57; ceil(57.7 - 0.649) = ceil(57.051) = 58;
    # ceil(56.9 - 0.649) = 57, so 56.9 and 57.3 share bin 57 and their intensities add up.
    assert scores.nominal_mass(np.array([57.3, 57.7, 56.9])).tolist() == [57, 58, 57]
    mz, intensity = scores.nist_preprocess(peaks([56.9, 57.3, 57.7, 80.0], [300, 200, 1000, 0.4]))
    # bin 57: 300 + 200 = 500 -> int(999 * 500/1000 + 0.5) = int(500) = 500
    # bin 58: 1000 (base peak) -> 999; m/z 80: int(999 * 0.0004 + 0.5) = int(0.8996) = 0, dropped.
    assert mz.tolist() == [57, 58]
    assert intensity.tolist() == [500, 999]


def test_identical_spectra_score_999_5_and_display_999():
    spectrum = peaks([50, 51, 60], [999, 500, 120])
    # F1 = 1 (same vectors); ratios at 51 and 60 are both 1, so F2 = 1;
    # MF = 1000 * (3 * 1 + 2 * 1) / (3 + 2) - 0.5 = 999.5, shown as 999.
    assert scores.nist_identity(spectrum, spectrum) == pytest.approx(999.5, abs=1e-9)
    assert scores.display_match_factor(999.5) == 999
    assert scores.display_match_factor(950.5551) == 951
    assert scores.display_match_factor(-0.5) == 0


def test_two_common_peaks_with_different_ratio():
    unknown = peaks([50, 60], [999, 500])
    library = peaks([50, 60], [999, 250])
    # w1 = sqrt(m/z * I): S_UL = 50*999 + sqrt(60*500 * 60*250), S_UU = 50*999 + 60*500,
    # S_LL = 50*999 + 60*250, F1 = S_UL^2 / (S_UU * S_LL).
    s_ul = 50 * 999 + math.sqrt(60 * 500 * 60 * 250)
    f1 = s_ul**2 / ((50 * 999 + 60 * 500) * (50 * 999 + 60 * 250))
    # One ratio at m/z 60: rho = (sqrt(500) sqrt(999)) / (sqrt(999) sqrt(250)) = sqrt(2);
    # min(rho, 1/rho) = sqrt(0.5), so F2 = 60 sqrt(0.5) / 60 = 0.7071.
    f2 = math.sqrt(0.5)
    expected = 1000 * (2 * f1 + 1 * f2) / 3 - 0.5  # = 888.19...
    assert scores.nist_identity(unknown, library) == pytest.approx(expected, abs=1e-9)
    assert 880 < expected < 900


def test_extra_unknown_peak_counts_forward_but_not_reverse():
    unknown = peaks([50, 55, 60], [999, 500, 500])
    library = peaks([50, 60], [999, 500])
    # Forward: the unknown-only peak at 55 adds 55*500 to S_UU and breaks the ratio chain, so
    # no ratio exists: MF = 1000 * F1 - 0.5 with
    # F1 = (50*999 + 60*500)^2 / ((50*999 + 55*500 + 60*500) * (50*999 + 60*500))
    #    = 79950 / 107450 -> MF = 743.57.
    expected = 1000 * 79950 / 107450 - 0.5
    assert scores.nist_identity(unknown, library) == pytest.approx(expected, abs=1e-9)
    # Reverse (R.Match): the peak found only in the unknown is ignored: as identical, 999.5.
    assert scores.nist_identity(unknown, library, reverse=True) == pytest.approx(999.5, abs=1e-9)
    # A library-only peak still counts in reverse.
    assert scores.nist_identity(library, unknown, reverse=True) == pytest.approx(expected,
                                                                                 abs=1e-9)


def test_peak_of_intensity_one_is_ignored():
    # Raw 1.4 against a base peak of 1000: int(999 * 0.0014 + 0.5) = int(1.8986) = 1, and
    # peaks with I <= 1 on the 0-999 scale neither score nor break the chain: still 999.5.
    unknown = peaks([50, 60, 70], [1000, 500, 1.4])
    library = peaks([50, 60], [1000, 500])
    assert scores.nist_preprocess(unknown)[1].tolist() == [999, 500, 1]
    assert scores.nist_identity(unknown, library) == pytest.approx(999.5, abs=1e-9)
    # At raw 3 (-> int(3.497) = 3 > 1) the same peak counts: the score drops.
    assert scores.nist_identity(peaks([50, 60, 70], [1000, 500, 3]), library) < 999


def test_library_peaks_below_the_unknowns_range_are_skipped():
    # mssearchr starts the walk at the higher of the two lowest m/z: the library peak at 40 is
    # below the unknown's first peak (50), so it does not count: identical, 999.5.
    unknown = peaks([50, 60], [999, 500])
    library = peaks([40, 50, 60], [999, 999, 500])
    assert scores.nist_identity(unknown, library) == pytest.approx(999.5, abs=1e-9)
    assert scores.nist_identity(unknown, peaks([70, 80], [999, 500])) == 0.0
    assert scores.nist_identity(np.zeros((0, 2)), library) == 0.0


# --- full spectra: scipy as the oracle ----------------------------------------------------------


def random_vectors(rng, count):
    """Random spectra, near-identical pairs, anti-correlated pairs, offsets/scales, short ones."""
    for number in range(count):
        n = int(rng.integers(2, 400)) if number % 5 else int(rng.integers(2, 5))
        u = rng.normal(size=n).cumsum() + rng.uniform(-5, 5)
        style = number % 4
        if style == 0:
            v = rng.normal(size=n)
        elif style == 1:
            v = 3.0 * u + 7.0 + rng.normal(scale=1e-9, size=n)
        elif style == 2:
            v = -u + rng.normal(scale=0.1, size=n)
        else:
            v = u + rng.normal(scale=0.5, size=n)
        yield u, v


def test_correlation_and_euclidean_equal_scipy():
    rng = np.random.default_rng(SEED + 2)
    for u, v in random_vectors(rng, 1200):
        assert scores.correlation(u, v) == pytest.approx(1 - distance.correlation(u, v),
                                                         abs=1e-12)
        unit_u, unit_v = u / np.linalg.norm(u), v / np.linalg.norm(v)
        assert scores.euclidean_distance(u, v) == pytest.approx(
            distance.euclidean(unit_u, unit_v), abs=1e-12)
        if u.size >= 3:
            # Derivative: first differences of the (centred) vectors, then Pearson r.
            du, dv = np.diff(u - u.mean()), np.diff(v - v.mean())
            assert scores.derivative_correlation(u, v) == pytest.approx(
                1 - distance.correlation(du, dv), abs=1e-12)


def test_masked_scores_equal_scipy_on_the_remaining_points():
    rng = np.random.default_rng(SEED + 3)
    axis = np.arange(400.0, 4000.0 + 1, 2.0)
    excluded = [(2400.0, 2280.0), (3900.0, 4000.0)]  # CO2 band (given high to low) and an edge
    for _ in range(200):
        u, v = rng.normal(size=(2, axis.size)).cumsum(axis=1)
        coverage = (float(rng.uniform(400, 1000)), float(rng.uniform(3000, 4000)))
        keep = scores.axis_mask(axis, excluded, coverage)
        # The oracle's own selection, point by point.
        chosen = [i for i, a in enumerate(axis) if coverage[0] <= a <= coverage[1]
                  and not 2280 <= a <= 2400 and not 3900 <= a <= 4000]
        assert np.flatnonzero(keep).tolist() == chosen
        uk, vk = u[chosen], v[chosen]
        assert scores.correlation(u[keep], v[keep]) == pytest.approx(
            1 - distance.correlation(uk, vk), abs=1e-12)
        assert scores.euclidean_distance(u[keep], v[keep]) == pytest.approx(
            distance.euclidean(uk / np.linalg.norm(uk), vk / np.linalg.norm(vk)), abs=1e-12)
        assert scores.derivative_correlation(u[keep], v[keep]) == pytest.approx(
            1 - distance.correlation(np.diff(uk), np.diff(vk)), abs=1e-12)


def test_degenerate_vectors_give_defined_values():
    constant = np.full(50, 0.1)
    ramp = np.linspace(0, 1, 50)
    assert scores.correlation(constant, ramp) == 0.0
    assert scores.correlation(ramp, constant) == 0.0
    assert scores.correlation(np.array([1.0]), np.array([2.0])) == 0.0
    assert scores.correlation(np.array([]), np.array([])) == 0.0
    steps = np.arange(50.0)  # its first differences are exactly 1.0: constant
    assert scores.derivative_correlation(steps, 2 * steps) == 0.0
    assert scores.derivative_correlation(ramp[:2], ramp[:2]) == 0.0
    assert scores.euclidean_distance(np.zeros(50), ramp) == scores.SQRT2
    assert scores.euclidean_distance(np.array([1.0]), np.array([1.0])) == scores.SQRT2
    assert scores.euclidean_distance(ramp, ramp) == pytest.approx(0.0, abs=1e-15)
    assert scores.correlation(ramp, 5 * ramp + 2) == pytest.approx(1.0, abs=1e-15)
    assert scores.correlation(ramp, -ramp) == pytest.approx(-1.0, abs=1e-15)


def test_resample_accepts_descending_x_and_holds_edge_values():
    axis = np.array([400.0, 401.0, 402.0, 403.0])
    x = np.array([402.5, 401.5, 400.5])  # descending, as many IR files store it
    y = np.array([3.0, 2.0, 1.0])
    assert scores.resample(x, y, axis).tolist() == [1.0, 1.5, 2.5, 3.0]
    assert scores.coverage(x) == (400.5, 402.5)
