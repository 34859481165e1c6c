"""Instruments, uploads with preview, accepted measurements and their spectra."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import version

import numpy as np
from flask import current_app
from sqlalchemy import select

from instruments.core import ParseError
from instruments.registry import ADAPTERS, ParseResult, parse
from lims.audit.services import record, subject_of
from lims.auth.models import User
from lims.custody.services import ensure_unblocked
from lims.db import db, utcnow
from lims.errors import Conflict, Invalid, NotFound
from lims.failpoints import failpoint
from lims.files import check_filename, file_store, staging_area
from lims.intake.models import Sample
from lims.intake.services import get_sample
from lims.measurements.models import Instrument, Measurement, RawFile, SpectrumRecord

INSTRUMENT_FIELDS = ("name", "model", "serial", "technique", "default_adapter",
                     "calibration_due")
ADAPTER_CHOICES = tuple((a.name, a.label) for a in ADAPTERS)
PARSER_VERSION = version("customs-lims")


class UnreadableFile(Invalid):
    """A file no adapter can read; carries where the problem is."""

    def __init__(self, error: ParseError):
        super().__init__(str(error), "file")
        self.line = error.line
        self.offset = error.offset
        self.block = error.block

    def details(self) -> dict:
        """Where the file is unreadable: line, byte offset, block."""
        where = {"line": self.line, "offset": self.offset, "block": self.block}
        return {key: value for key, value in where.items() if value is not None}


# --- instruments ---------------------------------------------------------------------------


def list_instruments(active_only: bool = False) -> list[Instrument]:
    """Instruments by name."""
    query = select(Instrument).order_by(Instrument.name)
    if active_only:
        query = query.where(Instrument.is_active.is_(True))
    return list(db.session.scalars(query))


def get_instrument(name: str) -> Instrument:
    """An instrument by name, or NotFound naming the field."""
    instrument = db.session.scalar(select(Instrument).where(Instrument.name == name.strip()))
    if instrument is None:
        raise NotFound(f"No instrument {name!r}.", "instrument")
    return instrument


def create_instrument(actor: User | None, data: dict) -> Instrument:
    """Register an instrument (audited)."""
    if db.session.scalar(select(Instrument.id).where(Instrument.name == data["name"])):
        raise Conflict(f"An instrument named {data['name']!r} exists.", "name")
    instrument = Instrument(is_active=True, **{k: data.get(k) or ("" if k not in (
        "calibration_due",) else None) for k in INSTRUMENT_FIELDS})
    db.session.add(instrument)
    db.session.flush()
    record(actor, "create", "instrument", instrument.name,
           new={k: getattr(instrument, k) for k in INSTRUMENT_FIELDS})
    return instrument


def update_instrument(actor: User, instrument: Instrument, data: dict, reason: str) -> dict:
    """Change an instrument (calibration dates, adapter...), with a reason."""
    changes = {k: (getattr(instrument, k), data[k]) for k in INSTRUMENT_FIELDS
               if k in data and getattr(instrument, k) != data[k]}
    if changes and not (reason or "").strip():
        raise Invalid("Give the reason for the change.", "reason")
    for name, (old, new) in changes.items():
        record(actor, "update", "instrument", instrument.name, field=name, old=old, new=new,
               reason=reason)
        setattr(instrument, name, new)
    return changes


# --- reading files -------------------------------------------------------------------------


def read_file(data: bytes, filename: str, adapter: str | None,
              instrument: Instrument | None) -> ParseResult:
    """Parse with the forced adapter, else the instrument's default, else auto-detection."""
    chosen = adapter or (instrument.default_adapter if instrument else None) or None
    try:
        return parse(data, filename, chosen)
    except ParseError as error:
        raise UnreadableFile(error) from None


def _acquired_at(result: ParseResult) -> datetime | None:
    for spectrum in result.spectra:
        text = spectrum.metadata.get("acquired_at", "")
        if text:
            try:
                value = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                continue
            # Instrument PCs write local time without a zone: it is the laboratory's zone.
            return value if value.tzinfo else value.replace(
                tzinfo=current_app.config["LIMS"].timezone)
    return None


@dataclass(frozen=True)
class Preview:
    """An upload waiting for the user's decision."""

    sha256: str
    filename: str
    size: int
    result: ParseResult
    adapter: str
    instrument: Instrument | None
    out_of_calibration: bool


def _calibration_flag(instrument: Instrument | None, when: datetime | None) -> bool:
    return bool(instrument and instrument.out_of_calibration((when or utcnow()).date()))


def _read_upload(actor: User, sample: Sample, data: bytes, filename: str,
                 adapter: str | None, instrument: Instrument | None
                 ) -> tuple[str, ParseResult]:
    """Hash and parse an upload; an unreadable file is audited and the entry kept."""
    ensure_unblocked(sample)
    check_filename(filename)
    digest = hashlib.sha256(data).hexdigest()
    try:
        return digest, read_file(data, filename, adapter, instrument)
    except UnreadableFile as error:
        record(actor, "measurement_unreadable", "measurement", digest[:12], field="file",
               new={"filename": filename, "sha256": digest, "error": error.message},
               **subject_of(sample))
        error.keep_writes = True
        raise


def preview_upload(actor: User, sample: Sample, data: bytes, filename: str,
                   adapter: str | None, instrument: Instrument | None) -> Preview:
    """Parse an upload and keep its bytes in staging until the user accepts or rejects it."""
    digest, result = _read_upload(actor, sample, data, filename, adapter, instrument)
    staging_area(actor.id, sample.id).put(data)
    record(actor, "measurement_previewed", "measurement", digest[:12], field="file",
           new={"filename": filename, "sha256": digest, "format": result.adapter.name,
                "spectra": len(result.spectra)}, **subject_of(sample))
    return Preview(digest, filename, len(data), result, result.adapter.name, instrument,
                   _calibration_flag(instrument, _acquired_at(result)))


