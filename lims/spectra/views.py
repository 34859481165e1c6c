"""The spectrum page: processing recipe, peaks, overlays, viewer data and document plots."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

import numpy as np
from flask import Blueprint, Response, g, jsonify, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from lims import processing
from lims.auth.access import permission_required
from lims.library import services as library
from lims.measurements.models import SpectrumRecord
from lims.measurements.services import get_spectrum, measurements_of
from lims.plots import (
    Placement,
    decimate,
    overlay_figure,
    peak_label,
    place_series,
    reverse_x,
    to_png,
    to_svg,
)
from lims.processing import Peak, Recipe, RecipeError
from lims.search.panel import panel_context
from lims.series import Series
from lims.spectra.forms import RecipeForm, parse_overlays

bp = Blueprint("spectra", __name__)

VIEWER_MAX_POINTS = 20_000


def _label(record: SpectrumRecord) -> str:
    measurement = record.measurement
    return (f"{measurement.sample.lab_number} · {record.title or measurement.original_filename}"
            f" (spectrum {record.id})")


def record_series(record: SpectrumRecord, role: str = "sample") -> Series:
    """A stored spectrum as a Series."""
    return Series(label=_label(record), x=record.x, y=record.y, x_unit=record.x_unit,
                  y_unit=record.y_unit, technique=record.technique, kind=record.kind, role=role)


def _overlay_series(spectrum: SpectrumRecord, kind: str, ident: int) -> Series:
    if kind == "spectrum":
        series = record_series(get_spectrum(g.user, ident), role="overlay")
    else:
        series = library.entry_series(g.user, ident)
    if series.x_unit != spectrum.x_unit:
        raise RecipeError("overlay", f"{series.label} has x in {series.x_unit}, the spectrum "
                                     f"in {spectrum.x_unit}")
    return series


@dataclass
class Review:
    """Everything the page, the viewer data and the plots show of one processed spectrum."""

    recipe: Recipe
    series: list[Series]  # the processed spectrum first, then the processed overlays
    peaks: list[Peak]
    stacked: bool
    normalised: bool
    notes: list[str] = field(default_factory=list)

    def placements(self) -> list[Placement]:
        """Where each curve is drawn (scale and offset)."""
        return place_series(self.series, stacked=self.stacked, normalised=self.normalised)


def _process(recipe: Recipe, series: Series, notes: list[str]) -> Series:
    seen: list[str] = []
    x, y, y_unit = processing.apply(recipe, series.x, series.y, series.y_unit,
                                    kind=series.kind, notes=seen)
    notes.extend(seen if series.role == "sample" else [f"{series.label}: {n}" for n in seen])
    return replace(series, x=x, y=y, y_unit=y_unit)


def review(spectrum: SpectrumRecord, form: RecipeForm, args: MultiDict) -> Review:
    """Process the spectrum and its overlays by the form; RecipeError names a bad field."""
    if not form.validate() or (recipe := form.recipe()) is None:
        name, message = form.first_error()
        raise RecipeError(name, message)
    notes: list[str] = []
    sample = _process(recipe, record_series(spectrum), notes)
    overlays = [_process(recipe, _overlay_series(spectrum, kind, ident), notes)
                for kind, ident in parse_overlays(args.getlist("overlay"))]
    peaks = processing.pick_peaks(
        sample.x, sample.y, **form.peak_options(), kind=sample.kind,
        minima=processing.picks_minima(recipe, spectrum.y_unit))
    return Review(recipe, [sample, *overlays], peaks, form.layout.data == "stacked",
                  form.scale.data == "max", notes)


def _load(spectrum_id: int) -> tuple[SpectrumRecord, RecipeForm]:
    return get_spectrum(g.user, spectrum_id), RecipeForm(formdata=request.args)


def _floats(values: np.ndarray) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in values.tolist()]


def viewer_data(result: Review, x_unit: str, technique: str) -> dict:
    """The JSON the browser viewer draws (x ascending, at most VIEWER_MAX_POINTS a curve)."""
    out = []
    placements = result.placements()
    for placed in placements:
        item = placed.series
        order = np.argsort(item.x, kind="stable")
        x, y = item.x[order], placed.display(item.y[order])
        if item.kind != "peaks":
            x, y = decimate(x, y, VIEWER_MAX_POINTS)
        out.append({"label": item.label, "role": item.role, "kind": item.kind,
                    "y_unit": item.y_unit, "scale": placed.scale, "offset": placed.offset,
                    "x": _floats(x), "y": _floats(y)})
    peak_y = placements[0].display(np.array([p.y for p in result.peaks]))
    return {"x_unit": x_unit, "y_unit": result.series[0].y_unit,
            "reverse_x": reverse_x(technique, x_unit), "stacked": result.stacked,
            "normalised": result.normalised, "series": out,
            "peaks": [{"x": p.x, "y": float(y), "prominence": p.prominence,
                       "label": peak_label(p.x, x_unit)}
                      for p, y in zip(result.peaks, peak_y, strict=True)],
            "recipe": result.recipe.to_dict(),
            "recipe_summary": result.recipe.describe(x_unit=x_unit, kind=result.series[0].kind),
            "recipe_sha256": result.recipe.sha256, "notes": result.notes}


def _figure(record: SpectrumRecord, result: Review):
    return overlay_figure(result.series, stacked=result.stacked, normalised=result.normalised,
                          peaks=[(p.x, p.y, peak_label(p.x, record.x_unit)) for p in
                                 sorted(result.peaks, key=lambda p: -p.prominence)],
                          title=_label(record), width=8.0, height=4.0)


def _peak_rows(peaks: list[Peak], x_unit: str) -> list[dict]:
    return [{"position": f"{p.x:.6g} {x_unit}", "height": f"{p.y:.4g}",
             "prominence": f"{p.prominence:.4g}",
             "width": "—" if p.width is None else f"{p.width:.3g} {x_unit}"} for p in peaks]


def _overlay_choices(spectrum: SpectrumRecord, chosen: list[tuple[str, int]]) -> list[dict]:
    choices = []
    for measurement in measurements_of(spectrum.measurement.sample):
        for other in measurement.spectra:
            if other.id != spectrum.id and other.technique == spectrum.technique:
                choices.append({"value": f"spectrum:{other.id}", "label": _label(other),
                                "checked": ("spectrum", other.id) in chosen,
                                "url": url_for("spectra.spectrum", spectrum_id=other.id)})
    return choices


def _calibration(spectrum: SpectrumRecord) -> str:
    measurement = spectrum.measurement
    instrument = measurement.instrument
    if instrument is None:
        return "No instrument recorded."
    due = f"calibration due {instrument.calibration_due}" if instrument.calibration_due \
        else "no calibration due date"
    if measurement.out_of_calibration:
        return f"Past its calibration due date when measured ({due})."
    return f"In calibration when measured ({due})."


@bp.route("/spectra/<int:spectrum_id>")
@permission_required("measurement.view")
def spectrum(spectrum_id: int):
    """A spectrum with its processing recipe, peaks, overlays, metadata and library search."""
    record, form = _load(spectrum_id)
    status, query = 200, request.query_string.decode()
    try:
        result = review(record, form, request.args)
    except RecipeError as error:
        if error.field not in {f.name for f in form}:
            form.form_errors.append(str(error))
        elif error.message not in getattr(form, error.field).errors:
            form.add_error(error.field, error.message)
        # Show the measured spectrum (with the overlays, unless they are what is wrong).
        kept = MultiDict() if error.field == "overlay" else \
            MultiDict([("overlay", v) for v in request.args.getlist("overlay")])
        status, query = 400, urlencode(list(kept.items(multi=True)))
        result = review(record, RecipeForm(formdata=None), kept)
    try:
        chosen = parse_overlays(request.args.getlist("overlay"))
    except RecipeError:
        chosen = []
    suffix = f"?{query}" if query else ""
    measurement = record.measurement
    return render_template(
        "spectra/spectrum.html", spectrum=record, measurement=measurement, form=form,
        summary=result.recipe.describe(x_unit=record.x_unit, kind=record.kind),
        recipe=result.recipe, notes=result.notes,
        peaks=_peak_rows(result.peaks, record.x_unit),
        peak_kind="minima" if processing.picks_minima(result.recipe, record.y_unit)
        else "maxima",
        overlay_choices=_overlay_choices(record, chosen),
        entry_overlays=[f"entry:{ident}" for kind, ident in chosen if kind == "entry"],
        calibration=_calibration(record),
        data_url=url_for("spectra.data", spectrum_id=record.id) + suffix,
        png_url=url_for("spectra.plot_png", spectrum_id=record.id) + suffix,
        svg_url=url_for("spectra.plot_svg", spectrum_id=record.id) + suffix,
        raw_url=url_for("measurements.raw", measurement_id=measurement.id),
        **panel_context(g.user, record, result.recipe)), status


@bp.errorhandler(RecipeError)
def _bad_parameter(error: RecipeError):
    return jsonify({"error": str(error), "field": error.field}), 400


@bp.route("/spectra/<int:spectrum_id>/data.json")
@permission_required("measurement.view")
def data(spectrum_id: int):
    """The processed spectrum, overlays and peaks for the browser viewer."""
    record, form = _load(spectrum_id)
    return jsonify(viewer_data(review(record, form, request.args), record.x_unit,
                               record.technique))


@bp.route("/spectra/<int:spectrum_id>/plot.svg")
@permission_required("measurement.view")
def plot_svg(spectrum_id: int):
    """The processed and overlaid view as SVG, for documents."""
    record, form = _load(spectrum_id)
    return Response(to_svg(_figure(record, review(record, form, request.args))),
                    mimetype="image/svg+xml")


@bp.route("/spectra/<int:spectrum_id>/plot.png")
@permission_required("measurement.view")
def plot_png(spectrum_id: int):
    """The processed and overlaid view as PNG (the page's fallback without JavaScript)."""
    record, form = _load(spectrum_id)
    return Response(to_png(_figure(record, review(record, form, request.args))),
                    mimetype="image/png")
