"""Case, sample, status, label and bulk-intake forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    DateField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from lims.forms import LabDateTimeField, WeightField, identifier, not_after_now
from lims.identifiers import (
    IdentifierError,
    normalize_container_number,
    normalize_hs_code,
    normalize_mrn,
    normalize_seal,
)
from lims.intake.models import DETECTION_METHODS, DIRECTIONS, SAMPLE_STATUSES

YES_NO = [("yes", "Intact"), ("no", "Broken or tampered")]
MAX_UNITS = 2**31 - 1  # the unit_count column is a 32-bit integer


def _seal_list(_form, field) -> None:
    """Normalize a comma, space or newline separated list of seal numbers."""
    parts = [p for p in (field.data or "").replace("\n", ",").replace(";", ",").split(",")]
    try:
        field.data = ",".join(normalize_seal(p) for p in parts if p.strip())
    except IdentifierError as error:  # WTForms 3 only catches ValidationError
        raise ValidationError(str(error)) from error


def seal_number(_form, field) -> None:
    """Normalize a single seal number field (upper case, no spaces)."""
    try:
        field.data = normalize_seal(field.data) if field.data and field.data.strip() else ""
    except IdentifierError as error:
        raise ValidationError(str(error)) from error


class CaseForm(FlaskForm):
    """A seizure as submitted by customs (workflow steps 1 to 4)."""

    seizure_ref = StringField("Seizure record number", validators=[Length(max=80)],
                              description="The customs seizure or offence record.")
    proceedings_ref = StringField("Proceedings number", validators=[Length(max=80)],
                                  description="Pre-trial proceedings or prosecutor file number.")
    customs_office = StringField("Submitting customs office", validators=[DataRequired(),
                                                                          Length(max=200)],
                                 description="Name or customs office code, e.g. BG001000.")
    officer_name = StringField("Submitting officer", validators=[DataRequired(),
                                                                 Length(max=200)])
    seized_at = LabDateTimeField("Date and time of seizure", validators=[not_after_now],
                                 render_kw={"type": "datetime-local"})
    seizure_place = StringField("Place of seizure", validators=[Length(max=200)],
                                description="Border crossing, terminal or UN/LOCODE.")
    direction = SelectField("Direction", choices=[(d, d) for d in DIRECTIONS],
                            default="unknown")
    detection_method = SelectField("Detection method",
                                   choices=[("", "—")] + [(d, d) for d in DETECTION_METHODS],
                                   default="")
    container_number = StringField("Container number",
                                   validators=[identifier(normalize_container_number)],
                                   description="ISO 6346, e.g. CSQU3054383.")
    mrn = StringField("MRN", validators=[identifier(normalize_mrn)],
                      description="Movement Reference Number of the declaration (18 characters).")
    hs_code = StringField("Declared HS/CN code", validators=[identifier(normalize_hs_code)],
                          description="6, 8 or 10 digits.")
    conveyance = StringField("Conveyance", validators=[Length(max=200)],
                             description="Vessel and IMO number, flight, truck plates.")
    seals_received = TextAreaField("Seal numbers as received", validators=[_seal_list],
                                   description="One per line or separated by commas.")
    description = TextAreaField("Description of the goods", validators=[Length(max=5000)])
    questions = TextAreaField("Questions asked of the laboratory",
                              validators=[DataRequired(), Length(max=5000)])
    deadline = DateField("Deadline", validators=[Optional()])
    investigators = SelectMultipleField("Investigators assigned", choices=[],
                                        description="Only they can see this case. Ctrl-click "
                                                    "to choose several.",
                                        validate_choice=False)
    reason = TextAreaField("Reason for the change", validators=[Length(max=1000)],
                           description="Required when a registered case is changed.")

    def case_data(self) -> dict:
        """The case fields as plain values."""
        return {name: getattr(self, name).data or ("" if name not in ("seized_at", "deadline")
                                                   else None)
                for name in ("seizure_ref", "proceedings_ref", "customs_office",
                             "officer_name", "seized_at", "seizure_place", "direction",
                             "detection_method", "container_number", "mrn", "hs_code",
                             "conveyance", "seals_received", "description", "questions",
                             "deadline")}


class CaseRequest(CaseForm):
    """A case sent to the API: every investigator named must exist (the view sets the choices)."""

    def validate_investigators(self, field) -> None:
        """Refuse a username that is no investigator's."""
        unknown = sorted(set(field.data or []) - {value for value, _label in field.choices})
        if unknown:
            raise ValidationError(f"No investigator {unknown[0]!r}.")


