"""The processing form of the spectrum page (GET), and the overlay parameters."""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from wtforms import FloatField, IntegerField, RadioField, SelectField, StringField, SubmitField
from wtforms.validators import NumberRange, Optional

from lims.processing import BASELINES, Recipe, RecipeError

NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
RANGE = re.compile(rf"^\s*({NUMBER})\s*(?:-|–|—|to|\.\.)\s*({NUMBER})\s*$")
OVERLAY = re.compile(r"^(spectrum|entry):(\d{1,12})$")


def parse_range(text: str, field_name: str) -> tuple[float, float]:
    """'4000-650' as (4000.0, 650.0); ValueError naming the field and the bad part."""
    match = RANGE.match(text)
    if not match:
        raise RecipeError(field_name, f"“{text.strip()}” is not a range like 4000-650")
    return float(match.group(1)), float(match.group(2))


def parse_ranges(text: str, field_name: str) -> tuple[tuple[float, float], ...]:
    """'2400-2280, 1000-900' as ranges; empty text is none."""
    return tuple(parse_range(part, field_name) for part in text.split(",") if part.strip())


def parse_overlays(values: list[str]) -> list[tuple[str, int]]:
    """`overlay` parameters like 'spectrum:12' or 'entry:7', in order, without repeats."""
    out: list[tuple[str, int]] = []
    for value in values:
        match = OVERLAY.match(value.strip())
        if not match:
            raise RecipeError("overlay", f"“{value}” is not spectrum:<id> or entry:<id>")
        item = (match.group(1), int(match.group(2)))
        if item not in out:
            out.append(item)
    return out


def _optional_int(label: str, default: int, low: int, high: int, hint: str) -> IntegerField:
    return IntegerField(label, default=default, description=hint,
                        validators=[Optional(), NumberRange(min=low, max=high)])


class RecipeForm(FlaskForm):
    """Processing recipe, peak picking and plot layout, sent by GET so the URL reproduces it."""

    class Meta:
        csrf = False

    region = StringField("Region", description="Keep only this x range, e.g. 4000-650. "
                                               "Empty keeps the whole spectrum.")
    masks = StringField("Excluded regions (library search)",
                        description="Ranges the library search leaves out, e.g. 2400-2280, "
                                    "1000-900 (CO₂, window bands). They stay on the plot.")
    absorbance = SelectField("Absorbance", default="no",
                             choices=[("no", "Keep the measured values"),
                                      ("yes", "Convert transmittance or reflectance "
                                              "(A = −log10 T)")],
                             description="%T and %R are read as percent.")
    baseline = SelectField("Baseline correction", default="none",
                           choices=[(k, v.capitalize()) for k, v in BASELINES.items()])
    baseline_order = _optional_int("Polynomial order", 2, 0, 10,
                                   "Polynomial baseline only.")
    als_lambda = FloatField("ALS smoothness (λ)", default=1e5,
                            validators=[Optional()],
                            description="Asymmetric least squares only; larger is stiffer, "
                                        "e.g. 100000.")
    als_p = FloatField("ALS asymmetry (p)", default=0.01, validators=[Optional()],
                       description="Asymmetric least squares only; between 0 and 1, "
                                   "e.g. 0.01.")
    smooth_window = _optional_int("Savitzky–Golay window (points)", 0, 0, 1001,
                                  "Odd, e.g. 11; 0 for no smoothing.")
    smooth_order = _optional_int("Savitzky–Golay order", 2, 0, 10,
                                 "Smaller than the window.")
    derivative = SelectField("Derivative", default="0", coerce=int,
                             choices=[(0, "None"), (1, "First"), (2, "Second")],
                             description="Uses the Savitzky–Golay window and order.")
    normalise = SelectField("Normalisation", default="none",
                            choices=[("none", "None"), ("max", "Maximum = 1"),
                                     ("vector", "Vector (unit length)"),
                                     ("snv", "SNV (mean 0, standard deviation 1)"),
                                     ("area", "Area = 1")])
    peak_prominence = FloatField("Peak prominence", default=0.05,
                                 validators=[Optional(), NumberRange(min=0, max=1)],
                                 description="Fraction of the y range, e.g. 0.05.")
    peak_distance = FloatField("Minimum peak distance", default=4.0,
                               validators=[Optional(), NumberRange(min=0)],
                               description="In x units, e.g. 4 cm-1 or 1 m/z.")
    max_peaks = _optional_int("Peaks to list", 25, 1, 200, "At most 200.")
    layout = RadioField("Layout", default="overlaid",
                        choices=[("overlaid", "Overlaid"), ("stacked", "Stacked")])
    scale = RadioField("Plot scale", default="processed",
                       choices=[("processed", "As processed"), ("max", "Each maximum = 1")])
    submit = SubmitField("Apply")

    def _value(self, name: str):
        value = getattr(self, name).data
        return getattr(Recipe, name) if value is None else value

    def recipe(self) -> Recipe | None:
        """The recipe typed, or None with the error beside the field it concerns."""
        try:
            return Recipe(
                region=parse_range(self.region.data, "region")
                if (self.region.data or "").strip() else None,
                masks=parse_ranges(self.masks.data or "", "masks"),
                absorbance=self.absorbance.data == "yes", baseline=self.baseline.data,
                baseline_order=self._value("baseline_order"),
                als_lambda=self._value("als_lambda"), als_p=self._value("als_p"),
                smooth_window=self._value("smooth_window"),
                smooth_order=self._value("smooth_order"),
                derivative=self.derivative.data, normalise=self.normalise.data)
        except RecipeError as error:
            self.add_error(error.field, error.message)
            return None

    def add_error(self, name: str, message: str) -> None:
        """Attach a message to the named field (or to the form when there is none)."""
        field = getattr(self, name, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = [*field.errors, message]
        else:
            self.form_errors.append(message)

    def peak_options(self) -> dict:
        """Keyword arguments of `pick_peaks` from the peak fields."""
        return {"prominence": self._peak("peak_prominence"),
                "min_distance": self._peak("peak_distance"),
                "max_peaks": self._peak("max_peaks")}

    def _peak(self, name: str):
        field = getattr(self, name)
        return field.default if field.data is None else field.data

    def first_error(self) -> tuple[str, str] | None:
        """(field name, message) of the first error, for JSON answers."""
        if self.form_errors:
            return "recipe", self.form_errors[0]
        for field in self:
            if field.errors:
                return field.name, field.errors[0]
        return None
