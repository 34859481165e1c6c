"""Consistent backups of a laboratory (database, file store, journal, keys) and their restore."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from lims.config import Settings
from lims.errors import Conflict, Invalid

FORMAT = 1
MANIFEST = "MANIFEST.sha256"
META = "backup.json"
DATA = "data"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.pgdump"
# Not evidence and rebuilt on demand: the staging area of unconfirmed uploads and the search
# indexes (rebuilt from the stored library file when missing).
SKIPPED_FOLDERS = ("staging", "index")


@dataclass(frozen=True)
class BackupReport:
    """What a backup or a restore wrote."""

    path: Path
    database: str
    files: int
    bytes: int


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _backend(settings: Settings) -> str:
    name = make_url(settings.database_url).get_backend_name()
    if name not in ("sqlite", "postgresql"):
        raise Invalid(f"Backups support SQLite and PostgreSQL, not {name}.")
    return name


def _sqlite_path(settings: Settings) -> Path:
    return Path(make_url(settings.database_url).database or "").resolve()


def _libpq_url(settings: Settings) -> str:
    """The database URL as pg_dump and pg_restore take it (no SQLAlchemy driver part)."""
    url = make_url(settings.database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _pg_tool(name: str) -> str:
    """pg_dump or pg_restore: from PATH, else the newest Debian server package's."""
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if not found:
        raise Invalid(f"{name} not found: install the PostgreSQL client (postgresql-client).")
    return found


def _run_pg_tool(name: str, *args: str) -> None:
    """Run pg_dump or pg_restore; a failure is refused with the tool's own last words."""
    done = subprocess.run([_pg_tool(name), *args], capture_output=True, text=True)
    if done.returncode != 0:
        said = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise Invalid(f"{name} failed (exit {done.returncode}): {said}")


def _data_files(settings: Settings, skip: set[Path]) -> list[Path]:
    """Every file of the data folder that belongs in a backup, relative to the folder."""
    root = settings.data_dir
    out = []
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        if here == root:
            dirs[:] = [d for d in dirs if d not in SKIPPED_FOLDERS]
        for name in files:
            path = here / name
            if path.resolve() in skip or name.startswith("."):  # temp files of the store
                continue
            out.append(path.relative_to(root))
    return sorted(out)


def _journal_files(settings: Settings) -> set[Path]:
    """The audit trail's append-only files outside the database (one JSON line per head)."""
    return {settings.audit_journal.resolve(), settings.audit_checkpoints.resolve()}


def _journal_seq(path: Path) -> int:
    """The highest entry number a journal file names (0 when it is empty or absent)."""
    if not path.is_file():
        return 0
    return max((int(json.loads(line)["seq"]) for line in path.read_text().splitlines()
                if line.strip()), default=0)


def _wait_for_journal(settings: Settings, head: int, seconds: float = 10.0) -> None:
    """Let the transaction that committed the snapshot's last entry append its journal line."""
    deadline = time.monotonic() + seconds
    while _journal_seq(settings.audit_journal) < head and time.monotonic() < deadline:
        time.sleep(0.05)


def _copy_data(settings: Settings, target: Path, skip: set[Path], head: int) -> None:
    """Copy the data folder; the journal and checkpoints only up to the snapshot's head."""
    journals = _journal_files(settings)
    for rel in _data_files(settings, skip):
        source, dest = settings.data_dir / rel, target / DATA / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.resolve() in journals:
            kept = [line for line in source.read_text().splitlines(keepends=True)
                    if line.strip() and int(json.loads(line)["seq"]) <= head]
            dest.write_text("".join(kept))
            os.chmod(dest, 0o600)
        else:
            shutil.copy2(source, dest)


def _database_files(settings: Settings) -> set[Path]:
    if _backend(settings) != "sqlite":
        return set()
    db_file = _sqlite_path(settings)
    return {db_file, Path(f"{db_file}-wal"), Path(f"{db_file}-shm"), Path(f"{db_file}-journal")}


_HEAD_SQL = "SELECT COALESCE(MAX(seq), 0) FROM audit_entry"


def _snapshot_sqlite(settings: Settings, target: Path) -> int:
    source = sqlite3.connect(_sqlite_path(settings))
    dest = sqlite3.connect(target / SQLITE_FILE)
    try:
        source.backup(dest)  # all pages in one step: one consistent read transaction
        return dest.execute(_HEAD_SQL).fetchone()[0]
    finally:
        dest.close()
        source.close()


def _snapshot_postgresql(settings: Settings, target: Path) -> int:
    """pg_dump of an exported snapshot, whose audit head is read in the same snapshot."""
    engine = create_engine(settings.database_url, poolclass=NullPool)
    try:
        # REPEATABLE READ: the export and the head query see the same snapshot, which the
        # transaction keeps alive until pg_dump has read everything through it.
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            head = conn.execute(text(_HEAD_SQL)).scalar_one()
            _run_pg_tool("pg_dump", "--format=custom", "--no-owner", "--no-acl",
                         f"--snapshot={snapshot}", "--file", str(target / PG_FILE),
                         _libpq_url(settings))
            conn.rollback()
    finally:
        engine.dispose()
    return head


