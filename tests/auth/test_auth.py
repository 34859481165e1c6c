"""Accounts, passwords, throttling, sessions and API tokens (service, API and CLI level)."""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from argon2 import Type, extract_parameters
from sqlalchemy import func, select

from lims.audit.models import AuditEntry
from lims.auth import services
from lims.auth.models import ApiToken, AuthSession, Throttle, User
from lims.auth.throttle import account_key
from lims.db import db
from lims.errors import Invalid, TooManyAttempts, Unauthorized

STRONG = "purple-otter-carries-42-flasks"


def logged_in(client) -> bool:
    """True when the client's session cookie is live (probe that renders no template)."""
    response = client.get("/scan?code=NO-SUCH-CODE")
    assert response.status_code == 302
    return "/login" not in response.headers["Location"]


# --- accounts and the CLI --------------------------------------------------------------------


def test_user_create_reads_the_password_from_stdin(app, cli):
    result = cli("user", "create", "Ana", "--role", "chemist", "--full-name", "Ana Petrova",
                 input=STRONG + "\n")
    assert result.exit_code == 0, result.output
    assert "created ana (chemist)" in result.output
    assert STRONG not in result.output
    with app.app_context():
        user = services.authenticate("ana", STRONG)
        assert (user.role, user.full_name, user.is_active) == ("chemist", "Ana Petrova", True)
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "create",
                                                            AuditEntry.entity_type == "user"))
        assert [e.entity_id for e in entry] == ["ana"]


def test_user_create_refuses_bad_input_and_creates_nothing(app, cli, subtests):
    for args, password, message in [
        (["bob", "--role", "technician"], "short\n", "at least 12 characters"),
        (["bob", "--role", "technician"], "password1234\n", "too common"),
        (["bob", "--role", "wizard"], STRONG + "\n", "Unknown role"),
        (["bob smith", "--role", "technician"], STRONG + "\n", "Use letters, digits"),
        (["bob"], STRONG + "\n", "Missing option '--role'"),
    ]:
        with subtests.test(args=args, password=password):
            result = cli("user", "create", *args, input=password)
            assert result.exit_code != 0
            assert message in result.output
            with app.app_context():
                assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_usernames_are_never_reused(app, cli, make_user):
    make_user("technician", "bob")
    result = cli("user", "create", "BOB", "--role", "admin", input=STRONG + "\n")
    assert result.exit_code != 0
    assert "never reused" in result.output


def test_no_default_accounts_after_migration(app_ctx):
    for model in (User, AuthSession, ApiToken):
        assert db.session.scalar(select(func.count()).select_from(model)) == 0


@pytest.mark.real_kdf
def test_passwords_are_stored_as_argon2id(app_ctx, make_user):
    user = make_user("chemist", password=STRONG)
    params = extract_parameters(user.password_hash)
    assert user.password_hash.startswith("$argon2id$")
    assert params.type is Type.ID
    # At least the OWASP minimum for Argon2id (19 MiB, 2 iterations).
    assert params.memory_cost >= 19 * 1024 and params.time_cost >= 2
    assert STRONG not in user.password_hash
    assert services.verify_password(user, STRONG)
    assert not services.verify_password(user, STRONG + "x")


def test_password_policy(app_ctx, subtests):
    for password, message in [("elevenchars", "at least 12"), ("x" * 129, "at most 128"),
                              ("Password1234", "too common"),
                              ("abababababababab", "too common")]:
        with subtests.test(password=password):
            with pytest.raises(Invalid, match=message) as excinfo:
                services.check_password_policy(password)
            assert (excinfo.value.status, excinfo.value.field) == (422, "password")


def test_password_policy_accepts_long_passphrases(app_ctx):
    services.check_password_policy("a" + "b" * 10 + "cd")
    services.check_password_policy("x" * 60 + "yz12")


# --- authentication and throttling ----------------------------------------------------------


def test_authenticate_counts_failures_and_says_nothing_about_which_part_was_wrong(
        app_ctx, make_user):
    user = make_user("technician", "tanya")
    with pytest.raises(Unauthorized) as wrong_password:
        services.authenticate("tanya", "not the password")
    db.session.commit()
    with pytest.raises(Unauthorized) as unknown_user:
        services.authenticate("nobody", "not the password")
    db.session.commit()
    assert wrong_password.value.message == unknown_user.value.message
    assert wrong_password.value.status == 401
    assert db.session.get(Throttle, account_key("tanya")).count == 1
    assert db.session.get(Throttle, account_key("nobody")).count == 1
    assert services.authenticate(" Tanya ", "correct horse battery staple").id == user.id
    db.session.commit()
    assert db.session.get(Throttle, account_key("tanya")) is None  # forgotten on success
    actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)).all()
    assert actions.count("login_failed") == 2


