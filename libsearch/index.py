"""On-disk, memory-mapped library index: a float32 fast pass ranks, scores.py re-scores exactly.

A library is built once into a directory of ``.npy`` files (``build_index``) and opened with
``np.load(mmap_mode="r")`` (``open_index``), so a worker maps it in milliseconds and pages are
shared between processes.  Every search runs in two passes (docs/MATCHING.md 4):

1. fast pass: one float32 product of the prepared library matrix with the query vector(s)
   ranks K = max(100, 5 * top) candidates (scipy CSR for mass spectra, split over threads for
   batches; BLAS GEMV/GEMM for full spectra);
2. exact pass: each candidate is re-scored in float64 by ``libsearch.scores`` from the stored
   exact data, and the hits are sorted on that value.  Reported numbers never come from float32.

Pure numpy/scipy: no Flask, SQLAlchemy or lims imports beyond ``libsearch.scores``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from libsearch import scores

INDEX_VERSION = "1"
KINDS = ("ms", "spectral")
MAX_AXIS_POINTS = 2001  # common axis of a spectral library: the finest 1/2/2.5/5 step within
MIN_CANDIDATES = 50  # K = max(MIN_CANDIDATES, CANDIDATE_FACTOR * top) re-scored exactly
CANDIDATE_FACTOR = 5
MASK_CACHE_SIZE = 4  # prepared matrices kept per index for masked/partial queries (~72 MB each
#                      for 10,000 x 1,801)
_ROW_CHUNK = 2048  # rows per step when preparing spectral matrices
_META = "meta.json"


def _hqi(raw: float) -> float:
    return 100.0 * raw * raw


def _same(raw: float) -> float:
    return float(raw)


@dataclass(frozen=True)
class Algorithm:
    """A search algorithm: how its raw score reads and is displayed."""

    name: str
    label: str
    kind: str  # "ms" or "spectral": the library kind it applies to
    higher_is_better: bool
    display: Callable[[float], float]  # raw (r, cos, distance or MF) -> the number shown
    scale: str


ALGORITHMS: dict[str, Algorithm] = {a.name: a for a in (
    Algorithm("hqi", "Correlation HQI (100·r²)", "spectral", True, _hqi,
              "0–100; 100 = same shape. Ranked on r (Pearson, mean-centred), shown as 100·r²."),
    Algorithm("hqi_derivative", "First-derivative correlation HQI (100·r²)", "spectral", True,
              _hqi, "0–100; 100 = same shape. r of the first differences (re-centred), "
              "blind to offset, scale and linear baseline."),
    Algorithm("euclidean", "Euclidean distance (unit vectors)", "spectral", False, _same,
              "0–1.414; 0 = identical. √(2 − 2·cos) of the unit-length spectra."),
    Algorithm("cosine", "Cosine (matchms CosineGreedy, tolerance 0.1)", "ms", True, _same,
              "0–1; 1 = identical. Greedy peak matching within ±0.1 m/z."),
    Algorithm("nist_identity", "NIST Identity match factor (EI Normal)", "ms", True, _same,
              "0–999; > 900 excellent, 800–900 good, 700–800 fair (validate per lab)."),
    Algorithm("nist_reverse", "NIST reverse match factor (R.Match)", "ms", True, _same,
              "0–999; as Identity, ignoring peaks found only in the unknown."),
)}
_SPECTRAL_SCORES = {
    "hqi": scores.correlation_many,
    "hqi_derivative": scores.derivative_correlation_many,
    "euclidean": scores.euclidean_distance_many,
}


@dataclass(frozen=True)
class Hit:
    """One hit: the entry's 0-based position, the exact float64 raw score and its display value."""

    position: int
    raw: float
    score: float
    matches: int | None = None


Entry = tuple[np.ndarray, np.ndarray]


# --- building ------------------------------------------------------------------------------------


