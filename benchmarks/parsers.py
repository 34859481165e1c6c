"""Parser benchmarks: MB/s and peak memory of our JCAMP-DX, SPC and MSP readers against jcamp,
spc-io and matchms, on the same files, in the same run.

Not a test: it prints tables and writes benchmarks/results/parsers.json. benchmarks/run parsers
runs it; by hand:

    .venv/bin/python benchmarks/parsers.py
    .venv/bin/python benchmarks/parsers.py --format jcamp --profile

A file counts only when the baseline reads it correctly: the same number of spectra and points
as ours, and every x and y value equal within 1e-12 relative. The others are listed with the
reason and not timed.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import gc
import hashlib
import importlib
import importlib.metadata
import importlib.util
import io
import json
import logging
import os
import platform
import pstats
import re
import statistics
import struct
import sys
import tempfile
import time
import tracemalloc
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from instruments import jcamp as our_jcamp
from instruments import msp as our_msp
from instruments import spc as our_spc

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"
CORPUS = Path(os.environ.get("LIMS_CORPUS_DIR", ROOT.parent / "shared" / "corpus"))  # as tests
TARGET_RATIO = 3.0  # issue 3: at least 3x the throughput of jcamp
TOLERANCE = 1e-12  # relative; "identical values"
MAX_ROUNDS = 100
SEED = 2026
# Where the synthetic files come from: corpus spectra that every reader agrees on.
JCAMP_SOURCE = "ir_affn_pacsign_nist_acetone.jdx"
SPC_SOURCE = "RAMAN.SPC"
# Characters of the ASDF compressed forms, apart from 'E'/'e' (also an AFFN exponent).
_ASDF_CHARS = re.compile(rb"[@A-DF-Ia-df-i%J-Rj-rS-Zs]")
_TABLE_START = re.compile(rb"^[ \t]*##[ \t]*(?:XYDATA|XYPOINTS|PEAK[ \t_]*TABLE|DATA[ \t_]*TABLE)"
                          rb"[ \t]*=[^\n]*\n", re.I | re.M)
_NEXT_LDR = re.compile(rb"^[ \t]*##", re.M)
_COMMENT = re.compile(rb"\$\$[^\n]*")


def log(message: str) -> None:
    """Progress line on stderr, so that stdout is the results alone."""
    print(f"  .. {message}", file=sys.stderr, flush=True)


# --- what is measured ----------------------------------------------------------------------------


Pairs = list[tuple[np.ndarray, np.ndarray]]


@dataclass
class BenchFile:
    """One input: its bytes in memory and a copy on the scratch folder (tmpfs when there is one)."""

    name: str
    origin: str  # "corpus" or "synthetic"
    data: bytes
    path: Path | None = None
    note: str = ""


@dataclass(frozen=True)
class Reader:
    """A way to read a file: `run` is timed, `pairs` turns its result into [(x, y), ...]."""

    name: str
    source: str  # what it reads: "bytes in memory", "io.BytesIO in memory", "path"
    run: Callable[[BenchFile], object]
    pairs: Callable[[object], Pairs]
    chatty: bool = False  # prints or logs: its stdout is captured


@dataclass
class Group:
    """A format: our reader, the baseline, and the files."""

    name: str
    ours: Reader
    baseline: Reader | None
    skipped: str = ""  # why there is no baseline
    files: list[BenchFile] = field(default_factory=list)
    sort_peaks: bool = False  # the baseline sorts each peak list by m/z
    target: bool = False  # the 3x target applies


# --- the readers ---------------------------------------------------------------------------------


def _ours(module, *, from_path: bool = False) -> Reader:
    """Our adapter's parse(): on the bytes in memory, or on the bytes read from the path."""
    if from_path:
        def run(file: BenchFile):
            return module.parse(file.path.read_bytes(), file.name)
    else:
        def run(file: BenchFile):
            return module.parse(file.data, file.name)
    return Reader(f"ours ({module.NAME})", "path (read + parse)" if from_path else
                  "bytes in memory", run, lambda spectra: [(s.x, s.y) for s in spectra])


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def _missing(package: str, module: str, install: str) -> str:
    return (f"{package} is not installed (no module {module!r}); install it into .venv to "
            f"compare: .venv/bin/pip install {install}")


def jcamp_baseline() -> tuple[Reader | None, str]:
    """jcamp.read() on an io.BytesIO of the bytes (it reads lines from any iterable)."""
    if importlib.util.find_spec("jcamp") is None:
        return None, _missing("jcamp", "jcamp", "'jcamp==1.3.2'")
    jcamp = importlib.import_module("jcamp")

    def pairs(result: dict) -> Pairs:
        found = [result] + list(result.get("children") or [])
        return [(np.asarray(d["x"], float), np.asarray(d["y"], float)) for d in found
                if len(d.get("x", ())) or len(d.get("y", ()))]

    return Reader(f"jcamp {_version('jcamp')}", "io.BytesIO in memory",
                  lambda file: jcamp.read(io.BytesIO(file.data)), pairs, chatty=True), ""


