"""Writing and verifying the audit trail; every change calls `record` in its transaction."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from flask import current_app, g, has_request_context, request
from sqlalchemy import func, select

from lims.audit import journal
from lims.audit.models import AuditEntry
from lims.db import db, on_commit, serialize_writers, tx_state, utcnow

# Version 1 (legacy) hashed with a public formula; version 2 is an HMAC under a key kept outside
# the database and also covers the content of the custody rows. Old entries stay verifiable.
CHAIN_VERSION = 2
VERSION_LABELS = {1: "lims-audit-v1", 2: "lims-audit-v2"}
GENESIS_HASH = "0" * 64
HASHED_FIELDS = (
    "seq", "recorded_at", "user_id", "user_name", "action", "entity_type", "entity_id",
    "case_id", "sample_id", "field", "old_value", "new_value", "reason", "request_id",
    "client_ip", "prev_hash",
)
# Version 2 also binds the caller's own X-Request-ID (kept apart from the server's request id).
HASHED_FIELDS_V2 = (*HASHED_FIELDS, "client_request_id", "chain_version", "row_ref", "row_hash")
# Append-only rows whose content each entry of theirs carries (entity type -> table).
COVERED_TABLES = {"custody_event": "custody_event"}


def as_text(value) -> str | None:
    """Render a value for the audit trail: strings, RFC 3339 UTC times, no floats."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal | str):
        return str(value)
    if isinstance(value, dict | list | tuple):
        return canonical_json(value)
    if hasattr(value, "value"):  # enums
        return str(value.value)
    raise TypeError(f"cannot audit a value of type {type(value).__name__}")


