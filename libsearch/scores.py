"""Exact float64 library-search scores and the preprocessing they share with the index.

Pure numpy: no Flask, SQLAlchemy or matchms here, so the web app, the CLI and the benchmarks
all compute the same numbers.  The formulas are those of docs/MATCHING.md section 2.

Mass spectra are (n, 2) float64 arrays of [m/z, intensity] rows.  Several functions take a
library "segment" form instead: the peaks of many spectra concatenated (``mz``, ``intensity``)
with ``offsets`` (length count + 1) so that spectrum k is ``[offsets[k], offsets[k + 1])``.
The single-spectrum functions are the segment functions called with one segment, so a score
computed by the index is bit for bit the score computed here.

Full spectra (IR, Raman, UV-Vis) are equal-length float64 vectors already on a common axis
with the excluded points removed; ``resample`` and ``axis_mask`` put them there.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

NOMINAL_BIN_BOUNDARY = 0.649  # m/z rounding point of AMDIS and MS Search (mssearchr default)
NIST_BASE_PEAK = 999
SQRT2 = math.sqrt(2.0)
# mssearchr compares m/z and intensities with this slack (sqrt(DBL_EPSILON)).
_NIST_TOL = math.sqrt(np.finfo(np.float64).eps)

Peaks = np.ndarray
NistSpectrum = tuple[np.ndarray, np.ndarray]


# --- mass spectra: preprocessing -----------------------------------------------------------------


def as_peaks(mz: np.ndarray, intensity: np.ndarray) -> Peaks:
    """An (n, 2) float64 peak array sorted by m/z (stable, so equal m/z keep their order)."""
    mz = np.asarray(mz, dtype=np.float64).ravel()
    intensity = np.asarray(intensity, dtype=np.float64).ravel()
    if mz.shape != intensity.shape:
        raise ValueError(f"{mz.size} m/z values but {intensity.size} intensities")
    peaks = np.column_stack((mz, intensity))
    if mz.size > 1 and np.any(mz[1:] < mz[:-1]):
        peaks = peaks[np.argsort(mz, kind="stable")]
    return peaks


def sort_segments(mz: np.ndarray, intensity: np.ndarray,
                  offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Peaks of every segment sorted by m/z (stable); a no-op copy when already sorted."""
    mz = np.asarray(mz, dtype=np.float64)
    intensity = np.asarray(intensity, dtype=np.float64)
    if mz.size < 2:
        return mz.copy(), intensity.copy()
    segment = segment_ids(offsets)
    descending = (mz[1:] < mz[:-1]) & (segment[1:] == segment[:-1])
    if not descending.any():
        return mz.copy(), intensity.copy()
    order = np.lexsort((mz, segment))  # lexsort is stable
    return mz[order], intensity[order]


def segment_ids(offsets: np.ndarray) -> np.ndarray:
    """The segment number of every element of a concatenation described by offsets."""
    offsets = np.asarray(offsets, dtype=np.int64)
    return np.repeat(np.arange(offsets.size - 1, dtype=np.int64), np.diff(offsets))


def nominal_mass(mz: np.ndarray) -> np.ndarray:
    """Nominal m/z ceil(m/z - 0.649): integer n collects the peaks in (n - 0.351, n + 0.649]."""
    return np.ceil(np.asarray(mz, dtype=np.float64) - NOMINAL_BIN_BOUNDARY).astype(np.int64)