def spc_io_baseline() -> tuple[Reader | None, str]:
    """spc_io.SPC.from_bytes_io(), with each subfile's x and y arrays built (they are lazy)."""
    if importlib.util.find_spec("spc_io") is None:
        return None, _missing("spc-io", "spc_io", "spc-io")
    spc_io = importlib.import_module("spc_io")

    def run(file: BenchFile):
        spc = spc_io.SPC.from_bytes_io(io.BytesIO(file.data))
        return [(np.asarray(sub.xarray, np.float64), np.asarray(sub.yarray, np.float64))
                for sub in spc]

    return Reader(f"spc-io {_version('spc-io')}", "io.BytesIO in memory", run, list,
                  chatty=True), ""


def matchms_baseline() -> tuple[Reader | None, str]:
    """matchms load_from_msp() from the path (it only reads paths), without harmonisation."""
    if importlib.util.find_spec("matchms") is None:
        return None, _missing("matchms", "matchms", "matchms")
    log("importing matchms (rdkit, numba: several seconds)")
    load_from_msp = importlib.import_module("matchms.importing").load_from_msp

    def run(file: BenchFile):
        return list(load_from_msp(str(file.path), metadata_harmonization=False))

    return Reader(f"matchms {_version('matchms')}", "path", run,
                  lambda spectra: [(s.peaks.mz, s.peaks.intensities) for s in spectra],
                  chatty=True), ""


def pyteomics_note() -> str:
    """pyteomics is the MGF/mzML library here; say whether it reads MSP (it does not)."""
    if importlib.util.find_spec("pyteomics") is None:
        return "pyteomics is not installed."
    has_msp = importlib.util.find_spec("pyteomics.msp") is not None
    return (f"pyteomics {_version('pyteomics')} "
            + ("has a pyteomics.msp module (not measured here)." if has_msp else
               "has no MSP reader (no pyteomics.msp module; it reads MGF, mzML, mzXML): "
               "it cannot be a baseline for MSP."))


# --- synthetic files -----------------------------------------------------------------------------


def resampled(y: np.ndarray, points: int) -> np.ndarray:
    """A spectrum stretched to `points` points by linear interpolation."""
    y = y[np.isfinite(y)]
    return np.interp(np.linspace(0, y.size - 1, points), np.arange(y.size), y)


def _as_counts(y: np.ndarray, noise: float, top: int, offset: int = 0) -> np.ndarray:
    """Integer ordinates offset..offset+top with deterministic noise, as from a detector."""
    low, high = float(y.min()), float(y.max())
    scaled = offset + (y - low) / ((high - low) or 1.0) * top
    scaled += np.random.default_rng(SEED).normal(0.0, noise, y.size)
    return np.rint(scaled).astype(np.int64)


def _jcamp_header(title: str, points: int, first_y: int) -> str:
    # X on an exact grid: FIRSTX 400, DELTAX 0.002 (2 units of XFACTOR 0.001), so every line's
    # X check value is an integer and both readers' linspace gives the same axis.
    last_x = f"{(400_000 + 2 * (points - 1)) / 1000:.3f}"
    return (f"##TITLE={title}\n##JCAMP-DX=4.24\n##DATA TYPE=INFRARED SPECTRUM\n"
            f"##ORIGIN=benchmarks/parsers.py, from corpus {JCAMP_SOURCE}\n##OWNER=public domain\n"
            f"##XUNITS=1/CM\n##YUNITS=ARBITRARY UNITS\n##XFACTOR=0.001\n##YFACTOR=0.0001\n"
            f"##FIRSTX=400.000\n##LASTX={last_x}\n##DELTAX=0.002\n##NPOINTS={points}\n"
            f"##FIRSTY={first_y * 0.0001:.4f}\n##XYDATA=(X++(Y..Y))\n")


def affn_jcamp(y: np.ndarray, megabytes: float) -> bytes:
    """An (X++(Y..Y)) AFFN file of about `megabytes` MB: X check value and 10 ordinates a line."""
    points = int(megabytes * 1e6 / 7.7)  # bytes per point of this layout, measured
    counts = _as_counts(resampled(y, points), noise=6.0, top=900_000, offset=100_000)
    values = counts.tolist()
    body = "\n".join(f"{400_000 + 2 * start} " + " ".join(map(str, values[start:start + 10]))
                     for start in range(0, points, 10))
    return (_jcamp_header("synthetic AFFN", points, int(counts[0])) + body
            + "\n##END=\n").encode()


