"""The audit trail pages of a case and of a sample, and the case's audit extract."""

from __future__ import annotations

from flask import Blueprint, Response, g, render_template

from lims.audit.export import EXPORT_TYPES, audit_extract_csv, audit_extract_pdf
from lims.audit.services import entries_for
from lims.auth.access import permission_required
from lims.errors import NotFound
from lims.files import content_disposition
from lims.intake.services import get_case, get_sample

# Named "audit" so that the pages keep their endpoints (audit.case_audit, ...) and URLs.
bp = Blueprint("audit", __name__)


@bp.route("/samples/<lab_number>/audit")
@permission_required("audit.view")
def sample_audit(lab_number: str):
    """Every audited change of one sample and its custody events."""
    sample = get_sample(g.user, lab_number)
    return render_template("audit/entries.html", title=f"Audit trail of {sample.lab_number}",
                           sample=sample, case=sample.case,
                           entries=entries_for(sample_id=sample.id, limit=5000))


@bp.route("/cases/<case_number>/audit")
@permission_required("audit.view")
def case_audit(case_number: str):
    """Every audited change of a case and of its samples."""
    case = get_case(g.user, case_number)
    return render_template("audit/entries.html", title=f"Audit trail of {case.case_number}",
                           sample=None, case=case,
                           entries=entries_for(case_id=case.id, limit=5000))


@bp.route("/cases/<case_number>/audit.<fmt>")
@permission_required("audit.view")
def case_audit_extract(case_number: str, fmt: str):
    """The audit extract of a case with the chain check, as CSV or PDF."""
    case = get_case(g.user, case_number)
    if fmt not in EXPORT_TYPES:
        raise NotFound("The audit extract is available as .csv or .pdf.")
    number = case.case_number
    extract = audit_extract_csv if fmt == "csv" else audit_extract_pdf
    return Response(extract(case.id, number), mimetype=EXPORT_TYPES[fmt], headers={
        "Content-Disposition": content_disposition(f"audit-{number}.{fmt}")})
