"""Issued certificates: frozen snapshot, signed PDF (by hash), verification token hash, status."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from lims.auth.models import User
from lims.db import UTCDateTime, db, utcnow
from lims.intake.models import Case, Sample

if TYPE_CHECKING:
    from lims.esign.models import Signature
    from lims.findings.models import Finding

STATUSES = ("issued", "superseded", "withdrawn")


class Certificate(db.Model):
    """One issued certificate; only status, superseded_by and withdrawn_* ever change."""

    __tablename__ = "certificate"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"), index=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("sample.id"), index=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("finding.id"), unique=True)
    amends_id: Mapped[int | None] = mapped_column(ForeignKey("certificate.id"))
    amendment_reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="issued")
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("certificate.id"))
    snapshot_json: Mapped[str] = mapped_column(Text)
    snapshot_sha256: Mapped[str] = mapped_column(String(64))
    pdf_sha256: Mapped[str] = mapped_column(String(64), index=True)
    pdf_size: Mapped[int] = mapped_column(BigInteger)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    issued_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    signature_id: Mapped[int] = mapped_column(ForeignKey("signature.id"))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    withdrawal_reason: Mapped[str | None] = mapped_column(Text)

    case: Mapped[Case] = relationship()
    sample: Mapped[Sample] = relationship()
    # Declared here, so that findings (below certificates) can show theirs without importing us.
    finding: Mapped[Finding] = relationship(backref=backref("certificate", uselist=False))
    signature: Mapped[Signature] = relationship()
    issued_by: Mapped[User] = relationship(foreign_keys=[issued_by_id])
    withdrawn_by: Mapped[User | None] = relationship(foreign_keys=[withdrawn_by_id])
    amends: Mapped[Certificate | None] = relationship(
        remote_side=[id], foreign_keys=[amends_id])
    superseded_by: Mapped[Certificate | None] = relationship(
        remote_side=[id], foreign_keys=[superseded_by_id])
    revisions: Mapped[list[CertificateRevision]] = relationship(
        back_populates="certificate", order_by="CertificateRevision.seq")

    @property
    def current_sha256(self) -> str:
        """SHA-256 of the file served now: the latest archival revision, else the issued PDF."""
        return self.revisions[-1].sha256 if self.revisions else self.pdf_sha256

    @property
    def filename(self) -> str:
        """The download name of the PDF."""
        return f"{self.number}.pdf"


class CertificateRevision(db.Model):
    """A later write-once revision of an issued PDF that only adds a B-LTA document time-stamp."""

    __tablename__ = "certificate_revision"
    __table_args__ = (UniqueConstraint("certificate_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificate.id"), index=True)
    seq: Mapped[int] = mapped_column()
    kind: Mapped[str] = mapped_column(String(30), default="document-timestamp")
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    timestamped_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    certificate: Mapped[Certificate] = relationship(back_populates="revisions")