_SQZ_POSITIVE, _SQZ_NEGATIVE = "@ABCDEFGHI", "@abcdefghi"
_DIF_POSITIVE, _DIF_NEGATIVE = "%JKLMNOPQR", "%jklmnopqr"
_DUP = "STUVWXYZs"  # counts 1..9


def _squeezed(value: int, positive: str, negative: str) -> str:
    text = str(abs(value))
    return (positive if value >= 0 else negative)[int(text[0])] + text[1:]


def difdup_lines(counts: list[int], x_of: Callable[[int], int], width: int = 78) -> list[str]:
    """DIFDUP-encode integer ordinates: SQZ first value, DIF differences, DUP runs.

    Every line ends in DIF form and the next line repeats its last ordinate (SQZ) as the Y
    check, as Bruker and Nicolet writers do. DUP counts stay at 9 or below: jcamp reads a
    multi-digit count (e.g. 'V0' = 40) as a one-digit count followed by digits.
    """
    lines, start, n = [], 0, len(counts)
    while start < n - 1:
        parts = [str(x_of(start)), _squeezed(counts[start], _SQZ_POSITIVE, _SQZ_NEGATIVE)]
        length = sum(map(len, parts))
        index = start + 1
        while index < n and length < width:
            step = counts[index] - counts[index - 1]
            run = 1
            while (run < 9 and index + run < n
                   and counts[index + run] - counts[index + run - 1] == step):
                run += 1
            token = _squeezed(step, _DIF_POSITIVE, _DIF_NEGATIVE) + (_DUP[run - 1] if run > 1
                                                                     else "")
            parts.append(token)
            length += len(token)
            index += run
        lines.append("".join(parts))
        start = index - 1  # the last ordinate opens the next line as its Y check
    return lines


def difdup_jcamp(y: np.ndarray, megabytes: float) -> bytes:
    """An (X++(Y..Y)) DIFDUP file of about `megabytes` MB."""
    points = int(megabytes * 1e6 / 2.0)  # about 2 bytes a point, like the corpus DIFDUP files
    counts = _as_counts(resampled(y, points), noise=20.0, top=30_000).tolist()
    lines = difdup_lines(counts, lambda index: 400_000 + 2 * index)
    return (_jcamp_header("synthetic DIFDUP", points, counts[0]) + "\n".join(lines)
            + "\n##END=\n").encode()


_SPC_HEADER = struct.Struct("<BBBbIddIBBBBI9s9sH32s130s30sIIBBHf48sfIfB187s")  # 512 bytes
_SPC_SUBHEADER = struct.Struct("<BbHfffIIf4s")  # 32 bytes


def multifile_spc(y: np.ndarray, megabytes: float, points: int = 5000) -> bytes:
    """A new-format (0x4B) multifile SPC: evenly spaced X, float32 Y, one subfile per scan."""
    subfiles = max(2, int(megabytes * 1e6 / (32 + 4 * points)))
    base = resampled(y, points)
    date = 26 | 14 << 6 | 1 << 11 | 12 << 16 | 2025 << 20  # 2025-12-01 14:26
    header = _SPC_HEADER.pack(
        0x04, 0x4B, 11, -128, points, 100.0, 3200.0, subfiles, 13, 4, 0, 0, date, b"4",
        b"bench", 0, bytes(32), b"synthetic multifile from corpus " + SPC_SOURCE.encode(),
        b"", 0, 0, 0, 0, 0, 0.0, b"", 1.0, 0, 0.0, 0, b"")
    rng = np.random.default_rng(SEED)
    chunks = [header]
    for index in range(subfiles):
        scan = (base * (1.0 + 0.01 * np.sin(index / 7.0))
                + rng.normal(0.0, 0.002 * float(np.ptp(base)), points)).astype("<f4")
        chunks.append(_SPC_SUBHEADER.pack(0, -128, index, float(index), float(index + 1), 0.0,
                                          points, 0, 0.0, b""))
        chunks.append(scan.tobytes())
    return b"".join(chunks)


def msp_library(records: int) -> bytes:
    """A NIST-style MSP library (Lib2NIST layout: 'mz int;' five to a line), 5-40 peaks a record."""
    rng = np.random.default_rng(SEED)
    masses = np.arange(15, 601)
    out = []
    for number in range(1, records + 1):
        count = int(rng.integers(5, 41))
        mz = np.sort(rng.choice(masses, count, replace=False))
        intensity = rng.integers(1, 1000, count)
        intensity[int(rng.integers(count))] = 999
        pairs = [f"{m} {i};" for m, i in zip(mz.tolist(), intensity.tolist(), strict=True)]
        peaks = "\n".join(" ".join(pairs[j:j + 5]) for j in range(0, count, 5))
        out.append(f"Name: Synthetic compound {number}\nFormula: C{count}H{2 * count}NO\n"
                   f"MW: {int(mz[-1])}\nCAS#: {number}-00-{number % 10};  NIST#: {number}\n"
                   f"DB#: {number}\nComments: generated by benchmarks/parsers.py\n"
                   f"Num Peaks: {count}\n{peaks}\n\n")
    return "".join(out).encode()


