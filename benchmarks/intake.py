"""Intake benchmarks: sample registrations per second and the sample list page at 100,000 samples.

Not a test: it prints a table per database and writes benchmarks/results/intake-<db>.json.
benchmarks/run runs it on SQLite and on a throwaway PostgreSQL cluster; by hand:

    .venv/bin/python benchmarks/intake.py --db sqlite
    .venv/bin/python benchmarks/intake.py --db postgresql --postgres-url URL   # an empty database
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import sqlalchemy
from flask import Flask
from flask_migrate import upgrade
from sqlalchemy import delete, event, func, insert, inspect, select, text
from sqlalchemy.orm import selectinload

from lims import create_app
from lims.auth.models import User
from lims.auth.services import create_user, start_session
from lims.config import load_settings
from lims.db import db, utcnow
from lims.intake import services
from lims.intake.models import Case, Sample
from lims.intake.services import SamplePage, create_case, create_location, register_samples

RESULTS_DIR = Path(__file__).resolve().parent / "results"
TARGET_MS = 50.0
LIST_SAMPLES = 100_000
SEED_CASES = 500
OFFSET = 90_000
BASELINE_PAGE = f"baseline: OFFSET {OFFSET:,} (naive query)"
WRITERS = 8
PASSWORD = "bench-password-2026"
USERS = (("bench.tech", "Tanya Petrova", "technician"),
         ("bench.tech2", "Georgi Kolev", "technician"),
         ("bench.chem", "Dimitar Ivanov", "chemist"), ("bench.chem2", "Raya Nikolova", "chemist"),
         ("bench.review", "Elena Georgieva", "reviewer"), ("bench.admin", "Maria Koleva", "admin"))
LOCATIONS = (("VAULT-A", "Evidence vault A"), ("VAULT-B", "Evidence vault B"),
             ("SAFE-1", "Drug safe 1"), ("FRIDGE-2", "Cold store 2"))
# Share of each status among the seeded samples (the long tail is in storage or reported).
STATUS_MIX = (("registered", 4), ("in_storage", 46), ("in_analysis", 12), ("reported", 22),
              ("returned", 9), ("destroyed", 7))
DESCRIPTIONS = (
    "Brick of white powder wrapped in black tape", "Plastic bag of green plant material",
    "Carton of 200 cigarettes, no tax stamp", "Canister of clear liquid, 5 L, solvent odour",
    "Blister packs of white tablets marked 'V'", "Vial of brown oily liquid",
    "Bag of beige crystals, about 1 kg", "Perfume bottles, counterfeit brand",
    "Resin block, dark brown, pressed", "Sack of coffee beans with hidden package",
)
PACKAGING = ("tape", "plastic bag", "carton", "canister", "blister", "glass vial", "sack", "box")
OFFICES = ("BG002000 Varna Port", "BG005800 Kapitan Andreevo", "BG001000 Sofia Airport",
           "BG003000 Burgas Port", "BG004000 Ruse Danube Bridge")
DETECTIONS = ("risk profile", "x-ray / NII", "detector dog", "intelligence", "random", "other")
DIRECTIONS = ("import", "export", "transit", "internal")


# --- small helpers ----------------------------------------------------------------------------


def summarize(values_ms: list[float]) -> dict:
    """Median, p95, mean and count of a list of durations in milliseconds."""
    ordered = sorted(values_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"n": len(ordered), "median_ms": statistics.median(ordered), "p95_ms": p95,
            "mean_ms": statistics.fmean(ordered)}


def verdict(value_ms: float) -> str:
    """PASS or FAIL against the list page target."""
    return "PASS" if value_ms < TARGET_MS else "FAIL"


def log(message: str) -> None:
    """Progress line on stderr, so that stdout is the results alone."""
    print(f"  .. {message}", file=sys.stderr, flush=True)


class QueryLog:
    """Every SQL statement the engine runs while active, with its parameters and duration."""

    def __init__(self, engine: sqlalchemy.Engine):
        self.engine = engine
        self.statements: list[tuple[str, object, float]] = []
        self._started: dict[int, float] = {}

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        self._started[id(cursor)] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        elapsed = (time.perf_counter() - self._started.pop(id(cursor))) * 1000
        self.statements.append((statement, parameters, elapsed))

    def __enter__(self) -> QueryLog:
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)

    @property
    def db_ms(self) -> float:
        """Time spent inside cursor.execute (driver and database)."""
        return sum(ms for _s, _p, ms in self.statements)


class OtherLoad:
    """Share of the machine's CPUs busy with other processes while active (Linux /proc/stat)."""

    def __init__(self):
        self.share: float | None = None

    @staticmethod
    def _busy_seconds() -> float | None:
        try:
            fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        except OSError:
            return None
        ticks = [int(f) for f in fields[:8]]
        return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> OtherLoad:
        self._start = (self._busy_seconds(), time.process_time(), time.perf_counter())
        return self

    def __exit__(self, *exc) -> None:
        busy, own, wall = self._start
        now = self._busy_seconds()
        if busy is not None and now is not None:
            others = (now - busy) - (time.process_time() - own)
            self.share = max(0.0, others / ((time.perf_counter() - wall) * (os.cpu_count() or 1)))


