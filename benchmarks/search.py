"""Library-search benchmark: libsearch.index against matchms and scipy, in the same run.

Not a test: it prints markdown tables and writes benchmarks/results/search.json.
benchmarks/run search runs it; by hand:

    .venv/bin/python benchmarks/search.py            # 10k + 100k EI, 10k IR (a few minutes)
    .venv/bin/python benchmarks/search.py --quick    # 10k EI, 2k IR, fewer peer queries

Synthetic, seeded libraries as docs/MATCHING.md 3.1. Peers: matchms CosineGreedy(tolerance=0.1)
on a subset of the queries (extrapolated; its numba JIT is warmed up first and not timed),
matchms FlashSimilarity(score_type="cosine", tolerance=0.1, noise_cutoff=0,
normalize_to_half=False), n_jobs=1, its library index build included; scipy
cdist(metric="correlation") for IR. Ours: build_index, open_index, then search (one query at a
time: median and p95) and search_batch (100 queries at once), top 10, exact re-score included.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")  # matchms's progress bars

import numpy as np  # noqa: E402
from scipy.spatial.distance import cdist  # noqa: E402

from libsearch.index import LibraryIndex, build_index, open_index  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SEED = 2026
TOP = 10
QUERIES = 100
IR_AXIS = np.arange(400.0, 4000.0 + 1, 2.0)
TARGETS_MS = {"single query, EI 100k [ms]": 15.0, "100-query batch, EI 100k [ms]": 250.0,
              "single query, IR 10k [ms]": 5.0}


def log(message: str) -> None:
    """Progress line on stderr, so that stdout is the results alone."""
    print(f"  .. {message}", file=sys.stderr, flush=True)


# --- synthetic data (MATCHING.md 3.1) ------------------------------------------------------------


def ei_library(rng: np.random.Generator, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """EI spectra: 50-150 unique integer m/z in 30-500 below a random molecular ion, Pareto
    intensities scaled to base peak 999 and rounded."""
    entries = []
    for _ in range(count):
        ion = int(rng.integers(150, 501))
        n = int(rng.integers(50, 151))
        candidates = np.arange(30, ion + 1)
        weights = np.exp(-(ion - candidates) / (0.6 * ion))[::-1]
        n = min(n, candidates.size)
        mz = np.sort(rng.choice(candidates, n, replace=False, p=weights / weights.sum()))
        intensity = rng.pareto(1.2, n) + 0.01
        intensity = np.maximum(np.round(999 * intensity / intensity.max()), 1.0)
        entries.append((mz.astype(np.float64), intensity))
    return entries


def ei_queries(rng: np.random.Generator, library: list, count: int) -> tuple[list, np.ndarray]:
    """Perturbed members: log-normal noise (0.15), 30 % of small peaks dropped, 5 noise peaks."""
    sources = rng.choice(len(library), count, replace=False)
    queries = []
    for source in sources:
        mz, intensity = library[source]
        noisy = intensity * rng.lognormal(0.0, 0.15, intensity.size)
        small = noisy < np.median(noisy)
        keep = ~small | (rng.random(noisy.size) > 0.3)
        extra = np.setdiff1d(rng.integers(30, 501, 5), mz[keep]).astype(np.float64)
        mz_q = np.concatenate((mz[keep], extra))
        int_q = np.concatenate((noisy[keep], rng.uniform(1, 30, extra.size)))
        order = np.argsort(mz_q)
        queries.append((mz_q[order], int_q[order]))
    return queries, sources


def ir_library(rng: np.random.Generator, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Absorbance spectra 4000 -> 400 cm-1 at 2 cm-1: 10-40 Lorentzian bands (60 % in
    600-1800 cm-1) and a small baseline; x stored descending as IR files do."""
    entries = []
    descending = IR_AXIS[::-1].copy()
    for _ in range(count):
        bands = int(rng.integers(10, 41))
        fingerprint = rng.random(bands) < 0.6
        centres = np.where(fingerprint, rng.uniform(600, 1800, bands),
                           rng.uniform(400, 4000, bands))
        widths = rng.uniform(3, 25, bands)
        heights = rng.uniform(0.02, 1.0, bands)
        y = (heights / (1 + ((descending[:, None] - centres) / widths) ** 2)).sum(axis=1)
        y += rng.uniform(0, 0.05) + rng.uniform(-1e-5, 1e-5) * (descending - 400)
        entries.append((descending, y))
    return entries


def ir_queries(rng: np.random.Generator, library: list, count: int) -> tuple[list, np.ndarray]:
    """Members with a random scale, noise (0.01), an offset and a linear tilt."""
    sources = rng.choice(len(library), count, replace=False)
    queries = []
    for source in sources:
        x, y = library[source]
        y = (rng.uniform(0.5, 2.0) * y + rng.normal(0, 0.01, y.size) + rng.uniform(-0.1, 0.1)
             + rng.uniform(-2e-5, 2e-5) * (x - 400))
        queries.append((x, y))
    return queries, sources


