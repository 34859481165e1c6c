"""JSON API v1 route of library searches."""

from __future__ import annotations

from flask import Blueprint, g, url_for

from lims.api import http
from lims.api.openapi import register
from lims.auth.access import login_required, require
from lims.errors import Invalid
from lims.library import services as library
from lims.measurements.services import get_spectrum
from lims.processing import Recipe
from lims.search import services as searches
from lims.search.forms import SearchRequest

bp = Blueprint("api_search", __name__, url_prefix="/api/v1")


def _recipe(body: dict) -> Recipe:
    """The optional `recipe` object of a search request (422 naming the bad step)."""
    raw = body.pop("recipe", None)
    if raw is None:
        return Recipe()
    if not isinstance(raw, dict):
        raise Invalid("recipe: send an object such as {\"smoothing_window\": 11}.", "recipe")
    try:
        return Recipe.from_dict(raw)
    except ValueError as error:
        raise Invalid(f"recipe: {error}", "recipe") from error


@bp.route("/spectra/<int:spectrum_id>/search", methods=["POST"])
@login_required
def search_spectrum(spectrum_id: int):
    """Search a spectrum against a library; the search and its hits are stored."""
    require(g.user, "search.run")
    spectrum = get_spectrum(g.user, spectrum_id)
    body = http.json_body()
    recipe = _recipe(body)
    form = http.validate(SearchRequest, body)
    library_row = library.get_library_by_name(form.library.data,
                                              form.library_version.data or None)
    search = http.commit(lambda: searches.run_search(
        g.user, spectrum, library_row, algorithm=form.algorithm.data, top=form.top.data or 10,
        recipe=recipe))
    return http.created({
        "search_id": search.id, "url": url_for("search.result", search_id=search.id),
        "spectrum_id": spectrum.id, "library": search.library_name,
        "library_version": search.library_version, "library_sha256": search.library_sha256,
        "algorithm": search.algorithm, "algorithm_label": search.algorithm_label,
        "recipe": search.recipe, "recipe_sha256": search.recipe_sha256,
        "hits": [searches.hit_json(hit, library_row) for hit in search.hits]})


HIT = {"type": "object", "properties": {
    "rank": {"type": "integer"}, "substance": {"type": "string"}, "cas": {"type": "string"},
    "score": {"type": "number", "description": "display value (HQI 0-100, cosine, MF 0-999)"},
    "raw": {"type": "number", "description": "exact float64 r, cosine, distance or MF"},
    "matches": {"type": ["integer", "null"]}, "entry_id": {"type": "integer"},
    "library": {"type": "string"}, "library_version": {"type": "string"},
    "decision": {"type": ["string", "null"]}}}
SEARCH_RESULT = {"type": "object", "properties": {
    "search_id": {"type": "integer"}, "url": {"type": "string"},
    "spectrum_id": {"type": "integer"}, "library": {"type": "string"},
    "library_version": {"type": "string"}, "library_sha256": {"type": "string"},
    "algorithm": {"type": "string"}, "algorithm_label": {"type": "string"},
    "recipe": {"type": "object"}, "recipe_sha256": {"type": "string"},
    "hits": {"type": "array", "items": HIT}}}


@register
def _paths() -> dict:
    search = http.form_schema(SearchRequest)
    search["properties"]["recipe"] = {
        "type": "object", "description": "Processing recipe applied first (optional)"}
    return {
        "/api/v1/spectra/{spectrum_id}/search": {"post": {
            "summary": "Search a spectrum against a reference library (stored, audited)",
            "parameters": [http.path_param("spectrum_id", "Spectrum id")],
            "requestBody": http.request_body(search),
            "responses": http.responses("201", SEARCH_RESULT,
                                        errors=(400, 401, 403, 404, 409, 422))}},
    }
