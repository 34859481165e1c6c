"""Library import, approval, substance edit and legal-status forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from lims.forms import identifier
from lims.identifiers import normalize_cas
from lims.library.models import REGIMES
from lims.measurements.forms import AUTO
from lims.measurements.services import ADAPTER_CHOICES


class ImportForm(FlaskForm):
    """A reference library file with the name and version certificates will quote."""

    file = FileField("Library file", validators=[FileRequired()],
                     description="NIST MSP / AMDIS MSL, JCAMP-DX (one or many blocks), SPC "
                                 "multifile, MassBank, MGF.")
    name = StringField("Library name", validators=[DataRequired(), Length(max=200)],
                       description="As it will be printed on certificates, e.g. SWGDRUG MS "
                                   "library.")
    version = StringField("Version", validators=[DataRequired(), Length(max=60)],
                          description="The publisher's version or release date, e.g. 3.14.")
    adapter = SelectField("File format", choices=AUTO + list(ADAPTER_CHOICES), default="",
                          description="Leave on automatic unless the file is misdetected.")
    description = TextAreaField("Description", validators=[Length(max=2000)],
                                description="Source, licence, what it covers.")


class ApprovalForm(FlaskForm):
    """Take a library off the approved list, or put it back, with the reason."""

    approved = SelectField("Approved for casework", choices=[("1", "Approved"),
                                                             ("0", "Not approved")])
    reason = TextAreaField("Reason", validators=[DataRequired(), Length(max=1000)])


class SubstanceForm(FlaskForm):
    """A substance's name, CAS number, formula, synonyms and notes."""

    name = StringField("Name", validators=[DataRequired(), Length(max=255)])
    cas = StringField("CAS Registry Number", validators=[Length(max=20),
                                                         identifier(normalize_cas)],
                      description="Written NNNNNNN-NN-R; the check digit is verified.")
    formula = StringField("Formula", validators=[Length(max=120)])
    synonyms = TextAreaField("Synonyms", description="One name per line.")
    notes = TextAreaField("Notes", validators=[Length(max=4000)])
    reason = TextAreaField("Reason for the change", validators=[Length(max=1000)])

    def substance_data(self) -> dict:
        """The substance fields as plain values."""
        return {"name": self.name.data, "cas": self.cas.data, "formula": self.formula.data,
                "notes": self.notes.data,
                "synonyms": [s for s in (self.synonyms.data or "").splitlines()]}


class LegalStatusForm(FlaskForm):
    """A dated entry of a substance on a control list."""

    regime = SelectField("Control regime", choices=[(r, r) for r in REGIMES],
                         validators=[InputRequired()])
    schedule = StringField("Schedule, table or category",
                           validators=[DataRequired(), Length(max=80)],
                           description="For example Schedule I, Table I or Category 1.")
    effective_from = DateField("In force from", validators=[InputRequired()],
                               description="The first day the entry applies.")
    effective_to = DateField("In force until", validators=[Optional()],
                             description="The first day it no longer applies; leave empty "
                                         "while in force.")
    reference = TextAreaField("Legal act or source", validators=[Length(max=2000)],
                              description="For example the Official Journal reference.")

    def status_data(self) -> dict:
        """The entry's fields as plain values."""
        return {"regime": self.regime.data, "schedule": self.schedule.data,
                "effective_from": self.effective_from.data,
                "effective_to": self.effective_to.data, "reference": self.reference.data}


class EndStatusForm(FlaskForm):
    """End an open legal-status entry."""

    effective_to = DateField("No longer applies from", validators=[InputRequired()])
    reason = TextAreaField("Reason", validators=[DataRequired(), Length(max=1000)],
                           description="For example the act that removed the substance.")
