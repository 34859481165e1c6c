"""Database foundation: the declarative base, the UTC time type and engine tuning."""

from __future__ import annotations

from datetime import UTC, datetime

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, MetaData, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with a constraint naming convention for stable migrations."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)


# Id and position columns are SQLAlchemy Integer, 32 bits on PostgreSQL: a larger number can never
# name a row, and handing it to the driver is an overflow error (a 500), not "not found".
MAX_ID = 2**31 - 1


def utcnow() -> datetime:
    """Return the server clock as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """An aware UTC datetime on every backend (SQLite stores it naive, as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        """Refuse naive datetimes and store UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        """Return an aware UTC datetime."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def tune_engine(engine: Engine) -> None:
    """Make SQLite safe for concurrent writers: WAL, foreign keys, BEGIN IMMEDIATE."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy emit BEGIN itself so that it can be BEGIN IMMEDIATE: a writer then
        # waits for the lock at the start instead of failing on a read-to-write upgrade.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def tx_state(session) -> dict:
    """Per-transaction scratch space, emptied when the outermost transaction ends."""
    return session.info.setdefault("lims_tx", {})


def serialize_writers(session) -> None:
    """Serialize writing transactions (hash chain, counters) once per transaction.

    SQLite already serializes writers with BEGIN IMMEDIATE. On PostgreSQL a transaction-scoped
    advisory lock is taken before the first write, so that two writers never read the same
    audit chain head and never wait on each other's row locks in opposite orders.
    """
    state = tx_state(session)
    if state.get("writer_locked"):
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(7346001)"))
    state["writer_locked"] = True


def on_commit(session, name: str, callback) -> None:
    """Run callback(session) once after the outermost transaction commits (never on rollback)."""
    tx_state(session).setdefault("on_commit", {})[name] = callback


def _after_commit(session):
    # Called before the transaction's state is forgotten; a callback that fails raises to the
    # caller of commit(): the data is committed, and the failure must not go unnoticed.
    if session.in_nested_transaction():  # a SAVEPOINT released; the outer one may still fail
        return
    for callback in tx_state(session).pop("on_commit", {}).values():
        callback(session)


def _before_flush(session, _context, _instances):
    serialize_writers(session)


def _after_end(session, transaction):
    if transaction.parent is None:
        session.info.pop("lims_tx", None)


def install_session_hooks(session_factory) -> None:
    """Take the writer lock before any flush, run on-commit callbacks, forget state at the end."""
    # Once per factory: every app shares the one `db`, and each create_app() calls this.
    for name, hook in (("before_flush", _before_flush), ("after_commit", _after_commit),
                       ("after_transaction_end", _after_end)):
        if not event.contains(session_factory, name, hook):
            event.listen(session_factory, name, hook)


APPEND_ONLY_TABLES = ("audit_entry", "custody_event")


def grant_app_role(connection, role: str) -> None:
    """Give a PostgreSQL role what the application needs, minus rewriting the evidence logs.

    The role (created NOLOGIN when missing) may read and write every table of the schema, but
    has no UPDATE, DELETE or TRUNCATE on the append-only tables; tables created later by the
    migrating user are granted the same way. Log in as a member of it to run the application.
    """
    if not role.isidentifier() or not role.isascii():
        raise ValueError(f"not a plain role name: {role!r}")
    quoted = f'"{role}"'
    connection.execute(text(
        "DO $$ BEGIN CREATE ROLE " + quoted + " NOLOGIN; "
        "EXCEPTION WHEN duplicate_object THEN NULL; END $$"))
    for statement in (
        f"GRANT USAGE ON SCHEMA public TO {quoted}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {quoted}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE "
        f"ON TABLES TO {quoted}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES "
        f"TO {quoted}",
        *(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {quoted}"
          for table in APPEND_ONLY_TABLES),
    ):
        connection.execute(text(statement))


def revoke_app_role(connection, role: str) -> None:
    """Take back what `grant_app_role` gave in this database (the role itself stays)."""
    quoted = f'"{role}"'
    for statement in (
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {quoted}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM {quoted}",
        f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {quoted}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {quoted}",
        f"REVOKE USAGE ON SCHEMA public FROM {quoted}",
    ):
        connection.execute(text(statement))
