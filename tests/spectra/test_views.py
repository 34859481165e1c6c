"""The spectrum page, its viewer data and document plots: access, recipes, overlays, errors."""

from pathlib import Path

import numpy as np
import pytest

from lims.db import db
from lims.measurements.models import SpectrumRecord
from lims.processing import Recipe, apply
from tests.spectra.files import AXIS, jcamp

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
@pytest.fixture
def lab(app, make_user, make_case, make_samples):
    """A chemist, one sample with two IR spectra and the small fixture file, investigators."""
    from lims.measurements.services import import_file

    tech = make_user("technician", username="tech1")
    make_user("chemist", username="chem1")
    inv = make_user("investigator", username="inv1")
    make_user("investigator", username="inv2")
    case = make_case(tech, investigators=[inv])
    sample = make_samples(tech, case)[0]
    with app.app_context():
        actor, item = db.session.merge(tech), db.session.merge(sample)
        ids = []
        for data, name in [(jcamp("Seized powder", [(1700, 0.8), (2950, 0.4), (1250, 0.6)],
                                  baseline=0.1), "powder.jdx"),
                           (jcamp("Second aliquot", [(1700, 0.7), (1250, 0.5)]), "again.jdx"),
                           ((FIXTURES / "ir_small.jdx").read_bytes(), "ir_small.jdx"),
                           (jcamp("In %T", [(1600, -60.0)], yunits="% TRANSMITTANCE",
                                  baseline=95.0), "percent_t.jdx")]:
            ids.append(import_file(actor, item, data, name, None, None).spectra[0].id)
        db.session.commit()
    return {"main": ids[0], "other": ids[1], "small": ids[2], "percent_t": ids[3],
            "sample": sample.lab_number}


@pytest.fixture
def chemist(client, login, lab):
    login(client, "chem1")
    return client


