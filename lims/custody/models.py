"""Chain-of-custody events: append-only, one per hand-over, storage move or seal action."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.auth.models import User
from lims.db import UTCDateTime, db, utcnow
from lims.intake.models import Location, Sample

EVENT_TYPES = ("receipt", "transfer", "storage_in", "storage_out", "reseal", "seal_resolution",
               "return", "destruction")


class CustodyEvent(db.Model):
    """One link of an item's chain of custody, timed by the server clock."""

    __tablename__ = "custody_event"
    __table_args__ = (UniqueConstraint("sample_id", "sequence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("sample.id"))
    sequence: Mapped[int] = mapped_column(Integer)
    event_type: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    from_user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    from_location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    from_external: Mapped[str] = mapped_column(String(200), default="")
    to_user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    to_location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    to_external: Mapped[str] = mapped_column(String(200), default="")
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    seal_expected: Mapped[str] = mapped_column(String(80), default="")
    seal_found: Mapped[str] = mapped_column(String(80), default="")
    seal_intact: Mapped[bool | None] = mapped_column(Boolean)
    seal_ok: Mapped[bool] = mapped_column(Boolean, default=True)
    new_seal: Mapped[str] = mapped_column(String(80), default="")
    weight_mg: Mapped[int | None] = mapped_column(BigInteger)
    witness: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(Text, default="")

    sample: Mapped[Sample] = relationship()
    from_user: Mapped[User | None] = relationship(foreign_keys=[from_user_id])
    from_location: Mapped[Location | None] = relationship(foreign_keys=[from_location_id])
    to_user: Mapped[User | None] = relationship(foreign_keys=[to_user_id])
    to_location: Mapped[Location | None] = relationship(foreign_keys=[to_location_id])
    recorded_by: Mapped[User] = relationship(foreign_keys=[recorded_by_id])
    confirmed_by: Mapped[User | None] = relationship(foreign_keys=[confirmed_by_id])

    @staticmethod
    def _party(user, location, external) -> str:
        if user is not None:
            return user.display_name
        if location is not None:
            return f"{location.code} ({location.name})"
        return external or "—"

    @property
    def from_label(self) -> str:
        """The giving party."""
        return self._party(self.from_user, self.from_location, self.from_external)

    @property
    def to_label(self) -> str:
        """The receiving party."""
        return self._party(self.to_user, self.to_location, self.to_external)