# --- the application and its database ---------------------------------------------------------


def build_app(kind: str, data_dir: Path, postgres_url: str) -> Flask:
    """An application on a fresh, migrated database of the given kind."""
    url = postgres_url if kind == "postgresql" else f"sqlite:///{data_dir / 'lims.sqlite3'}"
    settings = load_settings(data_dir=data_dir, database_url=url, secret_key="b" * 48)
    app = create_app(settings)
    with app.app_context():
        if inspect(db.engine).get_table_names():
            raise SystemExit(f"refusing to run: the database at {db.engine.url!r} is not empty "
                             "(the benchmark writes 100,000 samples into it)")
        upgrade()
    return app


def database_version(app: Flask) -> str:
    """Server name and version, e.g. 'PostgreSQL 17.2' or 'SQLite 3.45.1'."""
    with app.app_context(), db.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            sync = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}[
                conn.exec_driver_sql("PRAGMA synchronous").scalar()]
            return (f"SQLite {conn.scalar(text('select sqlite_version()'))} (journal_mode="
                    f"{conn.exec_driver_sql('PRAGMA journal_mode').scalar()}, synchronous={sync})")
        settings = ", ".join(f"{name}={conn.exec_driver_sql(f'SHOW {name}').scalar()}"
                             for name in ("fsync", "synchronous_commit"))
        return f"PostgreSQL {conn.scalar(text('show server_version')).split()[0]} ({settings})"


def create_people(app: Flask) -> dict:
    """Users of every staff role and storage locations, created through the services."""
    with app.app_context():
        users = {u: create_user(None, u, name, role, PASSWORD) for u, name, role in USERS}
        for code, name in LOCATIONS:
            create_location(users["bench.admin"], code, name)
        db.session.commit()
        return {"users": {name: u.id for name, u in users.items()},
                "locations": {loc.code: loc.id for loc in services.active_locations()}}


# --- 1. registrations per second --------------------------------------------------------------


CASE_SEALS = "BG0071234,BG0071235,BG0071236"


def registration_item(n: int) -> dict:
    """One seized item as the registration form would send it."""
    return {"description": DESCRIPTIONS[n % len(DESCRIPTIONS)],
            "packaging": PACKAGING[n % len(PACKAGING)], "unit_count": 1 + n % 3,
            "gross_weight_mg": 1_100_000 + n, "net_weight_mg": 1_000_000 + n,
            "seal_received": CASE_SEALS.split(",")[n % 3], "seal_intact": True}


