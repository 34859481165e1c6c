"""Finding, technique, substance, sampling, net-weight, submit and review forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    Field,
    FloatField,
    Form,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from lims.auth.forms import signer_code_field
from lims.db import MAX_ID
from lims.findings.models import RESULT_LABELS
from lims.findings.sampling import INTERVALS, METHODS
from lims.findings.scheme import TECHNIQUES
from lims.forms import WeightField
from lims.units import parse_weight_mg

FALSE_VALUES = (False, "false", "", "no", "n", "0", "off")
POSITIVE = [("yes", "Positive"), ("no", "Negative or not conclusive")]
CATEGORY_TEXT = {"A": "Category A", "B": "Category B", "C": "Category C", None: "no category"}
METHOD_LABELS = {
    "hypergeometric": "Hypergeometric (finite number of units)",
    "binomial": "Binomial (large number of units)",
    "bayesian": "Bayesian (beta-binomial, uniform prior)",
    "square-root": "Square root of N (non-statistical)",
    "twenty-plus-ten-percent": "20 + 10 % of the units above 20 (non-statistical)",
    "single-unit": "A single unit (non-statistical)",
    "all-units": "All units",
}


def optional_id(value) -> int | None:
    """A row id chosen in a select, or None when none is ('' or absent); ids fit the column."""
    if value in ("", None):
        return None
    number = int(value)
    if not 0 < number <= MAX_ID:
        raise ValueError("no such record")
    return number


def fraction(_form, field) -> None:
    """A share strictly between 0 and 1, such as 0.9."""
    if field.data is not None and not 0 < field.data < 1:
        raise ValidationError("Must be a number between 0 and 1 (e.g. 0.9).")


class FindingForm(FlaskForm):
    """The result, its scope, the conclusion and the limitations."""

    result = RadioField("Result", choices=list(RESULT_LABELS.items()),
                        validators=[InputRequired()], default="identified")
    scope = TextAreaField("Scope of the scheme", validators=[Length(max=4000)],
                          description="For “no controlled substance detected”: which substances "
                                      "or classes the techniques used would have detected.")
    conclusion = TextAreaField("Conclusion", validators=[Length(max=4000)],
                               description="The chemist's conclusion as the certificate prints "
                                           "it. Required before you submit.")
    limitations = TextAreaField("Limitations", validators=[DataRequired(), Length(max=4000)],
                                default="none",
                                description="What the result does not cover; write “none” if "
                                            "nothing applies.")
    cannabis = BooleanField("Cannabis (plant material)", false_values=FALSE_VALUES,
                            description="Lets macroscopic and microscopic examination count "
                                        "as two Category B techniques (SWGDRUG).")
    same_aliquot_reason = TextAreaField("Why one aliquot served several techniques",
                                        validators=[Length(max=2000)],
                                        description="Only when separate aliquots were not "
                                                    "possible, e.g. limited sample.")

    def finding_data(self) -> dict:
        """The finding's fields as plain values."""
        return {"result": self.result.data, "scope": self.scope.data or "",
                "conclusion": self.conclusion.data or "",
                "limitations": self.limitations.data or "",
                "cannabis": bool(self.cannabis.data),
                "same_aliquot_reason": self.same_aliquot_reason.data or ""}


class TechniqueForm(FlaskForm):
    """One technique result: the technique, its outcome, the aliquot and the data behind it."""

    technique = SelectField("Technique", validators=[InputRequired()], choices=[
        (t.code, f"{t.name} ({CATEGORY_TEXT[t.category]})") for t in TECHNIQUES.values()])
    positive = RadioField("Result of this technique", choices=POSITIVE, default="yes",
                          validators=[Optional()])
    aliquot = SelectField("Aliquot tested", choices=[], validate_choice=False,
                          description="The sample or the sub-sample or aliquot measured.")
    measurement_id = SelectField("Measurement (raw data)", choices=[], validate_choice=False,
                                 coerce=optional_id,
                                 description="Attach the measurement: a Category A or B result "
                                             "counts only with reviewable data.")
    search_hit_id = SelectField("Accepted library hit", choices=[], validate_choice=False,
                                coerce=optional_id,
                                description="Only hits accepted on a search of this sample's "
                                            "spectra are listed.")
    run = StringField("Run or test reference", validators=[Length(max=120)],
                      description="Instrument run, plate or worksheet; the measurement number "
                                  "when left empty.")
    method_ref = StringField("Method (SOP and version)", validators=[Length(max=200)])
    note = TextAreaField("Note", validators=[Length(max=2000)])
    add = SubmitField("Add technique")

    def technique_data(self) -> dict:
        """The technique row as plain values."""
        return {"technique": self.technique.data, "positive": self.positive.data == "yes",
                "aliquot": self.aliquot.data or "",
                "measurement_id": self.measurement_id.data,
                "search_hit_id": self.search_hit_id.data,
                "run": self.run.data or "", "method_ref": self.method_ref.data or "",
                "note": self.note.data or ""}


