"""Reference-library imports and their search indexes; substances and dated legal status.

Decisions (documented in the README):

- A library imported by someone holding ``library.manage`` (chemist, reviewer, admin) is on
  the approved list at once; approval can be withdrawn and given again, with a reason.
- The same file (same SHA-256) is imported once: importing it again under another name or
  version is refused with ``Conflict`` naming the existing library, since two labels for one
  file would make certificates disagree about which library was searched.
- A legal-status entry is in force from ``effective_from`` (inclusive) up to ``effective_to``
  (exclusive): the end date is the first day the entry no longer applies.
- The import is one transaction. The index is built last, in a temporary folder renamed into
  place only when complete (by the engine), so a refused import leaves no rows and no index;
  the raw file may stay in the content store (write-once and content-addressed, so harmless).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
from flask import current_app
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from instruments.core import Spectrum
from instruments.registry import ParseResult
from libsearch import index as search_index
from lims.audit.services import record, record_changes
from lims.auth.access import require
from lims.auth.models import User
from lims.db import db, utcnow
from lims.errors import Conflict, Invalid, NotFound
from lims.files import check_filename, file_store
from lims.identifiers import IdentifierError, normalize_cas
from lims.library.models import (
    REGIMES,
    LegalStatus,
    LibraryEntry,
    ReferenceLibrary,
    Substance,
    SubstanceSynonym,
)
from lims.measurements.services import read_file
from lims.processing import TRANSMITTANCE_UNITS, Recipe, apply
from lims.series import Series

Progress = Callable[[int, int, str], None]
KIND_OF_TECHNIQUE = {"MS": "ms", "IR": "spectral", "Raman": "spectral", "UV-Vis": "spectral"}
TO_ABSORBANCE = Recipe(absorbance=True)


# --- preparing a parsed file for the index -------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    """The spectra of a library file as the index holds them, with what was done to them."""

    kind: str
    technique: str
    x_unit: str
    y_unit: str
    source_y_unit: str
    y_conversion: str | None
    series: list[tuple[np.ndarray, np.ndarray]]


def _one(values: list[str], what: str) -> str:
    counts = Counter(values)
    if len(counts) > 1:
        listed = ", ".join(f"{value or 'none'}: {n}" for value, n in counts.most_common())
        raise Invalid(f"The file mixes {what} ({listed}); a library holds one.", "file")
    return values[0]


def _xy(spectrum: Spectrum, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """The values to index, without points that have no value (JCAMP '?', NaN)."""
    x, y = spectrum.x, spectrum.y
    if kind == "ms" and spectrum.kind == "continuous" and spectrum.peaks is not None:
        x, y = spectrum.peaks  # a profile mass spectrum with its peak table: search the peaks
    keep = np.isfinite(x) & np.isfinite(y)
    return (x, y) if keep.all() else (x[keep], y[keep])


def prepare(result: ParseResult) -> Prepared:
    """Check that a file is one library (one technique, kind, units); %T and %R become A."""
    spectra = result.spectra
    technique = _one([s.technique for s in spectra], "techniques")
    kind = KIND_OF_TECHNIQUE.get(technique)
    if kind is None:
        raise Invalid(f"The file holds {technique} data; a reference library holds mass "
                      "spectra or IR, Raman or UV-Vis spectra.", "file")
    if kind == "spectral" and any(s.kind != "continuous" for s in spectra):
        raise Invalid(f"The file holds {technique} peak tables; a spectral library needs "
                      "full (continuous) spectra.", "file")
    x_unit = _one([s.x_unit for s in spectra], "x units")
    source_y_unit = _one([s.y_unit for s in spectra], "y units")
    series = [_xy(s, kind) for s in spectra]
    y_unit, notes = source_y_unit, []
    if kind == "spectral" and source_y_unit in TRANSMITTANCE_UNITS:
        # The index holds absorbance, as the search compares absorbance spectra.
        converted = [apply(TO_ABSORBANCE, x, y, source_y_unit, notes=notes) for x, y in series]
        series = [(x, y) for x, y, _unit in converted]
        y_unit = converted[0][2]
    conversion = "; ".join(list(dict.fromkeys(notes))[:5]) or None
    return Prepared(kind, technique, x_unit, y_unit, source_y_unit, conversion, series)


# --- the index on disk -----------------------------------------------------------------------


def index_directory(sha256: str) -> Path:
    """Where the index of a library file lives (one folder per file and index version)."""
    root = current_app.config["LIMS"].data_dir / "index"
    return root / f"{sha256}-v{search_index.INDEX_VERSION}"


def _install_index(prepared: Prepared, directory: Path) -> None:
    """Build the index; the engine writes a temporary folder and renames it when complete."""
    try:
        search_index.build_index(entries=prepared.series, kind=prepared.kind,
                                 directory=directory)
    except ValueError as error:
        raise Invalid(f"The library cannot be indexed: {error} (entries count from 0).",
                      "file") from error


def library_index(library: ReferenceLibrary) -> search_index.LibraryIndex:
    """The library's search index, rebuilt from the stored raw file when it is missing."""
    directory = index_directory(library.sha256)
    if not directory.is_dir():
        data = file_store().get(library.sha256)
        result = read_file(data, library.original_filename, library.adapter, None)
        _install_index(prepare(result), directory)
    return search_index.open_index(directory)


