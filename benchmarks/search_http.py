"""Whole HTTP search requests: POST /api/v1/spectra/<id>/search against 10,000-spectrum libraries.

Not a test: it prints a markdown table and writes benchmarks/results/search-http.json.
benchmarks/run search runs it after benchmarks/search.py; by hand:

    .venv/bin/python benchmarks/search_http.py [--requests 200] [--size 10000]

The application runs on SQLite in a temporary folder, seeded by `lims demo`; two synthetic
libraries (IR, 1,801 points, and EI mass spectra, as in benchmarks/search.py) are imported through
the real import service, so each request goes through everything a chemist's does: HTTP parsing,
token check, access check, processing recipe, index search with exact re-score, the search and its
hits stored with an audit entry, one commit, JSON. The baseline, measured in the same run on the
same server, is GET /api/v1/spectra/<id> (token, access check, spectrum as JSON).
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from flask_migrate import upgrade
from werkzeug.serving import make_server

from lims import create_app
from lims.auth.models import User
from lims.auth.services import create_api_token
from lims.config import load_settings
from lims.db import db
from lims.demo import seed
from lims.intake.models import Sample
from lims.library.services import import_library
from lims.measurements.models import SpectrumRecord
from lims.measurements.services import import_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from search import IR_AXIS, SEED, ei_library, ir_library  # noqa: E402

RESULTS_DIR = Path(__file__).resolve().parent / "results"
TARGET_P95_MS = 100.0


def log(message: str) -> None:
    """Progress line on stderr."""
    print(f"  .. {message}", file=sys.stderr, flush=True)


def jcamp_library(entries) -> bytes:
    """A multi-block JCAMP-DX file (X++(Y..Y), YFACTOR 1e-5) of IR absorbance spectra."""
    out = []
    for number, (x, y) in enumerate(entries):
        counts = np.rint(y / 1e-5).astype(np.int64)
        lines = [f"##TITLE=Synthetic substance {number:05d}", "##JCAMP-DX=4.24",
                 "##DATA TYPE=INFRARED SPECTRUM", "##XUNITS=1/CM", "##YUNITS=ABSORBANCE",
                 "##XFACTOR=1", "##YFACTOR=0.00001", f"##FIRSTX={x[0]:g}",
                 f"##LASTX={x[-1]:g}", f"##NPOINTS={x.size}", "##XYDATA=(X++(Y..Y))"]
        for start in range(0, x.size, 12):
            values = " ".join(str(v) for v in counts[start:start + 12])
            lines.append(f"{x[start]:g} {values}")
        lines.append("##END=")
        out.append("\n".join(lines))
    return ("\n".join(out) + "\n").encode()


def msp_library(entries) -> bytes:
    """An MSP file of EI spectra."""
    out = []
    for number, (mz, intensity) in enumerate(entries):
        peaks = "\n".join(f"{int(m)} {int(i)}" for m, i in zip(mz, intensity, strict=True))
        out.append(f"Name: Synthetic EI {number:05d}\nNum Peaks: {mz.size}\n{peaks}")
    return ("\n\n".join(out) + "\n").encode()


def prepare(data_dir: Path, size: int) -> tuple:
    """Seed the demo, import both libraries, upload an MS query; return app, ids and token."""
    settings = load_settings(data_dir=data_dir, secret_key="s" * 48,
                             lab_address="Benchmark laboratory, 1 Example Street")
    app = create_app(settings)
    with app.app_context():
        upgrade(directory=str(Path(__file__).resolve().parents[1] / "lims" / "migrations"))
        seed()
        chem = db.session.scalar(db.select(User).where(User.username == "chem"))
        rng = np.random.default_rng(SEED)
        ir = ir_library(rng, size)
        ms = ei_library(rng, size)
        started = time.perf_counter()
        import_library(chem, jcamp_library(ir), "ir.jdx", name="Synthetic IR", version="1")
        log(f"imported {size:,} IR spectra in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        import_library(chem, msp_library(ms), "ei.msp", name="Synthetic EI", version="1")
        log(f"imported {size:,} EI spectra in {time.perf_counter() - started:.1f} s")
        sample = db.session.scalar(db.select(Sample).order_by(Sample.id))
        query = msp_library([ms[7]]).replace(b"Synthetic EI 00000", b"unknown powder")
        ms_id = import_file(chem, sample, query, "unknown.msp", None, None).spectra[0].id
        ir_id = db.session.scalar(db.select(SpectrumRecord.id).where(
            SpectrumRecord.technique == "IR").order_by(SpectrumRecord.id))
        token = create_api_token(chem, chem, "benchmark")
        db.session.commit()
    return app, ir_id, ms_id, token


def timings(connection: http.client.HTTPConnection, token: str, method: str, path: str,
            body: dict | None, count: int) -> list[float]:
    """Milliseconds per request over one keep-alive connection (after 5 warm-up requests)."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    payload = json.dumps(body).encode() if body is not None else None
    out = []
    for number in range(count + 5):
        started = time.perf_counter()
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        content = response.read()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status >= 300:
            raise SystemExit(f"{method} {path}: {response.status} {content[:300]!r}")
        if number >= 5:
            out.append(elapsed)
    return out


