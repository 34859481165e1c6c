"""The search panel of the spectrum page: the form for a spectrum and its earlier searches."""

from __future__ import annotations

from lims.auth.access import can
from lims.library import services as library
from lims.processing import Recipe
from lims.search import services
from lims.search.forms import SearchForm


def search_form(spectrum, *, posted: bool = False) -> SearchForm:
    """The search form for a spectrum: approved libraries of its technique, its algorithms."""
    kind = services.library_kind(spectrum.technique, spectrum.kind)
    form = SearchForm() if posted else SearchForm(formdata=None)
    form.library.choices = [
        (str(lib.id), f"{lib.name} {lib.version} ({lib.entry_count} spectra)")
        for lib in library.list_libraries(kind=kind, approved_only=True)
        if lib.technique == spectrum.technique]
    form.algorithm.choices = [(a.name, a.label) for a in services.algorithms_for(kind)]
    if not posted:
        form.algorithm.data = services.default_algorithm(kind)
    return form


def panel_context(user, spectrum, recipe) -> dict:
    """What the spectrum page needs to show the search panel and earlier searches."""
    form = search_form(spectrum)
    form.recipe.data = recipe.to_json() if recipe is not None else Recipe().to_json()
    return {"search_form": form, "searches": services.searches_of(spectrum),
            "can_search": can(user, "search.run")}
