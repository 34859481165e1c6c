"""Accounts, passwords, login throttling, server-side sessions and API tokens."""

from __future__ import annotations

import contextlib
import hashlib
import re
import secrets
import time
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import select, update

from lims.audit.services import record
from lims.auth import throttle, totp
from lims.auth.models import ROLES, ApiToken, AuthSession, User
from lims.db import db, utcnow
from lims.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not-a-real-password-used-for-timing")
SIGNER_ROLES = frozenset({"reviewer", "admin"})
TWO_FACTOR_ROLES = frozenset({"chemist", "reviewer", "admin"})  # the roles that sign
TOKEN_DAYS = 90
TOKEN_MAX_DAYS = 3650
CODE_STEP_MINUTES = 5  # time to type the code after the password
COMMON_PASSWORDS = frozenset({
    "password1234", "123456789012", "qwertyuiopas", "passwordpassword", "customslab123",
    "laboratory123", "administrator", "changeme1234", "letmein12345", "welcome12345",
})


def token_digest(token: str) -> str:
    """SHA-256 of a session or API token: only this is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def check_password_policy(password: str, username: str = "") -> None:
    """Refuse short, overlong, common passwords or the username (NIST 800-63B, no composition)."""
    if len(password) < 12:
        raise Invalid("The password must have at least 12 characters.", "password")
    if len(password) > 128:
        raise Invalid("The password must have at most 128 characters.", "password")
    if password.lower() in COMMON_PASSWORDS or len(set(password)) < 4:
        raise Invalid("This password is too common; choose another.", "password")
    letters = re.sub(r"[^a-z]", "", username.lower())
    if letters and not re.sub(r"[^a-z]", "", password.lower()).replace(letters, ""):
        raise Invalid("The password must not be the username (with digits or signs).",
                      "password")


def create_user(actor, username: str, full_name: str, role: str, password: str) -> User:
    """Create an account (usernames are never reused) and audit it."""
    username = username.strip().lower()
    if role not in ROLES:
        raise Invalid(f"Unknown role {role!r}; choose one of {', '.join(ROLES)}.", "role")
    if not username.replace(".", "").replace("-", "").replace("_", "").isalnum():
        raise Invalid("Use letters, digits, '.', '-' or '_' in the username.", "username")
    if db.session.scalar(select(User.id).where(User.username == username)):
        raise Conflict(f"The username {username!r} exists or existed; usernames are never "
                       "reused.", "username")
    check_password_policy(password, username)
    user = User(username=username, full_name=full_name.strip() or username, role=role,
                password_hash=_hasher.hash(password), is_active=True)
    db.session.add(user)
    db.session.flush()
    record(actor, "create", "user", username, new={"role": role, "full_name": user.full_name})
    return user


def set_active(actor, user: User, active: bool, reason: str) -> None:
    """Enable or disable an account; disabling ends its sessions and tokens at once."""
    if not reason.strip():
        raise Invalid("Give a reason.", "reason")
    if user.is_active == active:
        return
    record(actor, "update", "user", user.username, field="is_active", old=user.is_active,
           new=active, reason=reason)
    user.is_active = active
    if active:
        user.enabled_at = utcnow()  # the idle period starts again
    else:
        end_sessions(user)
        db.session.execute(update(ApiToken).where(
            ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).values(
            revoked_at=utcnow()))


def end_sessions(user: User, keep: str | None = None) -> None:
    """End the user's live sessions, except the one of the cookie token `keep`."""
    query = update(AuthSession).where(AuthSession.user_id == user.id,
                                      AuthSession.ended_at.is_(None))
    if keep:
        query = query.where(AuthSession.token_hash != token_digest(keep))
    db.session.execute(query.values(ended_at=utcnow()))


def verify_password(user: User, password: str) -> bool:
    """Check a password; upgrade the hash when its parameters are outdated."""
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return True