def bin_nominal(mz: np.ndarray, intensity: np.ndarray,
                offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nominal-mass spectra of sorted segments: (bins, summed intensities, new offsets)."""
    mz = np.asarray(mz, dtype=np.float64)
    intensity = np.asarray(intensity, dtype=np.float64)
    offsets = np.asarray(offsets, dtype=np.int64)
    if mz.size == 0:
        return (np.zeros(0, np.int64), np.zeros(0, np.float64),
                np.zeros(offsets.size, np.int64))
    nominal = nominal_mass(mz)
    segment = segment_ids(offsets)
    # Sorted m/z gives non-decreasing nominal m/z in a segment: a bin starts where either changes.
    starts = np.flatnonzero(np.concatenate(
        ([True], (nominal[1:] != nominal[:-1]) | (segment[1:] != segment[:-1]))))
    # bincount adds in input order, so the sums do not depend on how the segments are batched.
    first_of_bin = np.zeros(mz.size, dtype=bool)
    first_of_bin[starts] = True
    bin_of_peak = np.cumsum(first_of_bin) - 1
    sums = np.bincount(bin_of_peak, weights=intensity, minlength=starts.size)
    counts = np.bincount(segment[starts], minlength=offsets.size - 1)
    return nominal[starts], sums, np.concatenate(([0], np.cumsum(counts)))


def nist_preprocess_many(mz: np.ndarray, intensity: np.ndarray,
                         offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MS Search preprocessing of sorted segments: (nominal m/z, 0-999 intensities, offsets)."""
    bins, sums, bin_offsets = bin_nominal(mz, intensity, offsets)
    lengths = np.diff(bin_offsets)
    filled = lengths > 0
    top = np.zeros(lengths.size)
    if bins.size:
        top[filled] = np.maximum.reduceat(sums, bin_offsets[:-1][filled])
    top_per_bin = np.repeat(top, lengths)
    with np.errstate(divide="ignore", invalid="ignore"):
        # as.integer(999 * (I / max(I)) + 0.5) in mssearchr: truncation toward zero.
        scaled = np.trunc(NIST_BASE_PEAK * (sums / top_per_bin) + 0.5)
    keep = np.isfinite(scaled) & (scaled > 0) & (top_per_bin > 0)
    counts = np.bincount(segment_ids(bin_offsets)[keep], minlength=lengths.size)
    return (bins[keep], scaled[keep].astype(np.int64),
            np.concatenate(([0], np.cumsum(counts))))


def nist_preprocess(peaks: Peaks) -> NistSpectrum:
    """MS Search preprocessing of one spectrum: nominal m/z, summed, base peak 999, no zeros."""
    peaks = as_peaks(peaks[:, 0], peaks[:, 1]) if len(peaks) else np.zeros((0, 2))
    bins, scaled, _ = nist_preprocess_many(peaks[:, 0], peaks[:, 1], np.array([0, len(peaks)]))
    return bins, scaled


# --- mass spectra: scores ------------------------------------------------------------------------


def cosine_greedy(query: Peaks, reference: Peaks, tolerance: float = 0.1, mz_power: float = 0.0,
                  intensity_power: float = 1.0) -> tuple[float, int]:
    """The matchms CosineGreedy score and number of matched peaks; (0.0, 0) when nothing matches."""
    query = _peaks(query)
    reference = _peaks(reference)
    scores, matches = cosine_greedy_many(query, reference[:, 0], reference[:, 1],
                                         np.array([0, len(reference)]), tolerance=tolerance,
                                         mz_power=mz_power, intensity_power=intensity_power)
    return float(scores[0]), int(matches[0])


def cosine_greedy_many(query: Peaks, mz: np.ndarray, intensity: np.ndarray, offsets: np.ndarray,
                       *, tolerance: float = 0.1, mz_power: float = 0.0,
                       intensity_power: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """CosineGreedy of one query against every sorted reference segment: (scores, n_matches).

    matchms semantics (CosineGreedy.pair with the library spectrum as ``reference``): a pair
    (i, j) is a candidate when ref_i - tolerance <= query_j <= ref_i + tolerance, both bounds
    computed in float64 around the reference peak; candidates are ordered by reference peak then
    query peak, sorted by product with a stable mergesort ascending and reversed, and taken
    greedily so that each peak is used once; the norms run over all peaks.  A segment where no
    peak has two candidates takes every candidate, which is what the greedy walk does; only the
    others run the walk.  Sums run in pair order rather than matchms's product order, which
    changes the last bit at most.  A zero norm gives (0.0, 0).
    """
    query = _peaks(query)
    offsets = np.asarray(offsets, dtype=np.int64)
    count = offsets.size - 1
    scores = np.zeros(count)
    matches = np.zeros(count, dtype=np.int64)
    mz = np.asarray(mz, dtype=np.float64)
    intensity = np.asarray(intensity, dtype=np.float64)
    if len(query) == 0 or mz.size == 0:
        return scores, matches
    query_weight = (query[:, 0] ** mz_power) * (query[:, 1] ** intensity_power)
    ref_weight = (mz ** mz_power) * (intensity ** intensity_power)
    segment = segment_ids(offsets)
    first = np.searchsorted(query[:, 0], mz - tolerance, side="left")
    last = np.searchsorted(query[:, 0], mz + tolerance, side="right")
    width = np.maximum(last - first, 0)
    total = int(width.sum())
    if total:
        ref_of_pair = np.repeat(np.arange(mz.size), width)
        run_start = np.cumsum(width) - width
        query_of_pair = first[ref_of_pair] + (np.arange(total) - run_start[ref_of_pair])
        segment_of_pair = segment[ref_of_pair]
        product = ref_weight[ref_of_pair] * query_weight[query_of_pair]
        # A query peak claimed by two reference peaks shows as a non-increasing step (windows are
        # monotone in m/z); a reference peak with two candidates has width > 1.
        same = segment_of_pair[1:] == segment_of_pair[:-1]
        claimed_twice = same & (query_of_pair[1:] <= query_of_pair[:-1])
        conflicted = np.zeros(count, dtype=bool)
        conflicted[segment[width > 1]] = True
        conflicted[segment_of_pair[1:][claimed_twice]] = True
        clean = ~conflicted[segment_of_pair]
        # astype: bincount of an empty selection is an integer array even with weights.
        numerator = np.bincount(segment_of_pair[clean], weights=product[clean],
                                minlength=count).astype(np.float64)
        matches = np.bincount(segment_of_pair[clean], minlength=count).astype(np.int64)
        for k in np.flatnonzero(conflicted):
            in_segment = segment_of_pair == k
            numerator[k], matches[k] = _greedy(product[in_segment], ref_of_pair[in_segment],
                                               query_of_pair[in_segment])
        ref_norm = np.sqrt(np.bincount(segment, weights=ref_weight ** 2, minlength=count))
        query_norm = _sequential_sum(query_weight ** 2) ** 0.5
        denominator = ref_norm * query_norm
        ok = (denominator > 0) & (matches > 0)
        scores[ok] = numerator[ok] / denominator[ok]
        matches[~ok] = 0
    return scores, matches


def _greedy(product: np.ndarray, ref: np.ndarray, query: np.ndarray) -> tuple[float, int]:
    """The matchms score_best_matches walk on one pair's candidates: (sum, pairs used)."""
    order = np.argsort(product, kind="mergesort")[::-1]
    used_ref: set[int] = set()
    used_query: set[int] = set()
    total = 0.0
    for i in order.tolist():
        r, q = int(ref[i]), int(query[i])
        if r not in used_ref and q not in used_query:
            total += float(product[i])
            used_ref.add(r)
            used_query.add(q)
    return total, len(used_ref)


def nist_identity(query: Peaks, reference: Peaks, reverse: bool = False) -> float:
    """MS Search Identity (EI Normal) match factor, or R.Match when reverse (float, ~0-999.5)."""
    return nist_match_factor(nist_preprocess(_peaks(query)), nist_preprocess(_peaks(reference)),
                             reverse=reverse)


def nist_match_factor(unknown: NistSpectrum, library: NistSpectrum, reverse: bool = False) -> float:
    """Composite match factor of two preprocessed spectra (mssearchr CalcMatchFactor port).

    MATCHING.md 2.1, plus two details of the C++ the summary leaves out: the walk starts at the
    higher of the two lowest m/z values (peaks of either spectrum below it are skipped, as MS
    Search ignores library peaks below the unknown's range), and a common peak where both
    intensities are <= 1 neither scores nor breaks the ratio chain.  Sums run in walk order as
    in the C++.  Reverse (R.Match) ignores peaks found only in the unknown: they add nothing to
    the unknown's norm and do not break the chain.  Returns 0.0 with no common peak.
    """
    mz_u, int_u = (np.asarray(a, dtype=np.int64) for a in unknown)
    mz_l, int_l = (np.asarray(a, dtype=np.int64) for a in library)
    if mz_u.size == 0 or mz_l.size == 0:
        return 0.0
    start = max(mz_u[0], mz_l[0])
    keep_u, keep_l = mz_u >= start, mz_l >= start
    mz_u, int_u, mz_l, int_l = mz_u[keep_u], int_u[keep_u], mz_l[keep_l], int_l[keep_l]
    if mz_u.size == 0 or mz_l.size == 0:
        return 0.0
    mz = np.union1d(mz_u, mz_l)
    in_u = np.zeros(mz.size, dtype=bool)
    in_l = np.zeros(mz.size, dtype=bool)
    iu = np.zeros(mz.size)
    il = np.zeros(mz.size)
    at_u = np.searchsorted(mz, mz_u)
    at_l = np.searchsorted(mz, mz_l)
    in_u[at_u], iu[at_u] = True, int_u
    in_l[at_l], il[at_l] = True, int_l
    mzf = mz.astype(np.float64)
    w1u, w1l = np.sqrt(iu * mzf), np.sqrt(il * mzf)
    w2u, w2l = np.sqrt(iu), np.sqrt(il)
    common = in_u & in_l & ((iu > 1 + _NIST_TOL) | (il > 1 + _NIST_TOL))
    only_u = in_u & ~in_l & (iu > 1) & (not reverse)
    only_l = in_l & ~in_u & (il > 1)
    n1 = int(np.count_nonzero(common & (iu > _NIST_TOL) & (il > _NIST_TOL)))
    if n1 == 0:
        return 0.0
    s_ul = _sequential_sum((w1u * w1l)[common])
    s_uu = _sequential_sum((w1u * w1u)[common | only_u])
    s_ll = _sequential_sum((w1l * w1l)[common | only_l])
    # The ratio chain: a common peak forms a ratio with the previous common peak unless a peak
    # found in one spectrum only (intensity > 1) lies between them.
    events = np.flatnonzero(common | only_u | only_l)
    is_common = common[events]
    link = is_common[1:] & is_common[:-1]
    here, before = events[1:][link], events[:-1][link]
    r_num = w2u[here] * w2l[before]
    r_den = w2u[before] * w2l[here]
    valid = (r_num > _NIST_TOL) & (r_den > _NIST_TOL)
    here, r_num, r_den = here[valid], r_num[valid], r_den[valid]
    ratio_terms = np.where(r_den > r_num, mzf[here] * r_num / r_den, mzf[here] * r_den / r_num)
    s_r = _sequential_sum(ratio_terms)
    s_m = int(mz[here].sum())
    n2 = int(here.size)
    term1 = s_ul * s_ul / (s_uu * s_ll)
    if s_m > 0:
        return 1000.0 * (term1 * n1 + (s_r / s_m) * n2) / (n1 + n2) - 0.5
    return 1000.0 * term1 - 0.5


def display_match_factor(mf: float) -> int:
    """The integer MS Search shows: floor(MF + 0.5), clipped to 0..999.

    The port's MF already carries the -0.5 of mssearchr, so rounding half up gives
    floor(1000 * composite): identical spectra (999.5) show 999, a composite of 0.9505 shows 950.
    Rounding half to even would turn 998.5 into 998 but 999.5 into 1000 (then clipped), so the
    same offset would be applied unevenly; floor(MF + 0.5) treats every value alike.
    """
    return min(NIST_BASE_PEAK, max(0, math.floor(mf + 0.5)))


def _sequential_sum(values: np.ndarray) -> float:
    """Left-to-right float64 sum, the order of the C++ loops (np.sum is pairwise)."""
    return float(np.cumsum(values)[-1]) if values.size else 0.0


def _peaks(peaks: Peaks) -> Peaks:
    """A float64 (n, 2) peak array sorted by m/z."""
    array = np.asarray(peaks, dtype=np.float64)
    if array.size == 0:
        return np.zeros((0, 2))
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"peaks must be an (n, 2) array of [m/z, intensity], got {array.shape}")
    return as_peaks(array[:, 0], array[:, 1])


# --- full spectra: preprocessing -----------------------------------------------------------------


def resample(x: np.ndarray, y: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """The y values linearly interpolated onto axis (np.interp; edge values outside x's range).

    Files often store x descending (wavenumbers 4000 -> 400); any order is accepted.
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.size >= 2 and x[0] > x[-1]:
        x, y = x[::-1], y[::-1]
    if x.size >= 2 and np.any(x[1:] < x[:-1]):
        order = np.argsort(x, kind="stable")
        x, y = x[order], y[order]
    return np.interp(np.asarray(axis, dtype=np.float64), x, y)


def axis_mask(axis: np.ndarray, excluded: Sequence[tuple[float, float]] = (),
              coverage: tuple[float, float] | None = None) -> np.ndarray:
    """Points of axis that take part: inside coverage (inclusive) and outside every excluded region.

    Regions are (lo, hi) in axis units, either order, both ends excluded too.
    """
    axis = np.asarray(axis, dtype=np.float64)
    keep = np.ones(axis.size, dtype=bool)
    if coverage is not None:
        keep &= (axis >= coverage[0]) & (axis <= coverage[1])
    for lo, hi in excluded:
        lo, hi = sorted((float(lo), float(hi)))
        keep &= ~((axis >= lo) & (axis <= hi))
    return keep


def coverage(x: np.ndarray) -> tuple[float, float]:
    """The x range (min, max) a spectrum covers."""
    x = np.asarray(x, dtype=np.float64)
    return float(x.min()), float(x.max())


# --- full spectra: scores ------------------------------------------------------------------------


def correlation(u: np.ndarray, l: np.ndarray) -> float:  # noqa: E741 (L = library, as the docs)
    """Pearson r over the given points (Thermo "Correlation"); 0.0 when undefined."""
    return float(correlation_many(u, np.asarray(l, dtype=np.float64)[None, :])[0])


def correlation_many(u: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Pearson r of u against every row, mean-centred over the given points; 0.0 when undefined.

    Undefined means fewer than 2 points or a constant vector (its centred norm is 0).
    """
    u = np.asarray(u, dtype=np.float64)
    rows = np.asarray(rows, dtype=np.float64)
    result = np.zeros(rows.shape[0])
    if u.size < 2 or rows.shape[1] != u.size or np.ptp(u) == 0:
        return result
    centred_u = u - _row_sums(u) / u.size
    centred = rows - (_row_sums(rows) / u.size)[:, None]
    numerator = _row_sums(centred * centred_u)
    denominator = np.sqrt(_row_sums(centred_u * centred_u)) * np.sqrt(_row_sums(centred * centred))
    ok = (np.ptp(rows, axis=1) > 0) & (denominator > 0)
    result[ok] = np.clip(numerator[ok] / denominator[ok], -1.0, 1.0)
    return result


def derivative_correlation(u: np.ndarray, l: np.ndarray) -> float:  # noqa: E741
    """First-derivative correlation: Pearson r of the first differences; 0.0 when undefined."""
    return float(derivative_correlation_many(u, np.asarray(l, dtype=np.float64)[None, :])[0])


def derivative_correlation_many(u: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """First-derivative correlation of u against every row.

    D_i = X_i - X_(i-1) over consecutive given points (np.diff, n - 1 values; Thermo's padding
    D_1 = 0 is left out, being the same artificial point in both), then Pearson r of D, which
    re-centres D: the score is therefore also blind to a linear baseline.  Where excluded points
    were removed, one difference spans the gap, in the library and the query alike.
    """
    return correlation_many(np.diff(np.asarray(u, dtype=np.float64)),
                            np.diff(np.asarray(rows, dtype=np.float64), axis=1))


def euclidean_distance(u: np.ndarray, l: np.ndarray) -> float:  # noqa: E741
    """Euclidean distance of the unit-length vectors, sqrt(2 - 2 cos); sqrt(2) when undefined."""
    return float(euclidean_distance_many(u, np.asarray(l, dtype=np.float64)[None, :])[0])


def euclidean_distance_many(u: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Distance of unit-length u to every unit-length row: 0 identical, sqrt(2) orthogonal.

    Computed as the norm of the difference (sqrt(2 - 2 cos) loses half the digits near 0).
    Non-negative spectra stay in [0, sqrt 2]; vectors with negative values can reach 2.
    Fewer than 2 points or a zero vector give sqrt(2).
    """
    u = np.asarray(u, dtype=np.float64)
    rows = np.asarray(rows, dtype=np.float64)
    result = np.full(rows.shape[0], SQRT2)
    if u.size < 2 or rows.shape[1] != u.size:
        return result
    norm_u = np.sqrt(_row_sums(u * u))
    if norm_u == 0:
        return result
    norms = np.sqrt(_row_sums(rows * rows))
    ok = norms > 0
    difference = rows[ok] / norms[ok, None] - u / norm_u
    result[ok] = np.sqrt(_row_sums(difference * difference))
    return result


def _row_sums(values: np.ndarray) -> np.ndarray:
    """Sums along the last axis, on a C-ordered copy if need be.

    numpy sums a C-ordered row pairwise but an F-ordered one (as fancy indexing can return)
    element by element, which can change the last bit: the same spectrum would then score
    differently alone and in a batch.  Row by row on C order, one row or many give the same bits.
    """
    return np.ascontiguousarray(values).sum(axis=-1)
