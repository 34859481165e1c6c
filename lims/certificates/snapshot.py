"""The frozen, plain-dict content of a certificate: the reviewed finding plus case, item and lab.

The certificate template renders only this dict, after a round trip through canonical JSON (every
leaf a string or null), so that the stored snapshot is exactly what was printed.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from markupsafe import Markup

from lims.audit.services import canonical_json
from lims.auth.models import User
from lims.config import Settings
from lims.custody.services import timeline
from lims.esign.services import manifestation, signatures_for
from lims.findings.snapshot import signed_snapshot
from lims.intake.models import Sample
from lims.intake.services import item_facts
from lims.units import format_weight

SCHEMA = "lims-certificate-v1"
TITLE = "Substance identification certificate"
MEANINGS = {"performed": "Analysis performed by", "reviewed": "Technical review by",
            "approved": "Approved and released by"}


def _receipt_condition(sample: Sample) -> dict:
    """Seal and condition of the item on receipt, and the seals applied since, from custody."""
    events = timeline(sample)
    receipt = next((e for e in events if e.event_type == "receipt"), None)
    applied = [{"seal": e.new_seal, "at": e.occurred_at, "event": e.event_type}
               for e in events if e.new_seal]
    if receipt is None or not receipt.seal_found:
        condition = "Received without a seal."
    elif receipt.seal_intact is False or not receipt.seal_ok:
        condition = f"Seal {receipt.seal_found} not intact or not as expected on receipt."
    else:
        condition = f"Seal {receipt.seal_found} found intact on receipt."
    if sample.seal_discrepancy:
        condition += f" Open seal discrepancy: {sample.seal_discrepancy}."
    return {"received_at": receipt.occurred_at if receipt else sample.created_at,
            "seal_found": receipt.seal_found if receipt else "",
            "condition": condition, "seals_applied": applied}


def _item(sample: Sample) -> dict:
    custody = _receipt_condition(sample)
    return {
        **item_facts(sample),
        "seal_received": sample.seal_received or custody["seal_found"],
        "seal_current": sample.current_seal,
        "seals_applied": custody["seals_applied"],
        "condition": custody["condition"],
        "received_at": custody["received_at"],
        "subsamples": [child.lab_number for child in sample.children],
    }


def _case(sample: Sample) -> dict:
    case = sample.case
    return {
        "case_number": case.case_number,
        "seizure_ref": case.seizure_ref,
        "proceedings_ref": case.proceedings_ref,
        "seized_at": case.seized_at,
        "seizure_place": case.seizure_place,
        "container_number": case.container_number,
        "mrn": case.mrn,
        "hs_code": case.hs_code,
        "conveyance": case.conveyance,
        "seals_received": case.seal_list,
        "questions": case.questions,
        "received_at": case.received_at,
    }


def _analysis_dates(finding) -> dict:
    """First and last day of the laboratory work: the measurements, else the submission."""
    days = sorted((t.measurement.acquired_at or t.measurement.uploaded_at).date()
                  for t in finding.techniques if t.measurement is not None)
    if not days and finding.submitted_at is not None:
        days = [finding.submitted_at.date()]
    return {"from": days[0] if days else None, "to": days[-1] if days else None}


def _signatures(finding) -> list[dict]:
    """The e-signatures over the approved content of the finding, in signing order."""
    return [{"meaning": s.meaning, "role": MEANINGS.get(s.meaning, s.meaning),
             "printed_name": s.printed_name, "signed_at": s.signed_at,
             "content_sha256": s.content_sha256, "manifestation": manifestation(s)}
            for s in signatures_for("finding", str(finding.id))
            if s.content_sha256 == finding.snapshot_sha256]


def _history(amends) -> list[dict]:
    """Every earlier certificate this one replaces, newest first."""
    history, current = [], amends
    while current is not None:
        history.append({"number": current.number, "issued_at": current.issued_at,
                        "amendment_reason": current.amendment_reason})
        current = current.amends
    return history


def build_snapshot(actor: User, finding, settings: Settings, *, number: str,
                   issued_at: datetime, amends, amendment_reason: str | None) -> dict:
    """Everything the certificate prints, as plain values (before freezing)."""
    sample = finding.sample
    return {
        "schema": SCHEMA,
        "title": TITLE,
        "number": number,
        "issued_at": issued_at,
        "issued_by": {"name": actor.full_name, "username": actor.username},
        "laboratory": {"name": settings.lab_name, "address": settings.lab_address},
        "customer": {"customs_office": sample.case.customs_office,
                     "officer_name": sample.case.officer_name},
        "case": _case(sample),
        "item": _item(sample),
        "analysis": _analysis_dates(finding),
        "finding": signed_snapshot(finding),  # exactly what the author and reviewer signed
        "finding_sha256": finding.snapshot_sha256,
        "signatures": _signatures(finding),
        "amends": None if amends is None else {
            "number": amends.number, "issued_at": amends.issued_at, "reason": amendment_reason},
        "history": _history(amends),
    }


def freeze(snapshot: dict) -> tuple[str, str, dict]:
    """The canonical JSON of a snapshot, its SHA-256 and the dict read back from it."""
    text = canonical_json(snapshot)
    return text, hashlib.sha256(text.encode()).hexdigest(), json.loads(text)


# --- formatting of frozen leaves (strings or null) for the template -------------------------


def day(value: str | None) -> str:
    """'2026-12-01' from a frozen date or time; a dash when empty."""
    return value[:10] if value else "—"


def utc_time(value: str | None) -> str:
    """'2026-12-01 22:15:03 UTC' from a frozen time; a dash when empty."""
    if not value:
        return "—"
    return datetime.fromisoformat(value.replace("Z", "+00:00")).strftime("%Y-%m-%d %H:%M:%S UTC")


def weight(value: str | None) -> str:
    """A frozen weight in mg with its unit ('1.250 kg'); a dash when empty."""
    return format_weight(int(value)) if value not in (None, "") else "—"


def css_string(value: str | None) -> Markup:
    """A quoted CSS string (for @page margin boxes) that cannot end the string or the style."""
    text = " ".join(str(value or "").split())
    escaped = "".join(f"\\{ord(ch):x} " if ch in '"\\<>&' else ch for ch in text)
    return Markup(f'"{escaped}"')


def score(value: str | None) -> str:
    """A frozen exact score as printed: two decimals (the snapshot keeps every digit)."""
    return f"{float(value):.2f}" if value not in (None, "") else "—"


FORMATTERS = {"day": day, "utc": utc_time, "weight": weight, "css": css_string, "score": score}
