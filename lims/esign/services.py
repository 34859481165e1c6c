"""Signing with a re-entered password, listing signatures and their printed manifestation."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import select

from lims.audit.services import record
from lims.auth.models import User
from lims.auth.services import confirm_code, confirm_password
from lims.db import db, utcnow
from lims.errors import Invalid
from lims.esign.models import MEANINGS, Signature


def confirm_signer(actor: User, password: str, code: str = "") -> None:
    """Re-authenticate a signer: the password, and the authenticator code when enrolled.

    A wrong one raises ``ReauthFailed`` before anything but the failed attempt is written.
    """
    confirm_password(actor, password)
    confirm_code(actor, code)


def sign(actor: User, password: str, *, meaning: str, subject_type: str, subject_id: str,
         content_sha256: str, reason: str | None = None, case_id: int | None = None,
         sample_id: int | None = None, code: str = "") -> Signature:
    """Confirm the signer (password and code), then store the signature and audit it."""
    confirm_signer(actor, password, code)
    return record_signature(actor, meaning=meaning, subject_type=subject_type,
                            subject_id=subject_id, content_sha256=content_sha256, reason=reason,
                            case_id=case_id, sample_id=sample_id)


def record_signature(actor: User, *, meaning: str, subject_type: str, subject_id: str,
                     content_sha256: str, reason: str | None = None,
                     case_id: int | None = None, sample_id: int | None = None) -> Signature:
    """Store one signature of an actor whose password was confirmed in this transaction."""
    if meaning not in MEANINGS:
        raise Invalid(f"A signature means one of {', '.join(MEANINGS)}, not {meaning!r}.",
                      "meaning")
    if len(content_sha256) != 64:
        raise Invalid("A signature needs the SHA-256 of what is signed.", "content_sha256")
    signature = Signature(user_id=actor.id, user=actor, printed_name=actor.full_name,
                          meaning=meaning, signed_at=utcnow(), subject_type=subject_type,
                          subject_id=str(subject_id), content_sha256=content_sha256,
                          reason=reason or None)
    db.session.add(signature)
    db.session.flush()
    record(actor, f"signature_{meaning}", subject_type, subject_id, field="content_sha256",
           new={"signature_id": signature.id, "printed_name": signature.printed_name,
                "signed_at": signature.signed_at, "content_sha256": content_sha256},
           reason=reason, case_id=case_id, sample_id=sample_id)
    return signature


def signatures_for(subject_type: str, subject_id: str) -> list[Signature]:
    """The signatures of one record, oldest first."""
    return list(db.session.scalars(select(Signature).where(
        Signature.subject_type == subject_type, Signature.subject_id == str(subject_id))
        .order_by(Signature.signed_at, Signature.id)))


def manifestation(signature: Signature) -> str:
    """'Electronically signed by Elena Georgieva (reviewed), 2026-12-01 22:15:03 UTC'."""
    when = signature.signed_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"Electronically signed by {signature.printed_name} ({signature.meaning}), {when}"
