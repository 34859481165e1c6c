"""Hand-over, reseal, discrepancy and release forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    Form,
    HiddenField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from lims.forms import WeightField
from lims.intake.forms import YES_NO, seal_number


class SealFields(Form):
    """Seal found, its condition, and the new seal."""

    seal_found = StringField("Seal number found", validators=[seal_number, Length(max=80)],
                             description="Scan or type the seal on the item.",
                             render_kw={"data-scan": "1", "autocomplete": "off"})
    seal_intact = RadioField("Seal condition", choices=YES_NO, validators=[Optional()])
    new_seal = StringField("New seal applied", validators=[seal_number, Length(max=80)],
                           description="Only when the item was resealed.",
                           render_kw={"data-scan": "1", "autocomplete": "off"})
    weight = WeightField("Gross weight now (g)", description="Optional; with the unit if not g.")
    note = TextAreaField("Note", validators=[Length(max=2000)])

    def seal_values(self) -> dict:
        """Seal, weight and note values for the custody service."""
        return {"seal_found": self.seal_found.data or "",
                "seal_intact": {"yes": True, "no": False}.get(self.seal_intact.data),
                "new_seal": self.new_seal.data or "", "weight_mg": self.weight.data,
                "note": self.note.data or ""}


class HandoverForm(FlaskForm, SealFields):
    """Hand an item to a person or into storage; the receiving person confirms."""

    expected_from = HiddenField()
    step = HiddenField(default="check")
    to = SelectField("Hand over to", choices=[], validators=[DataRequired()])
    witness = StringField("Witness", validators=[Length(max=200)])
    receiver_password = PasswordField("Password of the person receiving",
                                      description="The receiver confirms with their own "
                                                  "password.")


class ResealForm(FlaskForm, SealFields):
    """Open and reseal an item."""


class ResolveForm(FlaskForm):
    """Resolve a seal discrepancy."""

    reason = TextAreaField("How was the discrepancy resolved?",
                           validators=[DataRequired(), Length(min=10, max=2000)])


class ReleaseForm(FlaskForm, SealFields):
    """Return an item to its owner or hand it over for destruction."""

    expected_from = HiddenField()
    final = SelectField("Event", choices=[("return", "Return"),
                                          ("destruction", "Destruction")])
    recipient = StringField("Recipient or destruction commission",
                            validators=[DataRequired(), Length(max=200)])
    witness = StringField("Witness", validators=[Length(max=200)])


class CustodyRequest(SealFields):
    """A custody event sent to the API (JSON); `from` arrives as expected_from."""

    expected_from = StringField("Current holder", validators=[DataRequired()],
                                description="'user:NAME' or 'location:CODE' as the client "
                                            "last saw it; refused when it is out of date.")
    to = StringField("Receiver", validators=[Length(max=120)],
                     description="'user:NAME' or 'location:CODE'.")
    receiver_password = PasswordField("Receiver's password")
    witness = StringField("Witness", validators=[Length(max=200)])
    final = SelectField("Final event", choices=[("", "none"), ("return", "return"),
                                                ("destruction", "destruction")], default="")
    recipient = StringField("Recipient outside the lab (final events)",
                            validators=[Length(max=200)])

    def validate_to(self, field) -> None:
        """A hand-over names who or where receives the item."""
        if not self.final.data and not (field.data or "").strip():
            raise ValidationError("Choose who or where receives the item ('user:NAME' or "
                                  "'location:CODE').")

    def validate_recipient(self, field) -> None:
        """A return or destruction names the recipient or the commission."""
        if self.final.data and not (field.data or "").strip():
            raise ValidationError("Name the recipient or the destruction commission.")
