"""Login, logout, the current user, and account administration."""

from __future__ import annotations

import time
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
from lims.auth.access import login_required, permission_required
from lims.auth.forms import CodeForm, DisableForm, LoginForm, PasswordChangeForm, UserForm
from lims.barcodes import qr_svg
from lims.db import utcnow
from lims.errors import Forbidden
from lims.forms import attempt, form_status, run

bp = Blueprint("auth", __name__)
ENROLMENT_ENDPOINTS = frozenset({"auth.two_factor", "auth.logout", "static"})


def load_current_user():
    """Set g.user from a bearer token (API) or from the server-side session cookie."""
    settings = current_app.config["LIMS"]
    header = request.headers.get("Authorization", "")
    if request.path.startswith("/api/"):
        if header.startswith("Bearer "):
            # run() commits the token's bookkeeping (last used) at once.
            g.user = run(lambda: services.user_for_token(header[7:].strip())).value
            if g.user is not None and services.must_enrol(g.user):
                raise Forbidden("Enrol two-factor sign-in on the web first (LIMS_REQUIRE_2FA).")
        return None
    token = session.get("sid")
    if not token:
        return None
    live = run(lambda: services.resume_session(
        token, idle_minutes=settings.idle_timeout_minutes,
        signer_minutes=settings.signer_idle_timeout_minutes,
        max_hours=settings.session_max_hours)).value
    if live is None:
        session.clear()
        return None
    g.user = live.user
    if services.must_enrol(g.user) and request.endpoint not in ENROLMENT_ENDPOINTS:
        return redirect(url_for("auth.two_factor"))
    return None


def _safe_next(target: str | None) -> str:
    if target and not urlsplit(target).netloc and target.startswith("/") \
            and not target.startswith("//"):
        return target
    return url_for("main.dashboard")


def _open_session(token: str, target: str | None):
    session.clear()
    session["sid"] = token
    return redirect(_safe_next(target))


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in with username and password (then the code when enrolled); failures slow down."""
    form = LoginForm()
    done = None
    if form.validate_on_submit():
        done = attempt(form, lambda: services.sign_in(form.username.data, form.password.data,
                                                      request.remote_addr))
        if done.ok:
            user, token = done.value
            if token is not None:
                return _open_session(token, request.args.get("next"))
            session.clear()
            session["login_code"] = {"uid": user.id, "at": time.time()}
            return redirect(url_for("auth.login_code", next=request.args.get("next")))
    return render_template("auth/login.html", form=form), form_status(form, done)


@bp.route("/login/code", methods=["GET", "POST"])
def login_code():
    """Login step two: the authenticator code of a user enrolled in two-factor sign-in."""
    pending = session.get("login_code")
    if not isinstance(pending, dict):
        return redirect(url_for("auth.login"))
    form = CodeForm()
    done = None
    if form.validate_on_submit():
        done = attempt(form, lambda: services.finish_login(
            pending["uid"], pending["at"], form.code.data, request.remote_addr))
        if done.ok:
            return _open_session(done.value, request.args.get("next"))
    return render_template("auth/code.html", form=form), form_status(form, done)


@bp.route("/logout", methods=["POST"])
def logout():
    """End this session on the server: a copied cookie no longer works."""
    token = session.get("sid")
    if token:
        run(lambda: services.end_session(token))
    session.clear()
    flash("You are logged out.")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change one's own password (current, new twice); the other sessions end."""
    form = PasswordChangeForm()
    done = None
    if form.validate_on_submit():
        done = attempt(form, lambda: services.change_password(
            g.user, form.current_password.data, form.new_password.data, form.repeat.data,
            session.get("sid")))
        if done.ok:
            flash("Your password is changed; your other sessions have ended.")
            return redirect(url_for("main.dashboard"))
    return render_template("auth/password.html", form=form), form_status(form, done)


@bp.route("/account/two-factor", methods=["GET", "POST"])
@login_required
def two_factor():
    """Enrol a TOTP authenticator: start, scan the QR code or type the secret, confirm a code."""
    form = CodeForm()
    done = None
    if request.method == "POST" and request.form.get("action") == "start":
        done = attempt(form, lambda: services.begin_two_factor(g.user))
        if done.ok:
            return redirect(url_for("auth.two_factor"))
    elif form.validate_on_submit():
        done = attempt(form, lambda: services.confirm_two_factor(g.user, form.code.data))
        if done.ok:
            flash("Two-factor sign-in is on: logins and signatures now ask for a code.")
            return redirect(url_for("main.dashboard"))
    pending = services.pending_two_factor(g.user)
    return render_template("auth/two_factor.html", form=form, pending=pending,
                           qr=qr_svg(pending[1]) if pending else None,
                           can_enrol=g.user.role in services.TWO_FACTOR_ROLES,
                           required=services.must_enrol(g.user)), form_status(form, done)


@bp.route("/admin/users", methods=["GET", "POST"])
@permission_required("user.manage")
def users():
    """List accounts and create new ones."""
    form = UserForm()
    done = None
    if form.validate_on_submit():
        done = attempt(form, lambda: services.create_user(
            g.user, form.username.data, form.full_name.data, form.role.data,
            form.password.data))
        if done.ok:
            flash(f"Account {done.value.username} created.")
            return redirect(url_for("auth.users"))
    return render_template("auth/users.html", form=form, users=services.list_users(),
                           toggle=DisableForm()), form_status(form, done)


def _user_action(username: str, action, done_message):
    """POST of one reasoned change to an account from the users page."""
    user = services.get_user(username)
    form = DisableForm()
    if not form.validate_on_submit():
        flash("Give a reason for the change.", "error")
        return redirect(url_for("auth.users"))
    outcome = attempt(form, lambda: action(user, form.reason.data))
    flash(done_message(user) if outcome.ok else outcome.error.message,
          None if outcome.ok else "error")
    return redirect(url_for("auth.users"))


@bp.route("/admin/users/<username>/active", methods=["POST"])
@permission_required("user.manage")
def set_active(username: str):
    """Disable or re-enable an account with a reason."""
    return _user_action(username, lambda user, reason: services.set_active(
        g.user, user, not user.is_active, reason), lambda user: f"{user.username} is now "
        f"{'enabled' if user.is_active else 'disabled'}.")


@bp.route("/admin/users/<username>/two-factor/reset", methods=["POST"])
@permission_required("user.manage")
def reset_two_factor(username: str):
    """Remove a user's authenticator (lost phone) with a reason; they enrol again."""
    return _user_action(username, lambda user, reason: services.reset_two_factor(
        g.user, user, reason), lambda user: f"Two-factor sign-in of {user.username} is reset.")


@bp.route("/admin/tokens")
@permission_required("user.manage")
def tokens():
    """Every API token: whose, what for, when it expires, last use; revoke one by one."""
    return render_template("auth/tokens.html", tokens=services.list_api_tokens(),
                           now=utcnow(), form=DisableForm())


@bp.route("/admin/tokens/<int:token_id>/revoke", methods=["POST"])
@permission_required("user.manage")
def revoke_token(token_id: int):
    """Revoke one API token at once."""
    row = services.get_api_token(token_id)
    outcome = attempt(DisableForm(), lambda: services.revoke_api_token(g.user, row))
    flash(f"API token {row.id} ({row.label}) is revoked." if outcome.ok
          else outcome.error.message, None if outcome.ok else "error")
    return redirect(url_for("auth.tokens"))
