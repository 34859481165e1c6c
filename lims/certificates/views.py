"""Certificate pages: list, page, download, the review that issues, amend, withdraw, /verify."""

from __future__ import annotations

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for

from lims.auth.access import can, permission_required
from lims.certificates import services
from lims.certificates.forms import AmendForm, VerifyForm, WithdrawForm
from lims.errors import DomainError, Invalid
from lims.files import content_disposition
from lims.findings.forms import ReviewForm
from lims.findings.pages import review_context
from lims.findings.reading import check_reviewer, get_finding
from lims.findings.workflow import return_finding
from lims.forms import attempt, committed, form_status, run
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
    data = committed(lambda: services.certificate_pdf(g.user, certificate))  # audited read
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": content_disposition(certificate.filename),
        "X-Content-SHA256": certificate.current_sha256,
    })


@bp.route("/certificates")
@permission_required("certificate.view")
def certificates():
    """Certificates the user may see, newest first; `?case=` filters by case number."""
    case = requested_case()
    return render_template("certificates/list.html", case=case,
                           certificates=services.list_certificates(g.user, case))


def _page(certificate, amend_form=None, withdraw_form=None):
    amend_form = amend_form or AmendForm(formdata=None)
    withdraw_form = withdraw_form or WithdrawForm(formdata=None)
    return render_template(
        "certificates/certificate_page.html", certificate=certificate,
        snapshot=services.snapshot_of(certificate), versions=services.history_of(certificate),
        amend_form=amend_form, withdraw_form=withdraw_form,
        can_amend=can(g.user, "certificate.amend") and certificate.status == "issued",
        can_withdraw=can(g.user, "certificate.withdraw") and certificate.status == "issued",
    ), max(form_status(amend_form), form_status(withdraw_form))


@bp.route("/certificates/<number>")
@permission_required("certificate.view")
def certificate(number: str):
    """One certificate: status, versions, hashes, signatures; amend and withdraw forms."""
    return _page(committed(lambda: services.open_certificate(g.user, number)))  # audited read


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
    form = AmendForm()
    if form.validate_on_submit():
        done = attempt(form, lambda: services.amend(g.user, found, form.reason.data))
        if done.ok:
            finding = done.value
            flash(f"Amendment of {found.number} opened as finding {finding.id} (version "
                  f"{finding.version}); its approval issues the new certificate.")
            return redirect(url_for("findings.finding", finding_id=finding.id))
    return _page(found, amend_form=form)


@bp.route("/certificates/<number>/withdraw", methods=["POST"])
@permission_required("certificate.withdraw")
def withdraw(number: str):
    """Withdraw without replacement: reason and the reviewer's password."""
    found = services.get_certificate(g.user, number)
    form = WithdrawForm()
    # A wrong password keeps its counted attempt (lockout): the refusal keeps its writes.
    if form.validate_on_submit() and attempt(form, lambda: services.withdraw(
            g.user, found, form.password.data, form.reason.data, form.code.data or "")).ok:
        flash(f"Certificate {found.number} is withdrawn.")
        return redirect(url_for("certificates.certificate", number=found.number))
    return _page(found, withdraw_form=form)


@bp.route("/findings/<int:finding_id>/review", methods=["GET", "POST"])
@permission_required("finding.review")
def review(finding_id: int):
    """Check before you sign, then approve (its certificate is issued) or return the finding."""
    finding = get_finding(g.user, finding_id)
    try:
        check_reviewer(g.user, finding)
    except DomainError as error:
        if request.method != "GET":
            raise
        flash(error.message, "error")  # from the page's link: back to the finding, with why
        return redirect(url_for("findings.finding", finding_id=finding.id))
    form = ReviewForm()
    if form.validate_on_submit():
        returning = form.decision.data == "return"
        done = attempt(form, lambda: return_finding(
            g.user, finding, form.password.data, form.reason.data, form.code.data or "")
            if returning else services.approve_and_issue(g.user, finding, form.password.data,
                                                         form.code.data or ""),
            refusals=Invalid)
        if done.ok and returning:
            flash(f"Finding {finding.id} returned to {finding.author.full_name}.")
            return redirect(url_for("findings.finding", finding_id=finding.id))
        if done.ok:
            flash(f"Finding {finding.id} approved; certificate {done.value.number} issued.")
            return redirect(url_for("certificates.certificate", number=done.value.number))
    return render_template("findings/review.html", form=form,
                           **review_context(g.user, finding)), form_status(form)


@bp.route("/cases/<case_number>/packet.zip")
@permission_required("packet.download")
def packet(case_number: str):
    """The case packet for court: certificates, custody, audit, raw files, manifests."""
    case = get_case(g.user, case_number)
    data = committed(lambda: services.case_packet(g.user, case))  # audited read
    return Response(data, mimetype="application/zip", headers={
        "Content-Disposition": content_disposition(f"{case.case_number}-packet.zip")})


def _verify_page(form: VerifyForm, result=None):
    status = 404 if result is not None and not result.found else 200
    return render_template("certificates/verify.html", form=form, result=result), \
        status if form.errors == {} else 422


def limit_verifications() -> None:
    """Count this verification on the shared store (committed at once); 429 past the limit."""
    refused = run(lambda: services.check_verify_rate(request.remote_addr)).error
    if refused is not None:
        raise refused


@bp.route("/verify", methods=["GET", "POST"])
def verify():
    """Public: check a verification code or an uploaded PDF (no login, CSRF, rate-limited)."""
    form = VerifyForm()
    if not form.validate_on_submit():
        return _verify_page(form)
    limit_verifications()
    if form.file.data:
        result = services.verify_upload(form.file.data.read())
    else:
        result = services.verify_token(form.token.data)
    return _verify_page(form, result)


@bp.route("/verify/<token>")
def verify_token(token: str):
    """Public: the page a certificate's QR code opens."""
    limit_verifications()
    form = VerifyForm(formdata=None, token=token)
    return _verify_page(form, services.verify_token(token))