# --- substances matched at import ------------------------------------------------------------


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()


def _valid_cas(text: str) -> str | None:
    try:
        return normalize_cas(text) if text else None
    except IdentifierError:
        return None


def _split_synonyms(text: str) -> list[str]:
    return list(dict.fromkeys(s.strip() for s in text.split(";") if s.strip()))


class _SubstanceMatcher:
    """Finds the substance of each entry (CAS first, then name or synonym) or creates it."""

    def __init__(self, actor: User | None, source: str):
        self.actor, self.source = actor, source
        self.by_cas: dict[str, Substance] = {}
        self.by_name: dict[str, Substance] = {}
        for substance in db.session.scalars(select(Substance).options(
                selectinload(Substance.synonym_rows))):
            self._remember(substance)

    def _remember(self, substance: Substance) -> None:
        if substance.cas:
            self.by_cas[substance.cas] = substance
        for name in [*substance.synonyms, substance.name]:  # the name wins over a synonym
            self.by_name[_key(name)] = substance

    def match(self, name: str, cas: str | None, formula: str, synonyms: list[str]
              ) -> tuple[Substance | None, str | None]:
        """The entry's substance (None when it cannot be told) and a note when unlinked."""
        if cas and cas in self.by_cas:
            return self.by_cas[cas], None
        if not name:
            return None, "no name in the file"
        found = self.by_name.get(_key(name))
        if found is not None:
            if cas and found.cas and found.cas != cas:
                return None, (f"the name matches {found.name} but the CAS numbers differ "
                              f"({found.cas}, {cas})")
            return found, None
        return self._create(name, cas, formula, synonyms), None

    def _create(self, name: str, cas: str | None, formula: str, synonyms: list[str]
                ) -> Substance:
        substance = Substance(name=name[:255], cas=cas, formula=formula[:120], notes="",
                              created_at=utcnow())
        substance.synonym_rows = [SubstanceSynonym(position=i, name=s[:255]) for i, s in
                                  enumerate(s for s in synonyms if _key(s) != _key(name))]
        db.session.add(substance)
        db.session.flush()
        record(self.actor, "create", "substance", str(substance.id), new={
            "name": substance.name, "cas": cas, "formula": substance.formula,
            "synonyms": substance.synonyms, "source": self.source})
        self._remember(substance)
        return substance


# --- libraries -------------------------------------------------------------------------------


def _required(value: str, field: str, limit: int) -> str:
    text = (value or "").strip()
    if not text:
        raise Invalid(f"Give the library {field}.", field)
    if len(text) > limit:
        raise Invalid(f"The library {field} is longer than {limit} characters.", field)
    return text


def _no_duplicate(name: str, version: str, sha256: str) -> None:
    if db.session.scalar(select(ReferenceLibrary.id).where(
            ReferenceLibrary.name == name, ReferenceLibrary.version == version)):
        raise Conflict(f"Library {name} version {version} is already imported; give the new "
                       "file another version.", "version")
    same = db.session.scalar(select(ReferenceLibrary).where(ReferenceLibrary.sha256 == sha256))
    if same is not None:
        raise Conflict(f"This exact file (SHA-256 {sha256[:12]}…) is already imported as "
                       f"{same.label}.", "file")


