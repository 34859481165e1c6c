"""Ready values for the finding pages, shown by the findings views and the review (certificates)."""

from __future__ import annotations

from lims.auth.access import can
from lims.auth.models import User
from lims.esign.services import manifestation
from lims.findings.models import Finding
from lims.findings.quantities import net_weight_of
from lims.findings.reading import (
    findings_of,
    gate,
    legal_status_date,
    legal_statuses,
    readiness,
    signatures,
)
from lims.findings.scheme import TECHNIQUES
from lims.findings.snapshot import finding_sha256


def page_context(user: User, finding: Finding) -> dict:
    """Ready values for the finding page and the check pages."""
    rows = [{"row": row, "technique": TECHNIQUES[row.technique],
             "spectra": row.measurement.spectra if row.measurement else []}
            for row in finding.techniques]
    return {
        "finding": finding, "sample": finding.sample, "gate": gate(finding),
        "problems": readiness(finding), "technique_rows": rows,
        "legal": legal_statuses(finding),
        "legal_date": legal_status_date(finding), "net_weight": net_weight_of(finding),
        "signatures": [(s, manifestation(s)) for s in signatures(finding)],
        "versions": findings_of(finding.sample),
        "is_author": user.id == finding.author_id,
        "can_edit": finding.editable and user.id == finding.author_id
        and can(user, "finding.edit"),
        "can_review": finding.status == "submitted" and user.id != finding.author_id
        and can(user, "finding.review"),
        "content_sha256": finding_sha256(finding),
        "certificate": finding.certificate,
    }


def review_context(user: User, finding: Finding) -> dict:
    """The page values plus the author's performed signature the reviewer checks against."""
    context = page_context(user, finding)
    performed = [s for s, _ in context["signatures"] if s.meaning == "performed"]
    return {**context, "performed": performed[-1] if performed else None,
            "performed_text": manifestation(performed[-1]) if performed else ""}
