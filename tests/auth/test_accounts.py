"""Password change and reset, idle expiry, and named, expiring, revocable API tokens."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from lims.audit.models import AuditEntry
from lims.auth import services
from lims.auth.models import ApiToken
from lims.db import db
from lims.errors import Forbidden, Invalid, Unauthorized

NEW = "seven-blue-herons-at-dawn"
PROBE = "/samples/CL-2026-999999"


def logged_in(client) -> bool:
    response = client.get("/scan?code=NO-SUCH-CODE")
    return "/login" not in response.headers["Location"]


def audit_of(field: str) -> list[AuditEntry]:
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.field == field)
                                   .order_by(AuditEntry.seq)))


# --- passwords -------------------------------------------------------------------------------


def test_password_change_page_checks_current_and_new_and_ends_other_sessions(
        app, client, login, make_user, password, subtests):
    make_user("chemist", "ana")
    other = app.test_client()
    login(other, "ana")
    login(client, "ana")
    for data, field, message in [
        ({"current_password": "not it at all", "new_password": NEW, "repeat": NEW},
         "current_password", "is not correct"),
        ({"current_password": password, "new_password": NEW, "repeat": NEW + "x"},
         "repeat", "are not the same"),
        ({"current_password": password, "new_password": "Ana-2026-ana!", "repeat":
          "Ana-2026-ana!"}, "new_password", "must not be the username"),
        ({"current_password": password, "new_password": "short", "repeat": "short"},
         "new_password", "at least 12"),
    ]:
        with subtests.test(field=field, message=message):
            response = client.post("/account/password", data=data)
            assert response.status_code == 422
            page = response.get_data(as_text=True)
            assert message in page and f'href="#{field}"' in page
    response = client.post("/account/password", data={"current_password": password,
                                                       "new_password": NEW, "repeat": NEW})
    assert response.status_code == 302
    assert logged_in(client) and not logged_in(other)
    with app.app_context():
        with pytest.raises(Unauthorized):
            services.authenticate("ana", password)
        db.session.rollback()
        assert services.authenticate("ana", NEW).username == "ana"
        [entry] = audit_of("password")
        assert (entry.reason, entry.old_value, entry.new_value) == ("changed by the user",
                                                                    None, None)


def test_cli_reset_password_reads_stdin_and_ends_every_session(app, cli, client, login,
                                                               make_user, password):
    make_user("reviewer", "rev")
    login(client, "rev")
    result = cli("user", "reset-password", "rev", input=NEW + "\n")
    assert result.exit_code == 0, result.output
    assert NEW not in result.output
    assert not logged_in(client)
    assert login(client, "rev", password).status_code == 422
    assert login(client, "rev", NEW).status_code == 302
    refused = cli("user", "reset-password", "rev", input="rev-rev-rev-1234\n")
    assert refused.exit_code != 0 and "must not be the username" in refused.output
    with app.app_context():
        assert [e.reason for e in audit_of("password")] == ["reset by an administrator"]


def test_the_password_may_not_be_the_username_dressed_up(app_ctx):
    for password in ("tanya-2026-tanya", "TANYA_12345678", "tanyatanyatanya"):
        with pytest.raises(Invalid, match="must not be the username"):
            services.check_password_policy(password, "tanya")
    services.check_password_policy("demo-technician-2026", "tech")  # merely contains it


# --- idle expiry -----------------------------------------------------------------------------


@pytest.mark.settings(account_idle_days=90)
def test_an_idle_account_expires_until_an_admin_enables_it(app, client, cli, login, make_user,
                                                            password):
    make_user("technician", "tanya")
    assert login(client, "tanya").status_code == 302
    with time_machine.travel(datetime.now(UTC) + timedelta(days=91), tick=False):
        fresh = app.test_client()
        response = login(fresh, "tanya")
        assert response.status_code == 422
        assert "disabled after 90 days without a login" in response.get_data(as_text=True)
        assert login(fresh, "tanya").status_code == 422  # disabled now: like a wrong password
        with app.app_context():
            [entry] = audit_of("is_active")
            assert entry.new_value == "false" and "account expiry" in entry.reason
        result = cli("user", "enable", "tanya", "--reason", "back from leave")
        assert result.exit_code == 0, result.output
        assert login(fresh, "tanya").status_code == 302


@pytest.mark.settings(account_idle_days=0)
def test_idle_expiry_can_be_switched_off(app, client, login, make_user):
    make_user("technician", "tanya")
    with time_machine.travel(datetime.now(UTC) + timedelta(days=4000), tick=False):
        assert login(client, "tanya").status_code == 302


def test_expiry_refuses_only_after_the_right_password(app_ctx, make_user):
    make_user("technician", "tanya")
    with time_machine.travel(datetime.now(UTC) + timedelta(days=100), tick=False):
        with pytest.raises(Unauthorized):
            services.authenticate("tanya", "wrong password!")
        db.session.commit()
        with pytest.raises(Forbidden, match="ask an administrator"):
            services.authenticate("tanya", "correct horse battery staple")


# --- API tokens ------------------------------------------------------------------------------


def test_tokens_are_listed_revoked_one_by_one_and_expire(app, cli, client, api, make_user):
    make_user("technician", "tanya")
    make_user("chemist", "chem")
    first = cli("token", "create", "tanya", "--label", "scanner-1", "--expires-days", "30")
    second = cli("token", "create", "tanya", "--label", "scanner-2", "--expires-days", "5")
    cli("token", "create", "chem", "--label", "notebook")
    scanner1, scanner2 = first.output.strip(), second.output.strip()
    listing = cli("token", "list", "tanya").output.splitlines()
    assert len(listing) == 2
    assert "scanner-2" in listing[0] and "active" in listing[0] and "never used" in listing[0]
    assert "notebook" in cli("token", "list").output
    with app.app_context():
        scanner1_id = db.session.scalar(select(ApiToken.id).where(ApiToken.label == "scanner-1"))
    result = cli("token", "revoke", str(scanner1_id))
    assert result.exit_code == 0, result.output
    assert api(client, scanner1).get(PROBE).status_code == 401
    assert api(client, scanner2).get(PROBE).status_code == 404  # still works
    assert "revoked" in cli("token", "list", "tanya").output
    again = cli("token", "revoke", str(scanner1_id))
    assert again.exit_code != 0 and "already revoked" in again.output
    assert "No API token 999" in cli("token", "revoke", "999").output
    with time_machine.travel(datetime.now(UTC) + timedelta(days=6), tick=False):
        assert api(client, scanner2).get(PROBE).status_code == 401
        assert "expired" in cli("token", "list", "tanya").output
    with app.app_context():
        [entry] = audit_of("revoked_at")
        assert entry.entity_type == "api_token" and entry.entity_id == str(scanner1_id)


def test_token_create_refuses_a_bad_lifetime_or_label(app_ctx, cli, make_user):
    make_user("technician", "tanya")
    for args, message in ((["--expires-days", "0"], "1 to 3650 days"),
                          (["--expires-days", "5000"], "1 to 3650 days"),
                          (["--label", "  "], "Name the token")):
        result = cli("token", "create", "tanya", *args)
        assert result.exit_code != 0 and message in result.output


def test_admin_page_lists_and_revokes_tokens(app, client, login, make_user, api, api_token):
    make_user("admin", "boss")
    make_user("technician", "tanya")
    token = api_token("tanya", "label-printer")
    login(client, "boss")
    page = client.get("/admin/tokens").get_data(as_text=True)
    assert "label-printer" in page and "tanya" in page and "Revoke" in page
    with app.app_context():
        token_id = db.session.scalar(select(ApiToken.id))
    response = client.post(f"/admin/tokens/{token_id}/revoke")
    assert response.status_code == 302
    assert api(app.test_client(), token).get(PROBE).status_code == 401
    page = client.get("/admin/tokens").get_data(as_text=True)
    assert "revoked" in page and "Revoke</button>" not in page
    technician = app.test_client()
    login(technician, "tanya")
    assert technician.get("/admin/tokens").status_code == 403
    with app.app_context():
        assert db.session.get(ApiToken, token_id).revoked_at is not None
