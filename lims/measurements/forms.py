"""Instrument and upload forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from instruments.core import TECHNIQUES
from lims.measurements.services import ADAPTER_CHOICES

AUTO = [("", "Detect automatically")]


class InstrumentForm(FlaskForm):
    """An instrument of the laboratory."""

    name = StringField("Name", validators=[DataRequired(), Length(max=80)],
                       description="Short name used in the watched folder, e.g. FTIR-1.")
    model = StringField("Model", validators=[Length(max=120)])
    serial = StringField("Serial number", validators=[Length(max=80)])
    technique = SelectField("Technique", choices=[(t, t) for t in TECHNIQUES])
    default_adapter = SelectField("Default file format", choices=AUTO + list(ADAPTER_CHOICES),
                                  default="")
    calibration_due = DateField("Calibration due", validators=[Optional()],
                                description="Measurements made after this day are flagged.")
    reason = TextAreaField("Reason for the change", validators=[Length(max=1000)])

    def instrument_data(self) -> dict:
        """Instrument fields as plain values."""
        return {"name": self.name.data.strip(), "model": self.model.data or "",
                "serial": self.serial.data or "", "technique": self.technique.data,
                "default_adapter": self.default_adapter.data or "",
                "calibration_due": self.calibration_due.data}


class UploadForm(FlaskForm):
    """An instrument export file for a sample."""

    file = FileField("Instrument file", validators=[FileRequired()],
                     description="JCAMP-DX, SPC, OPUS, OMNIC, WDF, CSV/TXT, MSP, mzML, "
                                 "ANDI netCDF, ChemStation, EMSA/MSA.")
    instrument = SelectField("Instrument", choices=[], validate_choice=False)
    adapter = SelectField("File format", choices=AUTO + list(ADAPTER_CHOICES), default="",
                          description="Leave on automatic unless the file is misdetected.")


class DecisionForm(FlaskForm):
    """Accept or reject a previewed upload."""

    sha256 = HiddenField(validators=[DataRequired(), Length(min=64, max=64)])
    filename = HiddenField(validators=[Length(max=255)])
    adapter = HiddenField()
    instrument = HiddenField()
    decision = HiddenField()
    reason = StringField("Reason for rejecting", validators=[Length(max=500)])
