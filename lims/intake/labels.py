"""Label data for samples, the glue to the label renderer, and printing (counted, audited)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import render_template

from lims.auth.models import User
from lims.intake.models import Sample
from lims.intake.services import record_label_print
from lims.labels import render_labels_pdf, render_labels_zpl


def label_dicts(samples: list[Sample], tz: ZoneInfo) -> list[dict]:
    """Plain label data: lab number, case number, registration date, seal, description."""
    return [{
        "lab_number": s.lab_number,
        "case_number": s.case.case_number,
        "date": s.created_at.astimezone(tz).strftime("%Y-%m-%d"),
        "seal": s.current_seal,
        "description": s.description,
    } for s in samples]


def render_labels(labels: list[dict], layout: str, fmt: str) -> tuple[bytes | str, str]:
    """The label document and its media type."""
    if fmt == "zpl":
        return render_labels_zpl(labels), "application/zpl"
    return render_labels_pdf(labels, layout, render_template), "application/pdf"


def print_labels(actor: User, samples: list[Sample], layout: str, fmt: str, reason: str,
                 tz: ZoneInfo) -> tuple[bytes | str, str]:
    """Count the print (a reprint needs the reason, audited) and render the labels."""
    record_label_print(actor, samples, reason, fmt)
    return render_labels(label_dicts(samples, tz), layout, fmt)