def create_registration_cases(app: Flask, tech_id: int, count: int) -> list[int]:
    """One case per writer, registered through the service."""
    with app.app_context():
        tech = db.session.get(User, tech_id)
        cases = [create_case(tech, {
            "seizure_ref": f"BG-VAR-BENCH-{i:04d}", "customs_office": OFFICES[0],
            "officer_name": "Insp. Nikolay Dimov", "seized_at": utcnow() - timedelta(days=1),
            "direction": "import", "detection_method": "risk profile",
            "seals_received": CASE_SEALS, "description": "Benchmark seizure.",
        }, case_prefix="CASE") for i in range(count)]
        db.session.commit()
        return [c.id for c in cases]


def run_writers(app: Flask, writers: int, seconds: float,
                make_op: Callable[[int], Callable[[int], None]], warmup: int = 10) -> dict:
    """Run op(i) in `writers` threads, each with its own app context, for `seconds`."""
    latencies: list[list[float]] = [[] for _ in range(writers)]
    errors: list[BaseException] = []
    window: dict[str, float] = {}

    def open_window() -> None:
        # Runs once, when every writer has warmed up, before any of them is released.
        window["start"] = time.perf_counter()
        window["deadline"] = window["start"] + seconds

    barrier = threading.Barrier(writers, action=open_window)

    def worker(index: int) -> None:
        try:
            with app.app_context():
                op = make_op(index)
                for i in range(warmup):
                    op(-1 - i)
                barrier.wait()
                i = 0
                while time.perf_counter() < window["deadline"]:
                    t0 = time.perf_counter()
                    op(i)
                    latencies[index].append((time.perf_counter() - t0) * 1000)
                    i += 1
        except BaseException as error:  # re-raised in the main thread
            errors.append(error)
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    start = window["start"]
    wall = time.perf_counter() - start
    done = [ms for per_writer in latencies for ms in per_writer]
    return {"writers": writers, "operations": len(done), "wall_s": wall,
            "per_second": len(done) / wall, **summarize(done)}


def bare_insert_op(tech_id: int, case_id: int, tag: str) -> Callable[[int], None]:
    """Baseline: INSERT one sample row with SQLAlchemy Core in its own transaction."""
    table = Sample.__table__
    engine = db.engine

    def op(i: int) -> None:
        with engine.begin() as conn:
            conn.execute(insert(table).values(
                lab_number=f"BASE-{tag}-{i:+08d}", case_id=case_id, kind="item",
                description=DESCRIPTIONS[i % len(DESCRIPTIONS)], packaging="tape", unit_count=1,
                gross_weight_mg=1_100_000, net_weight_mg=1_000_000, seal_received="BG0071234",
                current_seal="BG0071234", notes="", status="registered",
                holder_user_id=tech_id, custody_count=1, seal_discrepancy="", label_prints=0,
                created_at=utcnow(), created_by_id=tech_id))

    return op


def delete_baseline_rows(app: Flask) -> None:
    """Remove the baseline's rows, so that the list page shows registered and seeded samples."""
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(delete(Sample.__table__).where(Sample.lab_number.startswith("BASE-")))


def registration_op(tech_id: int, case_id: int) -> Callable[[int], None]:
    """One registration as the view does it: register_samples with one item, then commit."""
    tech = db.session.get(User, tech_id)
    case = db.session.get(Case, case_id)

    def op(i: int) -> None:
        register_samples(tech, case, [registration_item(i)], lab_prefix="CL")
        db.session.commit()

    return op


