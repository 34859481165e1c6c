"""Cases (seizures), samples, storage locations and number counters."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.auth.models import User, case_investigator
from lims.db import UTCDateTime, db, utcnow

DIRECTIONS = ("import", "export", "transit", "internal", "unknown")
DETECTION_METHODS = ("risk profile", "x-ray / NII", "detector dog", "intelligence", "random",
                     "other")
SAMPLE_STATUSES = ("registered", "in_storage", "in_analysis", "reported", "returned",
                   "destroyed")
STATUS_TRANSITIONS: dict[str, frozenset[str]] = {
    "registered": frozenset({"in_storage", "in_analysis", "returned"}),
    "in_storage": frozenset({"in_analysis", "reported", "returned", "destroyed"}),
    "in_analysis": frozenset({"in_storage", "reported"}),
    "reported": frozenset({"in_storage", "returned", "destroyed"}),
    "returned": frozenset(),
    "destroyed": frozenset(),
}
TERMINAL_STATUSES = frozenset(s for s, nxt in STATUS_TRANSITIONS.items() if not nxt)


class Counter(db.Model):
    """A named monotonically increasing counter (lab numbers per year, case numbers)."""

    __tablename__ = "counter"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


class Location(db.Model):
    """A storage location for evidence: vault, safe, fridge, shelf."""

    __tablename__ = "location"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


class Case(db.Model):
    """A seizure submitted to the laboratory, with its customs references."""

    __tablename__ = "case"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_number: Mapped[str] = mapped_column(String(40), unique=True)
    seizure_ref: Mapped[str] = mapped_column(String(80), default="")
    proceedings_ref: Mapped[str] = mapped_column(String(80), default="")
    customs_office: Mapped[str] = mapped_column(String(200))
    officer_name: Mapped[str] = mapped_column(String(200))
    seized_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    seizure_place: Mapped[str] = mapped_column(String(200), default="")
    direction: Mapped[str] = mapped_column(String(20), default="unknown")
    detection_method: Mapped[str] = mapped_column(String(40), default="")
    container_number: Mapped[str] = mapped_column(String(11), default="")
    mrn: Mapped[str] = mapped_column(String(18), default="")
    hs_code: Mapped[str] = mapped_column(String(10), default="")
    conveyance: Mapped[str] = mapped_column(String(200), default="")
    seals_received: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    questions: Mapped[str] = mapped_column(Text, default="")
    deadline: Mapped[date | None] = mapped_column(Date)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))

    investigators: Mapped[list[User]] = relationship(secondary=case_investigator,
                                                     order_by=User.username)
    samples: Mapped[list[Sample]] = relationship(back_populates="case", order_by="Sample.id")

    @property
    def seal_list(self) -> list[str]:
        """Seal numbers as received, one per entry."""
        return [s for s in self.seals_received.split(",") if s]


class Sample(db.Model):
    """A seized item, sub-sample or aliquot with its own lab number and custody."""

    __tablename__ = "sample"
    __table_args__ = (
        Index("ix_sample_status_id", "status", "id"),
        Index("ix_sample_case_id_id", "case_id", "id"),
        Index("ix_sample_holder_user_id_id", "holder_user_id", "id"),
        Index("ix_sample_holder_location_id_id", "holder_location_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lab_number: Mapped[str] = mapped_column(String(40), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("sample.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="item")
    description: Mapped[str] = mapped_column(Text)
    packaging: Mapped[str] = mapped_column(String(200), default="")
    unit_count: Mapped[int] = mapped_column(Integer, default=1)
    gross_weight_mg: Mapped[int | None] = mapped_column(BigInteger)
    net_weight_mg: Mapped[int | None] = mapped_column(BigInteger)
    seal_received: Mapped[str] = mapped_column(String(80), default="")
    current_seal: Mapped[str] = mapped_column(String(80), default="")
    storage_location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    notes: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="registered")
    holder_user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    holder_location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    custody_count: Mapped[int] = mapped_column(Integer, default=0)
    seal_discrepancy: Mapped[str] = mapped_column(Text, default="")
    label_prints: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))

    case: Mapped[Case] = relationship(back_populates="samples")
    parent: Mapped[Sample | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Sample]] = relationship(back_populates="parent", order_by="Sample.id")
    storage_location: Mapped[Location | None] = relationship(foreign_keys=[storage_location_id])
    holder_user: Mapped[User | None] = relationship(foreign_keys=[holder_user_id])
    holder_location: Mapped[Location | None] = relationship(foreign_keys=[holder_location_id])

    @property
    def holder_label(self) -> str:
        """Who or where holds the item now."""
        if self.holder_user is not None:
            return self.holder_user.display_name
        if self.holder_location is not None:
            return f"{self.holder_location.code} ({self.holder_location.name})"
        return "nobody"