# --- files ----------------------------------------------------------------------------------------


def jcamp_encoding(data: bytes) -> str:
    """'DIFDUP' when any data table uses the ASDF compressed forms, else 'AFFN'."""
    for start in _TABLE_START.finditer(data):
        end = _NEXT_LDR.search(data, start.end())
        table = _COMMENT.sub(b"", data[start.end():end.start() if end else len(data)])
        if _ASDF_CHARS.search(table):
            return "DIFDUP"
    return "AFFN"


def corpus_files(folder: str, pattern: str) -> list[tuple[str, bytes]]:
    """(name, bytes) of the corpus files of a folder, sorted by name."""
    directory = CORPUS / folder
    if not directory.is_dir():
        raise SystemExit(f"no corpus folder {directory}")
    return [(path.name, path.read_bytes()) for path in sorted(directory.glob(pattern))]


def first_continuous(module, name: str, data: bytes) -> np.ndarray:
    """The y values of the first continuous spectrum our reader finds in a corpus file."""
    return next(s.y for s in module.parse(data, name) if s.kind == "continuous")


def build_groups(formats: list[str], megabytes: float, records: int) -> list[Group]:
    """The groups to measure, their readers and files (corpus, then synthetic)."""
    groups = []
    if "jcamp" in formats:
        reader, skipped = jcamp_baseline()
        ours = _ours(our_jcamp)
        affn = Group("JCAMP AFFN", ours, reader, skipped, target=True)
        difdup = Group("JCAMP DIFDUP", ours, reader, skipped, target=True)
        files = corpus_files("jcamp", "*")
        for name, data in files:
            group = difdup if jcamp_encoding(data) == "DIFDUP" else affn
            group.files.append(BenchFile(name, "corpus", data))
        source = first_continuous(our_jcamp, JCAMP_SOURCE, dict(files)[JCAMP_SOURCE])
        log(f"writing the synthetic JCAMP files (~{megabytes:g} MB each)")
        affn.files.append(BenchFile(f"synthetic_affn_{megabytes:g}MB.jdx", "synthetic",
                                    affn_jcamp(source, megabytes),
                                    note=f"AFFN, 10 values a line, from {JCAMP_SOURCE}"))
        difdup.files.append(BenchFile(f"synthetic_difdup_{megabytes:g}MB.jdx", "synthetic",
                                      difdup_jcamp(source, megabytes),
                                      note=f"DIFDUP, Y checks, DUP <= 9, from {JCAMP_SOURCE}"))
        groups += [affn, difdup]
    if "spc" in formats:
        reader, skipped = spc_io_baseline()
        group = Group("SPC", _ours(our_spc), reader, skipped)
        files = corpus_files("spc", "*")
        group.files = [BenchFile(name, "corpus", data) for name, data in files]
        source = first_continuous(our_spc, SPC_SOURCE, dict(files)[SPC_SOURCE])
        data = multifile_spc(source, megabytes)
        subfiles = struct.unpack_from("<I", data, 24)[0]  # fnsub
        group.files.append(BenchFile(f"synthetic_multifile_{megabytes:g}MB.spc", "synthetic",
                                     data, note=f"{subfiles} subfiles x 5000 float32, from "
                                                f"{SPC_SOURCE}"))
        groups.append(group)
    if "msp" in formats:
        reader, skipped = matchms_baseline()
        # matchms only reads paths: ours reads the same file from the same tmpfs folder.
        group = Group("MSP", _ours(our_msp, from_path=True), reader, skipped, sort_peaks=True)
        group.files = [BenchFile(name, "corpus", data)
                       for name, data in corpus_files("msp", "*.msp")]
        log(f"writing the synthetic MSP library ({records:,} records)")
        group.files.append(BenchFile(f"synthetic_{records}_records.msp", "synthetic",
                                     msp_library(records),
                                     note=f"{records:,} records, NIST 'mz int;' layout"))
        groups.append(group)
    return groups


# --- checking values -----------------------------------------------------------------------------


