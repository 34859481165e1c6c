"""Shared fixtures: one migrated database per test (SQLite or PostgreSQL), app, clients, factories.

The schema is migrated once per session with Alembic into a template; every test gets its own
copy (a copied SQLite file, or ``CREATE DATABASE ... TEMPLATE`` on PostgreSQL), so tests never
see each other's rows and the app never relies on ``create_all``. A test that asks for a
scenario fixture (``identified``, ``approved``, ``certified``: see tests/scenarios.py) gets a
copy of that scenario's template instead, with its data folder.

Factories work in two modes. Called inside ``with app.app_context():`` they use that context's
session and return attached objects (for service-level tests). Called outside any app context
they push a short one and return *detached* objects whose columns are loaded (for API and CLI
tests, where the test client must push its own context per request): read ``.id``,
``.username``, ``.case_number``, ``.lab_number``; do not follow relationships.
"""

from __future__ import annotations

import itertools
import os
import shutil
import sqlite3
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from flask import current_app, has_app_context
from flask_migrate import upgrade
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from lims import create_app
from lims.auth import services as auth_services
from lims.auth.models import User
from lims.cli import main as lims_main
from lims.config import ENV_KEYS, load_settings
from lims.db import db
from lims.intake.models import Case, Location
from tests.scenarios import CASE_DEFAULTS, SCENARIOS, Scenarios, configure_lab, sample_items

PASSWORD = "correct horse battery staple"
SECRET_KEY = "t" * 48
BACKEND = os.environ.get("LIMS_TEST_DB", "sqlite").strip().lower() or "sqlite"

# Argon2id with the smallest parameters: the production cost (~130 ms per hash) would dominate
# the suite. Tests marked `real_kdf` keep the application's own hasher.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
FAST_DUMMY_HASH = FAST_HASHER.hash("not-a-real-password")


def pytest_configure(config):
    # WTForms 3.3 deprecates (value, label) tuples as SelectField choices, removed in 3.4; the
    # forms still use them. Silenced here so that warnings-as-errors does not turn every form
    # into a 500, until the forms move to SelectChoice (or wtforms is pinned below 3.4).
    config.addinivalue_line("filterwarnings", "ignore:Passing SelectField choices as tuples "
                                              "is deprecated:DeprecationWarning")
    config.addinivalue_line("markers", "csrf: keep CSRF protection on in the app fixture")
    config.addinivalue_line("markers", "settings(**overrides): keyword overrides for "
                                       "load_settings in the settings fixture")
    config.addinivalue_line("markers", "real_kdf: hash passwords with the production Argon2 "
                                       "parameters instead of the fast test ones")


def pytest_report_header(config):
    return f"LIMS_TEST_DB={BACKEND}"


# --- databases -------------------------------------------------------------------------------


def migrate(database_url: str, data_dir: Path) -> None:
    """Run every Alembic migration on a database, exactly as `lims db upgrade` would."""
    app = create_app(load_settings(data_dir=data_dir, database_url=database_url,
                                   secret_key=SECRET_KEY), testing=True)
    with app.app_context():
        upgrade()
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


class SQLiteDatabases:
    """A migrated template file, copied for every test."""

    name = "sqlite"

    def __init__(self, root: Path):
        self.root = root
        self.template = root / "template.sqlite3"

    def setup(self) -> None:
        migrate(self.url(self.template), self.root / "template-data")
        self._fold_wal(self.template)

    def teardown(self) -> None:
        """Nothing to do: the files live in pytest's temporary folder."""

    @staticmethod
    def url(path: Path) -> str:
        return f"sqlite:///{path}"

    @staticmethod
    def _fold_wal(path: Path) -> None:
        """Fold the WAL back into the main file so that one plain file copy is a whole database."""
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("PRAGMA journal_mode=DELETE")
        conn.close()

    def derive(self, folder: Path, template: Path | None) -> tuple[str, Path]:
        """A database to build a scenario in, copied from a template (default: migrated)."""
        path = folder / "scenario.sqlite3"
        shutil.copyfile(template or self.template, path)
        return self.url(path), path

    def seal(self, app, path: Path) -> None:
        """Close the scenario's app and make its file copyable as a template."""
        dispose(app)
        self._fold_wal(path)

    @contextmanager
    def database(self, folder: Path, *, migrated: bool = True, template: Path | None = None):
        path = folder / ("lims.sqlite3" if migrated else "empty.sqlite3")
        if migrated:
            shutil.copyfile(template or self.template, path)
        yield self.url(path)