def backup(settings: Settings, target: Path) -> BackupReport:
    """Write a consistent snapshot of the laboratory into a new folder, with a manifest.

    The database is snapshotted online first (SQLite backup API, or pg_dump of an exported
    snapshot), and the number of its last audit entry read in that same snapshot. Then the data
    folder is copied: the file store is write-once and content-addressed, so every file the
    snapshot refers to is there already; the audit journal and checkpoints are copied up to the
    snapshot's last entry, so the restored copy verifies exactly as the laboratory did then.
    """
    backend = _backend(settings)
    target = target.resolve()
    if target.exists() and any(target.iterdir()):
        raise Conflict(f"{target} is not empty: a backup goes into a new folder.")
    if target == settings.data_dir or settings.data_dir in target.parents:
        raise Invalid("A backup cannot be written inside the data folder.")
    (target / DATA).mkdir(parents=True, exist_ok=True)
    snapshot = _snapshot_sqlite if backend == "sqlite" else _snapshot_postgresql
    head = snapshot(settings, target)
    _wait_for_journal(settings, head)
    _copy_data(settings, target, _database_files(settings), head)
    meta = {"format": FORMAT, "database": backend,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "audit_head": head,
            "signing_key_included": settings.data_dir in settings.signing_key_file.parents}
    (target / META).write_text(json.dumps(meta, indent=2) + "\n")
    files = sorted(p for p in target.rglob("*") if p.is_file())
    lines = [f"{_sha256(p)}  {p.relative_to(target).as_posix()}" for p in files]
    (target / MANIFEST).write_text("\n".join(lines) + "\n")
    return BackupReport(target, backend, len(files), sum(p.stat().st_size for p in files))


def check_manifest(source: Path) -> dict:
    """Refuse a backup whose files differ from its manifest; return its metadata."""
    manifest = source / MANIFEST
    if not manifest.is_file():
        raise Invalid(f"{source} has no {MANIFEST}: not a backup made by `lims backup`.")
    listed = {}
    for number, line in enumerate(manifest.read_text().splitlines(), start=1):
        digest, sep, rel = line.partition("  ")
        if not sep or len(digest) != 64 or rel.startswith("/") or ".." in Path(rel).parts:
            raise Invalid(f"{MANIFEST} line {number} is not '<sha256>  <path>'.")
        listed[rel] = digest
    present = {p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file()}
    present.discard(MANIFEST)
    for rel in sorted(present - listed.keys()):
        raise Invalid(f"{rel} is in the backup folder but not in its manifest.")
    for rel, digest in listed.items():
        path = source / rel
        if not path.is_file():
            raise Invalid(f"{rel} is listed in the manifest but missing.")
        if _sha256(path) != digest:
            raise Invalid(f"{rel} does not match its SHA-256 in the manifest.")
    meta = json.loads((source / META).read_text())
    if meta.get("format") != FORMAT:
        raise Invalid(f"Backup format {meta.get('format')!r} is not supported (want {FORMAT}).")
    return meta


def _startup_files(settings: Settings) -> set[Path]:
    """Files that any start of the application generates, so a fresh data folder has them."""
    return {settings.data_dir / "secret_key", settings.data_dir / "audit" / "chain_key",
            settings.signing_key_file.with_name(f"{settings.signing_key_file.name}.password")}


def _refuse_non_empty(settings: Settings) -> None:
    data_dir = settings.data_dir
    if data_dir.exists():
        generated = _startup_files(settings)
        extra = sorted(p.relative_to(data_dir).as_posix() for p in data_dir.rglob("*")
                       if p.is_file() and p not in generated)
        if extra:
            raise Conflict(f"The data folder {data_dir} is not empty ({', '.join(extra[:5])}): "
                           "restore into an empty one.")
    if _backend(settings) == "sqlite":
        if _sqlite_path(settings).exists():
            raise Conflict(f"The database {_sqlite_path(settings)} already exists.")
        return
    engine = create_engine(settings.database_url, poolclass=NullPool)
    try:
        tables = inspect(engine).get_table_names()
    finally:
        engine.dispose()
    if tables:
        raise Conflict("The target PostgreSQL database is not empty: restore into an empty one.")


def restore(settings: Settings, source: Path) -> BackupReport:
    """Check a backup against its manifest and restore it into an empty data folder."""
    source = source.resolve()
    meta = check_manifest(source)
    backend = _backend(settings)
    if meta["database"] != backend:
        raise Invalid(f"This backup holds a {meta['database']} database; the configured "
                      f"database is {backend}.")
    _refuse_non_empty(settings)
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    files = [p for p in (source / DATA).rglob("*") if p.is_file()]
    for path in files:
        dest = data_dir / path.relative_to(source / DATA)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dest)  # keeps the modes: read-only blobs, 600 keys
    if backend == "sqlite":
        db_file = _sqlite_path(settings)
        db_file.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / SQLITE_FILE, db_file)
    else:
        _run_pg_tool("pg_restore", "--no-owner", "--no-acl", "--exit-on-error",
                     "--dbname", _libpq_url(settings), str(source / PG_FILE))
    return BackupReport(data_dir, backend, len(files),
                        sum(p.stat().st_size for p in files))
