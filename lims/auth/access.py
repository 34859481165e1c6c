"""Who may do what: the permission matrix per role, the view guards and case scoping."""

from __future__ import annotations

from functools import wraps

from flask import g, redirect, request, url_for
from sqlalchemy import Select

from lims.audit.services import record
from lims.auth.models import case_investigator
from lims.errors import Forbidden, Unauthorized, wants_json

STAFF = frozenset({"technician", "chemist", "reviewer", "admin"})
PERMISSIONS: dict[str, frozenset[str]] = {
    "case.view": STAFF | {"investigator"},
    "case.create": frozenset({"technician", "admin"}),
    "case.edit": frozenset({"technician", "admin"}),
    "sample.view": STAFF | {"investigator"},
    "sample.register": frozenset({"technician", "admin"}),
    "sample.edit": frozenset({"technician", "admin"}),
    "sample.status": frozenset({"technician", "chemist", "reviewer", "admin"}),
    "sample.list": STAFF,
    "label.print": frozenset({"technician", "admin"}),
    "custody.view": STAFF | {"investigator"},
    "custody.transfer": STAFF,
    "location.view": STAFF,
    "audit.view": STAFF,
    "intake.bulk": frozenset({"technician", "admin"}),
    "user.manage": frozenset({"admin"}),
    "instrument.view": STAFF,
    "instrument.manage": frozenset({"admin"}),
    "measurement.view": STAFF,
    "measurement.upload": STAFF,
    "library.view": STAFF,
    "library.manage": frozenset({"chemist", "reviewer", "admin"}),
    "search.run": frozenset({"chemist", "reviewer", "admin"}),
    "search.decide": frozenset({"chemist", "reviewer", "admin"}),
    "finding.view": STAFF,
    "finding.edit": frozenset({"chemist", "reviewer", "admin"}),
    "finding.review": frozenset({"reviewer", "admin"}),
    "certificate.view": STAFF | {"investigator"},
    "certificate.issue": frozenset({"reviewer", "admin"}),
    "certificate.amend": frozenset({"reviewer", "admin"}),
    "certificate.withdraw": frozenset({"reviewer", "admin"}),
    "packet.download": STAFF | {"investigator"},
    "portal.view": frozenset({"investigator"}),
    "stats.view": frozenset({"reviewer", "admin"}),
}


def can(user, permission: str) -> bool:
    """True when the user's role grants the permission."""
    return user is not None and user.is_active and user.role in PERMISSIONS[permission]


def require(user, permission: str) -> None:
    """Raise Forbidden unless the user holds the permission."""
    if not can(user, permission):
        raise Forbidden(f"Your role may not do this ({permission}).")


def visible_to(user, query: Select) -> Select:
    """The query limited to the cases assigned to an investigator; unchanged for staff.

    The query selects cases, or rows that carry a `case_id` (samples, certificates).
    """
    if user.role != "investigator":
        return query
    entity = query.column_descriptions[0]["entity"]
    case_id = entity.id if entity.__tablename__ == "case" else entity.case_id
    return query.join(case_investigator, case_investigator.c.case_id == case_id).where(
        case_investigator.c.user_id == user.id)


def record_access(user, case, action: str, detail: str | None = None) -> None:
    """Audit an investigator's look at a case (staff reads are not audited)."""
    if user.role == "investigator":
        record(user, action, "case", case.case_number, new=detail, case_id=case.id)


def login_required(view):
    """Redirect anonymous browsers to the login page; answer 401 to API clients."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if g.get("user") is None:
            if wants_json():
                raise Unauthorized("Log in or send a valid bearer token.")
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


def permission_required(permission: str):
    """Require login and a role that holds the permission."""

    def decorate(view):
        @wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            require(g.user, permission)
            return view(*args, **kwargs)

        wrapper.permission = permission
        return wrapper

    return decorate