class SubstanceForm(FlaskForm):
    """A substance identified, with salt form and purity where determined."""

    substance_id = SelectField("Substance", choices=[], validate_choice=False,
                               coerce=optional_id,
                               description="Substances of accepted hits come first.")
    substance = StringField("Substance name or CAS number", validators=[Length(max=255)],
                            description="Instead of choosing from the list.")
    salt_form = StringField("Salt form", validators=[Length(max=120)],
                            description="For example hydrochloride, or base; leave empty when "
                                        "not determined.")
    purity_percent = FloatField("Purity (%)", validators=[Optional(),
                                                          NumberRange(min=0, max=100)])
    purity_uncertainty_percent = FloatField("Expanded uncertainty of the purity (%, k = 2)",
                                            validators=[Optional(), NumberRange(min=0, max=100)])
    add = SubmitField("Add substance")

    def substance_data(self) -> dict:
        """The substance row as plain values."""
        return {"substance_id": self.substance_id.data,
                "substance": self.substance.data or "", "salt_form": self.salt_form.data or "",
                "purity_percent": self.purity_percent.data,
                "purity_uncertainty_percent": self.purity_uncertainty_percent.data}


class RemoveRowForm(FlaskForm):
    """Remove one technique or substance row."""

    row_id = IntegerField("Row", validators=[InputRequired()])


class SamplingForm(FlaskForm):
    """The sampling plan: method, units, claim; the outcome once the units are tested."""

    method = SelectField("Sampling method", choices=[(m, METHOD_LABELS[m]) for m in METHODS],
                         default="hypergeometric")
    population = IntegerField("Units in the item (N)",
                              validators=[InputRequired(), NumberRange(min=1, max=10**7)])
    proportion = FloatField("Claim: at least this share of the units is positive (%)",
                            default=90, validators=[Optional(), NumberRange(min=1, max=99.9)],
                            description="k, for the statistical methods; 90 % is usual.")
    confidence = FloatField("Confidence (%)", default=95,
                            validators=[Optional(), NumberRange(min=50, max=99.9)])
    negatives = IntegerField("Negatives allowed among the tested units", default=0,
                             validators=[Optional(), NumberRange(min=0)])
    seed = IntegerField("Random seed", validators=[Optional(), NumberRange(min=0)],
                        description="Leave empty for a new random selection; the seed is "
                                    "stored so that the selection can be reproduced.")
    tested = IntegerField("Units tested", validators=[Optional(), NumberRange(min=1)],
                          description="After testing the selected units.")
    positives = IntegerField("Units positive", validators=[Optional(), NumberRange(min=0)])
    calculate = SubmitField("Calculate")
    save = SubmitField("Save the plan")

    def sampling_data(self) -> dict:
        """The plan as plain values (percentages as fractions)."""
        return {"method": self.method.data, "population": self.population.data,
                "proportion": _share_of(self.proportion.data, 0.9),
                "confidence": _share_of(self.confidence.data, 0.95),
                "negatives": self.negatives.data or 0, "seed": self.seed.data,
                "tested": self.tested.data, "positives": self.positives.data}


def _share_of(percent: float | None, default: float) -> float:
    return default if percent is None else float(f"{percent / 100:.6g}")


class SamplingRequest(SamplingForm):
    """The `sampling` object of the API: as the calculator, with shares as fractions (0-1)."""

    method = SelectField("Sampling method", choices=[(m, m) for m in METHODS],
                         validators=[InputRequired()])
    proportion = FloatField("Claim: at least this share of the units is positive (0-1)",
                            default=0.9, validators=[Optional(), fraction])
    confidence = FloatField("Confidence (0-1)", default=0.95, validators=[Optional(), fraction])

    def sampling_data(self) -> dict:
        """The plan as plain values."""
        return {**super().sampling_data(), "proportion": self.proportion.data or 0.9,
                "confidence": self.confidence.data or 0.95}