def canonical_json(value) -> str:
    """Deterministic JSON: sorted keys, no spaces, every leaf rendered by `as_text`."""

    def norm(item):
        if isinstance(item, dict):
            return {str(k): norm(v) for k, v in item.items()}
        if isinstance(item, list | tuple):
            return [norm(v) for v in item]
        return as_text(item)

    return json.dumps(norm(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def public_hash(payload: dict) -> str:
    """Version 1: SHA-256 over the canonical payload (public, so anyone can recompute it)."""
    body = {name: as_text(payload[name]) for name in HASHED_FIELDS}
    return hashlib.sha256((VERSION_LABELS[1] + "\n" + canonical_json(body)).encode()).hexdigest()


def _chain_key() -> bytes:
    key = current_app.config["LIMS"].audit_key
    if not key:
        raise RuntimeError("no audit chain key configured (LIMS_AUDIT_KEY)")
    return key.encode()


def entry_hash(payload: dict) -> str:
    """The hash of one entry by its chain version: HMAC-SHA256 under the chain key from v2."""
    version = payload.get("chain_version") or 1
    if version == 1:
        return public_hash(payload)
    body = {name: as_text(payload.get(name)) for name in HASHED_FIELDS_V2}
    data = (VERSION_LABELS[version] + "\n" + canonical_json(body)).encode()
    return hmac.new(_chain_key(), data, hashlib.sha256).hexdigest()


def row_digest(row) -> str:
    """SHA-256 of one table row's canonical content (every column, as stored)."""
    return hashlib.sha256(canonical_json(dict(row._mapping)).encode()).hexdigest()


def _covered_row(session, entity_type: str, entity_id: str, sample_id: int | None):
    """The custody row an entry records (entity id '<lab number>#<sequence>')."""
    table = db.metadata.tables[COVERED_TABLES[entity_type]]
    sequence = int(str(entity_id).rsplit("#", 1)[1])
    return session.execute(select(table).where(table.c.sample_id == sample_id,
                                               table.c.sequence == sequence)).one()


def _request_meta() -> tuple[str | None, str | None, str | None]:
    if not has_request_context():
        return None, None, None
    return (getattr(g, "request_id", None), getattr(g, "client_request_id", None),
            request.remote_addr)


def _chain_head(session) -> tuple[int, str]:
    head = tx_state(session).get("audit_head")
    if head is None:
        last = session.execute(
            select(AuditEntry.seq, AuditEntry.entry_hash).order_by(AuditEntry.seq.desc()).limit(1)
        ).first()
        head = (last.seq, last.entry_hash) if last else (0, GENESIS_HASH)
        tx_state(session)["audit_start"] = head[0]
    return head


def _journal_on_commit(settings):
    def publish(session) -> None:
        state = tx_state(session)
        seq, head_hash = state["audit_head"]
        journal.journal_head(settings, seq, head_hash)
        every = settings.audit_checkpoint_every
        if every > 0 and seq // every > state.get("audit_start", 0) // every:
            journal.write_checkpoint(settings, seq, head_hash)

    return publish


def record(
    actor,
    action: str,
    entity_type: str,
    entity_id: str,
    *,
    field: str | None = None,
    old=None,
    new=None,
    reason: str | None = None,
    case_id: int | None = None,
    sample_id: int | None = None,
    actor_name: str | None = None,
) -> AuditEntry:
    """Append one entry to the audit chain in the caller's transaction."""
    session = db.session
    serialize_writers(session)
    seq, prev = _chain_head(session)
    request_id, client_request_id, client_ip = _request_meta()
    payload = {
        "seq": seq + 1,
        "recorded_at": utcnow(),
        "user_id": actor.id if actor is not None else None,
        "user_name": actor_name or (actor.display_name if actor is not None else "system"),
        "action": action,
        "entity_type": entity_type,
        "entity_id": str(entity_id),
        "case_id": case_id,
        "sample_id": sample_id,
        "field": field,
        "old_value": as_text(old),
        "new_value": as_text(new),
        "reason": reason or None,
        "request_id": request_id,
        "client_request_id": client_request_id,
        "client_ip": client_ip,
        "prev_hash": prev,
        "chain_version": CHAIN_VERSION,
        "row_ref": None,
        "row_hash": None,
    }
    if entity_type in COVERED_TABLES:
        row = _covered_row(session, entity_type, entity_id, sample_id)
        payload["row_ref"] = f"{COVERED_TABLES[entity_type]}:{row.id}"
        payload["row_hash"] = row_digest(row)
    entry = AuditEntry(**payload, entry_hash=entry_hash(payload))
    session.add(entry)
    tx_state(session)["audit_head"] = (entry.seq, entry.entry_hash)
    on_commit(session, "audit_journal", _journal_on_commit(current_app.config["LIMS"]))
    return entry


def subject_of(sample) -> dict:
    """Audit subject keys of a sample: its case and itself."""
    return {"case_id": sample.case_id, "sample_id": sample.id}


def record_changes(actor, entity_type, entity_id, changes: dict, *, reason, **subject) -> None:
    """Write one entry per changed field: `changes` maps field to (old, new)."""
    for name, (old, new) in changes.items():
        record(actor, "update", entity_type, entity_id, field=name, old=old, new=new,
               reason=reason, **subject)


@dataclass(frozen=True)
class ChainReport:
    """Outcome of verifying the audit chain against the journal, checkpoints and custody rows."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str = ""
    custody_checked: int = 0
    journal_head: int = 0
    notes: tuple[str, ...] = ()
    unjournaled: bool = False  # the one problem: entries after the journal's head


def _entries(batch: int = 5000) -> Iterator[AuditEntry]:
    last = 0
    while True:
        rows = db.session.scalars(
            select(AuditEntry).where(AuditEntry.seq > last).order_by(AuditEntry.seq).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        for row in rows:  # keep memory flat without detaching the caller's other objects
            db.session.expunge(row)


def _link_problem(entry: AuditEntry, expected_seq: int, prev: str, version: int) -> str:
    """What is wrong with one entry as the next link of the chain ('' when nothing)."""
    payload = {name: getattr(entry, name) for name in HASHED_FIELDS_V2}
    if entry.seq != expected_seq:
        return f"entry {expected_seq} is missing (deleted); next is {entry.seq}"
    if entry.chain_version not in VERSION_LABELS or entry.chain_version < version:
        return f"entry {entry.seq} was edited: chain version {entry.chain_version} after {version}"
    if entry_hash(payload) != entry.entry_hash:
        return f"entry {entry.seq} was edited: its hash does not match"
    if entry.prev_hash != prev:
        return f"entry {entry.seq} does not follow entry {entry.seq - 1}: inserted or reordered"
    return ""


@dataclass
class _Walk:
    """State of one pass over the chain."""

    claims: dict  # seq -> Head still to be met
    checked: int = 0
    last_hash: str = GENESIS_HASH
    version: int = 1
    first_keyed: int | None = None
    rows: dict | None = None  # row_ref -> (seq, row_hash)


def _walk(walk: _Walk) -> tuple[int, str] | None:
    """Recompute the chain in order; the first bad entry and why, or None."""
    expected = 1
    for entry in _entries():
        problem = _link_problem(entry, expected, walk.last_hash, walk.version)
        claim = walk.claims.pop(entry.seq, None)
        if not problem and claim is not None and claim.hash != entry.entry_hash:
            problem = f"entry {entry.seq} was changed: it does not match {claim.source}"
        if problem:
            return min(expected, entry.seq), problem
        if entry.chain_version > 1 and walk.first_keyed is None:
            walk.first_keyed = entry.seq
        if entry.row_ref:
            if entry.row_ref in walk.rows:
                return entry.seq, f"entry {entry.seq} records {entry.row_ref} a second time"
            walk.rows[entry.row_ref] = (entry.seq, entry.row_hash)
        walk.last_hash, walk.version, expected = entry.entry_hash, entry.chain_version, expected + 1
        walk.checked += 1
    return None


def _custody_problem(walk: _Walk, legacy: bool) -> tuple[int | None, str] | None:
    """Check every covered row against the entry that records it."""
    oldest_keyed = min((int(ref.rsplit(":", 1)[1]) for ref in walk.rows), default=None)
    for kind, name in COVERED_TABLES.items():
        table = db.metadata.tables[name]
        for row in db.session.execute(select(table).order_by(table.c.id)):
            ref = f"{name}:{row.id}"
            recorded = walk.rows.pop(ref, None)
            if recorded is None:
                if legacy and (oldest_keyed is None or row.id < oldest_keyed):
                    continue  # written before the chain was keyed: not covered
                return None, f"{kind} row {row.id} is in no audit entry: added outside the app"
            if recorded[1] != row_digest(row):
                return recorded[0], f"{kind} row {row.id} (entry {recorded[0]}) was changed"
    if walk.rows:
        ref, (seq, _hash) = min(walk.rows.items(), key=lambda item: item[1][0])
        return seq, f"{ref} recorded by entry {seq} is missing (deleted)"
    return None


def verify_chain() -> ChainReport:
    """Check the chain against journal, checkpoints and custody rows; name the first bad entry."""
    settings = current_app.config["LIMS"]
    try:
        heads = journal.recorded_heads(settings)
    except journal.JournalError as error:
        return ChainReport(False, 0, None, str(error))
    walk = _Walk(claims={}, rows={})
    for head in heads:
        known = walk.claims.setdefault(head.seq, head)
        if known.hash != head.hash:
            return ChainReport(False, 0, head.seq, f"{known.source} and {head.source} disagree "
                                                   f"about entry {head.seq}")
    journal_top = max(walk.claims, default=0)
    found = _walk(walk)
    if found is None and walk.claims:
        top = max(walk.claims)
        found = (walk.checked + 1, f"entries {walk.checked + 1}..{top} deleted: "
                                   f"{walk.claims[top].source} says the head is entry {top}")
    notes, tail, unjournaled = (), None, False
    if found is None and walk.checked > journal_top:
        if walk.first_keyed is not None or journal.journal_exists(settings):
            tail = (journal_top + 1, f"entries {journal_top + 1}..{walk.checked} are not in "
                                     "the journal: added outside the application (or a crash "
                                     "came between commit and journal)")
        else:
            notes = ("The legacy (unkeyed) entries are not journaled yet: run `lims audit "
                     "checkpoint`.",)
    if found is None:
        custody = _custody_problem(walk, legacy=walk.checked > 0 and walk.first_keyed != 1)
        found, unjournaled = tail or custody, tail is not None and custody is None
    if found is not None:
        return ChainReport(False, walk.checked, found[0], found[1], journal_head=journal_top,
                           unjournaled=unjournaled)
    return ChainReport(True, walk.checked, journal_head=journal_top, notes=notes,
                       custody_checked=_count_covered())


def _count_covered() -> int:
    return sum(db.session.scalar(select(func.count()).select_from(db.metadata.tables[name]))
               for name in COVERED_TABLES.values())


def checkpoint(*, accept_unjournaled: bool = False) -> dict:
    """Verify the chain, then journal its head and write a signed checkpoint of it.

    `accept_unjournaled` adopts entries after the journal's head once a person has read them
    (a crash between commit and journal); any other problem is still refused.
    """
    report = verify_chain()
    if not report.ok and not (accept_unjournaled and report.unjournaled):
        raise ChainBroken(report)
    settings = current_app.config["LIMS"]
    last = db.session.execute(select(AuditEntry.seq, AuditEntry.entry_hash)
                              .order_by(AuditEntry.seq.desc()).limit(1)).first()
    seq, head_hash = (last.seq, last.entry_hash) if last else (0, GENESIS_HASH)
    journal.journal_head(settings, seq, head_hash)
    return journal.write_checkpoint(settings, seq, head_hash)


class ChainBroken(Exception):
    """Refusal to checkpoint a chain that does not verify."""

    def __init__(self, report: ChainReport):
        super().__init__(report.problem)
        self.report = report


def entries_for(*, case_id: int | None = None, sample_id: int | None = None,
                limit: int | None = 500) -> list[AuditEntry]:
    """Audit entries of one case or one sample, oldest first."""
    query = select(AuditEntry)
    if case_id is not None:
        query = query.where(AuditEntry.case_id == case_id)
    if sample_id is not None:
        query = query.where(AuditEntry.sample_id == sample_id)
    return list(db.session.scalars(query.order_by(AuditEntry.seq).limit(limit)))
