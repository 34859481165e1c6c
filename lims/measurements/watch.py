"""The watched folder: files dropped by an instrument PC become measurements of their samples."""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path

from instruments.core import ParseError
from instruments.registry import parse
from lims.auth.models import User
from lims.db import db
from lims.errors import DomainError
from lims.intake.services import get_sample
from lims.measurements.models import Instrument
from lims.measurements.services import already_imported, import_file

SETTLE_SECONDS = 2.0  # a file still being written is left for the next pass


@dataclass(frozen=True)
class Outcome:
    """What happened to one file."""

    filename: str
    ok: bool
    message: str


def lab_number_pattern(prefix: str) -> re.Pattern:
    """Lab numbers such as CL-2026-000123 or CL-2026-000123.1 anywhere in a text."""
    return re.compile(rf"(?<![A-Za-z0-9]){re.escape(prefix)}-\d{{4}}-\d{{6}}(?:\.\d+)*",
                      re.IGNORECASE)


def find_lab_number(filename: str, data: bytes, pattern: re.Pattern,
                    adapter: str | None) -> str | None:
    """The lab number in the file name, else in the file's sample name or title."""
    match = pattern.search(filename)
    if match:
        return match.group(0).upper()
    try:
        spectra = parse(data, filename, adapter).spectra
    except ParseError:
        return None
    for spectrum in spectra:
        for text in (spectrum.metadata.get("sample_name", ""), spectrum.title):
            match = pattern.search(text or "")
            if match:
                return match.group(0).upper()
    return None


def _move(path: Path, folder: Path, digest: str, reason: str) -> None:
    folder.mkdir(exist_ok=True)
    target = folder / path.name
    if target.exists():
        target = folder / f"{path.stem}.{digest[:8]}{path.suffix}"
    path.replace(target)
    target.with_name(target.name + ".reason.txt").write_text(reason + "\n", encoding="utf-8")


def process_file(path: Path, instrument: Instrument, actor: User, pattern: re.Pattern
                 ) -> Outcome:
    """Import one file, or explain why not; the file is moved to done/ or failed/."""
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    previous = already_imported(digest)
    if previous is not None:
        message = (f"already imported as measurement {previous.id} of "
                   f"{previous.sample.lab_number}")
        _move(path, path.parent / "done", digest, message)
        return Outcome(path.name, True, message)
    adapter = instrument.default_adapter or None
    lab_number = find_lab_number(path.name, data, pattern, adapter)
    if lab_number is None:
        message = "no lab number in the file name or in the file's sample name"
        _move(path, path.parent / "failed", digest, message)
        return Outcome(path.name, False, message)
    try:
        measurement = import_file(actor, get_sample(actor, lab_number), data, path.name,
                                  adapter, instrument)
    except DomainError as error:
        if error.keep_writes:
            db.session.commit()
        else:
            db.session.rollback()
        _move(path, path.parent / "failed", digest, f"{lab_number}: {error.message}")
        return Outcome(path.name, False, f"{lab_number}: {error.message}")
    db.session.commit()
    message = (f"imported as measurement {measurement.id} of {lab_number} "
               f"({len(measurement.spectra)} spectra)")
    _move(path, path.parent / "done", digest, message)
    return Outcome(path.name, True, message)


def pending_files(folder: Path, settle: float = SETTLE_SECONDS) -> list[Path]:
    """Files waiting in the folder: not hidden, unchanged for `settle` seconds."""
    now = time.time()
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".")
                  and now - p.stat().st_mtime >= settle)


def process_folder(folder: Path, instrument: Instrument, actor: User, prefix: str,
                   settle: float = SETTLE_SECONDS) -> list[Outcome]:
    """One pass over the folder."""
    pattern = lab_number_pattern(prefix)
    return [process_file(path, instrument, actor, pattern)
            for path in pending_files(folder, settle)]
