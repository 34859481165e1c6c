"""Processing recipe steps on synthetic spectra with known answers; JSON round trip; peaks."""

import json

import numpy as np
import pytest

from lims.processing import RECIPE_VERSION, Recipe, RecipeError, apply, pick_peaks

X = np.arange(4000.0, 399.0, -2.0)  # IR axis as files store it: 4000 -> 400 cm-1, 2 cm-1 steps


def gaussian(x, centre, height=1.0, sigma=10.0):
    return height * np.exp(-0.5 * ((x - centre) / sigma) ** 2)


def test_region_keeps_only_the_range_in_either_order():
    x, y, unit = apply(Recipe(region=(1000, 2000)), X, X * 0 + 1, "absorbance")
    assert x.max() == 2000 and x.min() == 1000 and unit == "absorbance"
    again, _, _ = apply(Recipe(region=(2000, 1000)), X, X * 0 + 1, "absorbance")
    assert np.array_equal(x, again)


def test_region_without_points_names_the_field():
    with pytest.raises(RecipeError, match="^region: "):
        apply(Recipe(region=(5000, 6000)), X, X, "absorbance")


@pytest.mark.parametrize(("unit", "value", "expected"), [
    ("%T", 10.0, 1.0), ("%T", 100.0, 0.0), ("transmittance", 0.1, 1.0),
    ("transmittance", 10.0, 1.0),  # a bare unit with values above 1.5 is read as percent
    ("%R", 1.0, 2.0)])
def test_transmittance_and_reflectance_to_absorbance(unit, value, expected):
    notes = []
    _, y, y_unit = apply(Recipe(absorbance=True), X, np.full(X.size, value), unit, notes=notes)
    assert y_unit == "absorbance"
    assert np.allclose(y, expected)
    assert any("percent" in n or "fractions" in n for n in notes)


def test_non_positive_transmittance_is_clipped_and_said():
    notes = []
    y = np.full(X.size, 50.0)
    y[:3] = [0.0, -1.0, 0.0]
    _, a, _ = apply(Recipe(absorbance=True), X, y, "%T", notes=notes)
    assert np.all(np.isfinite(a)) and a[:3].tolist() == [6.0, 6.0, 6.0]
    assert any("3 point(s)" in n and "clipped" in n for n in notes)


def test_absorbance_conversion_of_absorbance_is_a_no_op_with_a_note():
    notes = []
    _, y, unit = apply(Recipe(absorbance=True), X, X * 0 + 0.5, "absorbance", notes=notes)
    assert unit == "absorbance" and np.all(y == 0.5) and "no absorbance conversion" in notes[0]


@pytest.mark.parametrize("baseline", ["rubberband", "als", "polynomial"])
def test_baselines_remove_a_linear_tilt_and_keep_the_band(baseline):
    band = gaussian(X, 1700.0)
    tilted = band + 0.2 + 1e-4 * X
    recipe = Recipe(baseline=baseline, baseline_order=1, als_lambda=1e7, als_p=0.001)
    _, y, _ = apply(recipe, X, tilted, "absorbance")
    far = np.abs(X - 1700) > 100
    assert np.max(np.abs(y[far])) < 0.02
    assert abs(y[np.argmin(np.abs(X - 1700))] - 1.0) < 0.03


def test_smoothing_reduces_noise_and_window_is_validated():
    rng = np.random.default_rng(1)
    clean = gaussian(X, 1500.0, sigma=30.0)
    noisy = clean + rng.normal(0, 0.05, X.size)
    _, y, _ = apply(Recipe(smooth_window=21, smooth_order=2), X, noisy, "absorbance")
    assert np.std(y - clean) < 0.5 * np.std(noisy - clean)
    for window in (10, 1, 2):
        with pytest.raises(RecipeError, match="^smooth_window: "):
            Recipe(smooth_window=window)
    with pytest.raises(RecipeError, match="^smooth_window: .*longer than the order"):
        Recipe(smooth_window=5, smooth_order=5)
    with pytest.raises(RecipeError, match="^smooth_window: .*longer than the spectrum"):
        apply(Recipe(smooth_window=11), X[:7], X[:7], "absorbance")


