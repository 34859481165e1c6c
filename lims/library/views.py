"""Reference libraries (list, import, entries, approval) and substances with legal status."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for

from lims.auth.access import can, permission_required, require
from lims.db import utcnow
from lims.forms import attempt, form_status
from lims.library import services
from lims.library.forms import (
    ApprovalForm,
    EndStatusForm,
    ImportForm,
    LegalStatusForm,
    SubstanceForm,
)
from lims.web import id_arg

bp = Blueprint("library", __name__)


def _lab_today():
    return utcnow().astimezone(current_app.config["LIMS"].timezone).date()


@bp.route("/libraries", methods=["GET", "POST"])
@permission_required("library.view")
def libraries():
    """The imported libraries; chemists, reviewers and admins import new ones."""
    form = ImportForm()
    if form.is_submitted():
        require(g.user, "library.manage")
    if form.validate_on_submit():
        upload = form.file.data
        done = attempt(form, lambda: services.import_library(
            g.user, upload.read(), upload.filename or "library", name=form.name.data,
            version=form.version.data, adapter=form.adapter.data or None,
            description=form.description.data or ""))
        if done.ok:
            flash(f"{done.value.label} imported with {done.value.entry_count} entries.")
            return redirect(url_for("library.library", library_id=done.value.id))
    return render_template("library/libraries.html", form=form,
                           libraries=services.list_libraries(),
                           can_manage=can(g.user, "library.manage")), form_status(form)


def _library_page(library, approval: ApprovalForm):
    page = services.entries(library, after=id_arg("after"))
    return render_template("library/library.html", library=library, page=page,
                           approval=approval, can_manage=can(g.user, "library.manage")), \
        form_status(approval)


@bp.route("/libraries/<int:library_id>")
@permission_required("library.view")
def library(library_id: int):
    """One library: where it came from, its index, and its entries in file order."""
    library = services.get_library(library_id)
    approval = ApprovalForm(formdata=None, approved="0" if library.approved else "1")
    return _library_page(library, approval)


@bp.route("/libraries/<int:library_id>/approval", methods=["POST"])
@permission_required("library.manage")
def approval(library_id: int):
    """Put a library on the approved list for casework or take it off, with a reason."""
    library = services.get_library(library_id)
    form = ApprovalForm()
    if not (form.validate_on_submit() and attempt(form, lambda: services.set_library_approval(
            g.user, library, form.approved.data == "1", form.reason.data)).ok):
        return _library_page(library, form)
    flash(f"{library.label} is {'approved' if library.approved else 'not approved'} "
          "for casework.")
    return redirect(url_for("library.library", library_id=library.id))


@bp.route("/substances")
@permission_required("library.view")
def substances():
    """Substances found by name, synonym or CAS number."""
    text = request.args.get("q", "").strip()
    return render_template("library/substances.html", query=text,
                           substances=services.search_substances(text))


def _substance_page(substance, status_form: LegalStatusForm):
    today = _lab_today()
    in_force = {s.id for s in services.legal_status_on(substance, today)}
    return render_template("library/substance.html", substance=substance, today=today,
                           in_force=in_force, status_form=status_form,
                           end_form=EndStatusForm(formdata=None),
                           entries=services.substance_entries(substance),
                           can_manage=can(g.user, "library.manage")), form_status(status_form)


@bp.route("/substances/<int:substance_id>")
@permission_required("library.view")
def substance(substance_id: int):
    """A substance: identifiers, library entries and its dated legal status."""
    return _substance_page(services.get_substance(substance_id),
                           LegalStatusForm(formdata=None))


@bp.route("/substances/<int:substance_id>/legal-status", methods=["POST"])
@permission_required("library.manage")
def add_status(substance_id: int):
    """Record a dated control-list entry of a substance."""
    substance = services.get_substance(substance_id)
    form = LegalStatusForm()
    if not (form.validate_on_submit() and attempt(
            form, lambda: services.add_legal_status(g.user, substance, form.status_data())).ok):
        return _substance_page(substance, form)
    flash(f"Legal status recorded for {substance.name}.")
    return redirect(url_for("library.substance", substance_id=substance.id))


@bp.route("/legal-status/<int:status_id>/end", methods=["POST"])
@permission_required("library.manage")
def end_status(status_id: int):
    """End an open legal-status entry from a date, with the reason."""
    entry = services.get_legal_status(status_id)
    form = EndStatusForm()
    if form.validate_on_submit():
        done = attempt(form, lambda: services.end_legal_status(
            g.user, entry, form.effective_to.data, form.reason.data))
        if done.ok:
            flash(f"{entry.regime} {entry.schedule} ends on {entry.effective_to}.")
        else:
            flash(done.error.message, "error")
    else:
        flash("Give the end date and the reason.", "error")
    return redirect(url_for("library.substance", substance_id=entry.substance_id))


@bp.route("/substances/<int:substance_id>/edit", methods=["GET", "POST"])
@permission_required("library.manage")
def edit_substance(substance_id: int):
    """Change a substance's name, CAS number, formula, synonyms or notes, with a reason."""
    substance = services.get_substance(substance_id)
    # Field-shaped current values: a field left out of the POST keeps its current text
    # (synonyms one per line), never the raw list that obj= would give it.
    form = SubstanceForm(data={"name": substance.name, "cas": substance.cas or "",
                               "formula": substance.formula or "", "notes": substance.notes or "",
                               "synonyms": "\n".join(substance.synonyms)})
    if form.validate_on_submit() and attempt(form, lambda: services.update_substance(
            g.user, substance, form.substance_data(), form.reason.data)).ok:
        flash(f"{substance.name} saved.")
        return redirect(url_for("library.substance", substance_id=substance.id))
    return render_template("library/substance_edit.html", form=form, substance=substance), \
        form_status(form)
