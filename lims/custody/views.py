"""Hand-over, reseal, discrepancy resolution, release and the custody timeline."""

from __future__ import annotations

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for

from lims.audit.export import EXPORT_TYPES
from lims.auth.access import permission_required, record_access
from lims.auth.services import ReauthFailed
from lims.custody import services
from lims.custody.export import custody_log_csv, custody_log_pdf
from lims.custody.forms import HandoverForm, ReleaseForm, ResealForm, ResolveForm
from lims.errors import NotFound
from lims.files import content_disposition
from lims.forms import REFUSED, attempt, committed, form_status
from lims.intake.services import active_locations, get_case, get_sample, staff_users

bp = Blueprint("custody", __name__)


def _recipient_choices(sample) -> list[tuple[str, str]]:
    holder = services.holder_of(sample).key
    people = [(f"user:{u.username}", f"{u.full_name} ({u.role})") for u in staff_users()]
    places = [(f"location:{loc.code}", f"Storage {loc.code} – {loc.name}")
              for loc in active_locations()]
    return [("", "—")] + [c for c in people + places if c[0] != holder]


@bp.route("/custody/handover")
@permission_required("custody.transfer")
def scan_handover():
    """Start a hand-over by scanning an item."""
    code = request.args.get("lab_number", "").strip()
    if code:
        try:
            sample = get_sample(g.user, code)
        except NotFound:
            flash(f"{code}: not found.", "error")
        else:
            return redirect(url_for("custody.handover", lab_number=sample.lab_number))
    return render_template("custody/scan.html", code=code)


@bp.route("/samples/<lab_number>/handover", methods=["GET", "POST"])
@permission_required("custody.transfer")
def handover(lab_number: str):
    """Hand an item over: fill in, check, then the receiver confirms with a password."""
    sample = get_sample(g.user, lab_number)
    form = HandoverForm()
    form.to.choices = _recipient_choices(sample)
    if not form.is_submitted():
        form.expected_from.data = services.holder_of(sample).key
    if form.validate_on_submit():
        checked = attempt(form, lambda: _checked(sample, form))
        if checked.ok and form.step.data != "confirm":
            form.step.data = "confirm"
            target, warning = checked.value
            return render_template("custody/check.html", form=form, sample=sample,
                                   target=target, seal_warning=warning)
        if checked.ok:
            target = checked.value[0]
            # A wrong password keeps its counted attempt (lockout): the refusal keeps its writes.
            done = attempt(form, lambda: services.transfer(
                g.user, sample, expected_from=form.expected_from.data, to=target,
                receiver_password=form.receiver_password.data,
                witness=form.witness.data or "", **form.seal_values()))
            if done.ok:
                flash(f"{sample.lab_number} handed over to {target.label}.")
                return redirect(url_for("custody.timeline", lab_number=sample.lab_number))
            if isinstance(done.error, ReauthFailed):
                return render_template("custody/check.html", form=form, sample=sample,
                                       target=target, seal_warning=""), REFUSED
        form.step.data = "check"
    return render_template("custody/handover.html", form=form, sample=sample,
                           holder=services.holder_of(sample)), form_status(form)


def _checked(sample, form: HandoverForm) -> tuple[services.Party, str]:
    """The receiver named by the form and the seal discrepancy the hand-over would record."""
    target = services.party_from_key(form.to.data)
    return target, services.preview_seal(sample, form.seal_found.data or "",
                                         form.seal_values()["seal_intact"])


@bp.route("/samples/<lab_number>/reseal", methods=["GET", "POST"])
@permission_required("custody.transfer")
def reseal(lab_number: str):
    """Open and reseal an item held by the current user."""
    sample = get_sample(g.user, lab_number)
    form = ResealForm()
    if form.validate_on_submit() and attempt(
            form, lambda: services.reseal(g.user, sample, **form.seal_values())).ok:
        flash(f"{sample.lab_number} resealed with {sample.current_seal}.")
        return redirect(url_for("custody.timeline", lab_number=sample.lab_number))
    return render_template("custody/reseal.html", form=form, sample=sample), form_status(form)


@bp.route("/samples/<lab_number>/resolve", methods=["GET", "POST"])
@permission_required("custody.transfer")
def resolve(lab_number: str):
    """Resolve a seal discrepancy with a reason."""
    sample = get_sample(g.user, lab_number)
    form = ResolveForm()
    if form.validate_on_submit() and attempt(
            form, lambda: services.resolve_discrepancy(g.user, sample, form.reason.data)).ok:
        flash(f"The seal discrepancy of {sample.lab_number} is resolved.")
        return redirect(url_for("intake.sample", lab_number=sample.lab_number))
    return render_template("custody/resolve.html", form=form, sample=sample), form_status(form)


@bp.route("/samples/<lab_number>/release", methods=["GET", "POST"])
@permission_required("custody.transfer")
def release(lab_number: str):
    """Return an item or hand it over for destruction."""
    sample = get_sample(g.user, lab_number)
    form = ReleaseForm()
    if not form.is_submitted():
        form.expected_from.data = services.holder_of(sample).key
    if form.validate_on_submit() and attempt(form, lambda: services.transfer(
            g.user, sample, expected_from=form.expected_from.data,
            to=services.Party(external=form.recipient.data.strip()),
            witness=form.witness.data or "", final=form.final.data, **form.seal_values())).ok:
        flash(f"{sample.lab_number}: {form.final.data} recorded.")
        return redirect(url_for("custody.timeline", lab_number=sample.lab_number))
    return render_template("custody/release.html", form=form, sample=sample), form_status(form)


@bp.route("/samples/<lab_number>/timeline")
@permission_required("custody.view")
def timeline(lab_number: str):
    """The whole chain of custody of an item."""
    sample = get_sample(g.user, lab_number)
    return render_template("custody/timeline.html", sample=sample,
                           events=services.timeline(sample))


@bp.route("/cases/<case_number>/custody.<fmt>")
@permission_required("custody.view")
def case_custody_log(case_number: str, fmt: str):
    """The chain-of-custody log of every item of a case, as CSV or PDF."""
    case = get_case(g.user, case_number)
    if fmt not in EXPORT_TYPES:
        raise NotFound("The custody log is available as .csv or .pdf.")
    body = custody_log_csv(case) if fmt == "csv" else custody_log_pdf(case)
    committed(lambda: record_access(g.user, case, "custody_log_downloaded", fmt))
    return Response(body, mimetype=EXPORT_TYPES[fmt], headers={
        "Content-Disposition": content_disposition(f"custody-{case.case_number}.{fmt}")})
