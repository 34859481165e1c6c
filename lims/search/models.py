"""A stored library search of one spectrum and its ranked hits, with the chemist's decisions."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.auth.models import User
from lims.db import UTCDateTime, db, utcnow
from lims.library.models import LibraryEntry, ReferenceLibrary
from lims.measurements.models import SpectrumRecord


class Search(db.Model):
    """One search as run: what was searched, against which library version, how, by whom."""

    __tablename__ = "library_search"

    id: Mapped[int] = mapped_column(primary_key=True)
    spectrum_id: Mapped[int] = mapped_column(ForeignKey("spectrum.id"), index=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("sample.id"), index=True)
    library_id: Mapped[int] = mapped_column(ForeignKey("reference_library.id"))
    # Frozen copies: the search stays readable as evidence whatever happens to the library row.
    library_name: Mapped[str] = mapped_column(String(200))
    library_version: Mapped[str] = mapped_column(String(60))
    library_sha256: Mapped[str] = mapped_column(String(64))
    algorithm: Mapped[str] = mapped_column(String(40))
    algorithm_label: Mapped[str] = mapped_column(String(120))
    recipe_json: Mapped[str] = mapped_column(Text)
    recipe_sha256: Mapped[str] = mapped_column(String(64))
    engine_version: Mapped[str] = mapped_column(String(40))
    top: Mapped[int] = mapped_column(Integer)
    duration_ms: Mapped[float] = mapped_column(Float)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    spectrum: Mapped[SpectrumRecord] = relationship()
    library: Mapped[ReferenceLibrary] = relationship()
    created_by: Mapped[User] = relationship()
    hits: Mapped[list[SearchHit]] = relationship(back_populates="search",
                                                 order_by="SearchHit.rank")

    @property
    def recipe(self) -> dict:
        """The processing recipe the query spectrum went through."""
        return json.loads(self.recipe_json)


class SearchHit(db.Model):
    """One ranked library match; its score is the exact float64 re-score."""

    __tablename__ = "library_search_hit"
    __table_args__ = (UniqueConstraint("search_id", "rank"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    search_id: Mapped[int] = mapped_column(ForeignKey("library_search.id"), index=True)
    rank: Mapped[int] = mapped_column(Integer)
    entry_id: Mapped[int] = mapped_column(ForeignKey("library_entry.id"))
    substance_name: Mapped[str] = mapped_column(String(300))
    cas: Mapped[str] = mapped_column(String(20), default="")
    raw: Mapped[float] = mapped_column(Float)
    score: Mapped[float] = mapped_column(Float)
    matches: Mapped[int | None] = mapped_column(Integer)
    decision: Mapped[str | None] = mapped_column(String(20))
    decision_comment: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    search: Mapped[Search] = relationship(back_populates="hits")
    entry: Mapped[LibraryEntry] = relationship()
    decided_by: Mapped[User | None] = relationship()
