"""Forms of the certificates feature: amend, withdraw and the public verification."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import Form, PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError


class AmendForm(FlaskForm):
    """Open an amendment: the reason goes into the new certificate."""

    reason = TextAreaField("Reason for the amendment", validators=[
        DataRequired("Give the reason for the amendment."), Length(max=2000)],
        description="Printed on the amended certificate, e.g. \u201cwrong seal number\u201d.")


class WithdrawForm(FlaskForm):
    """Withdraw a certificate without replacement (reason and password)."""

    reason = TextAreaField("Reason for the withdrawal", validators=[
        DataRequired("Give the reason for the withdrawal."), Length(max=2000)],
        description="Shown on the public verification page.")
    password = PasswordField("Your password", validators=[
        DataRequired("Enter your password to sign the withdrawal.")],
        render_kw={"autocomplete": "current-password"})


class VerifyForm(FlaskForm):
    """The verification code from the QR code, or the PDF to check."""

    token = StringField("Verification code", validators=[Optional(), Length(max=64)],
                        description="The code after /verify/ in the QR code's address.",
                        render_kw={"autocomplete": "off", "spellcheck": "false"})
    file = FileField("Or the certificate PDF", description="The file is checked and not kept.")

    def validate_file(self, field) -> None:
        """One of the two is needed."""
        if not field.data and not (self.token.data or "").strip():
            raise ValidationError("Give the verification code or choose the PDF file.")


class VerifyRequest(Form):
    """The JSON body of POST /api/v1/verify: the token alone."""

    token = StringField("Verification code", validators=[DataRequired()],
                        description="The code after /verify/ in the QR code's address.")
