"""The shared throttle store: login back-off and rate limits in one table all workers share.

Failures never lock anyone out: past a few free failures the next attempt under the same key
waits a little longer each time (1 s, 2 s, 4 s ... up to a short cap), and once the wait is
over the right password is heard again. A refused (waiting) attempt is not itself counted,
so a real user who waits always gets through.
"""

from __future__ import annotations

import math
from datetime import timedelta

from flask import current_app, has_request_context, request
from sqlalchemy import delete, select

from lims.auth.models import Throttle
from lims.db import db, serialize_writers, utcnow
from lims.errors import TooManyAttempts

ACCOUNT_WAIT_CAP = timedelta(seconds=60)
ADDRESS_FREE_FAILURES = 20  # an office behind one address shares this budget
ADDRESS_WAIT_CAP = timedelta(minutes=5)
FORGET_AFTER = timedelta(hours=1)  # failures older than this start a new count
PRUNE_AFTER = timedelta(days=1)


def client_address() -> str:
    """The caller's address (after the trusted proxies), or '-' outside a request."""
    return (request.remote_addr if has_request_context() else None) or "-"


def account_key(username: str) -> str:
    """Key of the per-account back-off; any typed username has one, existing or not."""
    return "login-account:" + username.strip().lower()[:150]


def address_key(address: str | None = None) -> str:
    """Key of the per-address back-off (logins, codes and password confirmations)."""
    return "login-address:" + (address or client_address())[:150]


def _row(key: str) -> Throttle | None:
    serialize_writers(db.session)  # one writer at a time: counts are never lost between workers
    return db.session.get(Throttle, key, populate_existing=True)


def wait_seconds(*keys: str) -> int:
    """Seconds before an attempt under these keys is heard again (0: now)."""
    now = utcnow()
    until = db.session.scalars(select(Throttle.blocked_until).where(
        Throttle.key.in_(keys), Throttle.blocked_until > now)).all()
    return max((math.ceil((moment - now).total_seconds()) for moment in until), default=0)


def refuse_while_waiting(*keys: str, field: str | None = None) -> None:
    """Raise TooManyAttempts (429) while any of these keys is in its back-off."""
    wait = wait_seconds(*keys)
    if wait:
        raise TooManyAttempts(f"Too many failed attempts. Wait {wait} second"
                              f"{'s' if wait != 1 else ''} and try again.", field)


def count_failure(key: str, free: int, cap: timedelta) -> int:
    """Count one failure; from the `free`-th on, the next attempt waits 1 s, 2 s ... up to cap."""
    now = utcnow()
    row = _row(key)
    if row is None:
        row = Throttle(key=key, count=0, window_start=now)
        db.session.add(row)
    elif now - row.window_start > FORGET_AFTER:
        row.count = 0
    row.count += 1
    row.window_start = now  # for back-off keys: the time of the latest failure
    if row.count >= free:
        row.blocked_until = now + min(cap, timedelta(seconds=2 ** min(row.count - free, 20)))
    db.session.execute(delete(Throttle).where(Throttle.window_start < now - PRUNE_AFTER))
    db.session.flush()
    return row.count


def count_login_failure(username: str | None) -> None:
    """Count a failed login, code or confirmation against the address (and the account)."""
    count_failure(address_key(), ADDRESS_FREE_FAILURES, ADDRESS_WAIT_CAP)
    if username is not None:
        count_failure(account_key(username), current_app.config["LIMS"].login_max_failures,
                      ACCOUNT_WAIT_CAP)


def forget(key: str) -> None:
    """Drop a key's failures (after a successful login to that account)."""
    db.session.execute(delete(Throttle).where(Throttle.key == key))


def hit(key: str, limit: int, window: timedelta, message: str) -> None:
    """Count one hit in a fixed window shared by all workers; past `limit` raise 429."""
    now = utcnow()
    row = _row(key)
    if row is None:
        row = Throttle(key=key, count=0, window_start=now)
        db.session.add(row)
    elif now - row.window_start >= window:
        row.count, row.window_start = 0, now
    if row.count >= limit:
        raise TooManyAttempts(message)
    row.count += 1
    db.session.flush()
