"""A finding per sample: what was identified, how, the sampling plan, net weight and review."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from lims.auth.models import User
from lims.db import UTCDateTime, db, utcnow
from lims.intake.models import Sample
from lims.library.models import Substance
from lims.measurements.models import Measurement
from lims.search.models import SearchHit

STATUSES = ("draft", "submitted", "returned", "approved", "superseded")
EDITABLE = ("draft", "returned")
RESULTS = ("identified", "not_detected", "inconclusive")
RESULT_LABELS = {"identified": "Identified", "not_detected": "No controlled substance detected",
                 "inconclusive": "Inconclusive"}


class Finding(db.Model):
    """The chemist's finding on one sample, in versions (an amendment supersedes its original)."""

    __tablename__ = "finding"
    __table_args__ = (UniqueConstraint("sample_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("sample.id"), index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("finding.id"))
    amendment_reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="draft")
    result: Mapped[str] = mapped_column(String(20))
    scope: Mapped[str] = mapped_column(Text, default="")
    conclusion: Mapped[str] = mapped_column(Text, default="")
    limitations: Mapped[str] = mapped_column(Text)
    cannabis: Mapped[bool] = mapped_column(Boolean, default=False)
    same_aliquot_reason: Mapped[str | None] = mapped_column(Text)
    sampling_method: Mapped[str | None] = mapped_column(String(40))
    population: Mapped[int | None] = mapped_column(Integer)
    proportion: Mapped[float | None] = mapped_column(Float)
    confidence: Mapped[float | None] = mapped_column(Float)
    negatives: Mapped[int] = mapped_column(Integer, default=0)
    seed: Mapped[int | None] = mapped_column(BigInteger)
    selected_units_json: Mapped[str] = mapped_column(Text, default="[]")
    tested: Mapped[int | None] = mapped_column(Integer)
    positives: Mapped[int | None] = mapped_column(Integer)
    sampling_statement: Mapped[str] = mapped_column(Text, default="")
    net_weight_method: Mapped[str | None] = mapped_column(String(20))
    unit_weights_json: Mapped[str] = mapped_column(Text, default="[]")
    net_weight_mg: Mapped[int | None] = mapped_column(BigInteger)
    net_weight_lower_mg: Mapped[int | None] = mapped_column(BigInteger)
    net_weight_upper_mg: Mapped[int | None] = mapped_column(BigInteger)
    net_weight_confidence: Mapped[float | None] = mapped_column(Float)
    author_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    return_reason: Mapped[str | None] = mapped_column(Text)
    snapshot_sha256: Mapped[str | None] = mapped_column(String(64))
    # The canonical JSON the author signed at submission: names, legal status, hits, techniques
    # and notes copied, so later edits of reference data cannot change what was signed.
    submitted_snapshot: Mapped[str | None] = mapped_column(Text)

    # The backref gives the sample page its findings without intake depending on this package.
    sample: Mapped[Sample] = relationship(backref=backref("findings", order_by="Finding.version"))
    author: Mapped[User] = relationship(foreign_keys=[author_id])
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])
    supersedes: Mapped[Finding | None] = relationship(remote_side=[id])
    substances: Mapped[list[FindingSubstance]] = relationship(
        back_populates="finding", order_by="FindingSubstance.position",
        cascade="all, delete-orphan")
    techniques: Mapped[list[FindingTechnique]] = relationship(
        back_populates="finding", order_by="FindingTechnique.position",
        cascade="all, delete-orphan")

    @property
    def selected_units(self) -> list[int]:
        """The units picked at random for testing (1-based)."""
        return json.loads(self.selected_units_json)

    @property
    def unit_weights_mg(self) -> list[int]:
        """Net weights in mg of the units weighed for the extrapolation."""
        return json.loads(self.unit_weights_json)

    @property
    def editable(self) -> bool:
        """True while the author may still change the finding."""
        return self.status in EDITABLE

    @property
    def result_label(self) -> str:
        """The result as people read it."""
        return RESULT_LABELS[self.result]


class FindingSubstance(db.Model):
    """A substance identified in the sample, with its salt form and purity where determined."""

    __tablename__ = "finding_substance"

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("finding.id"), index=True)
    substance_id: Mapped[int] = mapped_column(ForeignKey("substance.id"))
    salt_form: Mapped[str] = mapped_column(String(120), default="")
    purity_percent: Mapped[float | None] = mapped_column(Float)
    purity_uncertainty_percent: Mapped[float | None] = mapped_column(Float)
    position: Mapped[int] = mapped_column(Integer)

    finding: Mapped[Finding] = relationship(back_populates="substances")
    substance: Mapped[Substance] = relationship()


class FindingTechnique(db.Model):
    """One technique's result on one aliquot, with the measurement and accepted hit behind it."""

    __tablename__ = "finding_technique"

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("finding.id"), index=True)
    technique: Mapped[str] = mapped_column(String(20))
    positive: Mapped[bool] = mapped_column(Boolean, default=True)
    aliquot: Mapped[str] = mapped_column(String(40))
    run: Mapped[str] = mapped_column(String(120))
    measurement_id: Mapped[int | None] = mapped_column(ForeignKey("measurement.id"))
    search_hit_id: Mapped[int | None] = mapped_column(ForeignKey("library_search_hit.id"))
    method_ref: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer)

    finding: Mapped[Finding] = relationship(back_populates="techniques")
    measurement: Mapped[Measurement | None] = relationship()
    search_hit: Mapped[SearchHit | None] = relationship()
