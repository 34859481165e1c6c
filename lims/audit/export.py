"""The audit extract of a case as CSV and PDF, and the export times every export prints."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app, render_template

from lims.audit.services import entries_for, verify_chain
from lims.csvfile import csv_bytes
from lims.db import db, utcnow
from lims.pdf import render_pdf

EXPORT_TYPES = {"csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}
AUDIT_COLUMNS = ("seq", "time_utc", "time_local", "user", "action", "entity", "field", "old",
                 "new", "reason", "entry_hash", "prev_hash")


def export_times(value: datetime | None) -> tuple[str, str]:
    """(UTC, lab time with its zone) of a moment, as printed in the exports."""
    if value is None:
        return "", ""
    tz = current_app.config["LIMS"].timezone
    return (value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            value.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %Z"))


def audit_rows(case_id: int) -> list[dict]:
    """Every audit entry of a case and its samples, oldest first, as plain values."""
    rows = []
    for entry in entries_for(case_id=case_id, limit=None):
        utc, local = export_times(entry.recorded_at)
        rows.append({
            "seq": entry.seq, "time_utc": utc, "time_local": local, "user": entry.user_name,
            "action": entry.action, "entity": f"{entry.entity_type} {entry.entity_id}",
            "field": entry.field, "old": entry.old_value, "new": entry.new_value,
            "reason": entry.reason, "entry_hash": entry.entry_hash,
            "prev_hash": entry.prev_hash})
    return rows


def chain_statement() -> str:
    """One line saying whether the whole audit chain verifies, as of now."""
    db.session.flush()  # verify_chain reads the database and detaches what the session holds
    report = verify_chain()
    checked_at = export_times(utcnow())[0]
    if report.ok:
        return (f"Audit chain verified on {checked_at}: all {report.checked} entries of the "
                "laboratory's trail are intact and in order.")
    where = f" (first bad entry {report.first_bad_seq})" if report.first_bad_seq else ""
    return f"AUDIT CHAIN DOES NOT VERIFY on {checked_at}: {report.problem}{where}."


def audit_extract_csv(case_id: int, case_number: str) -> bytes:
    """The case's audit entries as CSV, with the chain check as the last line."""
    rows, statement = audit_rows(case_id), chain_statement()
    lines = [[row[name] for name in AUDIT_COLUMNS] for row in rows]
    lines.append(["chain", statement] + [""] * (len(AUDIT_COLUMNS) - 2))
    return csv_bytes(AUDIT_COLUMNS, lines)


def audit_extract_pdf(case_id: int, case_number: str) -> bytes:
    """The case's audit entries as an A4 PDF, with the chain check on the first page."""
    rows, statement = audit_rows(case_id), chain_statement()
    return render_pdf(render_template(
        "exports/audit_extract.html", case_number=case_number, rows=rows, statement=statement,
        generated_at=export_times(utcnow())))