def max_relative(a: np.ndarray, b: np.ndarray) -> float:
    """Largest |a-b| / max(|a|,|b|) (0 where both are 0; inf where only one is NaN)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    nan_a, nan_b = np.isnan(a), np.isnan(b)
    if np.any(nan_a != nan_b):
        return float("inf")
    a, b = a[~nan_a], b[~nan_b]
    scale = np.maximum(np.abs(a), np.abs(b))
    difference = np.abs(a - b)
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = np.where(difference == 0, 0.0, difference / scale)
    return float(relative.max()) if relative.size else 0.0


def compare(ours: Pairs, theirs: Pairs, baseline: str, sort_peaks: bool) -> tuple[bool, str,
                                                                                  float]:
    """Whether the baseline read the same spectra: (identical, why not, max relative diff)."""
    if len(theirs) != len(ours):
        what = "no data" if not theirs else f"{len(theirs)} spectra"
        return False, f"{baseline} returned {what}; ours {len(ours)} spectra", float("nan")
    worst = 0.0
    for index, ((ox, oy), (tx, ty)) in enumerate(zip(ours, theirs, strict=True), 1):
        where = f"spectrum {index}: " if len(ours) > 1 else ""
        if tx.size != ox.size or ty.size != oy.size:
            return (False, f"{where}{baseline} returned {tx.size} x and {ty.size} y values, ours "
                    f"{ox.size}", float("nan"))
        if sort_peaks:
            order, their_order = np.lexsort((oy, ox)), np.lexsort((ty, tx))
            ox, oy, tx, ty = ox[order], oy[order], tx[their_order], ty[their_order]
        worst = max(worst, max_relative(ox, tx), max_relative(oy, ty))
    if worst > TOLERANCE:
        return False, f"values differ (max relative difference {worst:.3g})", worst
    return True, "", worst


@contextlib.contextmanager
def quiet(capture: io.StringIO):
    """Catch what a baseline prints, warns or logs (jcamp reports problems with print())."""
    with contextlib.redirect_stdout(capture), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.CRITICAL)
        try:
            yield
        finally:
            logging.disable(logging.NOTSET)


# --- measuring -----------------------------------------------------------------------------------


def _status_kib(key: str) -> int | None:
    match = re.search(rf"^{key}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    return int(match.group(1)) if match else None


def reset_peak_rss() -> int | None:
    """Reset the RSS high-water mark (Linux clear_refs); the current RSS in KiB, or None."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status_kib("VmRSS")
    except OSError:
        return None


@dataclass
class Read:
    """One timed read: its result, wall and CPU seconds, RSS rise (bytes), lines printed."""

    result: object
    wall: float
    cpu: float
    rss_delta: int | None
    printed: int


def read_once(reader: Reader, file: BenchFile) -> Read:
    """Time one read; exceptions propagate (the first read of a file is also its check)."""
    gc.collect()
    rss = reset_peak_rss()
    capture = io.StringIO()
    with quiet(capture) if reader.chatty else contextlib.nullcontext():
        t0, c0 = time.perf_counter(), time.process_time()
        result = reader.run(file)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = _status_kib("VmHWM") if rss is not None else None
    return Read(result, wall, cpu, None if peak is None else (peak - rss) * 1024,
                capture.getvalue().count("\n"))


def traced_peak(reader: Reader, file: BenchFile) -> int:
    """tracemalloc peak of one read, in bytes (Python objects and numpy buffers)."""
    gc.collect()
    with quiet(io.StringIO()) if reader.chatty else contextlib.nullcontext():
        tracemalloc.start()
        try:
            result = reader.run(file)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    del result
    return peak


def first_round(group: Group, file: BenchFile) -> tuple[dict, dict[str, Read]]:
    """Read once with ours and the baseline (timed): is the baseline correct on this file?"""
    reads: dict[str, Read] = {}
    try:
        read = read_once(group.ours, file)
    except Exception as error:  # noqa: BLE001 - a file we refuse cannot be compared
        return {"included": False, "reason": f"ours refuses it: {error}"}, reads
    our_pairs = group.ours.pairs(read.result)
    read.result = None
    reads[group.ours.name] = read
    check = {"spectra": len(our_pairs), "points": sum(x.size for x, _ in our_pairs)}
    if group.baseline is None:
        return {"included": False, "reason": group.skipped, **check}, reads
    try:
        read = read_once(group.baseline, file)
    except Exception as error:  # noqa: BLE001 - the point is to see where the baseline fails
        text = str(error).splitlines()[0][:70] if str(error) else ""
        return {"included": False, **check,
                "reason": f"{group.baseline.name} raised {type(error).__name__}: {text}"}, reads
    their_pairs = group.baseline.pairs(read.result)
    read.result = None
    reads[group.baseline.name] = read
    identical, reason, worst = compare(our_pairs, their_pairs, group.baseline.name,
                                       group.sort_peaks)
    return {"included": identical, "reason": reason, "max_relative_difference": worst, **check,
            "baseline_printed_lines": read.printed}, reads


