"""Technician pages: cases, sample registration, samples, labels, bulk intake, locations."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)

from lims.auth.access import can, permission_required, require
from lims.files import FileStore, content_disposition, file_store
from lims.forms import attempt, committed, form_status, run
from lims.intake import services
from lims.intake.forms import (
    BulkConfirmForm,
    BulkUploadForm,
    CaseForm,
    LocationForm,
    RegisterSamplesForm,
    SampleEditForm,
    StatusForm,
    SubsampleForm,
)
from lims.intake.labels import print_labels
from lims.intake.models import SAMPLE_STATUSES, STATUS_TRANSITIONS
from lims.intake.sheet import parse_sample_sheet, template_csv
from lims.measurements.services import measurements_of
from lims.web import id_arg

bp = Blueprint("intake", __name__)


def _settings():
    return current_app.config["LIMS"]


def _location_choices(form_field) -> dict[str, int]:
    locations = services.active_locations()
    form_field.choices = [("", "—")] + [(loc.code, f"{loc.code} – {loc.name}")
                                        for loc in locations]
    return {loc.code: loc.id for loc in locations}


def _case_form(case=None) -> CaseForm:
    form = CaseForm(obj=case)
    form.investigators.choices = [(u.username, u.full_name) for u in services.investigators()]
    if case is not None and not form.is_submitted():
        form.investigators.data = [u.username for u in case.investigators]
    return form


def _chosen_investigators(form: CaseForm):
    chosen = set(form.investigators.data or [])
    return [u for u in services.investigators() if u.username in chosen]


def _changes_saved(changes: dict) -> str:
    return f"{len(changes)} change(s) saved." if changes else "Nothing changed."


@bp.route("/cases")
@permission_required("case.view")
def cases():
    """Recent cases."""
    return render_template("intake/cases.html", cases=services.recent_cases(g.user, 100))


@bp.route("/cases/new", methods=["GET", "POST"])
@permission_required("case.create")
def new_case():
    """Register a seizure as a new case."""
    form = _case_form()
    if form.validate_on_submit():
        done = attempt(form, lambda: services.create_case(
            g.user, form.case_data(), case_prefix=_settings().case_number_prefix,
            investigators=_chosen_investigators(form)))
        if done.ok:
            flash(f"Case {done.value.case_number} registered. Register its items now.")
            return redirect(url_for("intake.register_samples",
                                    case_number=done.value.case_number))
    return render_template("intake/case_form.html", form=form, case=None), form_status(form)


@bp.route("/cases/<case_number>")
@permission_required("case.view")
def case(case_number: str):
    """One case with its samples."""
    case = services.get_case(g.user, case_number)
    return render_template("intake/case.html", case=case)


@bp.route("/cases/<case_number>/edit", methods=["GET", "POST"])
@permission_required("case.edit")
def edit_case(case_number: str):
    """Change a registered case; every change needs a reason."""
    case = services.get_case(g.user, case_number)
    form = _case_form(case)
    if form.validate_on_submit():
        done = attempt(form, lambda: services.update_case(
            g.user, case, form.case_data(), form.reason.data, _chosen_investigators(form)))
        if done.ok:
            flash(_changes_saved(done.value))
            return redirect(url_for("intake.case", case_number=case.case_number))
    return render_template("intake/case_form.html", form=form, case=case), form_status(form)


@bp.route("/cases/<case_number>/samples/new", methods=["GET", "POST"])
@permission_required("sample.register")
def register_samples(case_number: str):
    """Register several items of a case in one form."""
    case = services.get_case(g.user, case_number)
    form = RegisterSamplesForm()
    rows = min(max(request.args.get("rows", 3, type=int), 1), 50)
    while len(form.items) < rows and not form.is_submitted():
        form.items.append_entry()
    location_ids = {}
    for entry in form.items:
        location_ids = _location_choices(entry.form.storage_location)
    if form.validate_on_submit():
        done = attempt(form, lambda: services.register_samples(
            g.user, case, [item.item_data(location_ids) for item in form.filled_items()],
            lab_prefix=_settings().lab_number_prefix))
        if done.ok:
            flash(f"Registered {', '.join(s.lab_number for s in done.value)}.")
            return redirect(url_for("intake.case", case_number=case.case_number))
    return render_template("intake/register.html", form=form, case=case), form_status(form)


@bp.route("/samples")
@permission_required("sample.list")
def samples():
    """All samples, newest first, keyset-paginated and filtered."""
    args = request.args
    page = services.list_samples(g.user, status=args.get("status", ""),
                                 case_number=args.get("case", "").strip().upper(),
                                 holder=args.get("holder", ""),
                                 after=id_arg("after"))
    filters = {k: v for k, v in args.items() if k != "after" and v}
    return render_template("intake/samples.html", page=page, statuses=SAMPLE_STATUSES,
                           filters=filters, locations=services.active_locations(),
                           people=services.staff_users())


@bp.route("/samples/<lab_number>")
@permission_required("sample.view")
def sample(lab_number: str):
    """One sample: description, holder, seal, status, sub-samples and actions."""
    sample = services.get_sample(g.user, lab_number)
    status_form = StatusForm()
    status_form.status.choices = [(s, s.replace("_", " "))
                                  for s in sorted(STATUS_TRANSITIONS[sample.status])]
    return render_template("intake/sample.html", sample=sample, status_form=status_form,
                           is_holder=sample.holder_user_id == g.user.id,
                           measurements=measurements_of(sample)
                           if can(g.user, "measurement.view") else [])


@bp.route("/samples/<lab_number>/edit", methods=["GET", "POST"])
@permission_required("sample.edit")
def edit_sample(lab_number: str):
    """Change the description or weights of a sample, with a reason."""
    sample = services.get_sample(g.user, lab_number)
    form = SampleEditForm(obj=sample)
    location_ids = _location_choices(form.storage_location)
    if not form.is_submitted():
        form.gross_weight.data = sample.gross_weight_mg
        form.net_weight.data = sample.net_weight_mg
        form.storage_location.data = sample.storage_location.code \
            if sample.storage_location else ""
    if form.validate_on_submit():
        data = {"description": form.description.data.strip(), "packaging": form.packaging.data,
                "unit_count": form.unit_count.data, "gross_weight_mg": form.gross_weight.data,
                "net_weight_mg": form.net_weight.data,
                "storage_location_id": location_ids.get(form.storage_location.data)}
        done = attempt(form, lambda: services.update_sample(g.user, sample, data,
                                                             form.reason.data))
        if done.ok:
            flash(_changes_saved(done.value))
            return redirect(url_for("intake.sample", lab_number=sample.lab_number))
    return render_template("intake/sample_edit.html", form=form, sample=sample), \
        form_status(form)


@bp.route("/samples/<lab_number>/status", methods=["POST"])
@permission_required("sample.status")
def change_status(lab_number: str):
    """Move a sample to another status with a reason."""
    sample = services.get_sample(g.user, lab_number)
    form = StatusForm()
    if not form.validate_on_submit():
        flash("Choose a status and give the reason.", "error")
    else:
        done = run(lambda: services.change_status(g.user, sample, form.status.data,
                                                  form.reason.data))
        if done.ok:
            flash(f"{sample.lab_number} is now {sample.status.replace('_', ' ')}.")
        else:
            flash(done.error.message, "error")
    return redirect(url_for("intake.sample", lab_number=sample.lab_number))


@bp.route("/samples/<lab_number>/subsample", methods=["GET", "POST"])
@permission_required("sample.register")
def subsample(lab_number: str):
    """Take a sub-sample or aliquot with its own lab number."""
    parent = services.get_sample(g.user, lab_number)
    form = SubsampleForm()
    if form.validate_on_submit():
        done = attempt(form, lambda: services.register_subsample(g.user, parent, {
            "description": form.description.data.strip(),
            "packaging": form.packaging.data, "net_weight_mg": form.net_weight.data,
            "current_seal": form.current_seal.data, "unit_count": 1}))
        if done.ok:
            flash(f"Sub-sample {done.value.lab_number} registered.")
            return redirect(url_for("intake.sample", lab_number=done.value.lab_number))
    return render_template("intake/subsample.html", form=form, parent=parent), \
        form_status(form)


def _label_response(samples, layout: str, fmt: str, name: str, back: str):
    """Count the print (a reprint needs a reason) and answer the PDF or ZPL, else go back."""
    done = run(lambda: print_labels(g.user, samples, layout, fmt, request.form.get("reason", ""),
                                    _settings().timezone))
    if not done.ok:
        flash(done.error.message, "error")
        return redirect(back + "#labels")
    body, mimetype = done.value
    return Response(body, mimetype=mimetype, headers={
        "Content-Disposition": content_disposition(f"{name}.{fmt}", "inline")})


@bp.route("/samples/<lab_number>/label.<fmt>", methods=["POST"])
@permission_required("label.print")
def sample_label(lab_number: str, fmt: str):
    """Print the label of one sample as PDF or ZPL (POST only: every print is counted)."""
    sample = services.get_sample(g.user, lab_number)
    if fmt not in ("pdf", "zpl"):
        return render_template("error.html", status=404, message="Labels are PDF or ZPL."), 404
    return _label_response([sample], "single", fmt, sample.lab_number,
                           url_for("intake.sample", lab_number=sample.lab_number))


@bp.route("/cases/<case_number>/labels.<fmt>", methods=["POST"])
@permission_required("label.print")
def case_labels(case_number: str, fmt: str):
    """Print a label sheet (PDF) or a ZPL batch for every sample of a case (POST only)."""
    case = services.get_case(g.user, case_number)
    if fmt not in ("pdf", "zpl") or not case.samples:
        return render_template("error.html", status=404,
                               message="No samples to label, or unknown format."), 404
    return _label_response(case.samples, "sheet", fmt, f"labels-{case.case_number}",
                           url_for("intake.case", case_number=case.case_number))


def _location_codes() -> dict[str, int]:
    return {loc.code: loc.id for loc in services.active_locations()}


def _store() -> FileStore:
    return file_store()


@bp.route("/cases/<case_number>/bulk", methods=["GET", "POST"])
@permission_required("intake.bulk")
def bulk(case_number: str):
    """Upload a CSV or XLSX sheet of items and preview it."""
    case = services.get_case(g.user, case_number)
    form = BulkUploadForm()
    if form.validate_on_submit():
        data = form.sheet.data.read()
        result = parse_sample_sheet(data, form.sheet.data.filename or "", _location_codes())
        sheet_id = _store().put(data) if result.rows and not result.errors else ""
        return render_template("intake/bulk_preview.html", case=case, result=result,
                               confirm=BulkConfirmForm(sheet_id=sheet_id),
                               filename=form.sheet.data.filename), \
            422 if result.errors else 200
    return render_template("intake/bulk.html", case=case, form=form), form_status(form)


@bp.route("/cases/<case_number>/bulk/confirm", methods=["POST"])
@permission_required("intake.bulk")
def bulk_confirm(case_number: str):
    """Import every row of a previewed sheet, or none."""
    case = services.get_case(g.user, case_number)
    form = BulkConfirmForm()
    if not form.validate_on_submit():
        flash("The preview expired; upload the sheet again.", "error")
        return redirect(url_for("intake.bulk", case_number=case.case_number))
    locations = _location_codes()
    result = parse_sample_sheet(_store().get(form.sheet_id.data), "sheet", locations)
    if result.errors or not result.rows:
        flash("The sheet has errors; nothing was imported.", "error")
        return redirect(url_for("intake.bulk", case_number=case.case_number))
    samples = committed(lambda: services.register_samples(g.user, case, [
        services.item_from_row(row, locations) for row in result.rows],
        lab_prefix=_settings().lab_number_prefix))
    flash(f"Imported {len(samples)} items: {samples[0].lab_number} to {samples[-1].lab_number}.")
    return redirect(url_for("intake.case", case_number=case.case_number))


@bp.route("/intake/template.csv")
@permission_required("intake.bulk")
def sheet_template():
    """A CSV template for bulk intake."""
    return Response(template_csv(), mimetype="text/csv", headers={
        "Content-Disposition": content_disposition("intake-template.csv")})


@bp.route("/locations", methods=["GET", "POST"])
@permission_required("location.view")
def locations():
    """Storage locations; admins and technicians add new ones."""
    form = LocationForm()
    if form.validate_on_submit():
        require(g.user, "case.create")
        done = attempt(form, lambda: services.create_location(g.user, form.code.data,
                                                               form.name.data))
        if done.ok:
            flash(f"Location {done.value.code} added.")
            return redirect(url_for("intake.locations"))
    return render_template("intake/locations.html", form=form,
                           locations=services.active_locations(),
                           can_add=can(g.user, "case.create")), form_status(form)
