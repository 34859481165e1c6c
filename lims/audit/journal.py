"""The audit trail outside the database: a write-once journal of heads and signed checkpoints."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lims.config import Settings
from lims.db import utcnow

CHECKPOINT_VERSION = "lims-audit-checkpoint-v1"


@dataclass(frozen=True)
class Head:
    """One claim made outside the database: entry `seq` of the chain has hash `hash`."""

    seq: int
    hash: str
    source: str  # "journal line 7", "checkpoint 2"


class JournalError(Exception):
    """A journal or checkpoint line that cannot be read or whose signature is wrong."""


def append_line(path: Path, record: dict) -> None:
    """Append one JSON line to a write-once file (O_APPEND, mode 600) and fsync it."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    line = json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _lines(path: Path) -> list[tuple[int, dict]]:
    if not path.exists():
        return []
    out = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            try:
                record = json.loads(line)
                int(record["seq"]), str(record["hash"])
            except (ValueError, KeyError, TypeError) as error:
                raise JournalError(f"{path.name} line {number} is unreadable") from error
            out.append((number, record))
    return out


def journal_head(settings: Settings, seq: int, head_hash: str) -> None:
    """Append the chain head of a committed transaction to the journal."""
    append_line(settings.audit_journal, {"seq": seq, "hash": head_hash,
                                         "at": utcnow().isoformat()})


def _checkpoint_message(seq: int, head_hash: str, at: str) -> bytes:
    return f"{CHECKPOINT_VERSION}\n{seq}\n{head_hash}\n{at}".encode()


def checkpoint_key(settings: Settings) -> Ed25519PrivateKey:
    """The Ed25519 checkpoint key, generated once into the data folder (mode 600)."""
    path = settings.audit_checkpoint_key
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption())
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            pass
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise JournalError(f"{path} is not an Ed25519 key")
    return key


def write_checkpoint(settings: Settings, seq: int, head_hash: str) -> dict:
    """Sign (sequence, head hash, time) with the checkpoint key and append it."""
    at = utcnow().isoformat()
    signature = checkpoint_key(settings).sign(_checkpoint_message(seq, head_hash, at))
    record = {"seq": seq, "hash": head_hash, "at": at,
              "sig": base64.b64encode(signature).decode()}
    append_line(settings.audit_checkpoints, record)
    return record


def recorded_heads(settings: Settings) -> list[Head]:
    """Every head the journal and the checkpoints claim; bad signatures raise JournalError."""
    heads = [Head(int(r["seq"]), r["hash"], f"journal line {n}")
             for n, r in _lines(settings.audit_journal)]
    checkpoints = _lines(settings.audit_checkpoints)
    if checkpoints:
        public = checkpoint_key(settings).public_key()
        for number, record in checkpoints:
            message = _checkpoint_message(int(record["seq"]), record["hash"], record.get("at"))
            try:
                public.verify(base64.b64decode(record.get("sig", "")), message)
            except (InvalidSignature, ValueError) as error:
                raise JournalError(f"checkpoint {number} (entry {record['seq']}) has a bad "
                                   "signature") from error
            heads.append(Head(int(record["seq"]), record["hash"], f"checkpoint {number}"))
    return heads


def journal_exists(settings: Settings) -> bool:
    """True once the application has journaled a head or written a checkpoint."""
    return settings.audit_journal.exists() or settings.audit_checkpoints.exists()
