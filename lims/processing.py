"""A reproducible processing recipe for spectra, and peak picking (pure numpy/scipy).

`apply` runs the steps in this fixed order, whatever order the recipe lists them in:

0. points without a value (NaN) are left out;
1. region: keep lo <= x <= hi;
2. absorbance: A = -log10(T) from transmittance or reflectance (percent when the unit is %T/%R
   or, for a bare "transmittance"/"reflectance", when values exceed 1.5); values <= 0 are
   clipped to 1e-6 (A = 6) and a note says how many;
3. baseline: none, rubber-band (lower convex hull), asymmetric least squares (Eilers) or an
   iterative polynomial (each pass keeps the lower of the data and the fit);
4. Savitzky-Golay smoothing and derivative in one filter (the derivative needs a window);
5. normalisation: none, max |y| = 1, vector (unit L2), SNV or area (integral of |y| = 1).

Excluded regions (`masks`) belong to the recipe but are not applied here: the library search
leaves them out of the score. Stick spectra ("peaks" kind, e.g. MS) only take the region and
the normalisation; the other steps do not apply and `describe` and the notes say so.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, fields

import numpy as np
from scipy import sparse
from scipy.signal import find_peaks, savgol_filter
from scipy.sparse.linalg import spsolve

RECIPE_VERSION = 1
BASELINES = {"none": "no baseline correction", "rubberband": "rubber-band baseline",
             "als": "asymmetric least squares baseline", "polynomial": "polynomial baseline"}
NORMALISATIONS = {"none": "", "max": "max normalised", "vector": "vector normalised",
                  "snv": "SNV", "area": "area normalised"}
TRANSMITTANCE_UNITS = {"%T": (True, "transmittance"), "%R": (True, "reflectance"),
                       "transmittance": (False, "transmittance"),
                       "reflectance": (False, "reflectance")}
T_FLOOR = 1e-6
POLY_PASSES = 100
ALS_PASSES = 10


class RecipeError(ValueError):
    """A recipe value that cannot be used; the message starts with the field's name."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


def _range(name: str, value) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise RecipeError(name, "must be a pair of numbers [from, to]")
    pair = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int | float) \
                or not math.isfinite(item):
            raise RecipeError(name, f"{item!r} is not a finite number")
        pair.append(float(item))
    if pair[0] == pair[1]:
        raise RecipeError(name, f"the range {pair[0]:g}-{pair[1]:g} is empty")
    return pair[0], pair[1]


def _span(pair: tuple[float, float], x_unit: str) -> str:
    return f"{pair[0]:g}–{pair[1]:g}{' ' + x_unit if x_unit else ''}"


