"""Certificate rendering and signing: per-certificate latency and throughput with 2 processes.

Not a test: it prints a markdown table and writes benchmarks/results/certificates.json.
`benchmarks/run certificates` runs it; by hand:

    .venv/bin/python benchmarks/certificates.py [--count 20]

The application runs on SQLite in a temporary folder with a fresh signing key. Each certificate
is a real one: a sample with an uploaded FTIR spectrum, a search of the demo IR library with the
hit accepted, a finding (IR + colour test) submitted and approved with e-signatures, then
`issue_certificate` (snapshot, spectrum overlay PNG, QR code, WeasyPrint, PAdES signature,
check of the signature, file store, audit) and one commit, timed per certificate. Baselines, in
the same run: WeasyPrint of a one-line page, and the certificate rendered without signing.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from flask_migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the certificate factory of the tests builds the findings

from lims import create_app  # noqa: E402
from lims.auth.services import get_user  # noqa: E402
from lims.certificates import services  # noqa: E402
from lims.certificates.snapshot import build_snapshot, freeze  # noqa: E402
from lims.config import load_settings  # noqa: E402
from lims.db import db, utcnow  # noqa: E402
from lims.findings.models import Finding  # noqa: E402
from lims.intake.services import create_case, register_samples  # noqa: E402
from lims.pdf import render_pdf  # noqa: E402
from tests.certificates.helpers import (  # noqa: E402
    accepted_hit,
    approved_finding,
    configure_lab,
    new_user,
)

RESULTS = ROOT / "benchmarks" / "results" / "certificates.json"
TARGET_S = 1.0
VERIFY_URL = "https://lims.example.org/verify/" + "x" * 32


def log(message: str) -> None:
    print(f"-- {message}", file=sys.stderr, flush=True)


def make_app(data_dir: Path):
    settings = load_settings(data_dir=data_dir, secret_key="b" * 48,
                             database_url=f"sqlite:///{data_dir / 'lims.sqlite3'}")
    app = create_app(settings)
    configure_lab(app)
    return app


def prepare(app, count: int) -> tuple[list[int], str]:
    """count approved findings, each on its own item; returns their ids and the reviewer."""
    with app.app_context():
        upgrade()
        tech = new_user("technician", "Tanya Petrova")
        chemist, reviewer = new_user("chemist", "Dimitar Ivanov"), new_user("reviewer",
                                                                      "Elena Georgieva")
        settings = app.config["LIMS"]
        case = create_case(tech, {"customs_office": "BG001000 Sofia Airport",
                                  "officer_name": "Insp. Petar Dimov"},
                           case_prefix=settings.case_number_prefix)
        samples = register_samples(tech, case, [{"description": f"Bag {i + 1}"}
                                                for i in range(count)],
                                   lab_prefix=settings.lab_number_prefix)
        ids = [approved_finding(app, chemist, reviewer, s, accepted_hit(app, chemist, s)).id
               for s in samples]
        db.session.commit()
        return ids, reviewer.username


def issue(app, finding_ids: list[int], reviewer: str) -> list[float]:
    """Issue one certificate per finding, one commit each; seconds per certificate."""
    times = []
    with app.app_context():
        for finding_id in finding_ids:
            start = time.perf_counter()
            services.issue_certificate(get_user(reviewer), db.session.get(Finding, finding_id))
            db.session.commit()
            times.append(time.perf_counter() - start)
    return times


def frozen_parts(app, finding_id: int, reviewer: str) -> tuple[dict, list[dict]]:
    """The frozen snapshot and figures of one finding (as issuing builds them)."""
    with app.app_context():
        actor, finding = get_user(reviewer), db.session.get(Finding, finding_id)
        snapshot = build_snapshot(actor, finding, app.config["LIMS"], number="CL-CERT-BENCH-1",
                                  issued_at=utcnow(), amends=None, amendment_reason=None)
        frozen = freeze(snapshot)[2]
        return frozen, services.overlay_figures(actor, frozen)


def render_loop(app, frozen: dict, figures: list[dict], count: int, sign: bool) -> list[float]:
    times = []
    with app.app_context():
        settings = app.config["LIMS"]
        for _ in range(count):
            start = time.perf_counter()
            pdf = services.render_certificate(frozen, url=VERIFY_URL,
                                              figures=figures)
            if sign:
                services.sign_certificate(pdf, settings, frozen["number"])
            times.append(time.perf_counter() - start)
    return times


def one_line_loop(app, count: int) -> list[float]:
    times = []
    with app.app_context():
        for _ in range(count):
            start = time.perf_counter()
            render_pdf("<p>One line.</p>")
            times.append(time.perf_counter() - start)
    return times


def _worker(kind: str, data_dir: str, payload: tuple, barrier, results) -> None:
    """One worker process: set up, wait for the other, then time its share of the work."""
    app = make_app(Path(data_dir))
    if kind == "render":
        frozen, figures, count = payload
        render_loop(app, frozen, figures, 1, sign=True)  # warm-up, as in the parent
    barrier.wait()
    start = time.time()
    if kind == "render":
        render_loop(app, frozen, figures, count, sign=True)
    else:
        ids, reviewer = payload
        issue(app, ids, reviewer)
    results.put((start, time.time()))


def parallel(kind: str, data_dir: str, payloads: list[tuple]) -> float:
    """Wall seconds from the common start to the last finish of 2 worker processes."""
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(len(payloads)), context.Queue()
    workers = [context.Process(target=_worker, args=(kind, data_dir, payload, barrier, results))
               for payload in payloads]
    for worker in workers:
        worker.start()
    spans = [results.get() for _ in workers]
    for worker in workers:
        worker.join()
    return max(end for _, end in spans) - min(start for start, _ in spans)


def row(label: str, times: list[float]) -> dict:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return {"label": label, "n": len(times), "median_s": statistics.median(times),
            "p95_s": p95, "per_s": len(times) / sum(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20, help="certificates per measurement")
    args = parser.parse_args()
    count = max(args.count, 2)
    with tempfile.TemporaryDirectory(prefix="lims-bench-cert-") as tmp:
        data_dir = Path(tmp)
        app = make_app(data_dir)
        log(f"preparing {3 * count} approved findings (upload, search, submit, approve)")
        ids, reviewer = prepare(app, 3 * count)
        frozen, figures = frozen_parts(app, ids[0], reviewer)
        one_line_loop(app, 2)  # warm-up: fonts, WeasyPrint, matplotlib, the key
        render_loop(app, frozen, figures, 2, sign=True)
        log("measuring one process")
        rows = [row("baseline: WeasyPrint, one-line page", one_line_loop(app, count)),
                row("baseline: certificate HTML -> PDF, not signed",
                    render_loop(app, frozen, figures, count, sign=False)),
                row("certificate render + sign + verify", render_loop(app, frozen, figures,
                                                                      count, sign=True)),
                row("issue_certificate + commit (whole)", issue(app, ids[:count], reviewer))]
        with app.app_context():
            db.engine.dispose()
        log("measuring 2 worker processes")
        half = count // 2
        render_wall = parallel("render", tmp, [(frozen, figures, half),
                                               (frozen, figures, count - half)])
        rest = ids[count:2 * count]
        issue_wall = parallel("issue", tmp, [(rest[:half], reviewer), (rest[half:], reviewer)])
    single = {r["label"]: r for r in rows}
    throughput = [
        {"label": "render + sign + verify, 2 processes", "n": count, "wall_s": render_wall,
         "per_s": count / render_wall,
         "speed-up": (count / render_wall) / single["certificate render + sign + verify"]["per_s"]},
        {"label": "issue_certificate + commit, 2 processes (one SQLite)", "n": count,
         "wall_s": issue_wall, "per_s": count / issue_wall,
         "speed-up": (count / issue_wall) / single["issue_certificate + commit (whole)"]["per_s"]},
    ]
    whole = single["issue_certificate + commit (whole)"]["median_s"]
    print(f"\n# Certificates ({platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}, load average "
          f"{os.getloadavg()[0]:.1f} at the end)\n")
    print("| measurement | n | median (s) | p95 (s) | per second |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['label']} | {r['n']} | {r['median_s']:.3f} | {r['p95_s']:.3f} | "
              f"{r['per_s']:.2f} |")
    print("\n| throughput | certificates | wall (s) | per second | vs 1 process |")
    print("|---|---:|---:|---:|---:|")
    for t in throughput:
        print(f"| {t['label']} | {t['n']} | {t['wall_s']:.2f} | {t['per_s']:.2f} | "
              f"{t['speed-up']:.2f}x |")
    verdict = "PASS" if whole < TARGET_S else "FAIL"
    print(f"\nTarget: median issue under {TARGET_S:.0f} s per certificate: {verdict} "
          f"({whole:.3f} s).")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"single": rows, "throughput": throughput,
                                   "target_s": TARGET_S, "verdict": verdict}, indent=2))


if __name__ == "__main__":
    main()
