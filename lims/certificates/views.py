"""Views of the certificates feature: list, page, download, amend, withdraw, packet, /verify."""

from __future__ import annotations

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for

from lims.auth.access import can, permission_required
from lims.certificates import services
from lims.certificates.forms import AmendForm, VerifyForm, WithdrawForm
from lims.db import db
from lims.files import content_disposition
from lims.forms import attempt
from lims.intake.models import Case
from lims.intake.services import get_case

bp = Blueprint("certificates", __name__)


def requested_case() -> Case | None:
    """The case named by the `?case=` filter of a certificate list, or None."""
    case_number = request.args.get("case", "").strip()
    return get_case(g.user, case_number) if case_number else None


def pdf_download(number: str) -> Response:
    """The signed PDF as an attachment, byte for byte, with its SHA-256 in a header."""
    certificate = services.get_certificate(g.user, number)
    data = services.certificate_pdf(g.user, certificate)
    db.session.commit()  # an investigator's download is audited
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": content_disposition(certificate.filename),
        "X-Content-SHA256": certificate.pdf_sha256,
    })


@bp.route("/certificates")
@permission_required("certificate.view")
def certificates():
    """Certificates the user may see, newest first; `?case=` filters by case number."""
    case = requested_case()
    return render_template("certificates/list.html", case=case,
                           certificates=services.list_certificates(g.user, case))


def _page(certificate, amend_form=None, withdraw_form=None, status: int = 200):
    return render_template(
        "certificates/certificate_page.html", certificate=certificate,
        snapshot=services.snapshot_of(certificate), versions=services.history_of(certificate),
        amend_form=amend_form or AmendForm(formdata=None),
        withdraw_form=withdraw_form or WithdrawForm(formdata=None),
        can_amend=can(g.user, "certificate.amend") and certificate.status == "issued",
        can_withdraw=can(g.user, "certificate.withdraw") and certificate.status == "issued",
    ), status


@bp.route("/certificates/<number>")
@permission_required("certificate.view")
def certificate(number: str):
    """One certificate: status, versions, hashes, signatures; amend and withdraw forms."""
    found = services.open_certificate(g.user, number)
    db.session.commit()  # an investigator's view is audited
    return _page(found)


@bp.route("/certificates/<number>.pdf")
@permission_required("certificate.view")
def download(number: str):
    """The signed PDF exactly as issued."""
    return pdf_download(number)


@bp.route("/certificates/<number>/amend", methods=["POST"])
@permission_required("certificate.amend")
def amend(number: str):
    """Open a new version of the finding; its approval issues the amended certificate."""
    found = services.get_certificate(g.user, number)
    form, status = AmendForm(), 422
    if form.validate_on_submit():
        done = attempt(form, lambda: services.amend(g.user, found, form.reason.data))
        if done.ok:
            finding = done.value
            flash(f"Amendment of {found.number} opened as finding {finding.id} (version "
                  f"{finding.version}); its approval issues the new certificate.")
            return redirect(url_for("findings.finding", finding_id=finding.id))
        status = done.status
    return _page(found, amend_form=form, status=status)


@bp.route("/certificates/<number>/withdraw", methods=["POST"])
@permission_required("certificate.withdraw")
def withdraw(number: str):
    """Withdraw without replacement: reason and the reviewer's password."""
    found = services.get_certificate(g.user, number)
    form, status = WithdrawForm(), 422
    if form.validate_on_submit():
        # A wrong password keeps its counted attempt (lockout): the refusal keeps its writes.
        done = attempt(form, lambda: services.withdraw(g.user, found, form.password.data,
                                                       form.reason.data))
        if done.ok:
            flash(f"Certificate {found.number} is withdrawn.")
            return redirect(url_for("certificates.certificate", number=found.number))
        status = done.status
    return _page(found, withdraw_form=form, status=status)


@bp.route("/cases/<case_number>/packet.zip")
@permission_required("packet.download")
def packet(case_number: str):
    """The case packet for court: certificates, custody, audit, raw files, manifests."""
    case = get_case(g.user, case_number)
    data = services.case_packet(g.user, case)
    db.session.commit()
    return Response(data, mimetype="application/zip", headers={
        "Content-Disposition": content_disposition(f"{case.case_number}-packet.zip")})


def _verify_page(form: VerifyForm, result=None):
    status = 404 if result is not None and not result.found else 200
    return render_template("certificates/verify.html", form=form, result=result), \
        status if form.errors == {} else 422


@bp.route("/verify", methods=["GET", "POST"])
def verify():
    """Public: check a verification code or an uploaded PDF (no login, CSRF, rate-limited)."""
    form = VerifyForm()
    if not form.validate_on_submit():
        return _verify_page(form)
    services.check_verify_rate(request.remote_addr)
    if form.file.data:
        result = services.verify_upload(form.file.data.read())
    else:
        result = services.verify_token(form.token.data)
    return _verify_page(form, result)


@bp.route("/verify/<token>")
def verify_token(token: str):
    """Public: the page a certificate's QR code opens."""
    services.check_verify_rate(request.remote_addr)
    form = VerifyForm(formdata=None, token=token)
    return _verify_page(form, services.verify_token(token))