def _save(actor: User, sample: Sample, data: bytes, digest: str, filename: str,
          result: ParseResult, instrument: Instrument | None) -> Measurement:
    """Store the raw bytes once (write-once, by SHA-256) and the spectra; audit it."""
    file_store().put(data)
    if db.session.get(RawFile, digest) is None:
        db.session.add(RawFile(sha256=digest, size=len(data), stored_at=utcnow()))
    acquired = _acquired_at(result)
    warnings = [w for s in result.spectra for w in s.warnings]
    measurement = Measurement(
        sample=sample, instrument=instrument, raw_sha256=digest,
        original_filename=filename[:255] or "upload", adapter=result.adapter.name,
        format_label=result.adapter.label, parser_version=PARSER_VERSION,
        warnings_json=json.dumps(sorted(set(warnings))), acquired_at=acquired,
        uploaded_at=utcnow(), uploaded_by=actor,
        out_of_calibration=_calibration_flag(instrument, acquired))
    db.session.add(measurement)
    for position, spectrum in enumerate(result.spectra):
        finite = spectrum.x[np.isfinite(spectrum.x)]
        db.session.add(SpectrumRecord(
            measurement=measurement, position=position, technique=spectrum.technique,
            kind=spectrum.kind, title=spectrum.title, block=spectrum.block[:120],
            n_points=spectrum.n_points,
            x_first=float(finite[0]) if finite.size else None,
            x_last=float(finite[-1]) if finite.size else None,
            x_unit=spectrum.x_unit[:40], y_unit=spectrum.y_unit[:40],
            metadata_json=json.dumps(spectrum.metadata, sort_keys=True),
            warnings_json=json.dumps(spectrum.warnings),
            x_data=spectrum.x.astype("<f8").tobytes(), y_data=spectrum.y.astype("<f8").tobytes(),
            peaks_x=spectrum.peaks[0].astype("<f8").tobytes() if spectrum.peaks else None,
            peaks_y=spectrum.peaks[1].astype("<f8").tobytes() if spectrum.peaks else None))
    db.session.flush()
    record(actor, "create", "measurement", str(measurement.id), new={
        "filename": measurement.original_filename, "sha256": digest,
        "format": measurement.adapter, "parser_version": PARSER_VERSION,
        "instrument": instrument.name if instrument else None,
        "spectra": len(result.spectra), "warnings": len(warnings),
        "out_of_calibration": measurement.out_of_calibration}, **subject_of(sample))
    failpoint("measurement.saved")
    return measurement


def accept_upload(actor: User, sample: Sample, digest: str, filename: str,
                  adapter: str | None, instrument: Instrument | None) -> Measurement:
    """Save a previewed upload: raw file, measurement and spectra, linked to the sample."""
    ensure_unblocked(sample)
    check_filename(filename, "filename")
    staged = staging_area(actor.id, sample.id)  # only the previewing user, onto that sample
    try:
        data = staged.get(digest)
    except NotFound:
        raise Conflict("This preview has expired or was already decided; upload the file "
                       "again.", "file") from None
    result = read_file(data, filename, adapter, instrument)
    measurement = _save(actor, sample, data, digest, filename, result, instrument)
    staged.discard(digest)
    return measurement


def reject_upload(actor: User, sample: Sample, digest: str, filename: str,
                  reason: str) -> None:
    """Discard a previewed upload; only the rejection is kept, in the audit trail."""
    check_filename(filename, "filename")
    staging_area(actor.id, sample.id).discard(digest)
    record(actor, "measurement_rejected", "measurement", digest[:12], field="file",
           new={"filename": filename, "sha256": digest}, reason=reason or None,
           **subject_of(sample))


def import_file(actor: User, sample: Sample, data: bytes, filename: str,
                adapter: str | None, instrument: Instrument | None) -> Measurement:
    """Parse and save in one step (API and watched folder)."""
    digest, result = _read_upload(actor, sample, data, filename, adapter, instrument)
    return _save(actor, sample, data, digest, filename, result, instrument)


def already_imported(digest: str) -> Measurement | None:
    """The first measurement made from these exact bytes, if any."""
    return db.session.scalar(select(Measurement).where(Measurement.raw_sha256 == digest)
                             .order_by(Measurement.id).limit(1))


# --- reads ----------------------------------------------------------------------------------


def measurements_of(sample: Sample) -> list[Measurement]:
    """Accepted measurements of a sample, newest first."""
    return list(db.session.scalars(select(Measurement).where(
        Measurement.sample_id == sample.id).order_by(Measurement.id.desc())))


def get_measurement(user: User, measurement_id: int) -> Measurement:
    """A measurement the user may see (through its sample), or NotFound."""
    measurement = db.session.get(Measurement, measurement_id)
    if measurement is None:
        raise NotFound(f"No measurement {measurement_id}.")
    get_sample(user, measurement.sample.lab_number)
    return measurement


def get_spectrum(user: User, spectrum_id: int) -> SpectrumRecord:
    """A spectrum the user may see, or NotFound."""
    spectrum = db.session.get(SpectrumRecord, spectrum_id)
    if spectrum is None:
        raise NotFound(f"No spectrum {spectrum_id}.")
    get_measurement(user, spectrum.measurement_id)
    return spectrum


def raw_bytes(measurement: Measurement) -> bytes:
    """The uploaded bytes, unchanged (re-verified against their SHA-256)."""
    return file_store().get(measurement.raw_sha256)