def _spend_hash_time(password: str) -> None:
    """Hash once for unknown usernames so that timing does not reveal which exist."""
    with contextlib.suppress(VerificationError):
        _hasher.verify(_DUMMY_HASH, password)


class LoginFailed(Unauthorized):
    """A wrong password or code: the counted failure and its audit entry must stay."""

    keep_writes = True


class AccountExpired(Forbidden):
    """The account was idle too long and has just been disabled (that change must stay)."""

    keep_writes = True


class ReauthFailed(Invalid):
    """A wrong password at a confirmation; nothing but the failed attempt was written."""

    keep_writes = True


LOGIN_FAILED = "Unknown username or wrong password."


def idle_expired(user: User, days: int, now) -> bool:
    """True when the user has not logged in (or been enabled) for more than `days` days."""
    if not days:
        return False
    last = max(moment for moment in (user.created_at, user.last_login_at, user.enabled_at)
               if moment is not None)
    return now - last > timedelta(days=days)


def authenticate(username: str, password: str) -> User:
    """Return the active user for these credentials; failures slow the caller down.

    Unknown and known usernames go through the same steps (back-off per typed username and
    per address, one password hash, one audit entry) and get the same answer.
    """
    typed = username.strip().lower()
    throttle.refuse_while_waiting(throttle.account_key(typed), throttle.address_key())
    user = db.session.scalar(select(User).where(User.username == typed))
    if user is None:
        _spend_hash_time(password)
    if user is None or not verify_password(user, password) or not user.is_active:
        throttle.count_login_failure(typed)
        record(user, "login_failed", "user", typed[:80], actor_name=None if user else
               (typed[:80] or "?"))
        raise LoginFailed(LOGIN_FAILED)
    if not user.has_two_factor:  # else only the right code clears the account's failures
        throttle.forget(throttle.account_key(typed))
    days = current_app.config["LIMS"].account_idle_days
    if idle_expired(user, days, utcnow()):
        set_active(None, user, False, f"No login for more than {days} days (account expiry)")
        raise AccountExpired(f"This account was disabled after {days} days without a login; "
                             "ask an administrator to enable it again.")
    return user


def confirm_password(user: User, password: str, field: str = "password") -> None:
    """Re-authentication for custody receipts and signatures; failures slow the caller's address.

    They never count against the account whose password was typed, so nobody can lock a
    colleague out. Callers confirm before they write anything else, so that on ReauthFailed
    the view can commit the counted failure alone.
    """
    throttle.refuse_while_waiting(throttle.address_key(), field=field)
    if not user.is_active or not verify_password(user, password):
        throttle.count_login_failure(None)
        record(user, "reauth_failed", "user", user.username)
        raise ReauthFailed(f"The password of {user.full_name} is not correct.", field)


def confirm_code(user: User, code: str, field: str = "code") -> None:
    """Check the second factor of a user enrolled in TOTP (signatures); others pass."""
    if not user.has_two_factor:
        return
    throttle.refuse_while_waiting(throttle.address_key(), field=field)
    if not totp.accept_code(user, code):
        throttle.count_login_failure(None)
        record(user, "reauth_failed", "user", user.username, field="two_factor")
        raise ReauthFailed("The authenticator code is not correct.", field)


def start_session(user: User, client_ip: str | None) -> str:
    """Open a server-side session and return the token for the cookie."""
    user.last_login_at = utcnow()
    token = secrets.token_urlsafe(32)
    db.session.add(AuthSession(token_hash=token_digest(token), user_id=user.id,
                               client_ip=client_ip))
    record(user, "login", "user", user.username)
    return token


def idle_limit(user: User, idle_minutes: int, signer_minutes: int) -> timedelta:
    """Idle timeout for this user: shorter for roles that sign."""
    return timedelta(minutes=signer_minutes if user.role in SIGNER_ROLES else idle_minutes)