def build_index(entries: Sequence[Entry], kind: str, directory: Path) -> dict:
    """Write the index of entries (x, y per spectrum, library order) into directory, atomically.

    The files are written into a new sibling directory which then replaces directory by rename,
    so a reader sees the old index or the new one, never half of one.
    """
    if kind not in KINDS:
        raise ValueError(f"index kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if len(entries) == 0:
        raise ValueError("a library index needs at least one entry")
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".building",
                                 dir=directory.parent))
    try:
        info = (_write_ms if kind == "ms" else _write_spectral)(entries, temp)
        info = {"version": INDEX_VERSION, "kind": kind, "size": len(entries), **info}
        info["bytes"] = sum(path.stat().st_size for path in temp.glob("*.npy"))
        (temp / _META).write_text(json.dumps(info, indent=1), encoding="utf-8")
        temp.chmod(0o755)
        _replace_directory(temp, directory)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return info


def _replace_directory(new: Path, directory: Path) -> None:
    if not directory.exists():
        os.rename(new, directory)
        return
    old = directory.with_name(f".{directory.name}.{uuid.uuid4().hex}.old")
    os.rename(directory, old)
    os.rename(new, directory)
    # Open indexes keep their mapped pages: unlinked files stay readable until unmapped.
    shutil.rmtree(old, ignore_errors=True)


