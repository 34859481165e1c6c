"""The canonical snapshot of a finding (what the signatures bind) and its SHA-256."""

from __future__ import annotations

import hashlib
import json

from lims.audit.services import as_text, canonical_json
from lims.findings import scheme
from lims.findings.models import Finding
from lims.findings.reading import gate, legal_status_date, technique_name
from lims.library.services import legal_status_on
from lims.measurements.models import Measurement, SpectrumRecord
from lims.processing import Recipe
from lims.search.models import SearchHit


def exact(value: float | None) -> str | None:
    """Fractional numbers as exact text: the canonical JSON of the audit trail has no floats."""
    return None if value is None else repr(float(value))


def plain(values: dict) -> dict:
    """The values with fractional numbers as exact text (for audit entries)."""
    return {name: exact(value) if isinstance(value, float) else value
            for name, value in values.items()}


def _measurement_json(measurement: Measurement | None) -> dict | None:
    if measurement is None:
        return None
    instrument = measurement.instrument
    return {"id": measurement.id,
            "instrument": instrument.name if instrument else None,
            "instrument_model": instrument.model if instrument else None,
            "instrument_serial": instrument.serial if instrument else None,
            "calibration_due": as_text(instrument.calibration_due) if instrument else None,
            "out_of_calibration": measurement.out_of_calibration,
            "acquired_at": as_text(measurement.acquired_at),
            "raw_sha256": measurement.raw_sha256, "filename": measurement.original_filename}


def _search_json(hit: SearchHit | None) -> dict | None:
    if hit is None:
        return None
    search = hit.search
    spectrum: SpectrumRecord = search.spectrum
    recipe = Recipe.from_dict(search.recipe).describe(x_unit=spectrum.x_unit, kind=spectrum.kind)
    return {"search_id": search.id, "library": search.library_name,
            "library_version": search.library_version, "library_sha256": search.library_sha256,
            "algorithm": search.algorithm, "algorithm_label": search.algorithm_label,
            "recipe_summary": recipe, "rank": hit.rank, "substance": hit.substance_name,
            "score": exact(hit.score), "raw": exact(hit.raw), "spectrum_id": search.spectrum_id,
            "entry_id": hit.entry_id}


def finding_snapshot(finding: Finding) -> dict:
    """The reviewed content as plain JSON-ready values (fractional numbers as exact text)."""
    day = legal_status_date(finding)
    result = gate(finding)
    return {
        "finding_id": finding.id, "version": finding.version, "result": finding.result,
        "scope": finding.scope, "conclusion": finding.conclusion,
        "limitations": finding.limitations,
        "substances": [{
            "name": row.substance.name, "cas": row.substance.cas,
            "formula": row.substance.formula, "salt_form": row.salt_form,
            "purity_percent": exact(row.purity_percent),
            "purity_uncertainty_percent": exact(row.purity_uncertainty_percent),
            "legal_status": [{"regime": status.regime, "schedule": status.schedule,
                              "effective_from": status.effective_from.isoformat(),
                              "reference": status.reference}
                             for status in legal_status_on(row.substance, day)],
        } for row in finding.substances],
        "legal_status_date": day.isoformat(),
        "techniques": [{
            "code": row.technique, "name": technique_name(row),
            "category": scheme.TECHNIQUES[row.technique].category, "positive": row.positive,
            "aliquot": row.aliquot, "run": row.run, "method_ref": row.method_ref,
            "note": row.note or None,
            "measurement": _measurement_json(row.measurement),
            "search": _search_json(row.search_hit),
        } for row in finding.techniques],
        "scheme": {"ok": result.ok, "rule": result.rule,
                   "counted": [{"code": t.code, "name": t.name, "category": t.category}
                               for t in result.counted],
                   "notes": list(result.notes)},
        "sampling": None if not finding.sampling_method else {
            "method": finding.sampling_method, "population": finding.population,
            "proportion": exact(finding.proportion), "confidence": exact(finding.confidence),
            "negatives": finding.negatives, "seed": finding.seed,
            "selected_units": finding.selected_units, "tested": finding.tested,
            "positives": finding.positives, "statement": finding.sampling_statement},
        "net_weight": None if not finding.net_weight_method else {
            "method": finding.net_weight_method, "value_mg": finding.net_weight_mg,
            "lower_mg": finding.net_weight_lower_mg, "upper_mg": finding.net_weight_upper_mg,
            "confidence": exact(finding.net_weight_confidence)},
        "author": {"name": finding.author.full_name, "username": finding.author.username},
        "submitted_at": as_text(finding.submitted_at),
        "amendment_reason": finding.amendment_reason,
        "supersedes_finding_id": finding.supersedes_id,
    }


def finding_sha256(finding: Finding) -> str:
    """SHA-256 of the canonical JSON of the finding's snapshot: what the signatures bind."""
    return sha256_of(canonical_json(finding_snapshot(finding)))


def sha256_of(text: str) -> str:
    """SHA-256 of a canonical JSON text."""
    return hashlib.sha256(text.encode()).hexdigest()


def signed_snapshot(finding: Finding) -> dict:
    """The snapshot the author signed at submission (the live one for older findings)."""
    if finding.submitted_snapshot:
        return json.loads(finding.submitted_snapshot)
    return json.loads(canonical_json(finding_snapshot(finding)))


def changes_between(old, new, path: str = "") -> list[str]:
    """Where two snapshots differ, as readable paths: 'substances[0].name: A → B'."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(old.keys() | new.keys()):
            out += changes_between(old.get(key), new.get(key), f"{path}.{key}" if path else key)
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [change for index, (a, b) in enumerate(zip(old, new, strict=True))
                for change in changes_between(a, b, f"{path}[{index}]")]
    if old == new:
        return []
    return [f"{path}: {_short(old)} → {_short(new)}"]


def _short(value) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."