def resume_session(token: str, *, idle_minutes: int, signer_minutes: int,
                   max_hours: int) -> AuthSession | None:
    """Return the live session for a cookie token, or None if ended, idle or expired."""
    sess = db.session.scalar(select(AuthSession).where(
        AuthSession.token_hash == token_digest(token), AuthSession.ended_at.is_(None)))
    if sess is None or not sess.user.is_active:
        return None
    now = utcnow()
    idle = idle_limit(sess.user, idle_minutes, signer_minutes)
    if now - sess.last_seen_at > idle or now - sess.created_at > timedelta(hours=max_hours):
        sess.ended_at = now
        return None
    if now - sess.last_seen_at > timedelta(seconds=60):
        sess.last_seen_at = now
    return sess


def end_session(token: str) -> None:
    """End the session of this cookie token (logout): a copied cookie stops working."""
    sess = db.session.scalar(select(AuthSession).where(
        AuthSession.token_hash == token_digest(token), AuthSession.ended_at.is_(None)))
    if sess is not None:
        sess.ended_at = utcnow()
        record(sess.user, "logout", "user", sess.user.username)


def create_api_token(actor, user: User, label: str, expires_days: int = TOKEN_DAYS) -> str:
    """Create a named bearer token that expires; it is returned once and only its hash kept."""
    label = (label or "").strip()
    if not label or len(label) > 100:
        raise Invalid("Name the token (what it is for), in at most 100 characters.", "label")
    if not 1 <= expires_days <= TOKEN_MAX_DAYS:
        raise Invalid(f"A token expires after 1 to {TOKEN_MAX_DAYS} days.", "expires_days")
    if not user.is_active:
        raise Conflict(f"{user.username} is disabled.")
    token = "lims_" + secrets.token_urlsafe(32)
    row = ApiToken(label=label, token_hash=token_digest(token), user_id=user.id,
                   expires_at=utcnow() + timedelta(days=expires_days))
    db.session.add(row)
    db.session.flush()
    record(actor, "create", "api_token", str(row.id),
           new={"user": user.username, "label": label, "expires_at": row.expires_at})
    return token


def list_api_tokens(user: User | None = None) -> list[ApiToken]:
    """API tokens (of one user, or all), newest first."""
    query = select(ApiToken).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    if user is not None:
        query = query.where(ApiToken.user_id == user.id)
    return list(db.session.scalars(query))


def get_api_token(token_id: int) -> ApiToken:
    """Load an API token by id or raise NotFound."""
    row = db.session.get(ApiToken, token_id) if 0 < token_id < 2**63 else None
    if row is None:
        raise NotFound(f"No API token {token_id}.", "id")
    return row


def revoke_api_token(actor, row: ApiToken) -> None:
    """Revoke one token at once; the others of its user keep working."""
    if row.revoked_at is not None:
        raise Conflict(f"API token {row.id} was already revoked.", "id")
    row.revoked_at = utcnow()
    record(actor, "update", "api_token", str(row.id), field="revoked_at", new=row.revoked_at,
           reason=f"{row.user.username}: {row.label}")


def user_for_token(token: str) -> User | None:
    """The active user of a live (neither revoked nor expired) bearer token, or None."""
    now = utcnow()
    row = db.session.scalar(select(ApiToken).where(
        ApiToken.token_hash == token_digest(token), ApiToken.revoked_at.is_(None),
        ApiToken.expires_at > now))
    if row is None or not row.user.is_active:
        return None
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=5):
        row.last_used_at = now
    return row.user


def must_enrol(user: User) -> bool:
    """True while an admin or reviewer must enrol TOTP first (LIMS_REQUIRE_2FA=1)."""
    return (current_app.config["LIMS"].require_2fa and user.role in SIGNER_ROLES
            and not user.has_two_factor)


def sign_in(username: str, password: str, client_ip: str | None) -> tuple[User, str | None]:
    """Login step one: the user and the session token, or no token while a code is due."""
    user = authenticate(username, password)
    return user, None if user.has_two_factor else start_session(user, client_ip)