def _checked(entries: Sequence[Entry], minimum: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    xs, ys = [], []
    for ordinal, (x, y) in enumerate(entries):
        x = np.asarray(x, dtype=np.float64).ravel()
        y = np.asarray(y, dtype=np.float64).ravel()
        if x.shape != y.shape:
            raise ValueError(f"library entry {ordinal}: {x.size} x values but {y.size} y values")
        if x.size < minimum:
            raise ValueError(f"library entry {ordinal}: {x.size} points, at least {minimum} needed")
        if not (np.isfinite(x).all() and np.isfinite(y).all()):
            raise ValueError(f"library entry {ordinal}: x or y holds NaN or infinity")
        xs.append(x)
        ys.append(y)
    return xs, ys


def _offsets(lengths: Sequence[int]) -> np.ndarray:
    return np.concatenate(([0], np.cumsum(lengths, dtype=np.int64)))


def _write_ms(entries: Sequence[Entry], directory: Path) -> dict:
    xs, ys = _checked(entries, 0)
    offsets = _offsets([x.size for x in xs])
    mz, intensity = scores.sort_segments(np.concatenate(xs), np.concatenate(ys), offsets)
    if mz.size and (mz.min() < 0 or intensity.min() < 0):
        raise ValueError("library m/z values and intensities must not be negative")
    bins, sums, bin_offsets = scores.bin_nominal(mz, intensity, offsets)
    nist_mz, nist_intensity, nist_offsets = scores.nist_preprocess_many(mz, intensity, offsets)
    columns = int(max(bins.max(initial=0), nist_mz.max(initial=0))) + 1
    nist_weight = np.sqrt(nist_intensity * nist_mz.astype(np.float64))
    index_type = np.int32 if max(bins.size, nist_mz.size) < 2**31 - 1 else np.int64
    arrays = {
        "x": mz, "y": intensity, "offsets": offsets,
        "cos_data": _unit_segments(sums, bin_offsets).astype(np.float32),
        "cos_indices": bins.astype(index_type), "cos_indptr": bin_offsets.astype(index_type),
        "nist_data": _unit_segments(nist_weight, nist_offsets).astype(np.float32),
        "nist_indices": nist_mz.astype(index_type),
        "nist_indptr": nist_offsets.astype(index_type),
        "nist_intensity": nist_intensity.astype(np.int16),
    }
    for name, array in arrays.items():
        np.save(directory / f"{name}.npy", array)
    return {"columns": columns, "peaks": int(mz.size), "bins": int(bins.size)}


def _unit_segments(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    segment = scores.segment_ids(offsets)
    norms = np.sqrt(np.bincount(segment, weights=values * values, minlength=offsets.size - 1))
    per_value = norms[segment]
    return np.divide(values, per_value, out=np.zeros_like(values), where=per_value > 0)


def common_axis(lo: float, hi: float) -> np.ndarray:
    """Ascending axis over [lo, hi]: the finest step of 1, 2, 2.5 or 5 x 10^k within 2001 points."""
    span = hi - lo
    if not span > 0:
        raise ValueError(f"the library spans no x range ({lo:g} to {hi:g})")
    for exponent in range(math.floor(math.log10(span)) - 4, math.floor(math.log10(span)) + 2):
        for mantissa in (1.0, 2.0, 2.5, 5.0):
            step = mantissa * 10.0 ** exponent
            start = math.ceil(lo / step - 1e-9)
            stop = math.floor(hi / step + 1e-9)
            if stop - start + 1 <= MAX_AXIS_POINTS:
                return np.arange(start, stop + 1, dtype=np.float64) * step
    raise AssertionError("unreachable: a step of 10^(k+1) always fits")


def _write_spectral(entries: Sequence[Entry], directory: Path) -> dict:
    xs, ys = _checked(entries, 2)
    axis = common_axis(min(float(x.min()) for x in xs), max(float(x.max()) for x in xs))
    size, points = len(xs), axis.size
    np.save(directory / "x.npy", np.concatenate(xs))
    np.save(directory / "y.npy", np.concatenate(ys))
    np.save(directory / "offsets.npy", _offsets([x.size for x in xs]))
    np.save(directory / "axis.npy", axis)
    np.save(directory / "coverage.npy", np.array([scores.coverage(x) for x in xs]))
    resampled = np.lib.format.open_memmap(directory / "resampled.npy", mode="w+",
                                          dtype=np.float64, shape=(size, points))
    for position, (x, y) in enumerate(zip(xs, ys, strict=True)):
        resampled[position] = scores.resample(x, y, axis)
    keep = np.ones(points, dtype=bool)
    for name in _SPECTRAL_SCORES:
        columns = points - 1 if name == "hqi_derivative" else points
        matrix = np.lib.format.open_memmap(directory / f"{name}.npy", mode="w+",
                                           dtype=np.float32, shape=(size, columns))
        _fill_prepared(matrix, resampled, keep, name)
        matrix.flush()
        del matrix
    resampled.flush()
    return {"points": int(points), "axis_start": float(axis[0]), "axis_stop": float(axis[-1]),
            "axis_step": float(axis[1] - axis[0])}


def _prepare_rows(rows: np.ndarray, algorithm: str) -> np.ndarray:
    """The fast-pass form of spectra (rows on the kept points): float64, unit length rows."""
    if algorithm == "hqi_derivative":
        rows = np.diff(rows, axis=1)
    if algorithm != "euclidean":
        rows = rows - rows.mean(axis=1, keepdims=True)
    norms = np.sqrt((rows * rows).sum(axis=1, keepdims=True))
    return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)


def _fill_prepared(out: np.ndarray, resampled: np.ndarray, keep: np.ndarray,
                   algorithm: str) -> None:
    for start in range(0, resampled.shape[0], _ROW_CHUNK):
        rows = np.asarray(resampled[start:start + _ROW_CHUNK])[:, keep]
        out[start:start + rows.shape[0]] = _prepare_rows(rows, algorithm)


# --- opening -------------------------------------------------------------------------------------


_OPEN: dict[Path, tuple[tuple[int, int], LibraryIndex]] = {}
_OPEN_LOCK = threading.Lock()
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()
_WORKERS = max(1, min(4, os.cpu_count() or 1))


def open_index(directory: Path) -> LibraryIndex:
    """The index in directory, memory-mapped; one instance per path and build, per process."""
    path = Path(directory).resolve()
    try:
        status = (path / _META).stat()
    except FileNotFoundError:
        raise FileNotFoundError(f"no library index in {path}") from None
    stamp = (status.st_ino, status.st_mtime_ns)
    with _OPEN_LOCK:
        cached = _OPEN.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        index = LibraryIndex(path)
        _OPEN[path] = (stamp, index)
        return index


def _pool() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="lims-search")
        return _POOL


