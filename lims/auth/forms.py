"""Login and account forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from lims.auth.models import ROLES


class LoginForm(FlaskForm):
    """Username and password."""

    username = StringField("Username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=128)])


class UserForm(FlaskForm):
    """A new account created by an administrator."""

    username = StringField("Username", validators=[DataRequired(), Length(max=64)])
    full_name = StringField("Full name", validators=[DataRequired(), Length(max=200)],
                            description="Printed on custody records and signatures.")
    role = SelectField("Role", choices=[(r, r) for r in ROLES])
    password = PasswordField("Initial password", validators=[DataRequired(), Length(max=128)],
                             description="At least 12 characters; the user changes it later.")


class DisableForm(FlaskForm):
    """Disable or enable an account, with a reason."""

    reason = TextAreaField("Reason", validators=[DataRequired(), Length(max=1000)])


def signer_code_field() -> StringField:
    """The optional authenticator code asked with a signing password (when enrolled)."""
    return StringField("Authenticator code", validators=[Optional(), Length(max=10)],
                       description="The 6 digits your authenticator app shows now.",
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})


class CodeForm(FlaskForm):
    """The 6-digit code of an authenticator app (login step two, enrolment)."""

    code = StringField("Authenticator code", validators=[DataRequired(), Length(max=10)],
                       description="The 6 digits your authenticator app shows now.",
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})


class PasswordChangeForm(FlaskForm):
    """The current password and the new one twice."""

    current_password = PasswordField("Current password",
                                     validators=[DataRequired(), Length(max=128)],
                                     render_kw={"autocomplete": "current-password"})
    new_password = PasswordField("New password", validators=[DataRequired(), Length(max=128)],
                                 description="At least 12 characters, not your username; "
                                             "a few words make a good one.",
                                 render_kw={"autocomplete": "new-password"})
    repeat = PasswordField("New password again", validators=[DataRequired(), Length(max=128)],
                           render_kw={"autocomplete": "new-password"})