def bench_registrations(app: Flask, people: dict, seconds: float) -> dict:
    """Registrations per second, 1 and 8 writers, each against the bare INSERT baseline."""
    tech_id = people["users"]["bench.tech"]
    case_ids = create_registration_cases(app, tech_id, WRITERS)
    with app.app_context(), QueryLog(db.engine) as one:
        registration_op(tech_id, case_ids[0])(10**6)
    results = {"statements_per_registration": len(one.statements)}
    for writers in (1, WRITERS):
        log(f"bare INSERT baseline, {writers} writer(s), {seconds:.0f} s")
        results[f"baseline_{writers}"] = run_writers(
            app, writers, seconds,
            lambda i, w=writers: bare_insert_op(tech_id, case_ids[i], f"{w}w{i}"))
        delete_baseline_rows(app)
        log(f"register_samples, {writers} writer(s), {seconds:.0f} s")
        results[f"register_{writers}"] = mine = run_writers(
            app, writers, seconds, lambda i: registration_op(tech_id, case_ids[i]))
        mine["slower_than_baseline"] = (results[f"baseline_{writers}"]["per_second"]
                                        / mine["per_second"])
    return results


# --- 2. the sample list page at 100,000 samples -----------------------------------------------


def seed_samples(app: Flask, people: dict, total: int) -> dict:
    """Top the sample table up to `total` rows with bulk Core inserts over SEED_CASES cases.

    No audit entries and no custody events are written for the seeded rows: the list page
    reads neither.
    """
    rng = random.Random(2026)
    users, locations = people["users"], people["locations"]
    tech_ids = [users["bench.tech"], users["bench.tech2"]]
    chemist_ids = [users["bench.chem"], users["bench.chem2"]]
    stores = [locations["VAULT-A"], locations["VAULT-B"], locations["SAFE-1"],
              locations["FRIDGE-2"]]
    t0 = time.perf_counter()
    # One connection does everything: on SQLite a second one (the ORM session) would wait for
    # this one's write lock.
    with app.app_context(), db.engine.begin() as conn:
        count = total - conn.scalar(select(func.count()).select_from(Sample))
        # Seeded history covers the two previous calendar years, so that its lab and case
        # numbers never meet the current year's counters used by the registrations.
        year = utcnow().year
        begin = datetime(year - 2, 1, 1, 8, tzinfo=UTC)
        span = (datetime(year - 1, 12, 31, 8, tzinfo=UTC) - begin).total_seconds()
        received = sorted(begin + timedelta(seconds=rng.random() * span)
                          for _ in range(SEED_CASES))
        case_counters: dict[int, int] = {}
        case_rows = []
        for when in received:
            case_counters[when.year] = case_counters.get(when.year, 0) + 1
            n = len(case_rows)
            case_rows.append({
                "case_number": f"CASE-{when.year}-{case_counters[when.year]:05d}",
                "seizure_ref": f"BG-{n:05d}-{when.year}", "proceedings_ref": f"DP {n}/{when.year}",
                "customs_office": OFFICES[n % len(OFFICES)], "officer_name": f"Insp. Officer {n}",
                "seized_at": when - timedelta(days=1), "seizure_place": "terminal",
                "direction": DIRECTIONS[n % len(DIRECTIONS)],
                "detection_method": DETECTIONS[n % len(DETECTIONS)],
                "container_number": "CSQU3054383", "mrn": f"24BG1000A{n:09d}",
                "hs_code": "090111", "conveyance": "truck", "seals_received": "BG0071234",
                "description": "Seizure", "questions": "Identify the substance.",
                "deadline": None, "received_at": when, "created_by_id": tech_ids[n % 2]})
        conn.execute(insert(Case.__table__), case_rows)
        case_ids = list(conn.scalars(
            select(Case.id).where(Case.case_number.in_([r["case_number"] for r in case_rows]))
            .order_by(Case.received_at)))
        # Case sizes vary from a single item to several hundred (log-normal weights).
        weights = [rng.lognormvariate(0, 1.2) for _ in case_ids]
        owners = sorted(rng.choices(range(len(case_ids)), weights=weights, k=count))
        statuses = [s for s, _w in STATUS_MIX]
        status_weights = [w for _s, w in STATUS_MIX]
        lab_counters: dict[int, int] = {}
        rows = []
        for owner in owners:
            when = received[owner] + timedelta(minutes=rng.randint(10, 600))
            lab_counters[when.year] = lab_counters.get(when.year, 0) + 1
            status = rng.choices(statuses, weights=status_weights)[0]
            holder_user = holder_location = None
            if status == "registered":
                holder_user = rng.choice(tech_ids)
            elif status == "in_analysis":
                holder_user = rng.choice(chemist_ids)
            elif status in ("in_storage", "reported"):
                holder_location = rng.choice(stores)
            net = rng.randint(200, 5_000_000)
            seal = f"BG{rng.randint(0, 9_999_999):07d}"
            n = len(rows)
            rows.append({
                "lab_number": f"CL-{when.year}-{lab_counters[when.year]:06d}",
                "case_id": case_ids[owner], "parent_id": None, "kind": "item",
                "description": DESCRIPTIONS[n % len(DESCRIPTIONS)],
                "packaging": PACKAGING[n % len(PACKAGING)], "unit_count": 1 + n % 20,
                "gross_weight_mg": net + rng.randint(1_000, 90_000), "net_weight_mg": net,
                "seal_received": seal, "current_seal": seal,
                "storage_location_id": holder_location, "notes": "",
                "status": status, "holder_user_id": holder_user,
                "holder_location_id": holder_location, "custody_count": rng.randint(1, 6),
                "seal_discrepancy": "Seal found broken (custody event 1)."
                if rng.random() < 0.01 else "",
                "label_prints": rng.randint(0, 2), "created_at": when,
                "created_by_id": rng.choice(tech_ids)})
        for start in range(0, len(rows), 10_000):
            conn.execute(insert(Sample.__table__), rows[start:start + 10_000])
        analyzed = conn.dialect.name == "postgresql"
        if analyzed:
            # What autovacuum does within a minute of such a load; the app never runs ANALYZE
            # on SQLite, so SQLite is measured without statistics, as it would run.
            conn.execute(text("ANALYZE"))
        total_now = conn.scalar(select(func.count()).select_from(Sample))
    return {"seeded_samples": count, "seeded_cases": SEED_CASES, "total_samples": total_now,
            "seconds": time.perf_counter() - t0, "analyzed": analyzed}


