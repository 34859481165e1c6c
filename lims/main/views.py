"""Dashboard, the scan box, the audit chain check and the health check."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from lims.audit.services import verify_chain
from lims.auth.access import login_required, permission_required
from lims.intake import services

bp = Blueprint("main", __name__)


@bp.route("/")
@login_required
def dashboard():
    """The technician's start page: recent cases and the items the user holds."""
    held = services.list_samples(g.user, holder=f"user:{g.user.username}", limit=20) \
        if g.user.role != "investigator" else None
    return render_template("main/dashboard.html", cases=services.recent_cases(g.user, 10),
                           held=held)


@bp.route("/scan")
@login_required
def scan():
    """Jump to the sample or case of a scanned code; stay on the page when it is unknown."""
    code = request.args.get("code", "").strip()
    found = services.lookup_code(g.user, code)
    if found is None:
        flash(f"{code or 'Empty code'}: not found.", "error")
        back = request.referrer or url_for("main.dashboard")
        return redirect(back if back.startswith(request.host_url) else url_for(
            "main.dashboard"))
    kind, number = found
    if kind == "sample":
        return redirect(url_for("intake.sample", lab_number=number))
    return redirect(url_for("intake.case", case_number=number))


@bp.route("/admin/audit/verify")
@permission_required("user.manage")
def audit_verify():
    """Recompute the audit hash chain and show the result."""
    return render_template("audit/verify.html", report=verify_chain())


@bp.route("/healthz")
def healthz():
    """Liveness probe for the WSGI server."""
    return {"status": "ok"}