def measure(readers: list[Reader], file: BenchFile, reads: dict[str, Read], repeat: int,
            min_seconds: float) -> dict:
    """Median of repeated reads (the first round's included), the readers taking turns.

    Taking turns, a burst of load elsewhere on the machine falls on all readers alike. At
    least `repeat` rounds; small files go on until the fastest reader has run for
    `min_seconds` (at most MAX_ROUNDS rounds), so that the median is not one timer tick.
    """
    runs = {reader.name: [reads[reader.name]] for reader in readers}
    while True:
        rounds = len(runs[readers[0].name])
        fastest = min(sum(read.wall for read in r) for r in runs.values())
        if rounds >= repeat and (fastest >= min_seconds or rounds >= MAX_ROUNDS):
            break
        for reader in readers:
            read = read_once(reader, file)
            read.result = None
            runs[reader.name].append(read)
    stats = {}
    for reader in readers:
        walls = [read.wall for read in runs[reader.name]]
        rss = [read.rss_delta for read in runs[reader.name] if read.rss_delta is not None]
        median = statistics.median(walls)
        stats[reader.name] = {
            "source": reader.source, "runs": rounds, "median_s": median, "min_s": min(walls),
            "cpu_median_s": statistics.median(read.cpu for read in runs[reader.name]),
            "mb_per_s": len(file.data) / 1e6 / median,
            "tracemalloc_peak_bytes": traced_peak(reader, file),
            "rss_peak_delta_bytes": max(rss) if rss else None}
    return stats


def bench_group(group: Group, repeat: int, min_seconds: float) -> dict:
    """Check every file, then time and trace the ones the baseline reads correctly."""
    readers = [group.ours] + ([group.baseline] if group.baseline else [])
    files = []
    for file in group.files:
        t0 = time.perf_counter()
        check, reads = first_round(group, file)
        row = {"file": file.name, "origin": file.origin, "bytes": len(file.data),
               "note": file.note, **check}
        if row["included"] or (group.baseline is None and reads):
            row["readers"] = measure([r for r in readers if r.name in reads], file, reads,
                                     repeat, min_seconds)
            log(f"{group.name}: {file.name} ({len(file.data) / 1e6:.3f} MB, "
                f"{row['readers'][group.ours.name]['runs']} rounds) in "
                f"{time.perf_counter() - t0:.1f} s")
        else:
            log(f"{group.name}: {file.name} excluded")
        files.append(row)
    summary = {origin: summarize(group, [f for f in files if f["origin"] == origin
                                         and "readers" in f])
               for origin in ("corpus", "synthetic")}
    return {"group": group.name, "ours": group.ours.name, "ours_reads": group.ours.source,
            "baseline": group.baseline.name if group.baseline else None,
            "baseline_reads": group.baseline.source if group.baseline else None,
            "baseline_skipped": group.skipped,
            "target_ratio": TARGET_RATIO if group.target else None,
            "files": files, "summary": summary}


def summarize(group: Group, files: list[dict]) -> dict | None:
    """Totals of one group and origin: MB/s over all its files, worst peaks, worst ratio."""
    if not files:
        return None
    size = sum(f["bytes"] for f in files)
    readers = {}
    for name in files[0]["readers"]:
        seconds = sum(f["readers"][name]["median_s"] for f in files)
        cpu = sum(f["readers"][name]["cpu_median_s"] for f in files)
        rss = [f["readers"][name]["rss_peak_delta_bytes"] for f in files]
        readers[name] = {
            "mb_per_s": size / 1e6 / seconds, "seconds": seconds,
            "cpu_mb_per_s": size / 1e6 / cpu if cpu else None, "cpu_seconds": cpu,
            "tracemalloc_peak_bytes": max(f["readers"][name]["tracemalloc_peak_bytes"]
                                          for f in files),
            "rss_peak_delta_bytes": None if None in rss else max(rss)}
    result = {"files": len(files), "bytes": size, "readers": readers}
    if group.baseline:
        ours, base = readers[group.ours.name], readers[group.baseline.name]
        result["ratio"] = ours["mb_per_s"] / base["mb_per_s"]
        result["cpu_ratio"] = base["cpu_seconds"] / ours["cpu_seconds"] if ours["cpu_seconds"] \
            else None
        result["worst_file_ratio"] = min(
            f["readers"][group.ours.name]["mb_per_s"] / f["readers"][group.baseline.name]
            ["mb_per_s"] for f in files)
    return result


def profile_ours(group: Group, file: BenchFile, rounds: int = 3) -> str:
    """cProfile of our reader on one file: the 25 most expensive functions by own time."""
    reader = group.ours
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(rounds):
        reader.run(file)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(25)
    return out.getvalue()


# --- output --------------------------------------------------------------------------------------


def _mib(value: int | None) -> str:
    return "?" if value is None else f"{value / 2**20:.2f}"


def _verdict(group: dict, ratio: float) -> str:
    if group["target_ratio"] is None:
        return ""
    return "PASS" if ratio >= group["target_ratio"] else "FAIL"


