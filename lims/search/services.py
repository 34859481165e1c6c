"""Run library searches on spectra, store them as evidence, and record hit decisions."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from libsearch.index import ALGORITHMS, INDEX_VERSION, Algorithm, Hit
from lims.audit.services import record, subject_of
from lims.auth.models import User
from lims.custody.services import ensure_unblocked
from lims.db import db, utcnow
from lims.errors import Invalid, NotFound
from lims.library import services as library
from lims.library.models import LibraryEntry, ReferenceLibrary
from lims.measurements.models import SpectrumRecord
from lims.measurements.services import get_spectrum, read_file
from lims.processing import Recipe, apply
from lims.search.models import Search, SearchHit

DECISIONS = ("accepted", "rejected")
ABSORBANCE_FROM = ("transmittance", "reflectance")


@dataclass(frozen=True)
class Query:
    """A spectrum ready to search: processed arrays, the recipe as applied, its technique."""

    x: np.ndarray
    y: np.ndarray
    technique: str
    kind: str
    recipe: Recipe


@dataclass(frozen=True)
class RankedHit:
    """A hit with its library entry, as returned by a search that is not stored."""

    rank: int
    entry: LibraryEntry
    hit: Hit


def library_kind(technique: str, kind: str) -> str:
    """The library kind a spectrum is searched against: 'ms' or 'spectral'."""
    return "ms" if technique == "MS" or kind == "peaks" else "spectral"


def algorithms_for(kind: str) -> list[Algorithm]:
    """The algorithms that apply to a library kind, in their display order."""
    return [a for a in ALGORITHMS.values() if a.kind == kind]


def default_algorithm(kind: str) -> str:
    """The algorithm offered first: NIST Identity for mass spectra, correlation HQI else."""
    return "nist_identity" if kind == "ms" else "hqi"


def _check_compatible(library_row: ReferenceLibrary, technique: str, kind: str,
                      algorithm: str) -> Algorithm:
    wanted = library_kind(technique, kind)
    if library_row.kind != wanted or library_row.technique != technique:
        raise Invalid(f"{library_row.name} {library_row.version} holds {library_row.technique} "
                      f"spectra; this is a {technique} spectrum.", "library")
    chosen = ALGORITHMS.get(algorithm)
    if chosen is None or chosen.kind != wanted:
        names = ", ".join(a.name for a in algorithms_for(wanted))
        raise Invalid(f"Algorithm {algorithm!r} does not apply to {technique} spectra; "
                      f"choose one of {names}.", "algorithm")
    return chosen


def prepare_query(x: np.ndarray, y: np.ndarray, *, y_unit: str, technique: str, kind: str,
                  recipe: Recipe, library_row: ReferenceLibrary) -> Query:
    """Apply the recipe; a transmittance query against an absorbance library is converted."""
    if (library_row.kind == "spectral" and y_unit in ABSORBANCE_FROM
            and library_row.y_unit == "absorbance" and not recipe.absorbance):
        recipe = dataclasses.replace(recipe, absorbance=True)
    try:
        px, py, _ = apply(recipe, x, y, y_unit, kind=kind)
    except ValueError as error:
        raise Invalid(f"Processing failed: {error}", "recipe") from error
    return Query(px, py, technique, kind, recipe)


def _ranked(library_row: ReferenceLibrary, query: Query, algorithm: str, top: int
            ) -> tuple[list[RankedHit], float]:
    """Search the library index; entries resolved by position; the time taken in ms."""
    index = library.library_index(library_row)
    started = time.perf_counter()
    try:
        hits = index.search(query.x, query.y, algorithm=algorithm, top=top,
                            mask=query.recipe.masks)
    except ValueError as error:
        raise Invalid(str(error), "library") from error
    elapsed = (time.perf_counter() - started) * 1000
    positions = [h.position for h in hits]
    entries = {e.position: e for e in db.session.scalars(
        select(LibraryEntry).where(LibraryEntry.library_id == library_row.id,
                                   LibraryEntry.position.in_(positions)))}
    return [RankedHit(rank, entries[h.position], h) for rank, h in enumerate(hits, 1)], elapsed


def _entry_name(entry: LibraryEntry) -> str:
    return entry.substance.name if entry.substance is not None else entry.name


def run_search(actor: User, spectrum: SpectrumRecord, library_row: ReferenceLibrary, *,
               algorithm: str, top: int, recipe: Recipe) -> Search:
    """Search one spectrum and store the search, its hits and an audit entry."""
    sample = spectrum.measurement.sample
    ensure_unblocked(sample)
    if not library_row.approved:
        raise Invalid(f"{library_row.name} {library_row.version} is not approved for casework.",
                      "library")
    chosen = _check_compatible(library_row, spectrum.technique, spectrum.kind, algorithm)
    query = prepare_query(spectrum.x, spectrum.y, y_unit=spectrum.y_unit,
                          technique=spectrum.technique, kind=spectrum.kind, recipe=recipe,
                          library_row=library_row)
    ranked, elapsed = _ranked(library_row, query, algorithm, top)
    search = Search(spectrum=spectrum, sample_id=sample.id, library=library_row,
                    library_name=library_row.name, library_version=library_row.version,
                    library_sha256=library_row.sha256, algorithm=algorithm,
                    algorithm_label=chosen.label, recipe_json=query.recipe.to_json(),
                    recipe_sha256=query.recipe.sha256, engine_version=f"index-{INDEX_VERSION}",
                    top=top, duration_ms=elapsed, created_by=actor, created_at=utcnow())
    db.session.add(search)
    for item in ranked:
        search.hits.append(SearchHit(rank=item.rank, entry=item.entry,
                                     substance_name=_entry_name(item.entry),
                                     cas=item.entry.cas or "", raw=item.hit.raw,
                                     score=item.hit.score, matches=item.hit.matches))
    db.session.flush()
    best = f"{search.hits[0].substance_name} ({search.hits[0].score:.4g})" if ranked else "none"
    record(actor, "search_run", "library_search", search.id, field="hits",
           new={"library": library_row.name, "version": library_row.version,
                "sha256": library_row.sha256, "algorithm": algorithm,
                "recipe_sha256": search.recipe_sha256, "spectrum_id": spectrum.id,
                "top_hit": best}, **subject_of(sample))
    return search


def search_file(data: bytes, filename: str, library_row: ReferenceLibrary, *, algorithm: str,
                top: int, recipe: Recipe | None = None, adapter: str | None = None
                ) -> list[RankedHit]:
    """Search the first spectrum of an instrument file (nothing is stored)."""
    result = read_file(data, filename, adapter, None)
    spectrum = result.spectra[0]
    _check_compatible(library_row, spectrum.technique, spectrum.kind, algorithm)
    query = prepare_query(spectrum.x, spectrum.y, y_unit=spectrum.y_unit,
                          technique=spectrum.technique, kind=spectrum.kind,
                          recipe=recipe or Recipe(), library_row=library_row)
    return _ranked(library_row, query, algorithm, top)[0]


def get_search(user: User, search_id: int) -> Search:
    """A stored search the user may see (through its spectrum's case), or NotFound."""
    search = db.session.get(Search, search_id, options=[
        selectinload(Search.hits).selectinload(SearchHit.entry),
        selectinload(Search.hits).selectinload(SearchHit.decided_by)])
    if search is None:
        raise NotFound(f"No search {search_id}.")
    get_spectrum(user, search.spectrum_id)
    return search


def get_hit(search: Search, hit_id: int) -> SearchHit:
    """A hit of that search, or NotFound."""
    hit = db.session.get(SearchHit, hit_id)
    if hit is None or hit.search_id != search.id:
        raise NotFound(f"No hit {hit_id} in search {search.id}.")
    return hit


def searches_of(spectrum: SpectrumRecord) -> list[Search]:
    """The stored searches of a spectrum, newest first."""
    return list(db.session.scalars(select(Search).where(Search.spectrum_id == spectrum.id)
                                   .options(selectinload(Search.hits))
                                   .order_by(Search.id.desc())))


def decide_hit(actor: User, hit: SearchHit, decision: str, comment: str) -> None:
    """Accept or reject a hit with a comment; a changed mind is recorded too."""
    if decision not in DECISIONS:
        raise Invalid("Choose accept or reject.", "decision")
    comment = (comment or "").strip()
    if not comment:
        raise Invalid("Say why: a comment is required with the decision.", "comment")
    sample = hit.search.spectrum.measurement.sample
    ensure_unblocked(sample)
    old = hit.decision
    hit.decision, hit.decision_comment = decision, comment
    hit.decided_by, hit.decided_at = actor, utcnow()
    db.session.flush()
    record(actor, f"search_hit_{decision}", "library_search_hit", hit.id, field="decision",
           old=old, new={"search": hit.search_id, "rank": hit.rank,
                         "substance": hit.substance_name, "score": f"{hit.score:.6g}"},
           reason=comment, **subject_of(sample))


def hit_json(hit: SearchHit | RankedHit, library_row: ReferenceLibrary) -> dict:
    """A hit as the API and the CLI print it."""
    if isinstance(hit, RankedHit):
        name, cas, rank, entry_id = (_entry_name(hit.entry), hit.entry.cas or "", hit.rank,
                                     hit.entry.id)
        raw, score, matches = hit.hit.raw, hit.hit.score, hit.hit.matches
        decision = None
    else:
        name, cas, rank, entry_id = hit.substance_name, hit.cas, hit.rank, hit.entry_id
        raw, score, matches, decision = hit.raw, hit.score, hit.matches, hit.decision
    return {"rank": rank, "substance": name, "cas": cas, "score": score, "raw": raw,
            "matches": matches, "entry_id": entry_id, "library": library_row.name,
            "library_version": library_row.version, "decision": decision}