class WholeNumbersField(Field):
    """Repeated form values (a JSON list) as whole numbers."""

    json_schema = {"type": "array", "items": {"type": "integer", "minimum": 0}}

    def process_formdata(self, valuelist):
        """Each value a whole number of 0 or more."""
        self.data = []
        for value in valuelist:
            if not value.isdigit():
                raise ValueError(f"{value!r} is not a whole number of 0 or more.")
            self.data.append(int(value))


class NetWeightRequest(Form):
    """The `net_weight` object of the API: a measured total, or unit weights to extrapolate."""

    method = SelectField("Method", choices=[("measured", "measured"),
                                            ("extrapolated", "extrapolated")],
                         validators=[InputRequired()])
    net_weight_mg = IntegerField("Total net weight measured (mg)",
                                 validators=[Optional(), NumberRange(min=0)])
    unit_weights_mg = WholeNumbersField("Net weights of the units weighed (mg)", default=[])
    population = IntegerField("Units in the item (N)",
                              validators=[Optional(), NumberRange(min=1, max=10**7)])
    confidence = FloatField("Confidence (0-1)", default=0.95, validators=[Optional(), fraction])
    interval = SelectField("Interval", default="two-sided", choices=[(i, i) for i in INTERVALS])

    def weight_data(self) -> dict:
        """The net weight as plain values."""
        return {"method": self.method.data, "net_weight_mg": self.net_weight_mg.data,
                "unit_weights_mg": self.unit_weights_mg.data, "population": self.population.data,
                "confidence": self.confidence.data or 0.95, "interval": self.interval.data}


class NetWeightForm(FlaskForm):
    """The net weight: measured in total, or extrapolated from weighed units."""

    method = RadioField("How was the net weight obtained?", default="extrapolated",
                        choices=[("measured", "Measured: all contents weighed together"),
                                 ("extrapolated", "Extrapolated from units weighed singly")])
    net_weight = WeightField("Total net weight measured (g)",
                             description="With the unit when not grams, e.g. 1.2 kg.")
    unit_weights = TextAreaField("Net weights of the units weighed (g)",
                                 description="One per line, e.g. 1.02 or 980 mg.")
    population = IntegerField("Units in the item (N)",
                              validators=[Optional(), NumberRange(min=1, max=10**7)])
    confidence = FloatField("Confidence (%)", default=95,
                            validators=[Optional(), NumberRange(min=50, max=99.9)])
    interval = SelectField("Interval", default="two-sided", choices=[
        (i, "Two-sided confidence interval" if i == "two-sided" else "One-sided lower bound")
        for i in INTERVALS])
    calculate = SubmitField("Calculate")
    save = SubmitField("Save the net weight")

    def validate_unit_weights(self, field) -> None:
        """Every line must be a weight; the error names the line."""
        self.weights_mg = []
        for number, line in enumerate((field.data or "").splitlines(), 1):
            if not line.strip():
                continue
            try:
                self.weights_mg.append(parse_weight_mg(line, label=f"Line {number}"))
            except ValueError as error:
                raise ValidationError(str(error)) from error

    def weight_data(self) -> dict:
        """The net weight as plain values."""
        return {"method": self.method.data, "net_weight_mg": self.net_weight.data,
                "unit_weights_mg": getattr(self, "weights_mg", []),
                "population": self.population.data,
                "confidence": _share_of(self.confidence.data, 0.95),
                "interval": self.interval.data}


class SubmitFindingForm(FlaskForm):
    """The author signs the finding as performed."""

    password = PasswordField("Your password", validators=[DataRequired()],
                             description="Signing asks for your password again.")
    code = signer_code_field()


class ReviewForm(FlaskForm):
    """The reviewer approves or returns the finding, signing with the password."""

    decision = RadioField("Decision", validators=[InputRequired()],
                          choices=[("approve", "Approve: sign as reviewed and approved"),
                                   ("return", "Return to the author for changes")])
    reason = TextAreaField("Reason for returning", validators=[Length(max=2000)],
                           description="Required when you return the finding.")
    password = PasswordField("Your password", validators=[DataRequired()],
                             description="Signing asks for your password again.")
    code = signer_code_field()