@dataclass(frozen=True)
class Recipe:
    """Processing settings that reproduce a processed spectrum exactly (see module docs)."""

    region: tuple[float, float] | None = None
    masks: tuple[tuple[float, float], ...] = ()
    absorbance: bool = False
    baseline: str = "none"
    baseline_order: int = 2
    als_lambda: float = 1e5
    als_p: float = 0.01
    smooth_window: int = 0
    smooth_order: int = 2
    derivative: int = 0
    normalise: str = "none"
    version: int = field(default=RECIPE_VERSION)

    def __post_init__(self):
        """Refuse values no step could use, naming the field."""
        if self.version != RECIPE_VERSION:
            raise RecipeError("version", f"recipe version {self.version!r} is not supported "
                                         f"(this build reads version {RECIPE_VERSION})")
        if self.region is not None:
            object.__setattr__(self, "region", _range("region", self.region))
        if not isinstance(self.masks, list | tuple):
            raise RecipeError("masks", "must be a list of [from, to] pairs")
        object.__setattr__(self, "masks", tuple(_range("masks", m) for m in self.masks))
        if not isinstance(self.absorbance, bool):
            raise RecipeError("absorbance", "must be true or false")
        if not isinstance(self.baseline, str) or self.baseline not in BASELINES:
            raise RecipeError("baseline", f"{self.baseline!r} is not one of "
                                          f"{', '.join(BASELINES)}")
        for name, low, high in (("baseline_order", 0, 10), ("smooth_window", 0, 1001),
                                ("smooth_order", 0, 10), ("derivative", 0, 2)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise RecipeError(name, f"must be a whole number from {low} to {high}, "
                                        f"not {value!r}")
        for name, low, high in (("als_lambda", 0.0, math.inf), ("als_p", 0.0, 1.0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) \
                    or not math.isfinite(value) or not low < value < high:
                raise RecipeError(name, f"must be a number above {low:g}"
                                        f"{'' if high == math.inf else f' and below {high:g}'}"
                                        f", not {value!r}")
            object.__setattr__(self, name, float(value))
        if self.smooth_window:
            if self.smooth_window % 2 == 0 or self.smooth_window < 3:
                raise RecipeError("smooth_window", f"the window must be odd and at least 3 "
                                                   f"points, not {self.smooth_window}")
            if self.smooth_window <= self.smooth_order:
                raise RecipeError("smooth_window", f"the window ({self.smooth_window}) must be "
                                                   f"longer than the order "
                                                   f"({self.smooth_order})")
        if self.derivative:
            if not self.smooth_window:
                raise RecipeError("derivative", "a derivative needs a Savitzky–Golay window")
            if self.smooth_order < self.derivative:
                raise RecipeError("smooth_order", f"the order must be at least the derivative "
                                                  f"({self.derivative})")
        if not isinstance(self.normalise, str) or self.normalise not in NORMALISATIONS:
            raise RecipeError("normalise", f"{self.normalise!r} is not one of "
                                           f"{', '.join(NORMALISATIONS)}")

    def to_dict(self) -> dict:
        """Plain JSON-ready values (ranges as lists)."""
        data = asdict(self)
        data["region"] = list(self.region) if self.region else None
        data["masks"] = [list(m) for m in self.masks]
        return data

    def to_json(self) -> str:
        """Canonical JSON: sorted keys, no spaces (what `sha256` hashes)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @property
    def sha256(self) -> str:
        """SHA-256 of the canonical JSON, to cite the recipe on a report."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()

    @classmethod
    def from_dict(cls, data: dict) -> Recipe:
        """Recipe from plain values; missing keys take defaults, unknown keys are refused."""
        if not isinstance(data, dict):
            raise RecipeError("recipe", "must be a JSON object")
        known = {f.name for f in fields(cls)}
        for key in data:
            if key not in known:
                raise RecipeError(str(key), "is not a recipe setting")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> Recipe:
        """Recipe from its JSON text."""
        try:
            data = json.loads(text)
        except ValueError as error:
            raise RecipeError("recipe", f"is not valid JSON ({error})") from error
        return cls.from_dict(data)

    def describe(self, *, x_unit: str = "", kind: str = "continuous") -> str:
        """One line for people, e.g. 'region 4000–650 cm-1; rubber-band baseline; SNV'."""
        parts = []
        if self.region:
            parts.append(f"region {_span(self.region, x_unit)}")
        if self.masks:
            parts.append("masked " + ", ".join(_span(m, x_unit) for m in self.masks))
        skipped = []
        for applies, text in (
                (self.absorbance, "absorbance from transmittance/reflectance"),
                (self.baseline != "none", BASELINES[self.baseline]),
                (self.smooth_window and not self.derivative,
                 f"Savitzky–Golay {self.smooth_window}/{self.smooth_order}"),
                (self.derivative, f"{'1st' if self.derivative == 1 else '2nd'} derivative "
                                  f"(Savitzky–Golay {self.smooth_window}/{self.smooth_order})")):
            if applies:
                (skipped if kind == "peaks" else parts).append(text)
        if self.normalise != "none":
            parts.append(NORMALISATIONS[self.normalise])
        if skipped:
            parts.append(f"not applied to a stick spectrum: {', '.join(skipped)}")
        return "; ".join(parts) or "as measured (no processing)"


def _rubberband(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The lower convex hull of the points, interpolated at every x (x ascending)."""
    hull: list[int] = []
    for i in range(x.size):
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            if (x[b] - x[a]) * (y[i] - y[a]) - (y[b] - y[a]) * (x[i] - x[a]) <= 0:
                hull.pop()
            else:
                break
        hull.append(i)
    return np.interp(x, x[hull], y[hull])


def _als(y: np.ndarray, lam: float, p: float) -> np.ndarray:
    """Asymmetric least squares baseline (Eilers and Boelens 2005)."""
    n = y.size
    second = sparse.diags([1.0, -2.0, 1.0], [0, 1, 2], shape=(n - 2, n), format="csc")
    penalty = lam * (second.T @ second)
    weights = np.ones(n)
    baseline = y
    for _ in range(ALS_PASSES):
        w = sparse.diags(weights, 0, format="csc")
        baseline = spsolve((w + penalty).tocsc(), weights * y)
        weights = np.where(y > baseline, p, 1.0 - p)
    return np.asarray(baseline)


def _polynomial(x: np.ndarray, y: np.ndarray, order: int) -> np.ndarray:
    """Iterative polynomial baseline: each pass fits the lower of the data and the last fit."""
    scaled = (x - x.min()) / (np.ptp(x) or 1.0) * 2.0 - 1.0
    work = y.copy()
    fit = y
    for _ in range(POLY_PASSES):
        fit = np.polynomial.polynomial.polyval(
            scaled, np.polynomial.polynomial.polyfit(scaled, work, order))
        lowered = np.minimum(work, fit)
        if np.allclose(lowered, work, rtol=0, atol=1e-12 * (np.ptp(y) or 1.0)):
            break
        work = lowered
    return fit


def _baseline(recipe: Recipe, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    xs, ys = x[order], y[order]
    if recipe.baseline == "rubberband":
        line = _rubberband(xs, ys)
    elif recipe.baseline == "als":
        line = _als(ys, recipe.als_lambda, recipe.als_p)
    else:
        line = _polynomial(xs, ys, recipe.baseline_order)
    baseline = np.empty_like(y)
    baseline[order] = line
    return baseline


def _to_absorbance(y: np.ndarray, y_unit: str, notes: list[str]) -> np.ndarray:
    percent, quantity = TRANSMITTANCE_UNITS[y_unit]
    if not percent and y.size and np.nanmax(y) > 1.5:
        percent = True
        notes.append(f"{quantity.capitalize()} values reach {np.nanmax(y):.3g}: read as "
                     f"percent.")
    fraction = y / 100.0 if percent else y
    notes.append(f"Absorbance = −log10({'T' if quantity == 'transmittance' else 'R'}) from "
                 f"{quantity} in {'percent' if percent else 'fractions of 1'}.")
    low = fraction < T_FLOOR
    if low.any():
        notes.append(f"{int(low.sum())} point(s) with {quantity} at or below zero were clipped "
                     f"to {T_FLOOR:g} (absorbance {-math.log10(T_FLOOR):g}).")
    return -np.log10(np.maximum(fraction, T_FLOOR))


def _normalise(method: str, x: np.ndarray, y: np.ndarray, notes: list[str]) -> np.ndarray:
    centre = 0.0
    if method == "snv":
        divisor = np.std(y, ddof=1) if y.size > 1 else 0.0
        centre = float(np.mean(y)) if y.size else 0.0
    elif method == "max":
        divisor = np.max(np.abs(y)) if y.size else 0.0
    elif method == "vector":
        divisor = np.linalg.norm(y)
    else:
        divisor = abs(np.trapezoid(np.abs(y), x)) if y.size > 1 else 0.0
    if not divisor or not math.isfinite(divisor):
        notes.append(f"The spectrum is flat: {NORMALISATIONS[method]} was not possible and "
                     f"the values are unchanged.")
        return y
    return (y - centre) / divisor


def _uniform(x: np.ndarray) -> bool:
    steps = np.diff(x)
    return bool(np.all(np.abs(steps - steps.mean()) <= 0.01 * abs(steps.mean())))


def apply(recipe: Recipe, x: np.ndarray, y: np.ndarray, y_unit: str, *,
          kind: str = "continuous",
          notes: list[str] | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """Process one spectrum by the recipe; returns new (x, y, y_unit) float64 arrays.

    Facts worth telling the chemist (unit detection, clipping, skipped steps) are appended to
    `notes`. Raises RecipeError when the spectrum cannot take the recipe (e.g. an empty region).
    """
    notes = [] if notes is None else notes
    x = np.array(x, dtype=np.float64)
    y = np.array(y, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    if not keep.all():
        notes.append(f"{int((~keep).sum())} point(s) without a value were left out.")
        x, y = x[keep], y[keep]
    if recipe.region:
        lo, hi = sorted(recipe.region)
        inside = (x >= lo) & (x <= hi)
        if inside.sum() < (1 if kind == "peaks" else 2):
            raise RecipeError("region", f"the spectrum has no points in {_span(recipe.region, '')}")
        x, y = x[inside], y[inside]
    if kind == "peaks":
        if recipe.absorbance or recipe.baseline != "none" or recipe.smooth_window:
            notes.append("Stick spectrum: only the region and the normalisation apply.")
    else:
        if recipe.absorbance:
            if y_unit in TRANSMITTANCE_UNITS:
                y = _to_absorbance(y, y_unit, notes)
                y_unit = "absorbance"
            else:
                notes.append(f"The values are {y_unit}, not transmittance or reflectance: no "
                             f"absorbance conversion.")
        if recipe.baseline != "none":
            y = y - _baseline(recipe, x, y)
        if recipe.smooth_window:
            if recipe.smooth_window > x.size:
                raise RecipeError("smooth_window", f"the window ({recipe.smooth_window}) is "
                                                   f"longer than the spectrum ({x.size} points)")
            if not _uniform(x):
                notes.append("The x spacing is uneven; Savitzky–Golay assumes even steps.")
            delta = (x[-1] - x[0]) / (x.size - 1)
            y = savgol_filter(y, recipe.smooth_window, recipe.smooth_order,
                              deriv=recipe.derivative, delta=delta)
            if recipe.derivative:
                y_unit = f"{'1st' if recipe.derivative == 1 else '2nd'} derivative of {y_unit}"
    if recipe.normalise != "none":
        y = _normalise(recipe.normalise, x, y, notes)
        y_unit = f"{y_unit} ({NORMALISATIONS[recipe.normalise]})"
    return x, np.ascontiguousarray(y, dtype=np.float64), y_unit


def picks_minima(recipe: Recipe, y_unit: str) -> bool:
    """True when the processed bands point down (transmittance or reflectance kept as is)."""
    return y_unit in TRANSMITTANCE_UNITS and not recipe.absorbance and not recipe.derivative


@dataclass(frozen=True)
class Peak:
    """A picked peak: refined position, height, prominence and full width at half prominence."""

    x: float
    y: float
    prominence: float
    width: float | None


def _refine(x: np.ndarray, s: np.ndarray, i: int) -> float:
    """Vertex of the parabola through the peak point and its neighbours."""
    if i == 0 or i == x.size - 1:
        return float(x[i])
    (x0, x1, x2), (y0, y1, y2) = x[i - 1:i + 2], s[i - 1:i + 2]
    denom = (x0 - x1) * (x0 - x2) * (x1 - x2)
    a = (x2 * (y1 - y0) + x1 * (y0 - y2) + x0 * (y2 - y1)) / denom
    b = (x2 ** 2 * (y0 - y1) + x1 ** 2 * (y2 - y0) + x0 ** 2 * (y1 - y2)) / denom
    if a == 0:
        return float(x1)
    return float(np.clip(-b / (2 * a), min(x0, x2), max(x0, x2)))


def _stick_peaks(x: np.ndarray, y: np.ndarray, threshold: float, min_distance: float,
                 max_peaks: int) -> list[Peak]:
    chosen: list[int] = []
    for i in np.argsort(-y, kind="stable"):
        if y[i] < threshold or len(chosen) >= max_peaks:
            break
        if all(abs(x[i] - x[j]) >= min_distance for j in chosen):
            chosen.append(int(i))
    return sorted((Peak(float(x[i]), float(y[i]), float(y[i]), None) for i in chosen),
                  key=lambda p: p.x)


def pick_peaks(x: np.ndarray, y: np.ndarray, *, prominence: float, min_distance: float,
               max_peaks: int, minima: bool = False, kind: str = "continuous") -> list[Peak]:
    """The most prominent peaks (minima for transmittance), sorted by x.

    `prominence` is a fraction (0-1) of the y range; `min_distance` is in x units. Stick
    spectra list their tallest sticks at least `min_distance` apart.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    finite = np.isfinite(x) & np.isfinite(y)
    x, y = x[finite], y[finite]
    if x.size < (1 if kind == "peaks" else 3):
        return []
    spread = float(np.ptp(y))
    if kind == "peaks":
        return _stick_peaks(x, y, prominence * float(np.max(y)), min_distance, max_peaks)
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    signal = -y if minima else y
    step = float(np.median(np.diff(x))) or 1.0
    found, props = find_peaks(signal, prominence=max(prominence * spread, 1e-300),
                              width=0, rel_height=0.5,
                              distance=max(1, int(round(min_distance / step))))
    best = np.argsort(-props["prominences"], kind="stable")[:max_peaks]
    index = np.arange(x.size, dtype=np.float64)
    peaks = []
    for k in best:
        i = int(found[k])
        left, right = np.interp([props["left_ips"][k], props["right_ips"][k]], index, x)
        peaks.append(Peak(_refine(x, signal, i), float(y[i]), float(props["prominences"][k]),
                          float(abs(right - left))))
    return sorted(peaks, key=lambda p: p.x)
