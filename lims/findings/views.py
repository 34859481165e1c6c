"""Finding pages: record, techniques, substances, sampling, net weight, submit and review."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from lims.auth.access import permission_required
from lims.errors import DomainError, Invalid
from lims.findings import quantities, reading, workflow
from lims.findings.forms import (
    FindingForm,
    NetWeightForm,
    RemoveRowForm,
    SamplingForm,
    SubmitFindingForm,
    SubstanceForm,
    TechniqueForm,
)
from lims.findings.pages import page_context
from lims.findings.scheme import TECHNIQUES
from lims.forms import Attempt, apply_error, attempt, committed, form_status
from lims.intake.services import get_sample
from lims.library.services import search_substances
from lims.units import format_weight

bp = Blueprint("findings", __name__)


def _attempt(form, action) -> Attempt:
    """Run one service call and commit; input errors go on the form, other refusals propagate."""
    return attempt(form, action, refusals=Invalid)


def _back_to(finding, section: str | None = None):
    """Redirect to the finding page, at one of its sections."""
    return redirect(url_for("findings.finding", finding_id=finding.id, _anchor=section))


def _editable_finding(finding_id: int):
    """The finding of a row change, refused unless the user may edit it now."""
    finding = reading.get_finding(g.user, finding_id)
    reading.check_editable(g.user, finding)
    return finding


def _remove_row(finding_id: int, remove, removed: str, section: str):
    """Remove one technique or substance row of a draft and go back to its section."""
    finding = _editable_finding(finding_id)
    form = RemoveRowForm()
    if form.validate_on_submit():
        committed(lambda: remove(g.user, finding, form.row_id.data))
        flash(f"{removed} removed.")
    return _back_to(finding, section)


def _technique_form(finding, posted: bool = False) -> TechniqueForm:
    form = TechniqueForm() if posted else TechniqueForm(formdata=None)
    form.aliquot.choices = [(s.lab_number, f"{s.lab_number} ({s.kind})")
                            for s in reading.family(finding.sample)]
    form.measurement_id.choices = [("", "— none —")] + [
        (str(m.id), f"#{m.id} {m.original_filename} · {m.format_label} · {m.sample.lab_number}")
        for m in reading.linkable_measurements(finding.sample)]
    form.search_hit_id.choices = [("", "— none —")] + [
        (str(h.id), f"{h.substance_name} · {h.search.library_name} {h.search.library_version},"
                    f" search {h.search_id}, rank {h.rank}, score {h.score:.4g}")
        for h in reading.linkable_hits(finding.sample)]
    return form


def _substance_form(finding, posted: bool = False) -> SubstanceForm:
    form = SubstanceForm() if posted else SubstanceForm(formdata=None)
    suggested = {h.entry.substance.id: h.entry.substance
                 for h in reading.linkable_hits(finding.sample) if h.entry.substance}
    others = [s for s in search_substances("", limit=1000) if s.id not in suggested]
    form.substance_id.choices = [("", "— choose —")] + [
        (str(s.id), f"{s.name} (accepted hit)") for s in suggested.values()] + [
        (str(s.id), f"{s.name}{' · ' + s.cas if s.cas else ''}") for s in others]
    return form


def _page(finding, technique_form=None, substance_form=None):
    technique_form = technique_form or _technique_form(finding)
    substance_form = substance_form or _substance_form(finding)
    return render_template(
        "findings/finding.html", **page_context(g.user, finding),
        technique_form=technique_form, substance_form=substance_form,
        remove_form=RemoveRowForm(formdata=None)), \
        max(form_status(technique_form), form_status(substance_form))


def _refused_on_get(check, finding):
    """On GET, a refused step sends the user back to the finding with the reason."""
    try:
        check(g.user, finding)
    except DomainError as error:
        if request.method != "GET":
            raise
        flash(error.message, "error")
        return _back_to(finding)
    return None


def _calculator(finding, form, template: str, *, preview, save, saved: str, section: str):
    """A calculator page: preview what the form gives, or save it and go back to the finding."""
    result = None
    if form.validate_on_submit():
        if not form.save.data:
            try:
                result = preview()
            except Invalid as error:
                apply_error(form, error)
        elif _attempt(form, save).ok:
            flash(saved)
            return _back_to(finding, section)
    return render_template(template, form=form, finding=finding, sample=finding.sample,
                           preview=result), form_status(form)


@bp.route("/samples/<lab_number>/findings/new", methods=["GET", "POST"])
@permission_required("finding.edit")
def new(lab_number: str):
    """Start the finding of a sample."""
    sample = get_sample(g.user, lab_number)
    existing = reading.current_finding(sample)
    if existing is not None and request.method == "GET":
        flash(f"{sample.lab_number} already has finding {existing.id}.")
        return _back_to(existing)
    form = FindingForm()
    if form.validate_on_submit():
        done = _attempt(form, lambda: workflow.create_finding(g.user, sample,
                                                              form.finding_data()))
        if done.ok:
            flash("Finding started. Add the techniques and the substance.")
            return _back_to(done.value)
    return render_template("findings/edit.html", form=form, sample=sample, finding=None), \
        form_status(form)


@bp.route("/findings/<int:finding_id>")
@permission_required("finding.view")
def finding(finding_id: int):
    """A finding: gate status, techniques with their data, substances, sampling, review."""
    return _page(reading.get_finding(g.user, finding_id))


@bp.route("/findings/<int:finding_id>/edit", methods=["GET", "POST"])
@permission_required("finding.edit")
def edit(finding_id: int):
    """Change the result, scope, conclusion and limitations of a draft."""
    finding = reading.get_finding(g.user, finding_id)
    refused = _refused_on_get(reading.check_editable, finding)
    if refused:
        return refused
    form = FindingForm(obj=finding)
    if form.validate_on_submit() and _attempt(
            form, lambda: workflow.update_finding(g.user, finding, form.finding_data())).ok:
        flash("Finding saved.")
        return _back_to(finding)
    return render_template("findings/edit.html", form=form, sample=finding.sample,
                           finding=finding), form_status(form)


@bp.route("/findings/<int:finding_id>/techniques", methods=["POST"])
@permission_required("finding.edit")
def add_technique(finding_id: int):
    """Add a technique result."""
    finding = _editable_finding(finding_id)
    form = _technique_form(finding, posted=True)
    if form.validate_on_submit() and _attempt(
            form, lambda: workflow.add_technique(g.user, finding, form.technique_data())).ok:
        flash(f"{TECHNIQUES[form.technique.data].name} added.")
        return _back_to(finding, "techniques")
    return _page(finding, technique_form=form)


@bp.route("/findings/<int:finding_id>/techniques/remove", methods=["POST"])
@permission_required("finding.edit")
def remove_technique(finding_id: int):
    """Remove a technique result."""
    return _remove_row(finding_id, workflow.remove_technique, "Technique", "techniques")


@bp.route("/findings/<int:finding_id>/substances", methods=["POST"])
@permission_required("finding.edit")
def add_substance(finding_id: int):
    """Add a substance identified."""
    finding = _editable_finding(finding_id)
    form = _substance_form(finding, posted=True)
    if form.validate_on_submit() and _attempt(
            form, lambda: workflow.add_substance(g.user, finding, form.substance_data())).ok:
        flash("Substance added.")
        return _back_to(finding, "substances")
    return _page(finding, substance_form=form)


@bp.route("/findings/<int:finding_id>/substances/remove", methods=["POST"])
@permission_required("finding.edit")
def remove_substance(finding_id: int):
    """Remove a substance."""
    return _remove_row(finding_id, workflow.remove_substance, "Substance", "substances")


@bp.route("/findings/<int:finding_id>/sampling", methods=["GET", "POST"])
@permission_required("finding.edit")
def sampling(finding_id: int):
    """The sampling calculator: preview the plan and the units, then save it."""
    finding = reading.get_finding(g.user, finding_id)
    refused = _refused_on_get(reading.check_editable, finding)
    if refused:
        return refused
    form = SamplingForm()
    if not form.is_submitted():
        form.population.data = finding.population or finding.sample.unit_count
        if finding.sampling_method:
            form.method.data, form.negatives.data = finding.sampling_method, finding.negatives
            form.proportion.data = round(finding.proportion * 100, 4) \
                if finding.proportion else 90
            form.confidence.data = round(finding.confidence * 100, 4) \
                if finding.confidence else 95
            form.seed.data, form.tested.data = finding.seed, finding.tested
            form.positives.data = finding.positives
    return _calculator(finding, form, "findings/sampling.html",
                       preview=lambda: quantities.preview_sampling(form.sampling_data()),
                       save=lambda: quantities.set_sampling(g.user, finding, form.sampling_data()),
                       saved="Sampling plan saved.", section="sampling")


@bp.route("/findings/<int:finding_id>/net-weight", methods=["GET", "POST"])
@permission_required("finding.edit")
def net_weight(finding_id: int):
    """Net weight: measured total, or extrapolated with its confidence interval."""
    finding = reading.get_finding(g.user, finding_id)
    refused = _refused_on_get(reading.check_editable, finding)
    if refused:
        return refused
    form = NetWeightForm()
    if not form.is_submitted():
        form.population.data = finding.population or finding.sample.unit_count
        if finding.net_weight_method:
            form.method.data = "extrapolated" if finding.unit_weights_mg else "measured"
            form.net_weight.data = finding.net_weight_mg
            form.unit_weights.data = "\n".join(format_weight(w) for w in
                                               finding.unit_weights_mg)
    return _calculator(finding, form, "findings/net_weight.html",
                       preview=lambda: quantities.weight_from(finding, form.weight_data()),
                       save=lambda: quantities.set_net_weight(g.user, finding, form.weight_data()),
                       saved="Net weight saved.", section="net-weight")


@bp.route("/findings/<int:finding_id>/submit", methods=["GET", "POST"])
@permission_required("finding.edit")
def submit(finding_id: int):
    """Check before you submit: the gate, what will be signed and its meaning, the password."""
    finding = reading.get_finding(g.user, finding_id)
    refused = _refused_on_get(reading.check_editable, finding)
    if refused:
        return refused
    form = SubmitFindingForm()
    if form.validate_on_submit() and _attempt(
            form, lambda: workflow.submit(g.user, finding, form.password.data,
                                          form.code.data or "")).ok:
        flash(f"Finding {finding.id} signed as performed and submitted for review.")
        return _back_to(finding)
    return render_template("findings/submit.html", form=form, **page_context(g.user, finding)), \
        form_status(form)