class PostgresDatabases:
    """A migrated template database; each test gets `CREATE DATABASE ... TEMPLATE` of it.

    Creating a database costs ~0.15 s, so the next one is created in the background while the
    current test runs.
    """

    name = "postgresql"

    def __init__(self, server_url: str):
        self.server = make_url(server_url)
        self.admin = create_engine(self.server.set(database="postgres"),
                                   isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self.template = f"lims_tpl_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-create")
        self.ready: Future | None = None
        self.scenarios: list[str] = []

    def url(self, name: str) -> str:
        return self.server.set(database=name).render_as_string(hide_password=False)

    def _execute(self, sql: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(sql))

    def _create(self, template: str) -> str:
        name = f"lims_t_{uuid.uuid4().hex[:12]}"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return name

    def _drop(self, name: str) -> None:
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def setup(self) -> None:
        self._execute(f'CREATE DATABASE "{self.template}"')
        migrate(self.url(self.template), Path(os.environ.get("TMPDIR", "/tmp")))

    def teardown(self) -> None:
        if self.ready is not None:
            self._drop(self.ready.result())
        self.worker.shutdown()
        for name in [*self.scenarios, self.template]:
            self._drop(name)
        self.admin.dispose()

    def _take_migrated(self) -> str:
        ready = self.ready or self.worker.submit(self._create, self.template)
        self.ready = self.worker.submit(self._create, self.template)
        return ready.result()

    def derive(self, folder: Path, template: str | None) -> tuple[str, str]:
        """A database to build a scenario in, copied from a template (default: migrated)."""
        name = self._create(template or self.template)
        self.scenarios.append(name)
        return self.url(name), name

    def seal(self, app, name: str) -> None:
        """Close the scenario's app: a template database must have no connections."""
        dispose(app)

    @contextmanager
    def database(self, folder: Path, *, migrated: bool = True, template: str | None = None):
        if template:
            name = self._create(template)
        else:
            name = self._take_migrated() if migrated else self._create("template0")
        try:
            yield self.url(name)
        finally:
            self._drop(name)


@pytest.fixture(scope="session")
def databases(tmp_path_factory):
    """The backend under test (LIMS_TEST_DB) with its migrated template."""
    if BACKEND == "sqlite":
        backend = SQLiteDatabases(tmp_path_factory.mktemp("sqlite-template"))
    elif BACKEND == "postgresql":
        server_url = os.environ.get("LIMS_TEST_POSTGRES_URL", "")
        if not server_url:
            pytest.fail("LIMS_TEST_DB=postgresql needs LIMS_TEST_POSTGRES_URL (scripts/test "
                        "starts a throwaway server and sets it)")
        backend = PostgresDatabases(server_url)
    else:
        pytest.fail(f"LIMS_TEST_DB must be sqlite or postgresql, not {BACKEND!r}")
    try:
        backend.setup()
        yield backend
    finally:
        backend.teardown()


@pytest.fixture(scope="session")
def scenarios(databases, tmp_path_factory):
    """The scenario templates, each built on first use (tests/scenarios.py)."""

    @contextmanager
    def make_app(database_url: str, data_dir: Path):
        app = create_app(load_settings(data_dir=data_dir, database_url=database_url,
                                       secret_key=SECRET_KEY), testing=True)
        with pytest.MonkeyPatch.context() as patch:  # built before any test's own fixtures
            patch.setattr(auth_services, "_hasher", FAST_HASHER)
            patch.setattr(auth_services, "_DUMMY_HASH", FAST_DUMMY_HASH)
            yield app

    return Scenarios(databases, tmp_path_factory.mktemp("scenarios"), make_app)


