"""Writing and verifying the audit trail; every change calls `record` in its transaction."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from flask import g, has_request_context, request
from sqlalchemy import select

from lims.audit.models import AuditEntry
from lims.db import db, serialize_writers, tx_state, utcnow

CHAIN_VERSION = "lims-audit-v1"
GENESIS_HASH = "0" * 64
HASHED_FIELDS = (
    "seq", "recorded_at", "user_id", "user_name", "action", "entity_type", "entity_id",
    "case_id", "sample_id", "field", "old_value", "new_value", "reason", "request_id",
    "client_ip", "prev_hash",
)
# Hashed only when set, so entries written before the field existed keep their hashes.
OPTIONAL_HASHED_FIELDS = ("client_request_id",)


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


def entry_hash(payload: dict) -> str:
    """SHA-256 over the chain version and the canonical payload of one entry."""
    body = {name: as_text(payload[name]) for name in HASHED_FIELDS}
    body.update({name: as_text(payload[name]) for name in OPTIONAL_HASHED_FIELDS
                 if payload.get(name) is not None})
    data = (CHAIN_VERSION + "\n" + canonical_json(body)).encode()
    return hashlib.sha256(data).hexdigest()


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
    return head


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
    }
    entry = AuditEntry(**payload, entry_hash=entry_hash(payload))
    session.add(entry)
    tx_state(session)["audit_head"] = (entry.seq, entry.entry_hash)
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
    """Outcome of verifying the audit chain."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    problem: str = ""


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


def verify_chain() -> ChainReport:
    """Recompute the chain from genesis and name the first entry edited, deleted or inserted."""
    expected_seq, prev = 1, GENESIS_HASH
    checked = 0
    for entry in _entries():
        payload = {name: getattr(entry, name) for name in HASHED_FIELDS + OPTIONAL_HASHED_FIELDS}
        if entry.seq != expected_seq:
            return ChainReport(False, checked, expected_seq,
                               f"entry {expected_seq} is missing (deleted); next is {entry.seq}")
        if entry_hash(payload) != entry.entry_hash:
            return ChainReport(False, checked, entry.seq,
                               f"entry {entry.seq} was edited: its hash does not match")
        if entry.prev_hash != prev:
            return ChainReport(False, checked, entry.seq,
                               f"entry {entry.seq} does not follow entry {entry.seq - 1}: "
                               "inserted or reordered")
        prev, expected_seq = entry.entry_hash, expected_seq + 1
        checked += 1
    return ChainReport(True, checked)


def entries_for(*, case_id: int | None = None, sample_id: int | None = None,
                limit: int | None = 500) -> list[AuditEntry]:
    """Audit entries of one case or one sample, oldest first."""
    query = select(AuditEntry)
    if case_id is not None:
        query = query.where(AuditEntry.case_id == case_id)
    if sample_id is not None:
        query = query.where(AuditEntry.sample_id == sample_id)
    return list(db.session.scalars(query.order_by(AuditEntry.seq).limit(limit)))