# --- measuring -----------------------------------------------------------------------------------


def timed(function, repeat: int = 1) -> tuple[float, object]:
    """(median seconds, last result) of repeat calls."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def latencies(index: LibraryIndex, queries: list, algorithm: str,
              mask: tuple = ()) -> tuple[float, float, list]:
    """Median and p95 milliseconds of single searches (one warm-up first), and the hit lists."""
    index.search(*queries[0], algorithm=algorithm, top=TOP, mask=mask)
    times, hits = [], []
    for x, y in queries:
        started = time.perf_counter()
        hits.append(index.search(x, y, algorithm=algorithm, top=TOP, mask=mask))
        times.append(time.perf_counter() - started)
    return (1000 * statistics.median(times), 1000 * float(np.percentile(times, 95)), hits)


def fmt(value: float, digits: int = 3) -> str:
    """Number for a table: 3 significant digits, thousands separators for big values."""
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) < 1e-3:
        return f"{value:.2e}"
    return f"{value:.{digits}g}"


def table(header: list[str], rows: list[list]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def matchms_or_none():
    """The matchms modules used as peers, or None with the install command."""
    try:
        from matchms import Spectrum
        from matchms.logging_functions import set_matchms_logger_level
        from matchms.similarity import CosineGreedy, FlashSimilarity
    except ImportError:
        return None
    set_matchms_logger_level("ERROR")
    return Spectrum, CosineGreedy, FlashSimilarity


def bench_ms(count: int, greedy_queries: int, flash_queries: int, work: Path,
             results: dict) -> None:
    """EI-MS: ours (cosine, NIST Identity) against matchms CosineGreedy and FlashSimilarity."""
    rng = np.random.default_rng(SEED + count)
    started = time.perf_counter()
    library = ei_library(rng, count)
    queries, sources = ei_queries(rng, library, QUERIES)
    log(f"generated {count:,} EI spectra in {time.perf_counter() - started:.1f} s")
    directory = work / f"ei-{count}"
    build_s, info = timed(lambda: build_index(library, "ms", directory))
    open_s, index = timed(lambda: LibraryIndex(directory))  # bypasses the per-process cache
    index = open_index(directory)
    single_med, single_p95, single_hits = latencies(index, queries, "cosine")
    batch_s, batch_hits = timed(lambda: index.search_batch(queries, algorithm="cosine", top=TOP),
                                repeat=3)
    nist_med, nist_p95, nist_hits = latencies(index, queries[:20], "nist_identity")
    nist_batch_s, _ = timed(lambda: index.search_batch(queries, algorithm="nist_identity",
                                                       top=TOP))
    top1 = np.mean([hits[0].position == s for hits, s in zip(single_hits, sources, strict=True)])
    nist_top1 = np.mean([h[0].position == s for h, s in zip(nist_hits, sources[:20], strict=True)])
    batch_same = batch_hits == single_hits
    # (method, ms per query or batch, p95 ms, seconds for 100 queries)
    measured = [
        ("ours: search(), cosine, 1 query at a time", single_med, single_p95,
         single_med * QUERIES / 1000),
        ("ours: search_batch(), cosine, 100 queries", 1000 * batch_s, None, batch_s),
        ("ours: search(), NIST Identity MF, 1 query at a time (20 queries)", nist_med, nist_p95,
         nist_med * QUERIES / 1000),
        ("ours: search_batch(), NIST Identity MF, 100 queries", 1000 * nist_batch_s, None,
         nist_batch_s),
    ]
    agreement = [["top-1 hit = source spectrum (cosine, 100 queries)", f"{top1:.3f}"],
                 ["top-1 hit = source spectrum (NIST Identity, 20 queries)", f"{nist_top1:.3f}"],
                 ["search_batch() hits == search() hits (100 queries)", str(batch_same)],
                 ["index build [s]", fmt(build_s)],
                 ["index open (np.load mmap, page cache warm) [ms]", fmt(1000 * open_s)],
                 ["index bytes on disk", f"{info['bytes'] / 1e6:.1f} MB"],
                 ["library peaks", f"{info['peaks']:,}"]]
    record = {"size": count, "build_s": build_s, "open_s": open_s, "single_median_ms": single_med,
              "single_p95_ms": single_p95, "batch_ms": 1000 * batch_s, "nist_single_median_ms":
              nist_med, "nist_batch_ms": 1000 * nist_batch_s, "top1": top1,
              "bytes": info["bytes"]}
    peers = matchms_or_none()
    if peers is None:
        agreement.append(["matchms", "not installed: .venv/bin/pip install 'matchms>=0.33'"])
    else:
        spectrum, cosine_greedy, flash_similarity = peers
        started = time.perf_counter()
        lib_spectra = [spectrum(mz=mz, intensities=i) for mz, i in library]
        query_spectra = [spectrum(mz=mz, intensities=i) for mz, i in queries]
        log(f"built matchms Spectrum objects in {time.perf_counter() - started:.1f} s")
        greedy = cosine_greedy(tolerance=0.1)
        greedy.matrix(lib_spectra[:5], query_spectra[:1])  # numba JIT warm-up, not timed
        greedy_s, greedy_scores = timed(
            lambda: greedy.matrix(lib_spectra, query_spectra[:greedy_queries]))
        greedy_scores = greedy_scores["score"] if greedy_scores.dtype.names else greedy_scores
        greedy_100 = greedy_s * QUERIES / greedy_queries
        flash = flash_similarity(score_type="cosine", tolerance=0.1, noise_cutoff=0,
                                 normalize_to_half=False)
        flash_s, flash_scores = timed(
            lambda: flash.matrix(query_spectra[:flash_queries], lib_spectra, n_jobs=1))
        flash_100 = flash_s * QUERIES / flash_queries
        measured += [
            (f"matchms CosineGreedy.matrix ({greedy_queries} queries measured, extrapolated)",
             None, None, greedy_100),
            (f"matchms FlashSimilarity cosine, n_jobs=1, incl. index build ({flash_queries} "
             "queries measured, extrapolated)", None, None, flash_100),
        ]
        # Agreement on the reported numbers: every top-10 hit of the measured queries.
        worst_greedy = max(abs(h.raw - greedy_scores[h.position, q])
                           for q in range(greedy_queries) for h in single_hits[q])
        worst_flash = max(abs(h.raw - flash_scores[q, h.position])
                          for q in range(flash_queries) for h in single_hits[q])
        same_top1 = np.mean([single_hits[q][0].position == int(np.argmax(greedy_scores[:, q]))
                             for q in range(greedy_queries)])
        agreement += [
            ["max abs(ours - CosineGreedy), reported top-10 scores", f"{worst_greedy:.2e}"],
            ["max abs(ours - FlashSimilarity), reported top-10 scores", f"{worst_flash:.2e}"],
            ["same top-1 as CosineGreedy (measured queries)", f"{same_top1:.3f}"],
            ["speed-up, 100-query batch vs CosineGreedy / FlashSimilarity",
             f"{greedy_100 / batch_s:,.0f}x / {flash_100 / batch_s:,.0f}x"]]
        record.update({"cosine_greedy_100_s": greedy_100, "flash_100_s": flash_100,
                       "max_diff_greedy": worst_greedy, "max_diff_flash": worst_flash})
    greedy_100 = record.get("cosine_greedy_100_s")
    flash_100 = record.get("flash_100_s")
    rows = [[label, "" if ms is None else fmt(ms), "" if p95 is None else fmt(p95),
             fmt(QUERIES / seconds), fmt(seconds),
             "" if greedy_100 is None else fmt(greedy_100 / seconds),
             "" if flash_100 is None else fmt(flash_100 / seconds)]
            for label, ms, p95, seconds in measured]
    print(f"\n### EI-MS, N = {count:,} library spectra, {QUERIES} queries, top {TOP}\n")
    print(table(["method", "ms (median)", "p95 [ms]", "queries/s", "time for 100 queries [s]",
                 "x CosineGreedy", "x FlashSimilarity"], rows))
    print()
    print(table(["quantity", "value"], agreement))
    results[f"ei_{count}"] = record


def bench_ir(count: int, work: Path, results: dict) -> None:
    """IR: ours (correlation HQI and friends) against scipy cdist(metric="correlation")."""
    rng = np.random.default_rng(SEED + 7 * count)
    started = time.perf_counter()
    library = ir_library(rng, count)
    queries, sources = ir_queries(rng, library, QUERIES)
    log(f"generated {count:,} IR spectra in {time.perf_counter() - started:.1f} s")
    directory = work / f"ir-{count}"
    build_s, info = timed(lambda: build_index(library, "spectral", directory))
    open_s, _ = timed(lambda: LibraryIndex(directory))
    index = open_index(directory)
    rows, record = [], {"size": count, "build_s": build_s, "open_s": open_s,
                        "bytes": info["bytes"]}
    hits_by = {}
    for algorithm in ("hqi", "hqi_derivative", "euclidean"):
        median, p95, hits = latencies(index, queries, algorithm)
        batch_s, batch = timed(lambda a=algorithm: index.search_batch(queries, algorithm=a,
                                                                      top=TOP), repeat=3)
        hits_by[algorithm] = hits
        rows.append([f"ours: search(), {algorithm}, 1 query at a time", fmt(median), fmt(p95),
                     fmt(1000 / median), fmt(median * QUERIES / 1000)])
        rows.append([f"ours: search_batch(), {algorithm}, 100 queries", fmt(1000 * batch_s), "",
                     fmt(QUERIES / batch_s), fmt(batch_s)])
        record[algorithm] = {"single_median_ms": median, "single_p95_ms": p95,
                             "batch_ms": 1000 * batch_s, "batch_equals_single": batch == hits}
    masked = [(2400.0, 2280.0)]
    index.search(*queries[0], algorithm="hqi", mask=masked)  # builds the masked matrix once
    masked_med, masked_p95, _ = latencies(index, queries, "hqi", tuple(masked))
    rows.append(["ours: search(), hqi, CO2 region masked (cached matrix)", fmt(masked_med),
                 fmt(masked_p95), fmt(1000 / masked_med), fmt(masked_med * QUERIES / 1000)])
    resampled = np.array([y for _, y in library])
    query_matrix = np.array([y for _, y in queries])
    cdist_s, distances = timed(lambda: cdist(query_matrix, resampled, metric="correlation"))
    rows.append(["scipy cdist(metric='correlation'), float64, 100 queries", "", "",
                 fmt(QUERIES / cdist_s), fmt(cdist_s)])
    ours_batch = record["hqi"]["batch_ms"] / 1000
    worst = max(abs(h.raw - (1 - distances[q, h.position]))
                for q in range(QUERIES) for h in hits_by["hqi"][q])
    top1 = np.mean([h[0].position == s for h, s in zip(hits_by["hqi"], sources, strict=True)])
    agreement = [
        ["max abs(r ours - (1 - cdist)), reported top-10", f"{worst:.2e}"],
        ["top-1 hit = source spectrum (hqi)", f"{top1:.3f}"],
        ["speed-up, hqi 100-query batch vs cdist", f"{cdist_s / ours_batch:,.1f}x"],
        ["search_batch() == search() for all three algorithms",
         str(all(record[a]["batch_equals_single"] for a in ("hqi", "hqi_derivative",
                                                              "euclidean")))],
        ["index build [s]", fmt(build_s)],
        ["index open (np.load mmap, page cache warm) [ms]", fmt(1000 * open_s)],
        ["index bytes on disk", f"{info['bytes'] / 1e6:.1f} MB"]]
    record.update({"cdist_s": cdist_s, "max_diff_cdist": worst, "top1": top1,
                   "masked_single_median_ms": masked_med})
    print(f"\n### IR, N = {count:,} x {index.axis.size} points, {QUERIES} queries, top {TOP}\n")
    print(table(["method", "ms per query or batch (median)", "p95 [ms]", "queries/s",
                 "time for 100 queries [s]"], rows))
    print()
    print(table(["quantity", "value"], agreement))
    results[f"ir_{count}"] = record


def main() -> None:
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="10k EI and 2k IR only, fewer peer queries (about a minute)")
    args = parser.parse_args()
    started = time.perf_counter()
    versions = {name: _version(name) for name in ("numpy", "scipy", "matchms", "numba")}
    print("# Library search benchmark\n")
    print(f"python {platform.python_version()}, " + ", ".join(f"{k} {v}" for k, v in
                                                              versions.items())
          + f", {os.cpu_count()} CPUs, OPENBLAS_NUM_THREADS="
          + os.environ.get("OPENBLAS_NUM_THREADS", "(unset: all cores)") + "\n")
    results: dict = {"versions": versions, "quick": args.quick}
    with tempfile.TemporaryDirectory(prefix="lims-search-bench-") as temp:
        work = Path(temp)
        bench_ms(10_000, 5 if args.quick else 10, 20 if args.quick else 100, work, results)
        if not args.quick:
            bench_ms(100_000, 3, 10, work, results)
        bench_ir(2_000 if args.quick else 10_000, work, results)
    checks = []
    if "ei_100000" in results:
        checks.append(["single query, EI 100k [ms]", results["ei_100000"]["single_median_ms"]])
        checks.append(["100-query batch, EI 100k [ms]", results["ei_100000"]["batch_ms"]])
    if "ir_10000" in results:
        checks.append(["single query, IR 10k [ms]", results["ir_10000"]["hqi"]["single_median_ms"]])
    if checks:
        print("\n### Targets (MATCHING.md 4)\n")
        print(table(["target", "goal", "measured (median)", ""],
                    [[name, f"<= {TARGETS_MS[name]:g}", fmt(value),
                      "PASS" if value <= TARGETS_MS[name] else "FAIL"] for name, value in checks]))
    print(f"\n(total benchmark wall time {time.perf_counter() - started:.0f} s)")
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "search.json").write_text(json.dumps(results, indent=1, default=float))


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


if __name__ == "__main__":
    main()