class ItemForm(Form):
    """One seized item in the registration form."""

    description = TextAreaField("Item description", validators=[Length(max=2000)])
    packaging = StringField("Packaging", validators=[Length(max=200)])
    unit_count = IntegerField("Units", default=1,
                              validators=[Optional(), NumberRange(min=1, max=MAX_UNITS)])
    gross_weight = WeightField("Gross weight (g)")
    net_weight = WeightField("Net weight (g)")
    seal_received = StringField("Seal found on the item", validators=[seal_number, Length(max=80)])
    seal_intact = RadioField("Seal condition", choices=YES_NO, validators=[Optional()])
    current_seal = StringField("Laboratory seal applied", validators=[seal_number, Length(max=80)])
    storage_location = SelectField("Intended storage", choices=[], validate_choice=False)

    def validate_net_weight(self, field):
        """Net weight cannot exceed gross weight."""
        gross = self.gross_weight.data
        if field.data is not None and gross is not None and field.data > gross:
            raise ValidationError("The net weight is larger than the gross weight.")

    def is_blank(self) -> bool:
        """True when nothing was typed in this row."""
        return not any([(self.description.data or "").strip(), self.packaging.data,
                        self.seal_received.data, self.gross_weight.data, self.net_weight.data])

    def item_data(self, location_ids: dict[str, int]) -> dict:
        """The sample fields as plain values."""
        return {
            "description": (self.description.data or "").strip(),
            "packaging": (self.packaging.data or "").strip(),
            "unit_count": self.unit_count.data or 1,
            "gross_weight_mg": self.gross_weight.data,
            "net_weight_mg": self.net_weight.data,
            "seal_received": self.seal_received.data or "",
            "seal_intact": {"yes": True, "no": False}.get(self.seal_intact.data),
            "current_seal": self.current_seal.data or "",
            "storage_location_id": location_ids.get(self.storage_location.data or ""),
        }


class SampleRequest(ItemForm):
    """One item sent to the API: described, and stored only where a location exists."""

    description = TextAreaField("Item description", validators=[
        DataRequired("Describe the item."), Length(max=2000)])

    def validate_storage_location(self, field) -> None:
        """Only an active location (the view sets them as the choices)."""
        if field.data and field.data not in {code for code, _label in field.choices}:
            raise ValidationError(f"Unknown location {field.data!r}.")


class RegisterSamplesForm(FlaskForm):
    """Several items of one case registered at once."""

    items = FieldList(FormField(ItemForm), min_entries=1, max_entries=50)

    def filled_items(self) -> list[ItemForm]:
        """The rows something was typed in (empty rows are ignored)."""
        return [entry.form for entry in self.items if not entry.form.is_blank()]

    def validate(self, extra_validators=None) -> bool:
        """Every filled row needs a description, and at least one row must be filled."""
        valid = super().validate(extra_validators)
        filled = self.filled_items()
        for item in filled:
            if not (item.description.data or "").strip():
                item.description.errors.append("Describe the item.")
                valid = False
        if not filled:
            self.form_errors.append("Fill in at least one item.")
            valid = False
        return valid


class SampleEditForm(FlaskForm):
    """Descriptive fields of a registered sample; changes need a reason."""

    description = TextAreaField("Item description", validators=[DataRequired(),
                                                                 Length(max=2000)])
    packaging = StringField("Packaging", validators=[Length(max=200)])
    unit_count = IntegerField("Units", validators=[DataRequired(),
                                                   NumberRange(min=1, max=MAX_UNITS)])
    gross_weight = WeightField("Gross weight (g)")
    net_weight = WeightField("Net weight (g)")
    storage_location = SelectField("Intended storage", choices=[], validate_choice=False)
    reason = TextAreaField("Reason for the change", validators=[DataRequired(),
                                                                 Length(max=1000)])

    validate_net_weight = ItemForm.validate_net_weight


class SubsampleForm(FlaskForm):
    """A sub-sample or aliquot taken from an item."""

    description = TextAreaField("What was taken", validators=[DataRequired(), Length(max=2000)])
    packaging = StringField("Container", validators=[Length(max=200)])
    net_weight = WeightField("Net weight (g)")
    current_seal = StringField("Seal applied", validators=[seal_number, Length(max=80)])


class StatusForm(FlaskForm):
    """A status change with its reason."""

    status = SelectField("New status", choices=[(s, s.replace("_", " "))
                                                for s in SAMPLE_STATUSES])
    reason = TextAreaField("Reason", validators=[DataRequired(), Length(max=1000)])




class BulkUploadForm(FlaskForm):
    """A CSV or XLSX sheet of items for one case."""

    sheet = FileField("Sheet (CSV or XLSX)", validators=[FileRequired()])


class BulkConfirmForm(FlaskForm):
    """Confirm the import of a previewed sheet."""

    sheet_id = HiddenField(validators=[DataRequired()])


class LocationForm(FlaskForm):
    """A storage location."""

    code = StringField("Code", validators=[DataRequired(), Length(max=40)],
                       description="Printed on the shelf label, e.g. VAULT-A-03.")
    name = StringField("Name", validators=[DataRequired(), Length(max=200)])