@pytest.fixture
def database_url(request, databases, scenarios, tmp_path):
    """URL of a database of this test's own: migrated, or a copy of the scenario it asks for."""
    wanted = [name for name in SCENARIOS if name in request.fixturenames]
    if len(wanted) > 1:
        pytest.fail(f"a test starts from one scenario, not {wanted}")
    template = scenarios.copy_files(wanted[0], tmp_path) if wanted else None
    with databases.database(tmp_path, template=template) as url:
        yield url


@pytest.fixture
def empty_database_url(databases, tmp_path):
    """URL of an empty database (no tables) for migration tests."""
    with databases.database(tmp_path, migrated=False) as url:
        yield url


# --- application -----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fast_kdf(request, monkeypatch):
    if request.node.get_closest_marker("real_kdf") is None:
        monkeypatch.setattr(auth_services, "_hasher", FAST_HASHER)
        monkeypatch.setattr(auth_services, "_DUMMY_HASH", FAST_DUMMY_HASH)


@pytest.fixture
def settings(request, monkeypatch, tmp_path, database_url):
    """Settings for one test; `@pytest.mark.settings(key=value)` overrides fields."""
    for key in ENV_KEYS:  # the developer's environment must not leak into the tests
        monkeypatch.delenv(key, raising=False)
    overrides = {}
    for marker in reversed(list(request.node.iter_markers("settings"))):
        overrides.update(marker.kwargs)
    return load_settings(data_dir=tmp_path, database_url=database_url, secret_key=SECRET_KEY,
                         **overrides)


def dispose(app) -> None:
    """Close every session and pooled connection of an app (before its database is dropped)."""
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture
def app(request, settings):
    """The application on this test's database; CSRF off unless the test is marked `csrf`."""
    app = create_app(settings, testing=True)
    app.config["WTF_CSRF_ENABLED"] = request.node.get_closest_marker("csrf") is not None
    yield app
    dispose(app)


@pytest.fixture
def make_app(tmp_path):
    """``make_app(database_url, **overrides)``: another app (e.g. on an empty database)."""
    made = []

    def make(database_url: str, **overrides):
        settings = load_settings(data_dir=tmp_path, database_url=database_url,
                                 secret_key=SECRET_KEY, **overrides)
        made.append(create_app(settings, testing=True))
        return made[-1]

    yield make
    for app in made:
        dispose(app)


@pytest.fixture
def csrf_app(app):
    """The application with CSRF protection on, as in production."""
    app.config["WTF_CSRF_ENABLED"] = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def cli(runner):
    """Run the `lims` command: ``cli("user", "create", "ana", "--role", "chemist", input=...)``."""

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(lims_main, list(args), input=input)

    return invoke


@pytest.fixture
def app_ctx(app):
    """Run the test body inside an app context (service tests that make no requests)."""
    with app.app_context():
        yield app


@pytest.fixture
def password():
    """The password every factory-made user has unless told otherwise."""
    return PASSWORD


# --- factories -------------------------------------------------------------------------------


@contextmanager
def _session_for(app):
    """Yield a `done(obj)` that returns objects usable after the block.

    Inside the test's own app context objects stay attached; otherwise a context is pushed for
    the block and the objects are refreshed and detached before it ends.
    """
    if has_app_context() and current_app._get_current_object() is app:
        yield lambda obj: obj
        return
    with app.app_context():

        def detach(obj):
            for item in obj if isinstance(obj, list) else [obj]:
                db.session.refresh(item)
                db.session.expunge(item)
            return obj

        yield detach


def _user(value) -> User:
    if isinstance(value, str):
        return auth_services.get_user(value)
    return db.session.get(User, value.id)