class _SparseLibrary:
    """A memory-mapped CSR float32 matrix, also split into row blocks for threaded products."""

    def __init__(self, data: np.ndarray, indices: np.ndarray, indptr: np.ndarray, columns: int):
        self.data, self.indices, self.indptr = data, indices, indptr
        rows = indptr.size - 1
        self.matrix = sp.csr_matrix((data, indices, indptr), shape=(rows, columns), copy=False)
        cuts = np.linspace(0, rows, _WORKERS + 1).astype(np.int64)
        self.starts = [int(a) for a in cuts[:-1]]
        self.blocks = []
        for a, b in zip(cuts[:-1], cuts[1:], strict=True):
            lo, hi = int(indptr[a]), int(indptr[b])
            block_indptr = np.asarray(indptr[a:b + 1]) - indptr[a]
            self.blocks.append(sp.csr_matrix((data[lo:hi], indices[lo:hi], block_indptr),
                                             shape=(int(b - a), columns), copy=False))
        self._pattern: sp.csr_matrix | None = None
        self._lock = threading.Lock()

    def times(self, vectors: np.ndarray) -> np.ndarray:
        """Library @ vectors (columns x B, float32) -> (rows x B)."""
        if vectors.shape[1] == 1 or len(self.blocks) == 1:
            return self.matrix @ vectors
        # scipy's CSR kernel is single-threaded and releases the GIL: one block per thread.
        parts = list(_pool().map(lambda block: block @ vectors, self.blocks))
        return np.concatenate(parts)

    def top(self, vectors: np.ndarray, count: int) -> list[np.ndarray]:
        """Per column of vectors, the rows of the count largest values of library @ vectors.

        Each thread multiplies its row block and keeps its own candidates, so the selection
        runs in parallel too and the full product is never concatenated.
        """
        if vectors.shape[1] == 1 or len(self.blocks) == 1:
            return _top_candidates(self.matrix @ vectors, count)

        def block_top(item: tuple[int, sp.csr_matrix]) -> list[tuple[np.ndarray, np.ndarray]]:
            start, block = item
            part = block @ vectors
            return [(rows + start, part[rows, column]) for column, rows in
                    enumerate(_top_candidates(part, min(count, part.shape[0])))]

        parts = list(_pool().map(block_top, zip(self.starts, self.blocks, strict=True)))
        out = []
        for column in range(vectors.shape[1]):
            rows = np.concatenate([part[column][0] for part in parts])
            values = np.concatenate([part[column][1] for part in parts])
            out.append(rows[np.argpartition(-values, count - 1)[:count]])
        return out

    def pattern_times(self, vectors: np.ndarray) -> np.ndarray:
        """The 0/1 pattern of the library @ vectors: sums of vectors over each row's bins."""
        with self._lock:
            if self._pattern is None:
                ones = np.ones(self.data.size, dtype=np.float32)
                self._pattern = sp.csr_matrix((ones, self.indices, self.indptr),
                                              shape=self.matrix.shape, copy=False)
        return self._pattern @ vectors


