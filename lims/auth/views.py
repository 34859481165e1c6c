"""Login, logout, the current user, and account administration."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from lims.auth import services
from lims.auth.access import permission_required
from lims.auth.forms import DisableForm, LoginForm, UserForm
from lims.db import db
from lims.errors import DomainError
from lims.forms import apply_error

bp = Blueprint("auth", __name__)


def load_current_user() -> None:
    """Set g.user from a bearer token (API) or from the server-side session cookie."""
    settings = current_app.config["LIMS"]
    header = request.headers.get("Authorization", "")
    if request.path.startswith("/api/"):
        if header.startswith("Bearer "):
            g.user = services.user_for_token(header[7:].strip())
            _commit_bookkeeping()
        return
    token = session.get("sid")
    if not token:
        return
    live = services.resume_session(token, idle_minutes=settings.idle_timeout_minutes,
                                   signer_minutes=settings.signer_idle_timeout_minutes,
                                   max_hours=settings.session_max_hours)
    _commit_bookkeeping()
    if live is None:
        session.clear()
        return
    g.user = live.user


def _commit_bookkeeping() -> None:
    """Commit session or token bookkeeping (last seen, expiry) only when something changed."""
    if db.session.dirty or db.session.new:
        db.session.commit()


def _safe_next(target: str | None) -> str:
    if target and not urlsplit(target).netloc and target.startswith("/") \
            and not target.startswith("//"):
        return target
    return url_for("main.dashboard")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in with username and password; failures are counted and throttled."""
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.username.data, form.password.data)
        except DomainError as error:
            db.session.commit()  # keep the failure count and the audit entry
            form.password.errors = [error.message]
            status = error.status
        else:
            token = services.start_session(user, request.remote_addr)
            db.session.commit()
            session.clear()
            session["sid"] = token
            return redirect(_safe_next(request.args.get("next")))
    elif form.is_submitted():
        status = 400
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
def logout():
    """End this session on the server: a copied cookie no longer works."""
    token = session.get("sid")
    if token:
        services.end_session(token)
        db.session.commit()
    session.clear()
    flash("You are logged out.")
    return redirect(url_for("auth.login"))


@bp.route("/admin/users", methods=["GET", "POST"])
@permission_required("user.manage")
def users():
    """List accounts and create new ones."""
    form = UserForm()
    if form.validate_on_submit():
        try:
            services.create_user(g.user, form.username.data, form.full_name.data,
                                 form.role.data, form.password.data)
        except DomainError as error:
            apply_error(form, error)
        else:
            db.session.commit()
            flash(f"Account {form.username.data} created.")
            return redirect(url_for("auth.users"))
    return render_template("auth/users.html", form=form, users=services.list_users(),
                           toggle=DisableForm())


@bp.route("/admin/users/<username>/active", methods=["POST"])
@permission_required("user.manage")
def set_active(username: str):
    """Disable or re-enable an account with a reason."""
    user = services.get_user(username)
    form = DisableForm()
    if not form.validate_on_submit():
        flash("Give a reason to disable or enable an account.", "error")
        return redirect(url_for("auth.users"))
    services.set_active(g.user, user, not user.is_active, form.reason.data)
    db.session.commit()
    flash(f"{user.username} is now {'enabled' if user.is_active else 'disabled'}.")
    return redirect(url_for("auth.users"))