def test_derivative_of_a_line_is_its_slope():
    x = np.linspace(400.0, 4000.0, 1801)
    _, first, unit = apply(Recipe(smooth_window=7, smooth_order=2, derivative=1), x,
                           3.0 * x + 2.0, "absorbance")
    assert np.allclose(first, 3.0) and unit.startswith("1st derivative")
    _, second, _ = apply(Recipe(smooth_window=7, smooth_order=2, derivative=2), x,
                         0.5 * x ** 2, "absorbance")
    assert np.allclose(second, 1.0)
    _, descending, _ = apply(Recipe(smooth_window=7, smooth_order=2, derivative=1), x[::-1],
                             (3.0 * x + 2.0)[::-1], "absorbance")
    assert np.allclose(descending, 3.0)  # dy/dx, whatever order the file stores x in
    with pytest.raises(RecipeError, match="^derivative: "):
        Recipe(derivative=1)


def test_normalisations():
    y = gaussian(X, 1200.0, height=4.0) + 1.0
    results = {method: apply(Recipe(normalise=method), X, y, "absorbance")[1]
               for method in ("max", "vector", "snv", "area")}
    assert results["max"].max() == pytest.approx(1.0)
    assert np.linalg.norm(results["vector"]) == pytest.approx(1.0)
    assert results["snv"].mean() == pytest.approx(0.0, abs=1e-12)
    assert results["snv"].std(ddof=1) == pytest.approx(1.0)
    assert abs(np.trapezoid(results["area"], X)) == pytest.approx(1.0)


def test_flat_spectrum_cannot_be_normalised_and_says_so():
    notes = []
    _, y, _ = apply(Recipe(normalise="snv"), X, X * 0 + 2.0, "absorbance", notes=notes)
    assert np.all(y == 2.0) and "flat" in notes[0]


def test_missing_values_are_left_out_with_a_note():
    y = gaussian(X, 1200.0)
    y[10:15] = np.nan
    notes = []
    x, out, _ = apply(Recipe(), X, y, "absorbance", notes=notes)
    assert x.size == X.size - 5 and np.all(np.isfinite(out)) and "5 point(s)" in notes[0]


def test_apply_is_deterministic():
    rng = np.random.default_rng(7)
    y = gaussian(X, 1700.0) + rng.normal(0, 0.01, X.size) + 1e-4 * X
    recipe = Recipe(region=(3500, 600), baseline="als", smooth_window=11, derivative=1,
                    normalise="vector")
    first = apply(recipe, X, y, "absorbance")
    second = apply(Recipe.from_json(recipe.to_json()), X.copy(), y.copy(), "absorbance")
    assert first[0].tobytes() == second[0].tobytes()
    assert first[1].tobytes() == second[1].tobytes()


def test_json_round_trip_and_canonical_hash():
    recipe = Recipe(region=(4000, 650), masks=((2400, 2280), (1000, 900)), absorbance=True,
                    baseline="rubberband", smooth_window=11, smooth_order=2,
                    normalise="vector")
    text = recipe.to_json()
    assert Recipe.from_json(text) == recipe
    assert Recipe.from_dict(json.loads(text)) == recipe
    assert list(json.loads(text)) == sorted(json.loads(text))
    assert json.loads(text)["version"] == RECIPE_VERSION
    same = Recipe(normalise="vector", smooth_order=2, smooth_window=11, baseline="rubberband",
                  absorbance=True, masks=[[2400.0, 2280.0], [1000.0, 900.0]],
                  region=[4000.0, 650.0])
    assert same.sha256 == recipe.sha256 and len(recipe.sha256) == 64
    assert Recipe(normalise="max").sha256 != recipe.sha256


def test_summary_line():
    recipe = Recipe(region=(4000, 650), masks=((2400, 2280),), absorbance=True,
                    baseline="rubberband", smooth_window=11, smooth_order=2,
                    normalise="vector")
    assert recipe.describe(x_unit="cm-1") == (
        "region 4000–650 cm-1; masked 2400–2280 cm-1; absorbance from "
        "transmittance/reflectance; rubber-band baseline; Savitzky–Golay 11/2; "
        "vector normalised")
    assert Recipe().describe() == "as measured (no processing)"
    sticks = Recipe(baseline="als", normalise="max").describe(kind="peaks")
    assert "not applied to a stick spectrum: asymmetric least squares baseline" in sticks


