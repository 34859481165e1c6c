"""Label data for samples and the glue to the label renderer."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import render_template

from lims.intake.models import Sample
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