@pytest.mark.settings(login_max_failures=3)
def test_failures_slow_the_next_attempt_down_but_never_lock(app_ctx, make_user, password):
    user = make_user("technician", "tanya")
    start = datetime.now(UTC)
    with time_machine.travel(start, tick=False) as clock:
        for _ in range(3):
            with pytest.raises(Unauthorized):
                services.authenticate("tanya", "wrong password!")
            db.session.commit()
        # The third failure makes the next attempt wait a second, right password or not.
        with pytest.raises(TooManyAttempts, match="Wait 1 second and try again") as excinfo:
            services.authenticate("tanya", password)
        assert excinfo.value.status == 429
        clock.shift(timedelta(seconds=1))
        with pytest.raises(Unauthorized):
            services.authenticate("tanya", "wrong password!")
        db.session.commit()
        with pytest.raises(TooManyAttempts, match="Wait 2 seconds"):  # the wait doubles
            services.authenticate("tanya", password)
        clock.shift(timedelta(seconds=2))
        assert services.authenticate("tanya", password).id == user.id


@pytest.mark.settings(login_max_failures=5)
def test_the_wait_is_capped_so_an_attacker_cannot_lock_the_user_out(app_ctx, make_user,
                                                                     password):
    user = make_user("technician", "tanya")
    with time_machine.travel(datetime.now(UTC), tick=False) as clock:
        for attempt in range(30):  # from many addresses, so only the account back-off applies
            with app_ctx.test_request_context(environ_base={"REMOTE_ADDR": f"10.9.0.{attempt}"}):
                with pytest.raises(Unauthorized):
                    services.authenticate("tanya", "guess")
                db.session.commit()
            clock.shift(timedelta(minutes=2))
        clock.shift(timedelta(seconds=-119))
        with pytest.raises(TooManyAttempts, match="Wait 59 seconds"):
            services.authenticate("tanya", password)
        clock.shift(timedelta(seconds=59))
        assert services.authenticate("tanya", password).id == user.id


@pytest.mark.settings(login_max_failures=2)
def test_login_page_answers_429_with_a_message_when_throttled(app, client, make_user, login,
                                                              password):
    make_user("technician", "tanya")
    with time_machine.travel(datetime.now(UTC), tick=False) as clock:
        assert login(client, "tanya", "wrong password!").status_code == 422
        assert login(client, "tanya", "wrong password!").status_code == 422
        response = login(client, "tanya", password)
        assert response.status_code == 429
        assert "Too many failed attempts. Wait 1 second" in response.get_data(as_text=True)
        assert not logged_in(client)
        clock.shift(timedelta(seconds=1))
        assert login(client, "tanya", password).status_code == 302
        assert logged_in(client)


# --- sessions --------------------------------------------------------------------------------


def test_login_opens_a_server_side_session(app, client, make_user, login):
    make_user("technician", "tanya")
    assert not logged_in(client)
    response = login(client, "tanya")
    assert response.status_code == 302
    assert logged_in(client)
    cookie = client.get_cookie("session").value
    with app.app_context():
        sessions = db.session.scalars(select(AuthSession)).all()
        assert len(sessions) == 1 and sessions[0].ended_at is None
        # The cookie carries a random token; the server keeps only its hash.
        assert sessions[0].token_hash not in cookie


def test_logout_ends_the_session_so_a_copied_cookie_stops_working(app, client, make_user,
                                                                   login):
    make_user("technician", "tanya")
    login(client, "tanya")
    copied = client.get_cookie("session").value
    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert logged_in(thief)

    response = client.post("/logout")
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    assert not logged_in(client)

    thief.set_cookie("session", copied)
    response = thief.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    with app.app_context():
        assert db.session.scalar(select(AuthSession.ended_at)) is not None