class LibraryIndex:
    """A library index opened from disk; thread-safe for searches."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        meta = json.loads((self.directory / _META).read_text(encoding="utf-8"))
        if meta.get("version") != INDEX_VERSION:
            raise ValueError(f"index in {self.directory} has version {meta.get('version')!r}; "
                             f"this engine reads version {INDEX_VERSION}: rebuild it")
        self.meta = meta
        self.kind: str = meta["kind"]
        self.size: int = int(meta["size"])
        self._x = self._load("x")
        self._y = self._load("y")
        self._offsets = self._load("offsets")
        self._cache: OrderedDict[tuple[str, bytes], np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()
        if self.kind == "ms":
            columns = int(meta["columns"])
            self._cosine = _SparseLibrary(*self._resident("cos_data", "cos_indices",
                                                          "cos_indptr"), columns)
            self._nist = _SparseLibrary(*self._resident("nist_data", "nist_indices",
                                                        "nist_indptr"), columns)
            self._nist_intensity = self._load("nist_intensity")
            self.columns = columns
        else:
            self.axis: np.ndarray = np.array(self._load("axis"))
            self._coverage = np.array(self._load("coverage"))
            self._resampled = self._load("resampled")
            self._prepared: dict[str, np.ndarray] = {}  # filled on first use by _whole()

    def _load(self, name: str) -> np.ndarray:
        # A plain ndarray view of the mapping: np.memmap's __getitem__ costs ~30 us a call.
        return np.asarray(np.load(self.directory / f"{name}.npy", mmap_mode="r"))

    def _resident(self, *names: str) -> list[np.ndarray]:
        # The fast-pass matrices are read whole by every query: a copy in anonymous memory
        # (transparent huge pages) streams about twice as fast as the file mapping does.
        return [np.array(self._load(name)) for name in names]

    def entry(self, position: int) -> Entry:
        """The stored exact x and y of one entry (peaks sorted by m/z for mass spectra)."""
        if not 0 <= position < self.size:
            raise ValueError(f"entry position {position} is outside 0..{self.size - 1}")
        lo, hi = int(self._offsets[position]), int(self._offsets[position + 1])
        return np.array(self._x[lo:hi]), np.array(self._y[lo:hi])

    def search(self, x: np.ndarray, y: np.ndarray, *, algorithm: str, top: int = 10,
               mask: Sequence[tuple[float, float]] = (), kind: str | None = None) -> list[Hit]:
        """The top hits for one query, best first, each exactly re-scored.

        kind, when given ("ms" or "spectral"), is the query's own kind and must match the
        library's.  mask lists excluded x regions (spectral libraries only).
        """
        return self.search_batch([(x, y)], algorithm=algorithm, top=top, mask=mask, kind=kind)[0]

    def search_batch(self, queries: Sequence[Entry], *, algorithm: str, top: int = 10,
                     mask: Sequence[tuple[float, float]] = (),
                     kind: str | None = None) -> list[list[Hit]]:
        """search() for many queries at once: one library pass for all of them."""
        chosen = self._algorithm(algorithm, kind)
        if isinstance(top, bool) or not isinstance(top, int) or top < 1:
            raise ValueError(f"top must be a positive whole number, not {top!r}")
        if not queries:
            return []
        candidates = min(self.size, max(MIN_CANDIDATES, CANDIDATE_FACTOR * top))
        shown = min(top, self.size)
        checked = [_checked_query(x, y, number, len(queries))
                   for number, (x, y) in enumerate(queries)]
        if self.kind == "ms":
            if len(mask):
                raise ValueError("excluded regions apply to spectral libraries, not mass spectra")
            return self._search_ms(checked, chosen, candidates, shown)
        return self._search_spectral(checked, chosen, mask, candidates, shown)

    def _algorithm(self, name: str, kind: str | None) -> Algorithm:
        chosen = ALGORITHMS.get(name)
        if chosen is None:
            raise ValueError(f"unknown algorithm {name!r}; known: {', '.join(ALGORITHMS)}")
        what = "mass spectra" if self.kind == "ms" else "full spectra (IR, Raman, UV-Vis)"
        if kind is not None and kind != self.kind:
            raise ValueError(f"this library holds {what}; the query is a {kind!r} spectrum")
        if chosen.kind != self.kind:
            usable = ", ".join(a.name for a in ALGORITHMS.values() if a.kind == self.kind)
            raise ValueError(f"algorithm {name!r} does not apply to a library of {what}; "
                             f"use one of {usable}")
        return chosen

    # --- mass spectra ---

    def _search_ms(self, queries: list[Entry], chosen: Algorithm, candidates: int,
                   shown: int) -> list[list[Hit]]:
        peaks = []
        for number, (x, y) in enumerate(queries):
            if x.min() < 0 or y.min() < 0:
                raise ValueError(f"{_query_name(number, len(queries))}: m/z values and "
                                 f"intensities must not be negative")
            peaks.append(scores.as_peaks(x, y))
        if chosen.name == "cosine":
            vectors = np.zeros((self.columns, len(peaks)), dtype=np.float32)
            for column, query in enumerate(peaks):
                bins, sums, _ = scores.bin_nominal(query[:, 0], query[:, 1],
                                                   np.array([0, len(query)]))
                inside = bins < self.columns
                vectors[bins[inside], column] = sums[inside]
            chosen_rows = self._cosine.top(vectors, candidates)
        else:
            prepared = [scores.nist_preprocess(query) for query in peaks]
            vectors = np.zeros((self.columns, len(peaks)), dtype=np.float32)
            for column, (bins, intensity) in enumerate(prepared):
                inside = bins < self.columns
                vectors[bins[inside], column] = np.sqrt(intensity[inside] * bins[inside])
            if chosen.name == "nist_reverse":
                # R.Match's unknown norm counts only the library's bins: cos^2 over those.
                fast = self._nist.times(vectors)
                common = self._nist.pattern_times(vectors * vectors)
                fast = np.divide(fast * fast, common, out=np.zeros_like(fast), where=common > 0)
                chosen_rows = _top_candidates(fast, candidates)
            else:
                chosen_rows = self._nist.top(vectors, candidates)
        results = []
        for column, positions in enumerate(chosen_rows):
            if chosen.name == "cosine":
                index, offsets = _gather(self._offsets, positions)
                raw, matches = scores.cosine_greedy_many(peaks[column], self._x[index],
                                                         self._y[index], offsets)
            else:
                unknown = prepared[column]
                indptr, indices, intensity = (self._nist.indptr, self._nist.indices,
                                              self._nist_intensity)
                raw = np.array([scores.nist_match_factor(
                    unknown, (indices[indptr[p]:indptr[p + 1]], intensity[indptr[p]:indptr[p + 1]]),
                    reverse=chosen.name == "nist_reverse") for p in positions.tolist()])
                matches = None
            results.append(_ranked(chosen, positions, raw, matches, shown))
        return results

    # --- full spectra ---

    def _search_spectral(self, queries: list[Entry], chosen: Algorithm,
                         mask: Sequence[tuple[float, float]], candidates: int,
                         shown: int) -> list[list[Hit]]:
        name = chosen.name
        resampled, keeps = [], []
        for number, (x, y) in enumerate(queries):
            keep = scores.axis_mask(self.axis, mask, scores.coverage(x))
            if keep.sum() < 2:
                lo, hi = scores.coverage(x)
                raise ValueError(
                    f"{_query_name(number, len(queries))} (x {lo:g} to {hi:g}) leaves fewer than "
                    f"2 points of the library axis ({self.axis[0]:g} to {self.axis[-1]:g}, step "
                    f"{self.axis[1] - self.axis[0]:g}) once excluded regions are removed: "
                    f"no overlap to compare")
            resampled.append(scores.resample(x, y, self.axis))
            keeps.append(keep)
        groups: dict[bytes, list[int]] = {}
        for number, keep in enumerate(keeps):
            groups.setdefault(keep.tobytes(), []).append(number)
        results: list[list[Hit]] = [[] for _ in queries]
        for numbers in groups.values():
            keep = keeps[numbers[0]]
            matrix = self._matrix(name, keep)
            vectors = _prepare_rows(np.array([resampled[n][keep] for n in numbers]), name)
            fast = matrix @ vectors.astype(np.float32).T
            if name == "euclidean":
                fast = np.minimum(fast, 1.0)  # ranked on cos: the distance falls as it rises
            for column, positions in enumerate(_top_candidates(fast, candidates)):
                number = numbers[column]
                raw = self._exact_spectral(name, resampled[number], keep, positions)
                results[number] = _ranked(chosen, positions, raw, None, shown)
        return results

    def _matrix(self, name: str, keep: np.ndarray) -> np.ndarray:
        """The prepared float32 library for these kept points (stored, or built and cached)."""
        key = (name, np.packbits(keep).tobytes())
        with self._cache_lock:
            if keep.all():
                if name not in self._prepared:
                    self._prepared[name] = self._resident(name)[0]
                return self._prepared[name]
            matrix = self._cache.get(key)
            if matrix is not None:
                self._cache.move_to_end(key)
                return matrix
            columns = int(keep.sum()) - (1 if name == "hqi_derivative" else 0)
            matrix = np.empty((self.size, columns), dtype=np.float32)
            _fill_prepared(matrix, self._resampled, keep, name)
            self._cache[key] = matrix
            while len(self._cache) > MASK_CACHE_SIZE:
                self._cache.popitem(last=False)
            return matrix

    def _exact_spectral(self, name: str, query: np.ndarray, keep: np.ndarray,
                        positions: np.ndarray) -> np.ndarray:
        """Exact float64 scores on the points both the query and each entry cover."""
        score = _SPECTRAL_SCORES[name]
        kept_axis = self.axis[keep]
        lo, hi = self._coverage[positions, 0], self._coverage[positions, 1]
        whole = (lo <= kept_axis[0]) & (hi >= kept_axis[-1])
        raw = np.empty(positions.size)
        if whole.any():
            rows = self._resampled[positions[whole]]
            if not keep.all():  # compress keeps C order (rows[:, keep] would not)
                rows = np.compress(keep, rows, axis=1)
            raw[whole] = score(query[keep], rows)
        for i in np.flatnonzero(~whole):
            own = keep & (self.axis >= lo[i]) & (self.axis <= hi[i])
            row = np.asarray(self._resampled[positions[i]])
            raw[i] = score(query[own], row[own][None, :])[0]
        return raw


def _query_name(number: int, count: int) -> str:
    return "the query" if count == 1 else f"query {number + 1}"


def _checked_query(x: np.ndarray, y: np.ndarray, number: int, count: int) -> Entry:
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    name = _query_name(number, count)
    if x.shape != y.shape:
        raise ValueError(f"{name}: {x.size} x values but {y.size} y values")
    if x.size == 0:
        raise ValueError(f"{name} is empty: no points or peaks to search with")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError(f"{name}: x or y holds NaN or infinity")
    return x, y


def _top_candidates(fast: np.ndarray, count: int) -> list[np.ndarray]:
    """Per column of fast (rows = entries), the rows of the count largest values, unordered.

    A full argpartition of 100 columns of 100,000 costs more than the product itself, so a
    threshold from a 1-in-16 sample of rows first keeps about 3 x count rows per column; a
    column keeping fewer than count (or too many, as with ties) falls back to argpartition.
    Anything in the true top count is >= the count-th value >= the threshold, so it is kept.
    """
    rows, columns = fast.shape
    if count >= rows:
        return [np.arange(rows) for _ in range(columns)]
    stride = 16
    rank = math.ceil(3 * count / stride)
    sample = np.ascontiguousarray(fast[::stride].T)
    results: list[np.ndarray | None] = [None] * columns
    if sample.shape[1] > rank:
        threshold = np.partition(sample, sample.shape[1] - rank, axis=1)[:, -rank]
        hit_rows, hit_columns = np.nonzero(fast >= threshold[None, :])
        order = np.argsort(hit_columns, kind="stable")
        hit_rows, hit_columns = hit_rows[order], hit_columns[order]
        bounds = np.searchsorted(hit_columns, np.arange(columns + 1))
        for column in range(columns):
            kept = hit_rows[bounds[column]:bounds[column + 1]]
            if count <= kept.size <= 20 * count:
                values = fast[kept, column]
                results[column] = kept[np.argpartition(-values, count - 1)[:count]]
    for column in range(columns):
        if results[column] is None:
            values = np.ascontiguousarray(fast[:, column])
            results[column] = np.argpartition(-values, count - 1)[:count]
    return results  # type: ignore[return-value]


def _gather(offsets: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Element indices of the segments at positions, concatenated, and their new offsets."""
    starts = np.asarray(offsets[positions], dtype=np.int64)
    lengths = np.asarray(offsets[positions + 1], dtype=np.int64) - starts
    new_offsets = np.concatenate(([0], np.cumsum(lengths)))
    index = np.repeat(starts - new_offsets[:-1], lengths) + np.arange(new_offsets[-1])
    return index, new_offsets


def _ranked(chosen: Algorithm, positions: np.ndarray, raw: np.ndarray,
            matches: np.ndarray | None, shown: int) -> list[Hit]:
    """Hits sorted best first on the exact score, ties by library position."""
    key = -raw if chosen.higher_is_better else raw
    order = np.lexsort((positions, key))[:shown]
    return [Hit(position=int(positions[i]), raw=float(raw[i]), score=chosen.display(float(raw[i])),
                matches=None if matches is None else int(matches[i])) for i in order]
