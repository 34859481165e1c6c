"""Accounts, passwords, login throttling, server-side sessions and API tokens."""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from sqlalchemy import select, update

from lims.audit.services import record
from lims.auth.models import ROLES, ApiToken, AuthSession, User
from lims.db import db, utcnow
from lims.errors import Conflict, Invalid, NotFound, TooManyAttempts, Unauthorized

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not-a-real-password-used-for-timing")
SIGNER_ROLES = frozenset({"reviewer", "admin"})
COMMON_PASSWORDS = frozenset({
    "password1234", "123456789012", "qwertyuiopas", "passwordpassword", "customslab123",
    "laboratory123", "administrator", "changeme1234", "letmein12345", "welcome12345",
})


def token_digest(token: str) -> str:
    """SHA-256 of a session or API token: only this is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def check_password_policy(password: str) -> None:
    """Refuse short, overlong or common passwords (NIST 800-63B, no composition rules)."""
    if len(password) < 12:
        raise Invalid("The password must have at least 12 characters.", "password")
    if len(password) > 128:
        raise Invalid("The password must have at most 128 characters.", "password")
    if password.lower() in COMMON_PASSWORDS or len(set(password)) < 4:
        raise Invalid("This password is too common; choose another.", "password")


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
    check_password_policy(password)
    user = User(username=username, full_name=full_name.strip() or username, role=role,
                password_hash=_hasher.hash(password), is_active=True, failed_logins=0)
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
    if not active:
        now = utcnow()
        db.session.execute(update(AuthSession).where(
            AuthSession.user_id == user.id, AuthSession.ended_at.is_(None)).values(ended_at=now))
        db.session.execute(update(ApiToken).where(
            ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).values(revoked_at=now))


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


def _lockout(failures: int, limit: int) -> timedelta:
    """Soft lock that doubles from one minute, capped at an hour."""
    return timedelta(minutes=min(60, 2 ** max(0, failures - limit)))


def _count_failure(user: User, now) -> None:
    """Count a failed password; past the limit the account is throttled (soft lock)."""
    limit = current_app.config["LIMS"].login_max_failures
    user.failed_logins += 1
    if user.failed_logins >= limit:
        user.locked_until = now + _lockout(user.failed_logins, limit)


def authenticate(username: str, password: str) -> User:
    """Return the active user for these credentials, counting and throttling failures."""
    user = db.session.scalar(select(User).where(User.username == username.strip().lower()))
    now = utcnow()
    if user is None:
        _spend_hash_time(password)
        record(None, "login_failed", "user", username[:80], actor_name=username[:80] or "?")
        raise Unauthorized("Unknown username or wrong password.")
    if user.locked_until and user.locked_until > now:
        wait = int((user.locked_until - now).total_seconds() // 60) + 1
        raise TooManyAttempts(f"Too many failed attempts. Try again in {wait} minute(s).")
    if not verify_password(user, password) or not user.is_active:
        _count_failure(user, now)
        record(user, "login_failed", "user", user.username, new=user.failed_logins)
        raise Unauthorized("Unknown username or wrong password.")
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    return user


class ReauthFailed(Invalid):
    """A wrong password at a confirmation; nothing but the failed attempt was written."""

    keep_writes = True


def confirm_password(user: User, password: str, field: str = "password") -> None:
    """Re-authentication for custody receipts and signatures; failures count toward lockout.

    Callers confirm before they write anything else, so that on ReauthFailed the view can
    commit the counted failure alone.
    """
    now = utcnow()
    if user.locked_until and user.locked_until > now:
        raise TooManyAttempts(f"{user.full_name}'s account is throttled after failed attempts.",
                              field)
    if not user.is_active or not verify_password(user, password):
        _count_failure(user, now)
        record(user, "reauth_failed", "user", user.username, new=user.failed_logins)
        raise ReauthFailed(f"The password of {user.full_name} is not correct.", field)
    user.failed_logins = 0


def start_session(user: User, client_ip: str | None) -> str:
    """Open a server-side session and return the token for the cookie."""
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


def create_api_token(actor, user: User, label: str) -> str:
    """Create a bearer token for a user; the token is returned once and only its hash kept."""
    if not user.is_active:
        raise Conflict(f"{user.username} is disabled.")
    token = "lims_" + secrets.token_urlsafe(32)
    db.session.add(ApiToken(label=label, token_hash=token_digest(token), user_id=user.id))
    record(actor, "create", "api_token", f"{user.username}:{label}")
    return token


def user_for_token(token: str) -> User | None:
    """The active user of a bearer token, or None."""
    row = db.session.scalar(select(ApiToken).where(
        ApiToken.token_hash == token_digest(token), ApiToken.revoked_at.is_(None)))
    if row is None or not row.user.is_active:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=5):
        row.last_used_at = now
    return row.user


def get_user(username: str) -> User:
    """Load a user by username or raise NotFound."""
    user = db.session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None:
        raise NotFound(f"No user {username!r}.", "username")
    return user


def list_users() -> list[User]:
    """All accounts, by username."""
    return list(db.session.scalars(select(User).order_by(User.username)))
