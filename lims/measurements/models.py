"""Instruments, raw instrument files, measurements and the spectra read from them."""

from __future__ import annotations

import json
from datetime import date, datetime

import numpy as np
from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.auth.models import User
from lims.db import UTCDateTime, db, utcnow
from lims.intake.models import Sample


class Instrument(db.Model):
    """A spectrometer or chromatograph of the laboratory, with its calibration due date."""

    __tablename__ = "instrument"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    model: Mapped[str] = mapped_column(String(120), default="")
    serial: Mapped[str] = mapped_column(String(80), default="")
    technique: Mapped[str] = mapped_column(String(20))
    default_adapter: Mapped[str] = mapped_column(String(20), default="")
    calibration_due: Mapped[date | None] = mapped_column(Date)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    def out_of_calibration(self, on: date) -> bool:
        """True when a measurement made on that day is past the calibration due date."""
        return self.calibration_due is not None and on > self.calibration_due


class RawFile(db.Model):
    """An uploaded instrument file, kept byte for byte in the file store under its SHA-256."""

    __tablename__ = "raw_file"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Measurement(db.Model):
    """One accepted upload of an instrument file against a sample."""

    __tablename__ = "measurement"

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("sample.id"), index=True)
    instrument_id: Mapped[int | None] = mapped_column(ForeignKey("instrument.id"))
    raw_sha256: Mapped[str] = mapped_column(ForeignKey("raw_file.sha256"), index=True)
    original_filename: Mapped[str] = mapped_column(String(255))
    adapter: Mapped[str] = mapped_column(String(20))
    format_label: Mapped[str] = mapped_column(String(80))
    parser_version: Mapped[str] = mapped_column(String(40))
    warnings_json: Mapped[str] = mapped_column(Text, default="[]")
    acquired_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    out_of_calibration: Mapped[bool] = mapped_column(Boolean, default=False)

    sample: Mapped[Sample] = relationship()
    instrument: Mapped[Instrument | None] = relationship()
    uploaded_by: Mapped[User] = relationship()
    spectra: Mapped[list[SpectrumRecord]] = relationship(
        back_populates="measurement", order_by="SpectrumRecord.position")

    @property
    def warnings(self) -> list[str]:
        """File-level warnings recorded at upload."""
        return json.loads(self.warnings_json)


class SpectrumRecord(db.Model):
    """A spectrum, chromatogram or peak list as read from a raw file (float64 arrays)."""

    __tablename__ = "spectrum"

    id: Mapped[int] = mapped_column(primary_key=True)
    measurement_id: Mapped[int] = mapped_column(ForeignKey("measurement.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    technique: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(Text, default="")
    block: Mapped[str] = mapped_column(String(120), default="")
    n_points: Mapped[int] = mapped_column(Integer)
    x_first: Mapped[float | None] = mapped_column(Float)
    x_last: Mapped[float | None] = mapped_column(Float)
    x_unit: Mapped[str] = mapped_column(String(40))
    y_unit: Mapped[str] = mapped_column(String(40))
    metadata_json: Mapped[str] = mapped_column(Text, default="{}")
    warnings_json: Mapped[str] = mapped_column(Text, default="[]")
    x_data: Mapped[bytes] = mapped_column(LargeBinary)
    y_data: Mapped[bytes] = mapped_column(LargeBinary)
    peaks_x: Mapped[bytes | None] = mapped_column(LargeBinary)
    peaks_y: Mapped[bytes | None] = mapped_column(LargeBinary)

    measurement: Mapped[Measurement] = relationship(back_populates="spectra")

    @property
    def x(self) -> np.ndarray:
        """X values (float64)."""
        return np.frombuffer(self.x_data, dtype="<f8")

    @property
    def y(self) -> np.ndarray:
        """Y values (float64; NaN where the file had no value)."""
        return np.frombuffer(self.y_data, dtype="<f8")

    @property
    def meta(self) -> dict[str, str]:
        """Instrument metadata read from the file."""
        return json.loads(self.metadata_json)

    @property
    def summary_metadata(self) -> list[tuple[str, str]]:
        """The normalised metadata (instrument, operator, ...), by key."""
        return sorted((k, v) for k, v in self.meta.items() if ":" not in k)

    @property
    def file_labels(self) -> list[tuple[str, str]]:
        """The file's own labels as written (keys like 'jcamp:NPOINTS'), by key."""
        return sorted((k, v) for k, v in self.meta.items() if ":" in k)

    @property
    def warnings(self) -> list[str]:
        """Warnings raised while reading this spectrum."""
        return json.loads(self.warnings_json)
