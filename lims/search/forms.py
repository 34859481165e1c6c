"""The library-search form and the hit decision form."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    Form,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from libsearch.index import ALGORITHMS


class SearchForm(FlaskForm):
    """Search one spectrum, processed by the recipe shown, against a reference library."""

    library = SelectField("Library", validators=[InputRequired()], coerce=str)
    algorithm = SelectField("Algorithm", validators=[InputRequired()], coerce=str)
    top = IntegerField("Hits to list", default=10,
                       validators=[InputRequired(), NumberRange(min=1, max=100)])
    recipe = HiddenField("Processing recipe (JSON)")
    submit = SubmitField("Search library")


class HitDecisionForm(FlaskForm):
    """Accept or reject one hit of a stored search, with the chemist's comment."""

    decision = SelectField("Decision", choices=[("accepted", "Accept"), ("rejected", "Reject")],
                           validators=[DataRequired()])
    comment = TextAreaField("Comment", validators=[DataRequired(), Length(max=2000)])
    submit = SubmitField("Record decision")


class SearchRequest(Form):
    """The body of POST /api/v1/spectra/<id>/search (a processing `recipe` object may follow)."""

    library = StringField("Library name", validators=[InputRequired(), Length(max=200)])
    library_version = StringField("Library version (latest when omitted)",
                                  validators=[Optional(), Length(max=60)])
    algorithm = SelectField("Algorithm", choices=[(name, a.label) for name, a in
                                                  ALGORITHMS.items()],
                            validators=[InputRequired()])
    top = IntegerField("Hits to return", default=10,
                       validators=[Optional(), NumberRange(min=1, max=100)])
