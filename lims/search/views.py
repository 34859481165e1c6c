"""Library searches from the spectrum page, stored results and hit decisions."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, url_for

from lims import forms
from lims.auth.access import can, permission_required
from lims.errors import Invalid
from lims.forms import REFUSED, attempt, field_errors
from lims.library import services as library
from lims.measurements.services import get_spectrum
from lims.processing import Recipe
from lims.search import services
from lims.search.forms import HitDecisionForm, SearchForm
from lims.search.panel import search_form

bp = Blueprint("search", __name__)


@bp.route("/spectra/<int:spectrum_id>/search", methods=["POST"])
@permission_required("search.run")
def run(spectrum_id: int):
    """Search a spectrum, processed by the posted recipe, and store the result."""
    spectrum = get_spectrum(g.user, spectrum_id)
    form = search_form(spectrum, posted=True)
    if form.validate_on_submit():
        done = forms.run(lambda: _search(spectrum, form))
        if done.ok:
            return redirect(url_for("search.result", search_id=done.value.id))
        error = done.error.message
    else:
        error = "; ".join(f"{field.label.text}: {message}"
                          for field, message in field_errors(form))
    return render_template("search/error.html", spectrum=spectrum, error=error), REFUSED


def _search(spectrum, form: SearchForm):
    """Run the posted search; a recipe that cannot be applied is refused as the recipe's."""
    try:
        return services.run_search(g.user, spectrum, library.get_library(int(form.library.data)),
                                   algorithm=form.algorithm.data, top=form.top.data,
                                   recipe=Recipe.from_json(form.recipe.data or "{}"))
    except ValueError as problem:
        raise Invalid(f"Processing recipe: {problem}", "recipe") from problem


def _render_result(search, form: HitDecisionForm, failed_hit: int | None = None):
    overlays = [f"entry:{hit.entry_id}" for hit in search.hits[:3]]
    return render_template("search/result.html", search=search,
                           recipe_summary=Recipe.from_dict(search.recipe).describe(),
                           overlay_top=overlays[:1], overlay_top3=overlays,
                           decision_form=form, failed_hit=failed_hit,
                           can_decide=can(g.user, "search.decide"))


@bp.route("/searches/<int:search_id>")
@permission_required("measurement.view")
def result(search_id: int):
    """A stored search: library version, algorithm, recipe, ranked hits and decisions."""
    return _render_result(services.get_search(g.user, search_id), HitDecisionForm(formdata=None))


@bp.route("/searches/<int:search_id>/hits/<int:hit_id>/decision", methods=["POST"])
@permission_required("search.decide")
def decide(search_id: int, hit_id: int):
    """Accept or reject one hit with a comment (audited)."""
    search = services.get_search(g.user, search_id)
    hit = services.get_hit(search, hit_id)
    form = HitDecisionForm()
    if form.validate_on_submit() and attempt(form, lambda: services.decide_hit(
            g.user, hit, form.decision.data, form.comment.data)).ok:
        flash(f"Hit {hit.rank} ({hit.substance_name}) {form.decision.data}.")
        return redirect(url_for("search.result", search_id=search.id))
    return _render_result(search, form, hit.id), REFUSED