def print_report(result: dict) -> None:
    """The summary table, the per-file table, the exclusions and the notes."""
    print(f"\n=== Parser throughput and peak memory  (Python {result['python']}, numpy "
          f"{result['numpy']}, {result['cpus']} CPUs, {result['machine']}) ===")
    print("   code measured (sha256): " + ", ".join(f"{name} {digest[:12]}" for name, digest
                                                     in result["code_sha256"].items()))
    print("   MB/s = 10^6 bytes / median wall time of one parse; totals = all bytes / sum of the "
          "medians.")
    print("   peak = tracemalloc peak of one parse (Python objects + numpy buffers), MiB; RSS = "
          "rise of the")
    print("   process high-water mark during one parse, MiB (worst run).")
    print(f"   {'group':<13} {'files':<17} {'MB':>6}  {'ours MB/s':>9}  {'baseline':<14} "
          f"{'MB/s':>6} {'ratio':>6} {'CPU':>6} {'worst':>6}  {'peak ours':>9} {'base':>6}  "
          f"{'RSS ours':>8} {'base':>6}  identical  target")
    for group in result["groups"]:
        for origin in ("corpus", "synthetic"):
            row = group["summary"][origin]
            files = [f for f in group["files"] if f["origin"] == origin]
            label = f"{origin} {row['files'] if row else 0} of {len(files)}"
            if row is None:
                if files and group["baseline"]:
                    print(f"   {group['group']:<13} {label:<17} (the baseline reads none of "
                          "them correctly)")
                continue
            ours = row["readers"][group["ours"]]
            start = (f"   {group['group']:<13} {label:<17} {row['bytes'] / 1e6:>6.2f}  "
                     f"{ours['mb_per_s']:>9.2f}  ")
            if group["baseline"] is None:
                print(f"{start}(no baseline: see the notes)")
                continue
            base = row["readers"][group["baseline"]]
            identical = f"yes {row['files']}/{row['files']}"
            print(f"{start}{group['baseline']:<14} {base['mb_per_s']:>6.2f} "
                  f"{row['ratio']:>5.1f}x {row['cpu_ratio']:>5.1f}x "
                  f"{row['worst_file_ratio']:>5.1f}x  "
                  f"{_mib(ours['tracemalloc_peak_bytes']):>9} "
                  f"{_mib(base['tracemalloc_peak_bytes']):>6}  "
                  f"{_mib(ours['rss_peak_delta_bytes']):>8} "
                  f"{_mib(base['rss_peak_delta_bytes']):>6}  {identical:<9}  "
                  f"{_verdict(group, row['ratio'])}")
    print("   ratio = ours MB/s / baseline MB/s (wall time); CPU = the same on CPU time, which "
          "load from")
    print("   other processes hardly changes; worst = the lowest per-file ratio (wall).")
    print(f"   identical = same spectra and point counts, every x and y within {TOLERANCE:g} "
          "relative.")
    print(f"   target (issue 3): ours >= {TARGET_RATIO:g}x jcamp on the files jcamp reads "
          "correctly.")
    for group in result["groups"]:
        if group["baseline"]:
            print(f"   {group['group']}: ours reads {group['ours_reads']}; {group['baseline']} "
                  f"reads {group['baseline_reads']}")
    print("\n   per file (MB/s; peak MiB)")
    print(f"   {'group':<13} {'file':<45} {'KB':>8} {'points':>9} {'ours':>8} {'baseline':>8} "
          f"{'ratio':>6}  {'peak ours':>9} {'base':>7}  {'runs':>4}")
    for group in result["groups"]:
        for row in group["files"]:
            if "readers" not in row:
                continue
            ours = row["readers"][group["ours"]]
            base = row["readers"].get(group["baseline"]) if group["baseline"] else None
            if base:
                ratio = ours["mb_per_s"] / base["mb_per_s"]
                flag = " <" if group["target_ratio"] and ratio < group["target_ratio"] else ""
                versus = (f"{base['mb_per_s']:>8.2f} {ratio:>5.1f}x  "
                          f"{_mib(ours['tracemalloc_peak_bytes']):>9} "
                          f"{_mib(base['tracemalloc_peak_bytes']):>7}")
            else:
                flag, versus = "", (f"{'-':>8} {'-':>6}  {_mib(ours['tracemalloc_peak_bytes']):>9} "
                                    f"{'-':>7}")
            print(f"   {group['group']:<13} {row['file'][:45]:<45} {row['bytes'] / 1e3:>8.1f} "
                  f"{row['points']:>9} {ours['mb_per_s']:>8.2f} {versus}  "
                  f"{ours['runs']:>4}{flag}")
    print("   < = below the target ratio (small files: per-call cost, not throughput)")
    print("\n   excluded (the baseline does not read them correctly, or ours refuses them):")
    for group in result["groups"]:
        for row in group["files"]:
            if not row["included"] and row["reason"] != group["baseline_skipped"]:
                print(f"   {group['group']:<13} {row['file']:<45} {row['reason']}")
    print("\n   notes")
    for group in result["groups"]:
        for row in group["files"]:
            if row.get("baseline_printed_lines"):
                print(f"   {row['file']}: {group['baseline']} printed "
                      f"{row['baseline_printed_lines']} line(s) of warnings")
            if row["origin"] == "synthetic":
                print(f"   {row['file']}: {row['note']} ({row['points']:,} points)")
    for group in result["groups"]:
        if group["baseline_skipped"]:
            print(f"   {group['group']}: SKIPPED the baseline: {group['baseline_skipped']}")
    for note in result["notes"]:
        print(f"   {note}")
    cpu = result["cpu_share"]
    print(f"   this process was on a CPU for {cpu:.0%} of the timed wall time (the rest: waiting, "
          "e.g. for other processes)" if cpu is not None else "")
    for name, text in result["profiles"].items():
        print(f"\n   cProfile of ours on {name}, by own time:\n{text}")


