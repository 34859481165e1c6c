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


def _before_flush(session, _context, _instances):
    serialize_writers(session)


def _after_end(session, transaction):
    if transaction.parent is None:
        session.info.pop("lims_tx", None)


def install_session_hooks(session_factory) -> None:
    """Take the writer lock before any flush and forget per-transaction state at its end."""
    # Once per factory: every app shares the one `db`, and each create_app() calls this.
    for name, hook in (("before_flush", _before_flush), ("after_transaction_end", _after_end)):
        if not event.contains(session_factory, name, hook):
            event.listen(session_factory, name, hook)