def import_library(actor: User | None, data: bytes, filename: str, *, name: str, version: str,
                   adapter: str | None = None, description: str = "",
                   progress: Progress | None = None) -> ReferenceLibrary:
    """Import a library file: raw bytes kept, entries linked to substances, index built."""
    report = progress or (lambda done, total, phase: None)
    name, version = _required(name, "name", 200), _required(version, "version", 60)
    check_filename(filename)
    sha256 = hashlib.sha256(data).hexdigest()
    _no_duplicate(name, version, sha256)
    report(0, 1, "reading")
    result = read_file(data, filename, adapter or None, None)
    prepared = prepare(result)
    file_store().put(data)
    report(1, 1, "reading")
    library = ReferenceLibrary(
        name=name, version=version, description=description.strip(), sha256=sha256,
        original_filename=(filename or "library")[:255], adapter=result.adapter.name,
        format_label=result.adapter.label, kind=prepared.kind, technique=prepared.technique,
        x_unit=prepared.x_unit, y_unit=prepared.y_unit, entry_count=len(result.spectra),
        approved=True, imported_by=actor, imported_at=utcnow(),
        index_info_json=json.dumps({
            "index_version": search_index.INDEX_VERSION, "source_y_unit": prepared.source_y_unit,
            "y_conversion": prepared.y_conversion}, sort_keys=True))
    db.session.add(library)
    db.session.flush()
    matcher = _SubstanceMatcher(actor, library.label)
    total = len(result.spectra)
    for position, (spectrum, (x, _y)) in enumerate(zip(result.spectra, prepared.series,
                                                       strict=True)):
        meta = dict(spectrum.metadata)
        cas = _valid_cas(meta.get("cas", ""))
        formula = meta.get("formula", "")
        substance, note = matcher.match(spectrum.title.strip(), cas, formula,
                                        _split_synonyms(meta.get("synonyms", "")))
        if meta.get("cas") and cas is None:
            note = f"CAS {meta['cas']!r} in the file fails its check digit"
        if note:
            meta["lims:unlinked"] = note
        db.session.add(LibraryEntry(
            library=library, position=position, substance=substance,
            name=spectrum.title.strip() or f"Entry {position + 1}", cas=cas,
            formula=formula[:120], metadata_json=json.dumps(meta, sort_keys=True),
            n_points=int(x.size)))
        if position % 500 == 499 or position == total - 1:
            report(position + 1, total, "entries")
    db.session.flush()
    record(actor, "library.imported", "reference_library", str(library.id), new={
        "name": name, "version": version, "sha256": sha256, "entries": total,
        "filename": library.original_filename, "format": library.adapter,
        "kind": library.kind, "technique": library.technique,
        "y_conversion": prepared.y_conversion})
    report(0, 1, "indexing")
    _install_index(prepared, index_directory(sha256))
    report(1, 1, "indexing")
    return library


def set_library_approval(actor: User, library: ReferenceLibrary, approved: bool,
                         reason: str) -> None:
    """Put a library on the approved list for casework, or take it off, with a reason."""
    require(actor, "library.manage")
    if library.approved == approved:
        return
    if not (reason or "").strip():
        raise Invalid("Give the reason for the change.", "reason")
    record_changes(actor, "reference_library", str(library.id),
                   {"approved": (library.approved, approved)}, reason=reason)
    library.approved = approved


def get_library(library_id: int) -> ReferenceLibrary:
    """A library by id, or NotFound."""
    library = db.session.get(ReferenceLibrary, library_id)
    if library is None:
        raise NotFound(f"No library {library_id}.")
    return library


def get_library_by_name(name: str, version: str | None = None) -> ReferenceLibrary:
    """A library by name and version; the most recently imported version when none is given."""
    query = select(ReferenceLibrary).where(ReferenceLibrary.name == name.strip())
    if version is not None:
        query = query.where(ReferenceLibrary.version == version.strip())
    library = db.session.scalar(query.order_by(ReferenceLibrary.imported_at.desc(),
                                               ReferenceLibrary.id.desc()).limit(1))
    if library is None:
        raise NotFound(f"No library {name!r}" + (f" version {version!r}." if version else "."),
                       "name")
    return library