def cpu_share(result: dict) -> float | None:
    """Sum of CPU medians over the sum of wall medians, over every timed read."""
    wall = cpu = 0.0
    for group in result["groups"]:
        for row in group["files"]:
            for stats in row.get("readers", {}).values():
                wall += stats["median_s"]
                cpu += stats["cpu_median_s"]
    return cpu / wall if wall else None


def scratch_dir() -> tempfile.TemporaryDirectory:
    """A scratch folder on tmpfs (/dev/shm) when there is one, so that path reads are RAM reads."""
    shm = Path("/dev/shm")
    where = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    return tempfile.TemporaryDirectory(prefix="lims-parsers-", dir=where)


def run(args: argparse.Namespace) -> dict:
    """Build the files, verify, measure; returns the results."""
    started = datetime.now(UTC).isoformat(timespec="seconds")
    groups = build_groups(args.format, args.mb, args.records)
    notes = [f"MSP baseline: matchms load_from_msp(path, metadata_harmonization=False), the "
             f"faster of its two modes. {pyteomics_note()}"] if "msp" in args.format else []
    notes.append("jcamp and spc-io read an io.BytesIO of the bytes: in memory, as ours.")
    with scratch_dir() as scratch:
        notes.append(f"files copied to {scratch} for the readers that take a path")
        for group in groups:
            for file in group.files:
                file.path = Path(scratch) / file.name
                file.path.write_bytes(file.data)
            if group.skipped:
                log(f"SKIPPED baseline of {group.name}: {group.skipped}")
        gc.collect()
        gc.freeze()  # the setup's objects: collections during the runs stay cheap
        results = [bench_group(group, args.repeat, args.min_seconds) for group in groups]
        profiles = {}
        if args.profile:
            for group in groups:
                if group.name.startswith("JCAMP"):
                    file = next(f for f in group.files if f.origin == "synthetic")
                    log(f"profiling ours on {file.name}")
                    profiles[file.name] = profile_ours(group, file)
    code = {f"instruments/{module.__name__.rsplit('.', 1)[1]}.py":
            hashlib.sha256(Path(module.__file__).read_bytes()).hexdigest()
            for module in (our_jcamp, our_spc, our_msp)}
    result = {"started_at": started, "python": platform.python_version(), "code_sha256": code,
              "numpy": np.__version__, "cpus": os.cpu_count(), "machine": platform.machine(),
              "tolerance": TOLERANCE, "target_ratio": TARGET_RATIO, "repeat": args.repeat,
              "min_seconds": args.min_seconds, "groups": results, "notes": notes,
              "profiles": profiles}
    result["cpu_share"] = cpu_share(result)
    return result


def main() -> None:
    """Parse the options, run, print and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--format", action="append", choices=("jcamp", "spc", "msp"),
                        help="measure only this format (repeatable; default all)")
    parser.add_argument("--mb", type=float, default=2.0,
                        help="size of each synthetic JCAMP and SPC file in MB (default 2)")
    parser.add_argument("--records", type=int, default=50_000,
                        help="records in the synthetic MSP library (default 50,000)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="timed reads per file and reader, at least (default 3)")
    parser.add_argument("--min-seconds", type=float, default=0.2,
                        help="small files: read until the fastest reader has run this long "
                             f"(at most {MAX_ROUNDS} rounds; default 0.2)")
    parser.add_argument("--profile", action="store_true",
                        help="print a cProfile of our JCAMP reader on the synthetic files")
    args = parser.parse_args()
    args.format = args.format or ["jcamp", "spc", "msp"]
    result = run(args)
    print_report(result)
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / "parsers.json"
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"\n   results written to {out}")


if __name__ == "__main__":
    main()