def test_disabling_a_user_ends_sessions_and_tokens_at_once(app, client, cli, make_user, login,
                                                           api, api_token):
    make_user("technician", "tanya")
    login(client, "tanya")
    token = api_token("tanya")
    tanya_api = api(app.test_client(), token)
    assert tanya_api.get("/samples/CL-2026-999999").status_code == 404  # authenticated

    result = cli("user", "disable", "tanya", "--reason", "left the laboratory")
    assert result.exit_code == 0, result.output

    assert not logged_in(client)
    response = tanya_api.get("/samples/CL-2026-999999")
    assert response.status_code == 401
    assert set(response.json) <= {"error", "field"}
    with app.app_context():
        assert db.session.scalar(select(AuthSession.ended_at)) is not None
        assert db.session.scalar(select(ApiToken.revoked_at)) is not None
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.field == "is_active"))
        assert (entry.old_value, entry.new_value, entry.reason) == (
            "true", "false", "left the laboratory")


def test_a_disabled_user_cannot_log_in(app_ctx, make_user):
    user = make_user("technician", "tanya")
    services.set_active(None, user, False, "left")
    db.session.commit()
    with pytest.raises(Unauthorized):
        services.authenticate("tanya", "correct horse battery staple")


def test_idle_timeout(app, client, make_user, login):
    make_user("technician", "tanya")
    with time_machine.travel(datetime.now(UTC), tick=False) as clock:
        login(client, "tanya")
        clock.shift(timedelta(minutes=29))
        assert logged_in(client)  # activity resets the idle clock
        clock.shift(timedelta(minutes=29))
        assert logged_in(client)
        clock.shift(timedelta(minutes=31))
        assert not logged_in(client)
    with app.app_context():
        assert db.session.scalar(select(AuthSession.ended_at)) is not None


def test_signers_have_a_shorter_idle_timeout(app, client, make_user, login):
    make_user("reviewer", "rev")
    with time_machine.travel(datetime.now(UTC), tick=False) as clock:
        login(client, "rev")
        clock.shift(timedelta(minutes=14))
        assert logged_in(client)
        clock.shift(timedelta(minutes=16))
        assert not logged_in(client)


@pytest.mark.settings(session_max_hours=2)
def test_absolute_session_lifetime(app, client, make_user, login):
    make_user("technician", "tanya")
    with time_machine.travel(datetime.now(UTC), tick=False) as clock:
        login(client, "tanya")
        for _ in range(11):  # busy all the time: never idle
            clock.shift(timedelta(minutes=10))
            assert logged_in(client)
        clock.shift(timedelta(minutes=11))
        assert not logged_in(client)


# --- API tokens ------------------------------------------------------------------------------


def test_token_create_prints_the_token_once_and_stores_only_its_hash(app, cli, client, api,
                                                                       make_user):
    make_user("technician", "tanya")
    result = cli("token", "create", "tanya", "--label", "scanner 3")
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert token.startswith("lims_") and result.output.count(token) == 1
    with app.app_context():
        row = db.session.scalar(select(ApiToken))
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert row.label == "scanner 3"
        stored = [str(v) for v in (row.label, row.token_hash)]
        stored += [str(v) for e in db.session.scalars(select(AuditEntry))
                   for v in (e.entity_id, e.old_value, e.new_value)]
        assert not any(token in value or token[5:] in value for value in stored)
    assert api(client, token).get("/samples/CL-2026-999999").status_code == 404
    assert api(client, token + "x").get("/samples/CL-2026-999999").status_code == 401


def test_token_create_refuses_unknown_and_disabled_users(app_ctx, cli, make_user, subtests):
    gone = make_user("technician", "gone")
    services.set_active(None, gone, False, "left")
    db.session.commit()
    for username, message in (("nobody", "No user 'nobody'"), ("gone", "gone is disabled")):
        with subtests.test(username=username):
            result = cli("token", "create", username)
            assert result.exit_code != 0
            assert message in result.output
            assert db.session.scalar(select(func.count()).select_from(ApiToken)) == 0


@pytest.mark.csrf
def test_forms_need_a_csrf_token_but_the_api_does_not(app, client, make_user, api, api_token):
    make_user("technician", "tanya")
    response = client.post("/logout", headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert "CSRF" in response.json["error"]
    response = client.post("/login", data={"username": "tanya",
                                           "password": "correct horse battery staple"},
                           headers={"Accept": "application/json"})
    assert response.status_code == 400
    token = api_token("tanya")
    response = api(client, token).post("/cases", json={"customs_office": "BG001000",
                                                       "officer_name": "Insp. Dimov",
                                                       "questions": "What is it?"})
    assert response.status_code == 201, response.json