def test_page_shows_plot_peaks_metadata_and_links(chemist, lab):
    response = chemist.get(f"/spectra/{lab['main']}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="spectrum-plot"' in page and f'data-url="/spectra/{lab["main"]}/data.json"' in page
    assert f"/spectra/{lab['main']}/plot.png" in page  # fallback without JavaScript
    assert 'id="peak-table"' in page
    for position in ("1250 cm-1", "1700 cm-1", "2950 cm-1"):
        assert position in page
    assert 'id="metadata-table"' in page and "jcamp:" in page.lower()
    assert lab["sample"] in page and "download the raw file" in page
    assert "No instrument recorded." in page
    assert 'id="search-panel"' in page
    assert f'value="spectrum:{lab["other"]}"' in page  # overlay checklist
    assert f'value="spectrum:{lab["main"]}"' not in page


def test_measurement_page_links_each_spectrum_to_its_page(app, chemist, lab):
    with app.app_context():
        measurement_id = db.session.get(SpectrumRecord, lab["main"]).measurement_id
    page = chemist.get(f"/measurements/{measurement_id}").get_data(as_text=True)
    assert f'href="/spectra/{lab["main"]}"' in page


def test_investigators_and_strangers_see_nothing(client, login, lab):
    assert client.get(f"/spectra/{lab['main']}").status_code == 302  # to the login page
    for username in ("inv1", "inv2"):  # assigned to the case or not: no measurement access
        login(client, username)
        for path in ("", "/data.json", "/plot.svg"):
            assert client.get(f"/spectra/{lab['main']}{path}").status_code == 403
    login(client, "chem1")
    assert client.get("/spectra/999999").status_code == 404
    assert client.get("/spectra/999999/data.json").status_code == 404


def test_data_json_equals_apply_on_the_stored_arrays(app, chemist, lab):
    query = ("region=3500-800&absorbance=no&baseline=rubberband&smooth_window=11"
             "&smooth_order=3&normalise=vector")
    body = chemist.get(f"/spectra/{lab['main']}/data.json?{query}").get_json()
    recipe = Recipe(region=(3500, 800), baseline="rubberband", smooth_window=11,
                    smooth_order=3, normalise="vector")
    with app.app_context():
        record = db.session.get(SpectrumRecord, lab["main"])
        x, y, y_unit = apply(recipe, record.x, record.y, record.y_unit)
    assert body["recipe"] == recipe.to_dict()
    assert body["recipe_summary"] == recipe.describe(x_unit="cm-1")
    assert body["x_unit"] == "cm-1" and body["y_unit"] == y_unit and body["reverse_x"] is True
    (series,) = body["series"]
    assert series["role"] == "sample" and series["kind"] == "continuous"
    order = np.argsort(x, kind="stable")  # the viewer gets x ascending
    assert series["x"] == x[order].tolist()
    assert series["y"] == y[order].tolist()
    assert [round(p["x"]) for p in body["peaks"]] == [1250, 1700, 2950]
    assert {p["label"] for p in body["peaks"]} == {"1250", "1700", "2950"}


def test_bad_recipe_parameters_are_400_naming_the_field(chemist, lab):
    for query, field in [("smooth_window=4", "smooth_window"), ("region=4000-abc", "region"),
                         ("masks=2400-2280,oops", "masks"), ("baseline=spline", "baseline"),
                         ("derivative=1", "derivative"), ("overlay=nonsense", "overlay"),
                         ("region=9000-8000", "region"), ("max_peaks=0", "max_peaks")]:
        response = chemist.get(f"/spectra/{lab['main']}/data.json?{query}")
        assert response.status_code == 400, query
        assert response.get_json()["field"] == field, query
    page = chemist.get(f"/spectra/{lab['main']}?region=4000-abc")
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert 'href="#region"' in html and "is not a range like 4000-650" in html
    assert 'id="peak-table"' in html  # the measured spectrum is still shown


def test_overlay_of_another_spectrum_of_the_sample(chemist, lab):
    response = chemist.get(f"/spectra/{lab['main']}/data.json?overlay=spectrum:{lab['other']}"
                           "&layout=stacked&scale=max")
    body = response.get_json()
    assert [s["role"] for s in body["series"]] == ["sample", "overlay"]
    assert "Second aliquot" in body["series"][1]["label"]
    assert body["stacked"] is True and body["normalised"] is True
    top, bottom = body["series"]
    assert min(top["y"]) >= max(bottom["y"])  # stacked: the sample sits above the overlay
    page = chemist.get(f"/spectra/{lab['main']}?overlay=spectrum:{lab['other']}")
    assert f'value="spectrum:{lab["other"]}" checked' in page.get_data(as_text=True)
    assert chemist.get(f"/spectra/{lab['main']}/data.json?overlay=spectrum:999999"
                       ).status_code == 404


def test_library_entry_overlay(chemist, lab, monkeypatch):
    from lims.library import services
    from lims.series import Series

    reference_y = np.exp(-0.5 * ((AXIS - 1700) / 8.0) ** 2)
    asked = []

    def entry_series(user, entry_id):
        asked.append((user.username, entry_id))
        unit = "cm-1" if entry_id == 7 else "m/z"
        return Series(label="Cocaine (SWGDRUG IR 3.1)", x=AXIS, y=reference_y, x_unit=unit,
                      y_unit="absorbance", technique="IR", role="reference")

    monkeypatch.setattr(services, "entry_series", entry_series)
    body = chemist.get(f"/spectra/{lab['main']}/data.json?overlay=entry:7&normalise=max"
                       ).get_json()
    assert asked == [("chem1", 7)]
    reference = body["series"][1]
    assert reference["role"] == "reference" and reference["label"].startswith("Cocaine")
    assert max(reference["y"]) == 1.0  # processed with the same recipe
    page = chemist.get(f"/spectra/{lab['main']}?overlay=entry:7").get_data(as_text=True)
    assert 'value="entry:7" checked' in page
    wrong = chemist.get(f"/spectra/{lab['main']}/data.json?overlay=entry:8")
    assert wrong.status_code == 400 and wrong.get_json()["field"] == "overlay"


def test_missing_library_entry_is_404(chemist, lab):
    assert chemist.get(f"/spectra/{lab['main']}/data.json?overlay=entry:999999"
                       ).status_code == 404


def test_transmittance_peaks_are_minima_until_converted(chemist, lab):
    body = chemist.get(f"/spectra/{lab['percent_t']}/data.json").get_json()
    assert [round(p["x"]) for p in body["peaks"]] == [1600]
    assert body["peaks"][0]["y"] == pytest.approx(35.0, abs=0.1)
    converted = chemist.get(f"/spectra/{lab['percent_t']}/data.json?absorbance=yes").get_json()
    assert converted["y_unit"] == "absorbance"
    assert converted["peaks"][0]["y"] == pytest.approx(-np.log10(0.35), abs=0.01)
    assert any("percent" in note for note in converted["notes"])


def test_tiny_spectrum_renders(chemist, lab):
    assert chemist.get(f"/spectra/{lab['small']}").status_code == 200
    assert chemist.get(f"/spectra/{lab['small']}/data.json").get_json()["peaks"] == []


def test_plot_svg_and_png(chemist, lab):
    svg = chemist.get(f"/spectra/{lab['main']}/plot.svg?overlay=spectrum:{lab['other']}")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert svg.data.lstrip().startswith(b"<?xml") and b"<svg" in svg.data
    assert b"Second aliquot" in svg.data  # the legend names the overlay
    png = chemist.get(f"/spectra/{lab['main']}/plot.png?normalise=max")
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert png.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert chemist.get(f"/spectra/{lab['main']}/plot.png?smooth_window=4").status_code == 400