@pytest.mark.parametrize(("data", "field"), [
    ({"baseline": "spline"}, "baseline"),
    ({"normalise": "l3"}, "normalise"),
    ({"region": [650]}, "region"),
    ({"region": [650, 650]}, "region"),
    ({"masks": [[1, "x"]]}, "masks"),
    ({"smooth_window": 4}, "smooth_window"),
    ({"smooth_window": 2.5}, "smooth_window"),
    ({"derivative": 3, "smooth_window": 11}, "derivative"),
    ({"derivative": 2, "smooth_window": 11, "smooth_order": 1}, "smooth_order"),
    ({"als_p": 1.5}, "als_p"),
    ({"als_lambda": -1}, "als_lambda"),
    ({"absorbance": "yes"}, "absorbance"),
    ({"version": 99}, "version"),
    ({"colour": "red"}, "colour"),
])
def test_invalid_recipes_are_refused_naming_the_field(data, field):
    with pytest.raises(ValueError, match=f"^{field}: ") as caught:
        Recipe.from_dict(data)
    assert caught.value.field == field


def test_invalid_json_is_refused():
    with pytest.raises(ValueError, match="^recipe: "):
        Recipe.from_json("{not json")


def test_gaussian_peak_found_at_its_centre():
    y = gaussian(X, 1703.3, sigma=8.0) + 0.5 * gaussian(X, 2950.0, sigma=15.0)
    peaks = pick_peaks(X, y, prominence=0.05, min_distance=10, max_peaks=10)
    assert [round(p.x) for p in peaks] == [1703, 2950]  # sorted by x
    assert abs(peaks[0].x - 1703.3) < 2.0  # within one step of the axis
    assert peaks[0].y == pytest.approx(1.0, abs=0.01)
    assert peaks[0].width == pytest.approx(2.3548 * 8.0, rel=0.05)  # FWHM of a Gaussian
    assert peaks[1].prominence == pytest.approx(0.5, abs=0.01)


def test_peak_limits_and_transmittance_minima():
    y = sum(gaussian(X, c, height=h) for c, h in [(1000, 1.0), (1500, 0.3), (2000, 0.02)])
    assert [round(p.x) for p in pick_peaks(X, y, prominence=0.05, min_distance=4,
                                           max_peaks=10)] == [1000, 1500]
    assert [round(p.x) for p in pick_peaks(X, y, prominence=0.0, min_distance=4,
                                           max_peaks=1)] == [1000]
    transmittance = 100.0 - 60.0 * gaussian(X, 1234.0)
    minima = pick_peaks(X, transmittance, prominence=0.1, min_distance=4, max_peaks=5,
                        minima=True)
    assert [round(p.x) for p in minima] == [1234] and minima[0].y == pytest.approx(40.0, abs=0.1)


def test_stick_spectra_take_region_and_normalisation_only():
    mz = np.array([41.0, 43.0, 58.0, 91.0, 105.0, 134.0])
    intensity = np.array([120.0, 300.0, 999.0, 40.0, 15.0, 200.0])
    notes = []
    x, y, unit = apply(Recipe(region=(40, 120), baseline="rubberband", smooth_window=5,
                              normalise="max"), mz, intensity, "relative abundance",
                       kind="peaks", notes=notes)
    assert x.tolist() == [41.0, 43.0, 58.0, 91.0, 105.0]
    assert y.max() == 1.0 and y[0] == pytest.approx(120 / 999)
    assert unit == "relative abundance (max normalised)"
    assert "Stick spectrum" in notes[0]
    peaks = pick_peaks(mz, intensity, prominence=0.1, min_distance=3, max_peaks=3, kind="peaks")
    assert [p.x for p in peaks] == [43.0, 58.0, 134.0]  # tallest three, 41 too close to 43
    assert peaks[0].width is None