@pytest.fixture
def make_user(app):
    """``make_user(role="technician", username=None, password=PASSWORD, full_name=None)``."""
    counter = itertools.count(1)

    def make(role: str = "technician", username: str | None = None,
             password: str = PASSWORD, full_name: str | None = None) -> User:
        username = username or f"{role}{next(counter)}"
        with _session_for(app) as done:
            user = auth_services.create_user(None, username,
                                             full_name or f"Test {username.title()}", role,
                                             password)
            db.session.commit()
            return done(user)

    return make


@pytest.fixture
def login(app):
    """``login(client, username, password=PASSWORD)``: POST /login, returns the response."""

    def do_login(client, username, password: str = PASSWORD):
        username = getattr(username, "username", username)
        return client.post("/login", data={"username": username, "password": password})

    return do_login


@pytest.fixture
def api_token(app):
    """``api_token(user_or_username, label="test")``: a fresh bearer token."""

    def make(user, label: str = "test") -> str:
        with _session_for(app):
            token = auth_services.create_api_token(None, _user(user), label)
            db.session.commit()
        return token

    return make


class ApiClient:
    """JSON calls with a bearer token; paths not starting with /api/ are under /api/v1."""

    def __init__(self, client, token: str | None):
        self.client = client
        self.token = token

    @staticmethod
    def path(path: str) -> str:
        if path.startswith("/api/"):
            return path
        return "/api/v1/" + path.lstrip("/")

    def request(self, method: str, path: str, *, headers: dict | None = None, **kwargs):
        headers = dict(headers or {})
        if self.token is not None:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        return self.client.open(self.path(path), method=method, headers=headers, **kwargs)

    def get(self, path: str, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json=None, **kwargs):
        if json is not None:
            kwargs["json"] = json
        return self.request("POST", path, **kwargs)


@pytest.fixture
def api():
    """``api(client, token)``: an ApiClient with ``.get(path)`` and ``.post(path, json=...)``."""
    return ApiClient


@pytest.fixture
def make_case(app):
    """``make_case(actor, investigators=(), **fields)``: a case through create_case."""
    from lims.intake.services import create_case

    def make(actor, investigators=(), **fields) -> Case:
        with _session_for(app) as done:
            case = create_case(_user(actor), {**CASE_DEFAULTS, **fields},
                               case_prefix=app.config["LIMS"].case_number_prefix,
                               investigators=[_user(u) for u in investigators])
            db.session.commit()
            return done(case)

    return make


@pytest.fixture
def make_samples(app):
    """``make_samples(actor, case, n=1, **fields)``: n items registered through the service."""
    from lims.intake.services import register_samples

    def make(actor, case, n: int = 1, **fields) -> list:
        with _session_for(app) as done:
            samples = register_samples(_user(actor), db.session.get(Case, case.id),
                                       sample_items(n, **fields),
                                       lab_prefix=app.config["LIMS"].lab_number_prefix)
            db.session.commit()
            return done(samples)

    return make


@pytest.fixture
def make_location(app):
    """``make_location(code="VAULT-A", name=None)``: a storage location."""
    from lims.intake.services import create_location

    def make(code: str = "VAULT-A", name: str | None = None) -> Location:
        with _session_for(app) as done:
            location = create_location(None, code, name or f"Evidence store {code}")
            db.session.commit()
            return done(location)

    return make


# --- scenarios -------------------------------------------------------------------------------


@pytest.fixture
def identified(app, scenarios):
    """Scenario: an identified sample (tests/scenarios.py); users as detached objects."""
    return scenarios.values("identified", app)


@pytest.fixture
def approved(app, scenarios):
    """Scenario: an approved finding of a configured lab (plain values: ids, usernames)."""
    configure_lab(app)
    return scenarios.values("approved", app)


@pytest.fixture
def certified(app, scenarios):
    """Scenario: an issued certificate (plain values: number, case, sample, usernames)."""
    configure_lab(app)
    return scenarios.values("certified", app)
