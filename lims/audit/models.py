"""The hash-chained, append-only audit trail."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lims.db import UTCDateTime, db


class AuditEntry(db.Model):
    """One audited change: who, when (server UTC), what, old and new value, why."""

    __tablename__ = "audit_entry"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    user_name: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(80))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("case.id"), index=True)
    sample_id: Mapped[int | None] = mapped_column(ForeignKey("sample.id"), index=True)
    field: Mapped[str | None] = mapped_column(String(80))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    request_id: Mapped[str | None] = mapped_column(String(40))
    client_request_id: Mapped[str | None] = mapped_column(String(64))
    client_ip: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    # Content hash of the append-only row this entry records (custody events), so that
    # `lims audit verify` can check each such row against the chain.
    row_ref: Mapped[str | None] = mapped_column(String(80))
    row_hash: Mapped[str | None] = mapped_column(String(64))
    chain_version: Mapped[int] = mapped_column(Integer, server_default="1")
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)
