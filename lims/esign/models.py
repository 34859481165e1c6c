"""Electronic signatures (21 CFR 11.50): who signed what, when, and with which meaning."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.auth.models import User
from lims.db import UTCDateTime, db, utcnow

MEANINGS = ("performed", "reviewed", "approved")


class Signature(db.Model):
    """One signature, bound to the SHA-256 of the content signed; rows are never updated."""

    __tablename__ = "signature"
    __table_args__ = (Index("ix_signature_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    printed_name: Mapped[str] = mapped_column(String(200))
    meaning: Mapped[str] = mapped_column(String(20))
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str] = mapped_column(String(80))
    content_sha256: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)

    user: Mapped[User] = relationship()