def offset_list_samples(user: User, **_filters) -> SamplePage:
    """The naive alternative, for the baseline only: newest first with OFFSET 90,000."""
    query = select(Sample).options(
        selectinload(Sample.case), selectinload(Sample.holder_user),
        selectinload(Sample.holder_location))
    rows = list(db.session.scalars(
        query.order_by(Sample.id.desc()).offset(OFFSET).limit(51)))
    return SamplePage(rows[:50], rows[49].id if len(rows) > 50 else None)


def list_scenarios(app: Flask) -> list[tuple[str, str]]:
    """(name, query string) of every list page measured, with values from the seeded data."""
    with app.app_context():
        deep_after = db.session.scalar(
            select(Sample.id).order_by(Sample.id.desc()).offset(OFFSET - 1).limit(1))
        middle = db.session.scalar(
            select(Sample.case_id).order_by(Sample.id).offset(LIST_SAMPLES // 2).limit(1))
        case_number = db.session.get(Case, middle).case_number
    return [
        ("first page", ""),
        (f"keyset page at row {OFFSET:,} (?after=)", f"after={deep_after}"),
        ("status = in_analysis", "status=in_analysis"),
        (f"case {case_number}", f"case={case_number}"),
        ("holder user bench.chem", "holder=user:bench.chem"),
        ("holder location VAULT-A", "holder=location:VAULT-A"),
        ("worst: in_storage + bench.chem, 0 rows", "status=in_storage&holder=user:bench.chem"),
    ]


@contextmanager
def logged_in_client(app: Flask, user_id: int) -> Iterator:
    """A test client carrying the server-side session cookie of the user."""
    with app.app_context():
        token = start_session(db.session.get(User, user_id), "127.0.0.1")
        db.session.commit()
    client = app.test_client()
    with client.session_transaction() as session:
        session["sid"] = token
    yield client


LAB_NUMBER = re.compile(r'class="labno" href="[^"]*">([^<]+)</a>')


def time_pages(app: Flask, client, pages: list[tuple[str, str, Callable | None]],
               requests: int, warmup: int = 10) -> dict[str, dict]:
    """Median and p95 wall time of GET /samples?query for each (name, query, list function).

    The pages take turns, request by request, so that a burst of load elsewhere on the machine
    falls on all of them alike. A list function, when given, replaces services.list_samples
    for that page (the OFFSET baseline).
    """
    with app.app_context():
        engine = db.engine
    urls = {name: "/samples" + (f"?{query}" if query else "") for name, query, _fn in pages}
    stats = {name: {"wall": [], "cpu": [], "db": []} for name in urls}
    last: dict[str, tuple] = {}
    with QueryLog(engine) as queries:
        for round_ in range(warmup + requests):
            for name, _query, list_function in pages:
                patch = mock.patch.object(services, "list_samples", list_function) \
                    if list_function else nullcontext()
                with patch:
                    queries.statements.clear()
                    t0, c0 = time.perf_counter(), time.process_time()
                    response = client.get(urls[name])
                    wall = (time.perf_counter() - t0) * 1000
                    cpu = (time.process_time() - c0) * 1000
                if response.status_code != 200:
                    raise RuntimeError(f"GET {urls[name]} answered {response.status_code}")
                if round_ >= warmup:
                    for key, value in (("wall", wall), ("cpu", cpu), ("db", queries.db_ms)):
                        stats[name][key].append(value)
                last[name] = (response.get_data(as_text=True), list(queries.statements))
    results = {}
    for name, url in urls.items():
        html, statements = last[name]
        results[name] = {
            "url": url, **summarize(stats[name]["wall"]),
            "cpu_median_ms": statistics.median(stats[name]["cpu"]),
            "db_median_ms": statistics.median(stats[name]["db"]),
            "statements": len(statements), "rows": len(LAB_NUMBER.findall(html)),
            "html_bytes": len(html.encode()), "lab_numbers": LAB_NUMBER.findall(html),
            "queries": statements}
    return results


def explain(app: Flask, statements: list[tuple[str, object, float]]) -> list[dict]:
    """The database's query plan of every statement of one request that reads samples."""
    plans = []
    with app.app_context(), db.engine.connect() as conn:
        sqlite_db = conn.dialect.name == "sqlite"
        prefix = "EXPLAIN QUERY PLAN " if sqlite_db else "EXPLAIN (ANALYZE, BUFFERS) "
        for statement, parameters, ms in statements:
            if not statement.lstrip().upper().startswith("SELECT") or " sample" not in statement:
                continue
            rows = conn.exec_driver_sql(prefix + statement, parameters).all()
            plan = [f"{r[1]}:{r[3]}" if sqlite_db else r[0] for r in rows]
            plans.append({"sql": " ".join(statement.split()), "ms": ms, "plan": plan})
    return plans


def profile_page(client, query: str, requests: int = 50) -> str:
    """cProfile of `requests` GETs: the 25 most expensive functions by cumulative time."""
    url = "/samples" + (f"?{query}" if query else "")
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        client.get(url)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
    return out.getvalue()


def bench_list_page(app: Flask, people: dict, requests: int, want_profile: bool) -> dict:
    """GET /samples at 100,000 samples: keyset pages and filters against OFFSET 90,000."""
    log(f"seeding the sample table up to {LIST_SAMPLES:,} rows")
    seed = seed_samples(app, people, LIST_SAMPLES)
    log(f"seeded {seed['seeded_samples']:,} samples in {seed['seconds']:.1f} s")
    scenarios = [(name, query, None) for name, query in list_scenarios(app)]
    scenarios.append((BASELINE_PAGE, "", offset_list_samples))
    with logged_in_client(app, people["users"]["bench.tech"]) as client:
        log(f"GET /samples: {len(scenarios)} pages, taking turns, x {requests} each")
        pages = time_pages(app, client, scenarios, requests)
        baseline = pages.pop(BASELINE_PAGE)
        deep_name = next(n for n in pages if n.startswith("keyset page"))
        if baseline["lab_numbers"] != pages[deep_name]["lab_numbers"]:
            raise RuntimeError("the keyset page and the OFFSET page show different samples")
        profiles = {}
        if want_profile:
            with mock.patch.object(services, "list_samples", offset_list_samples):
                profiles["offset baseline"] = profile_page(client, "")
            for name, query, _fn in scenarios[:2]:
                profiles[name] = profile_page(client, query)
    for page in (*pages.values(), baseline):
        page["plans"] = explain(app, page.pop("queries"))
        page.pop("lab_numbers")
    return {"seed": seed, "pages": pages, "offset_baseline": baseline,
            "keyset_over_offset": pages[deep_name]["median_ms"] / baseline["median_ms"],
            "keyset_over_offset_db": pages[deep_name]["db_median_ms"] / baseline["db_median_ms"],
            "profiles": profiles}


# --- output -----------------------------------------------------------------------------------


def _percent(share: float | None) -> str:
    return "?" if share is None else f"{share:.0%}"


def print_report(result: dict, explain_plans: bool) -> None:
    """The tables of one database run."""
    reg, lst = result["registrations"], result["list_page"]
    pg = result["database"].startswith("PostgreSQL")
    print(f"\n=== {result['database']}  ({result['driver']}, SQLAlchemy {result['sqlalchemy']}, "
          f"Python {result['python']}, {result['cpus']} CPUs) ===")
    print("\n1. Registrations per second (migrated database, one commit per registration)")
    print("   registration = register_samples() with one item: lab number from the counter, "
          "sample,")
    print(f"   receipt custody event, audit entries; {reg['statements_per_registration']} SQL "
          "statements")
    print("   baseline     = bare INSERT of one sample row (no numbering, no audit, no custody),")
    print("                  SQLAlchemy Core, its own transaction")
    print(f"   {'writers':>7}  {'operation':<24} {'rate':>14} {'median':>9} {'p95':>9}"
          f"  {'vs baseline':<18}")
    for writers in (1, WRITERS):
        base, mine = reg[f"baseline_{writers}"], reg[f"register_{writers}"]
        for name, row, versus in (
                ("baseline bare INSERT", base, "1.0x (baseline)"),
                ("register_samples", mine, f"{mine['slower_than_baseline']:.1f}x slower")):
            print(f"   {writers:>7}  {name:<24} {row['per_second']:>9.1f} op/s "
                  f"{row['median_ms']:>6.2f} ms {row['p95_ms']:>6.2f} ms  {versus}")
    scaling = reg[f"register_{WRITERS}"]["per_second"] / reg["register_1"]["per_second"]
    lock = "pg_advisory_xact_lock" if pg else "BEGIN IMMEDIATE"
    print(f"   {WRITERS} writers vs 1 writer: {scaling:.2f}x the registrations per second "
          f"(the app serializes writers: {lock})")

    seed = lst["seed"]
    print(f"\n2. GET /samples at {seed['total_samples']:,} samples (Flask test client, logged-in "
          "technician, 50 rows a page)")
    print(f"   samples: {seed['seeded_samples']:,} seeded over {seed['seeded_cases']} cases by "
          f"bulk Core INSERT in {seed['seconds']:.1f} s + "
          f"{seed['total_samples'] - seed['seeded_samples']:,} written by part 1")
    print("   the seeded rows have NO audit entries and NO custody events (the page reads "
          "neither); " + ("ANALYZE after seeding" if seed["analyzed"]
                                         else "no ANALYZE (the app never runs it)"))
    n = lst["offset_baseline"]["n"]
    print(f"   times: wall time of client.get(), {n} requests a page after 10 warm-up "
          f"requests, the pages taking turns; target < {TARGET_MS:.0f} ms")
    print(f"   {'page':<40} {'median':>9} {'p95':>9} {'CPU ms':>6} {'SQL':>4} {'DB ms':>6} "
          f"{'KiB':>5}  target (median / p95)")
    rows = [*lst["pages"].items(), (BASELINE_PAGE, lst["offset_baseline"])]
    for name, page in rows:
        print(f"   {name:<40} {page['median_ms']:>6.2f} ms {page['p95_ms']:>6.2f} ms "
              f"{page['cpu_median_ms']:>6.2f} {page['statements']:>4} "
              f"{page['db_median_ms']:>6.2f} "
              f"{page['html_bytes'] / 1024:>5.1f}  {verdict(page['median_ms'])} / "
              f"{verdict(page['p95_ms'])}")
    print(f"   ratio keyset page at row {OFFSET:,} / OFFSET {OFFSET:,} page: "
          f"{lst['keyset_over_offset']:.2f}x (median page time), "
          f"{lst['keyset_over_offset_db']:.2f}x (median DB time)")
    print("   CPU ms = median CPU time of this process per request (the Python side, and SQLite"
          " itself);")
    print("   SQL = statements per request; DB ms = median time in cursor.execute per request")
    print(f"\n   Other processes{' (including the PostgreSQL server)' if pg else ''} kept "
          f"{_percent(result['other_cpu_share'][0])} of the {result['cpus']} CPUs busy during "
          f"part 1, {_percent(result['other_cpu_share'][1])} during part 2;")
    print("   such load inflates the wall times (and p95 most), much less the CPU ms.")
    for name, page in rows if explain_plans else ():
        for plan in page["plans"]:
            where = plan["sql"][plan["sql"].find(" FROM "):]
            print(f"\n   plan [{name}] SELECT sample.* ...{where[:140]}")
            for line in plan["plan"]:
                print(f"      {line}")
    for name, profile in lst["profiles"].items():
        print(f"\n   cProfile [{name}], 50 requests:\n{profile}")


def run(args: argparse.Namespace) -> dict:
    """Everything for one database; returns the results."""
    with tempfile.TemporaryDirectory(prefix="lims-bench-") as tmp:
        app = build_app(args.db, Path(tmp), args.postgres_url)
        log(f"{args.db}: migrated; creating users and locations")
        people = create_people(app)
        result = {
            "database": database_version(app), "driver": app.config["SQLALCHEMY_DATABASE_URI"]
            .split(":")[0], "sqlalchemy": sqlalchemy.__version__,
            "python": platform.python_version(), "cpus": os.cpu_count(),
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "target_ms": TARGET_MS,
        }
        with OtherLoad() as part1:
            result["registrations"] = bench_registrations(app, people, args.seconds)
        with OtherLoad() as part2:
            result["list_page"] = bench_list_page(app, people, args.requests, args.profile)
        result["other_cpu_share"] = [part1.share, part2.share]
        with app.app_context():
            db.engine.dispose()
    return result


def main() -> None:
    """Parse the options, run, print and write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), required=True)
    parser.add_argument("--postgres-url", default="",
                        help="SQLAlchemy URL of an EMPTY PostgreSQL database (--db postgresql)")
    parser.add_argument("--seconds", type=float, default=6.0,
                        help="duration of each registration measurement (default 6)")
    parser.add_argument("--requests", type=int, default=200,
                        help="timed requests per list page (default 200)")
    parser.add_argument("--explain", action="store_true",
                        help="print the query plans of the sample queries of every page "
                        "(always in the JSON)")
    parser.add_argument("--profile", action="store_true",
                        help="print a cProfile of the first, deep keyset and OFFSET pages")
    args = parser.parse_args()
    if args.db == "postgresql" and not args.postgres_url:
        parser.error("--db postgresql needs --postgres-url")
    result = run(args)
    print_report(result, args.explain)
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"intake-{args.db}.json"
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"\n   results written to {out}")


if __name__ == "__main__":
    main()
