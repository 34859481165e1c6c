"""Substances, their dated legal status, reference libraries and the entries they hold."""

from __future__ import annotations

import json
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.auth.models import User
from lims.db import UTCDateTime, db, utcnow

REGIMES = (
    "UN Single Convention 1961",
    "UN Convention 1971",
    "UN Convention 1988",
    "EU Regulation 273/2004 (precursors)",
    "EU Regulation 111/2005 (precursors, external trade)",
    "EU NPS (Directive 2017/2103)",
    "National list",
)
LIBRARY_KINDS = ("ms", "spectral")


class Substance(db.Model):
    """A chemical substance: name, CAS RN (check digit verified), formula and synonyms."""

    __tablename__ = "substance"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255), unique=True)
    cas: Mapped[str | None] = mapped_column(String(12), unique=True)
    formula: Mapped[str] = mapped_column(String(120), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    synonym_rows: Mapped[list[SubstanceSynonym]] = relationship(
        back_populates="substance", order_by="SubstanceSynonym.position",
        cascade="all, delete-orphan")
    legal_statuses: Mapped[list[LegalStatus]] = relationship(
        back_populates="substance", order_by="(LegalStatus.effective_from, LegalStatus.id)")

    @property
    def synonyms(self) -> list[str]:
        """Other names of the substance, in the order given."""
        return [row.name for row in self.synonym_rows]


class SubstanceSynonym(db.Model):
    """One other name of a substance (a row each, so that name search finds synonyms)."""

    __tablename__ = "substance_synonym"
    __table_args__ = (UniqueConstraint("substance_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    substance_id: Mapped[int] = mapped_column(ForeignKey("substance.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255), index=True)

    substance: Mapped[Substance] = relationship(back_populates="synonym_rows")


class LegalStatus(db.Model):
    """A dated control-list entry, in force from effective_from up to (not on) effective_to."""

    __tablename__ = "legal_status"

    id: Mapped[int] = mapped_column(primary_key=True)
    substance_id: Mapped[int] = mapped_column(ForeignKey("substance.id"), index=True)
    regime: Mapped[str] = mapped_column(String(80))
    schedule: Mapped[str] = mapped_column(String(80))
    effective_from: Mapped[date] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    substance: Mapped[Substance] = relationship(back_populates="legal_statuses")
    recorded_by: Mapped[User | None] = relationship()


class ReferenceLibrary(db.Model):
    """An imported reference library file (kept byte for byte) and its search index."""

    __tablename__ = "reference_library"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(Text, default="")
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    original_filename: Mapped[str] = mapped_column(String(255))
    adapter: Mapped[str] = mapped_column(String(20))
    format_label: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(20))
    technique: Mapped[str] = mapped_column(String(20))
    x_unit: Mapped[str] = mapped_column(String(40))
    y_unit: Mapped[str] = mapped_column(String(40))
    entry_count: Mapped[int] = mapped_column(Integer)
    approved: Mapped[bool] = mapped_column(Boolean, default=True)
    imported_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    index_info_json: Mapped[str] = mapped_column(Text, default="{}")

    imported_by: Mapped[User | None] = relationship()

    @property
    def index_info(self) -> dict:
        """How the search index was built (index version, y conversion, ...)."""
        return json.loads(self.index_info_json)

    @property
    def label(self) -> str:
        """Name and version, as printed on certificates."""
        return f"{self.name} {self.version}"


class LibraryEntry(db.Model):
    """One reference spectrum of a library, in file order, linked to its substance."""

    __tablename__ = "library_entry"
    __table_args__ = (UniqueConstraint("library_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    library_id: Mapped[int] = mapped_column(ForeignKey("reference_library.id"))
    position: Mapped[int] = mapped_column(Integer)
    substance_id: Mapped[int | None] = mapped_column(ForeignKey("substance.id"), index=True)
    name: Mapped[str] = mapped_column(Text)
    cas: Mapped[str | None] = mapped_column(String(12))
    formula: Mapped[str] = mapped_column(String(120), default="")
    metadata_json: Mapped[str] = mapped_column(Text, default="{}")
    n_points: Mapped[int] = mapped_column(Integer)

    library: Mapped[ReferenceLibrary] = relationship()
    substance: Mapped[Substance | None] = relationship()

    @property
    def meta(self) -> dict[str, str]:
        """The entry's metadata as read from the library file."""
        return json.loads(self.metadata_json)