def list_libraries(kind: str | None = None, approved_only: bool = False
                   ) -> list[ReferenceLibrary]:
    """Libraries by name, newest version first."""
    query = select(ReferenceLibrary).options(selectinload(ReferenceLibrary.imported_by))
    if kind is not None:
        query = query.where(ReferenceLibrary.kind == kind)
    if approved_only:
        query = query.where(ReferenceLibrary.approved.is_(True))
    return list(db.session.scalars(query.order_by(ReferenceLibrary.name,
                                                  ReferenceLibrary.imported_at.desc())))


@dataclass(frozen=True)
class EntryPage:
    """One keyset page of library entries."""

    entries: list[LibraryEntry]
    next_after: int | None


def entries(library: ReferenceLibrary, after: int | None = None, limit: int = 50
            ) -> EntryPage:
    """Entries in file order, after the given position."""
    query = select(LibraryEntry).options(selectinload(LibraryEntry.substance)).where(
        LibraryEntry.library_id == library.id)
    if after is not None:
        query = query.where(LibraryEntry.position > after)
    rows = list(db.session.scalars(query.order_by(LibraryEntry.position).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return EntryPage(rows, rows[-1].position if more and rows else None)


def get_entry(entry_id: int) -> LibraryEntry:
    """A library entry by id, or NotFound."""
    entry = db.session.get(LibraryEntry, entry_id)
    if entry is None:
        raise NotFound(f"No library entry {entry_id}.")
    return entry


def entry_series(user: User, entry_id: int) -> Series:
    """A library entry as a reference curve, with the exact values held by the index."""
    require(user, "library.view")
    entry = get_entry(entry_id)
    library = entry.library
    x, y = library_index(library).entry(entry.position)
    return Series(label=f"{entry.name} ({library.name} {library.version})",
                  x=np.asarray(x, dtype=np.float64), y=np.asarray(y, dtype=np.float64),
                  x_unit=library.x_unit, y_unit=library.y_unit, technique=library.technique,
                  kind="peaks" if library.kind == "ms" else "continuous", role="reference")


# --- substances and legal status -------------------------------------------------------------


def search_substances(text: str = "", limit: int = 100) -> list[Substance]:
    """Substances whose name, synonym or CAS number contains the text, by name."""
    query = select(Substance).options(selectinload(Substance.synonym_rows))
    words = " ".join((text or "").split())
    if words:
        escaped = words.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        synonym_hit = select(SubstanceSynonym.substance_id).where(
            func.lower(SubstanceSynonym.name).like(pattern, escape="\\"))
        query = query.where(or_(func.lower(Substance.name).like(pattern, escape="\\"),
                                Substance.cas == words, Substance.id.in_(synonym_hit)))
    return list(db.session.scalars(query.order_by(Substance.name).limit(limit)))


def get_substance(substance_id: int) -> Substance:
    """A substance by id, or NotFound."""
    substance = db.session.get(Substance, substance_id)
    if substance is None:
        raise NotFound(f"No substance {substance_id}.")
    return substance


def substance_entries(substance: Substance) -> list[LibraryEntry]:
    """The library entries of a substance, by library."""
    return list(db.session.scalars(select(LibraryEntry).options(
        selectinload(LibraryEntry.library)).where(LibraryEntry.substance_id == substance.id)
        .order_by(LibraryEntry.library_id, LibraryEntry.position)))


def _clean_substance(substance: Substance, data: dict) -> dict:
    clean = {}
    if "name" in data:
        clean["name"] = " ".join((data["name"] or "").split())
        if not clean["name"]:
            raise Invalid("Give the substance name.", "name")
        if db.session.scalar(select(Substance.id).where(
                func.lower(Substance.name) == clean["name"].lower(),
                Substance.id != substance.id)):
            raise Conflict(f"Another substance is named {clean['name']!r}.", "name")
    if "cas" in data:
        try:
            clean["cas"] = normalize_cas(data["cas"]) if (data["cas"] or "").strip() else None
        except IdentifierError as error:
            raise Invalid(str(error), "cas") from None
        if clean["cas"] and db.session.scalar(select(Substance.id).where(
                Substance.cas == clean["cas"], Substance.id != substance.id)):
            raise Conflict(f"Another substance has CAS {clean['cas']}.", "cas")
    for name in ("formula", "notes"):
        if name in data:
            clean[name] = (data[name] or "").strip()
    if "synonyms" in data:
        clean["synonyms"] = list(dict.fromkeys(s.strip() for s in data["synonyms"]
                                               if s.strip()))
    return clean


def update_substance(actor: User, substance: Substance, data: dict, reason: str) -> dict:
    """Change a substance's name, CAS (check digit verified), formula, notes or synonyms."""
    require(actor, "library.manage")
    clean = _clean_substance(substance, data)
    changes = {k: (getattr(substance, k), v) for k, v in clean.items()
               if getattr(substance, k) != v}
    if not changes:
        return {}
    if not (reason or "").strip():
        raise Invalid("Give the reason for the change.", "reason")
    record_changes(actor, "substance", str(substance.id), changes, reason=reason)
    for name, (_old, new) in changes.items():
        if name == "synonyms":
            substance.synonym_rows.clear()
            db.session.flush()
            substance.synonym_rows.extend(SubstanceSynonym(position=i, name=s)
                                          for i, s in enumerate(new))
        else:
            setattr(substance, name, new)
    db.session.flush()
    return changes


def _status_record(status: LegalStatus) -> dict:
    return {"substance": status.substance.name, "regime": status.regime,
            "schedule": status.schedule, "effective_from": status.effective_from,
            "effective_to": status.effective_to, "reference": status.reference}


def add_legal_status(actor: User | None, substance: Substance, data: dict) -> LegalStatus:
    """Record a dated control-list entry of a substance (regime, schedule, from, to, act)."""
    regime = data.get("regime") or ""
    if regime not in REGIMES:
        raise Invalid(f"Choose one of the regimes: {', '.join(REGIMES)}.", "regime")
    schedule = " ".join((data.get("schedule") or "").split())
    if not schedule:
        raise Invalid("Give the schedule, table or category, e.g. Schedule I.", "schedule")
    start, end = data.get("effective_from"), data.get("effective_to")
    if not isinstance(start, date):
        raise Invalid("Give the date the entry takes effect.", "effective_from")
    if end is not None and end <= start:
        raise Invalid("The end date must be after the date the entry takes effect.",
                      "effective_to")
    status = LegalStatus(substance=substance, regime=regime, schedule=schedule[:80],
                         effective_from=start, effective_to=end,
                         reference=(data.get("reference") or "").strip(), recorded_by=actor,
                         recorded_at=utcnow())
    db.session.add(status)
    db.session.flush()
    record(actor, "create", "legal_status", str(status.id), new=_status_record(status))
    return status


def end_legal_status(actor: User, status: LegalStatus, effective_to: date,
                     reason: str) -> None:
    """Close an open legal-status entry: effective_to is the first day it no longer applies."""
    if status.effective_to is not None:
        raise Conflict(f"This entry already ended on {status.effective_to.isoformat()}.",
                       "effective_to")
    if effective_to <= status.effective_from:
        raise Invalid("The end date must be after the date the entry took effect "
                      f"({status.effective_from.isoformat()}).", "effective_to")
    if not (reason or "").strip():
        raise Invalid("Give the reason, e.g. the act that removed the substance.", "reason")
    record_changes(actor, "legal_status", str(status.id),
                   {"effective_to": (None, effective_to)}, reason=reason)
    status.effective_to = effective_to
    db.session.flush()


def get_legal_status(status_id: int) -> LegalStatus:
    """A legal-status entry by id, or NotFound."""
    status = db.session.get(LegalStatus, status_id)
    if status is None:
        raise NotFound(f"No legal-status entry {status_id}.")
    return status


def legal_status_on(substance: Substance, day: date) -> list[LegalStatus]:
    """The entries in force that day: effective_from <= day < effective_to (open end: None)."""
    return list(db.session.scalars(select(LegalStatus).where(
        LegalStatus.substance_id == substance.id, LegalStatus.effective_from <= day,
        or_(LegalStatus.effective_to.is_(None), LegalStatus.effective_to > day))
        .order_by(LegalStatus.regime, LegalStatus.effective_from)))
