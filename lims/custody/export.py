"""The chain-of-custody log of a case as CSV and PDF (downloads and the case packet)."""

from __future__ import annotations

from flask import render_template
from sqlalchemy import select

from lims.audit.export import export_times
from lims.audit.models import AuditEntry
from lims.csvfile import csv_bytes
from lims.custody.models import CustodyEvent
from lims.custody.services import timeline
from lims.db import db, utcnow
from lims.intake.models import Case
from lims.pdf import render_pdf

CUSTODY_COLUMNS = ("lab_number", "sequence", "event", "time_utc", "time_local", "from", "to",
                   "seal_expected", "seal_found", "seal_intact", "seal_ok", "new_seal",
                   "weight_mg", "witness", "recorded_by", "confirmed_by", "reason",
                   "event_hash")


def _yes_no(value: bool | None) -> str:
    return "" if value is None else "yes" if value else "no"


def _event_hashes(case: Case) -> dict[str, str]:
    """Audit entry hash of each custody event of the case, by 'LAB-NUMBER#sequence'."""
    return dict(db.session.execute(
        select(AuditEntry.entity_id, AuditEntry.entry_hash).where(
            AuditEntry.case_id == case.id, AuditEntry.entity_type == "custody_event")).all())


def _row(event: CustodyEvent, lab_number: str, hashes: dict[str, str]) -> dict:
    utc, local = export_times(event.occurred_at)
    return {
        "lab_number": lab_number, "sequence": event.sequence,
        "event": event.event_type.replace("_", " "), "time_utc": utc, "time_local": local,
        "from": event.from_label, "to": event.to_label, "seal_expected": event.seal_expected,
        "seal_found": event.seal_found, "seal_intact": _yes_no(event.seal_intact),
        "seal_ok": _yes_no(event.seal_ok), "new_seal": event.new_seal,
        "weight_mg": event.weight_mg, "witness": event.witness,
        "recorded_by": event.recorded_by.display_name,
        "confirmed_by": event.confirmed_by.display_name if event.confirmed_by else "",
        "reason": event.note, "event_hash": hashes.get(f"{lab_number}#{event.sequence}", ""),
    }


def custody_rows(case: Case) -> list[dict]:
    """Every custody event of every sample of the case, sample by sample in sequence order."""
    hashes = _event_hashes(case)
    return [_row(event, sample.lab_number, hashes)
            for sample in case.samples for event in timeline(sample)]


def custody_log_csv(case: Case) -> bytes:
    """The case's custody log as CSV, one row per event."""
    rows = custody_rows(case)
    return csv_bytes(CUSTODY_COLUMNS, ([row[name] for name in CUSTODY_COLUMNS] for row in rows))


def custody_log_pdf(case: Case) -> bytes:
    """The case's custody log as an A4 PDF."""
    return render_pdf(render_template(
        "exports/custody_log.html", case_number=case.case_number, rows=custody_rows(case),
        samples=case.samples, generated_at=export_times(utcnow())))