def summary(values: list[float]) -> dict:
    """Median, p95 and max in milliseconds."""
    ordered = sorted(values)
    return {"median_ms": statistics.median(ordered),
            "p95_ms": ordered[max(0, int(round(0.95 * len(ordered))) - 1)],
            "max_ms": ordered[-1], "requests": len(ordered)}


def main() -> None:
    """Run the HTTP benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--size", type=int, default=10_000)
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    with tempfile.TemporaryDirectory(prefix="lims-search-http-") as folder:
        app, ir_id, ms_id, token = prepare(Path(folder), args.size)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        connection = http.client.HTTPConnection("127.0.0.1", server.server_port)
        cases = {
            "baseline: GET /api/v1/spectra/<id> (IR, 1,701 points)":
                ("GET", f"/api/v1/spectra/{ir_id}", None),
            f"POST search, IR {args.size:,} x {IR_AXIS.size}, hqi, top 10":
                ("POST", f"/api/v1/spectra/{ir_id}/search",
                 {"library": "Synthetic IR", "algorithm": "hqi", "top": 10}),
            f"POST search, IR {args.size:,}, hqi, CO2 masked, rubber-band baseline":
                ("POST", f"/api/v1/spectra/{ir_id}/search",
                 {"library": "Synthetic IR", "algorithm": "hqi", "top": 10,
                  "recipe": {"masks": [[2400, 2280]], "baseline": "rubberband"}}),
            f"POST search, EI {args.size:,}, cosine, top 10":
                ("POST", f"/api/v1/spectra/{ms_id}/search",
                 {"library": "Synthetic EI", "algorithm": "cosine", "top": 10}),
            f"POST search, EI {args.size:,}, NIST Identity, top 10":
                ("POST", f"/api/v1/spectra/{ms_id}/search",
                 {"library": "Synthetic EI", "algorithm": "nist_identity", "top": 10}),
        }
        results = {}
        for label, (method, path, body) in cases.items():
            log(label)
            results[label] = summary(timings(connection, token, method, path, body,
                                             args.requests))
        server.shutdown()
    baseline = next(iter(results.values()))["median_ms"]
    print(f"### Whole HTTP requests, {args.requests} each, one keep-alive connection, SQLite\n")
    print("| request | median [ms] | p95 [ms] | max [ms] | x baseline (median) | p95 <= 100 ms |")
    print("|---|---|---|---|---|---|")
    for label, row in results.items():
        ok = "" if label.startswith("baseline") else (
            "PASS" if row["p95_ms"] <= TARGET_P95_MS else "FAIL")
        print(f"| {label} | {row['median_ms']:.1f} | {row['p95_ms']:.1f} | "
              f"{row['max_ms']:.1f} | {row['median_ms'] / baseline:.2f} | {ok} |")
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "search-http.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