def finish_login(user_id: int, started: float, code: str, client_ip: str | None) -> str:
    """Second step of a login: check the authenticator code and open the session."""
    user = db.session.get(User, user_id)
    if user is None or time.time() - started > CODE_STEP_MINUTES * 60:
        raise Unauthorized("The login took too long; enter your password again.")
    throttle.refuse_while_waiting(throttle.account_key(user.username), throttle.address_key(),
                                  field="code")
    if not user.is_active or not totp.accept_code(user, code):
        throttle.count_login_failure(user.username)
        record(user, "login_failed", "user", user.username, field="two_factor")
        raise LoginFailed("The authenticator code is not correct.", "code")
    throttle.forget(throttle.account_key(user.username))
    return start_session(user, client_ip)


def begin_two_factor(user: User) -> str:
    """Start (or restart) TOTP enrolment: a new secret, shown until it is confirmed."""
    if user.role not in TWO_FACTOR_ROLES:
        raise Forbidden("Two-factor sign-in is for the roles that sign.")
    if user.has_two_factor:
        raise Conflict("Two-factor sign-in is already on; an administrator can reset it.")
    record(user, "two_factor_enrolment_started", "user", user.username)
    return totp.new_secret(user)


def pending_two_factor(user: User) -> tuple[str, str] | None:
    """(secret, otpauth URI) of an enrolment not yet confirmed, else None."""
    secret = None if user.has_two_factor else totp.secret_of(user)
    return (secret, totp.provisioning_uri(user, secret)) if secret else None


def confirm_two_factor(user: User, code: str) -> None:
    """Switch TOTP on once the user typed a code from the new secret (audited)."""
    if pending_two_factor(user) is None:
        raise Conflict("Start the enrolment first.")
    if not totp.accept_code(user, code):
        raise Invalid("The code is not correct; type the 6 digits your app shows now.", "code")
    user.totp_confirmed_at = utcnow()
    record(user, "update", "user", user.username, field="two_factor", old=False, new=True)


def reset_two_factor(actor, user: User, reason: str) -> None:
    """Recovery by an administrator: remove the user's authenticator (audited)."""
    if not (reason or "").strip():
        raise Invalid("Give a reason.", "reason")
    if user.totp_secret is None:
        raise Conflict(f"{user.username} has no authenticator enrolled.")
    record(actor, "update", "user", user.username, field="two_factor",
           old=user.has_two_factor, new=False, reason=reason)
    user.totp_secret = user.totp_confirmed_at = user.totp_last_step = None


def _set_password(actor, user: User, new: str, reason: str, keep: str | None = None) -> None:
    check_password_policy(new, user.username)
    user.password_hash = _hasher.hash(new)
    user.password_changed_at = utcnow()
    record(actor, "update", "user", user.username, field="password", reason=reason)
    end_sessions(user, keep)


def change_password(user: User, current: str, new: str, repeat: str, session_token: str) -> None:
    """The user changes their own password; their other sessions end."""
    confirm_password(user, current, "current_password")
    if new != repeat:
        raise Invalid("The two new passwords are not the same.", "repeat")
    if new == current:
        raise Invalid("Choose a password different from the current one.", "new_password")
    try:
        _set_password(user, user, new, "changed by the user", session_token)
    except Invalid as error:
        raise Invalid(error.message, "new_password") from error


def reset_password(actor, user: User, new: str) -> None:
    """An administrator sets a new password; every session of the user ends."""
    _set_password(actor, user, new, "reset by an administrator")
    throttle.forget(throttle.account_key(user.username))


def get_user(username: str) -> User:
    """Load a user by username or raise NotFound."""
    user = db.session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise NotFound(f"No user {username!r}.", "username")
    return user


def list_users() -> list[User]:
    """All accounts, by username."""
    return list(db.session.scalars(select(User).order_by(User.username)))
