"""The audit trail outside the database: a write-once journal of heads and signed checkpoints."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import cms
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pyhanko.sign import timestamps
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data

from lims.config import Settings
from lims.db import utcnow
from lims.signing import validation_context

CHECKPOINT_VERSION = "lims-audit-checkpoint-v1"
log = logging.getLogger(__name__)


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


def _time_stamp(settings: Settings, message: bytes) -> str | None:
    """An RFC 3161 token over the checkpoint (LIMS_TSA_URL), or None when none can be had.

    A time-stamp server that is down must not stop the laboratory: the checkpoint is written
    signed but without a token, and the log says so.
    """
    if not settings.tsa_url:
        return None
    stamper = timestamps.HTTPTimeStamper(settings.tsa_url)
    try:
        token = asyncio.run(stamper.async_timestamp(hashlib.sha256(message).digest(), "sha256"))
    except Exception as error:  # network errors, refusals and bad answers alike
        log.warning("audit checkpoint not time-stamped by %s: %s", settings.tsa_url, error)
        return None
    return base64.b64encode(token.dump()).decode()


def _check_time_stamp(settings: Settings, record: dict, message: bytes, number: int) -> None:
    """Refuse a checkpoint whose RFC 3161 token is not a trusted time-stamp of its message."""
    try:
        token = cms.ContentInfo.load(base64.b64decode(record["tst"]))
        status = asyncio.run(validate_tst_signed_data(
            token["content"], validation_context(settings),
            lambda algorithm: hashlib.new(algorithm, message).digest()))
    except Exception as error:  # unreadable tokens, wrong imprints and bad signatures alike
        raise JournalError(f"checkpoint {number} (entry {record['seq']}) has a bad "
                           f"time-stamp: {error}") from error
    trusted = (status.get("validation_path") is not None
               and status.get("trust_problem_indic") is None)
    if not (status.get("intact") and status.get("valid") and trusted):
        raise JournalError(f"checkpoint {number} (entry {record['seq']}) has a time-stamp that "
                           "does not verify against the trusted time-stamp server (LIMS_TSA_CA)")


def write_checkpoint(settings: Settings, seq: int, head_hash: str) -> dict:
    """Sign (sequence, head hash, time) with the checkpoint key and append it.

    With LIMS_TSA_URL the same message is also RFC 3161 time-stamped (`tst`), so that the
    checkpoint's time does not rest on the laboratory's own clock and key.
    """
    at = utcnow().isoformat()
    message = _checkpoint_message(seq, head_hash, at)
    signature = checkpoint_key(settings).sign(message)
    record = {"seq": seq, "hash": head_hash, "at": at,
              "sig": base64.b64encode(signature).decode()}
    token = _time_stamp(settings, message)
    if token is not None:
        record["tst"] = token
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
            if "tst" in record:
                _check_time_stamp(settings, record, message, number)
            heads.append(Head(int(record["seq"]), record["hash"], f"checkpoint {number}"))
    return heads


def journal_exists(settings: Settings) -> bool:
    """True once the application has journaled a head or written a checkpoint."""
    return settings.audit_journal.exists() or settings.audit_checkpoints.exists()
