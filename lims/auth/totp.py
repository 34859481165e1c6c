"""TOTP second factor (RFC 6238): secrets kept encrypted, each code accepted once."""

from __future__ import annotations

import base64
import hmac
import time

import pyotp
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

from lims.auth.models import User

STEP_SECONDS = 30
DRIFT_STEPS = 1  # accept the previous and the next code too (clock drift, slow typing)


def _fernet() -> Fernet:
    """Encryption key derived from the application's secret key (kept outside the database)."""
    secret = current_app.config["LIMS"].secret_key.encode()
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=b"lims totp secret v1").derive(secret)
    return Fernet(base64.urlsafe_b64encode(key))


def new_secret(user: User) -> str:
    """Give the user a fresh, unconfirmed secret (stored encrypted) and return it."""
    secret = pyotp.random_base32()
    user.totp_secret = _fernet().encrypt(secret.encode()).decode()
    user.totp_confirmed_at = None
    user.totp_last_step = None
    return secret


def secret_of(user: User) -> str | None:
    """The user's decrypted secret, or None (none, or the secret key has changed)."""
    if not user.totp_secret:
        return None
    try:
        return _fernet().decrypt(user.totp_secret.encode()).decode()
    except InvalidToken:
        return None


def provisioning_uri(user: User, secret: str) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    issuer = current_app.config["LIMS"].lab_name
    return pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(name=user.username,
                                                                       issuer_name=issuer)


def accept_code(user: User, code: str) -> bool:
    """True for a current code not used before; the step used is remembered (no replay)."""
    secret = secret_of(user)
    code = "".join((code or "").split())
    if secret is None or not code.isdigit() or len(code) != 6:
        return False
    otp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    now_step = int(time.time()) // STEP_SECONDS
    for step in range(now_step - DRIFT_STEPS, now_step + DRIFT_STEPS + 1):
        if step > (user.totp_last_step or -1) and hmac.compare_digest(
                otp.at(step * STEP_SECONDS), code):
            user.totp_last_step = step
            return True
    return False
