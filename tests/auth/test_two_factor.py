"""TOTP two-factor sign-in: enrolment, the login step, signatures, admin reset."""

import re
from datetime import UTC, datetime, timedelta

import pyotp
import pytest
import time_machine
from sqlalchemy import select

from lims.audit.models import AuditEntry
from lims.auth import services
from lims.auth.models import User
from lims.db import db
from lims.errors import Forbidden
from lims.esign.services import confirm_signer


def enrol(client) -> pyotp.TOTP:
    """Enrol the logged-in user through the pages; return their authenticator."""
    assert client.post("/account/two-factor", data={"action": "start"}).status_code == 302
    page = client.get("/account/two-factor").get_data(as_text=True)
    secret = re.search(r"<code data-secret>([A-Z2-7]+)</code>", page).group(1)
    assert "<svg" in page  # the otpauth:// QR code
    authenticator = pyotp.TOTP(secret)
    response = client.post("/account/two-factor", data={"code": authenticator.now()})
    assert response.status_code == 302, response.get_data(as_text=True)
    return authenticator


def test_enrolment_shows_the_secret_once_and_stores_it_encrypted(app, client, login,
                                                                 make_user):
    make_user("reviewer", "rev")
    login(client, "rev")
    assert client.post("/account/two-factor", data={"action": "start"}).status_code == 302
    assert client.post("/account/two-factor", data={"code": "000000"}).status_code == 422
    with time_machine.travel(datetime.now(UTC), tick=False):
        authenticator = enrol(client)
    page = client.get("/account/two-factor").get_data(as_text=True)
    assert "data-secret" not in page and authenticator.secret not in page
    with app.app_context():
        user = services.get_user("rev")
        assert user.has_two_factor
        assert authenticator.secret not in user.totp_secret
        uri = services.totp.provisioning_uri(user, authenticator.secret)
        assert uri.startswith("otpauth://totp/") and "secret=" + authenticator.secret in uri
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.field == "two_factor"))
        assert (entry.old_value, entry.new_value) == ("false", "true")


def test_login_asks_for_the_code_after_the_password(app, login, make_user, password):
    make_user("admin", "boss")
    client = app.test_client()
    login(client, "boss")
    authenticator = enrol(client)
    fresh = app.test_client()
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=2), tick=False) as clock:
        response = login(fresh, "boss", password)
        assert response.status_code == 302 and "/login/code" in response.headers["Location"]
        assert fresh.get("/scan?code=X").headers["Location"].startswith("/login")  # not yet in
        wrong = fresh.post("/login/code", data={"code": "123456"})
        assert wrong.status_code == 422
        assert "The authenticator code is not correct" in wrong.get_data(as_text=True)
        code = authenticator.now()
        assert fresh.post("/login/code", data={"code": code}).status_code == 302
        assert "/login" not in fresh.get("/scan?code=X").headers["Location"]
        # The same code cannot be replayed by someone who saw it.
        other = app.test_client()
        login(other, "boss", password)
        assert other.post("/login/code", data={"code": code}).status_code == 422
        clock.shift(timedelta(seconds=30))
        assert other.post("/login/code", data={"code": authenticator.now()}).status_code == 302


@pytest.mark.settings(require_2fa=True)
def test_admins_and_reviewers_must_enrol_when_required(app, client, login, make_user):
    make_user("reviewer", "rev")
    make_user("technician", "tech")
    login(client, "rev")
    response = client.get("/samples")
    assert response.status_code == 302 and response.headers["Location"] == "/account/two-factor"
    assert "must use two-factor" in client.get("/account/two-factor").get_data(as_text=True)
    enrol(client)
    assert client.get("/samples").status_code == 200
    technician = app.test_client()
    login(technician, "tech")
    assert technician.get("/samples").status_code == 200  # not a signing role


def test_signatures_ask_for_the_code_when_enrolled(app, client, login, make_user, password):
    make_user("reviewer", "rev")
    login(client, "rev")
    authenticator = enrol(client)
    with app.test_request_context():
        user = services.get_user("rev")
        with pytest.raises(services.ReauthFailed, match="authenticator code") as error:
            confirm_signer(user, password, "")
        assert error.value.field == "code"
        confirm_signer(user, password, pyotp.TOTP(authenticator.secret).at(
            datetime.now(UTC) + timedelta(seconds=30)))


def test_an_admin_resets_a_lost_authenticator(app, client, login, make_user, password):
    make_user("admin", "boss")
    make_user("chemist", "chem")
    chem = app.test_client()
    login(chem, "chem")
    enrol(chem)
    login(client, "boss")
    response = client.post("/admin/users/chem/two-factor/reset", data={"reason": "lost phone"})
    assert response.status_code == 302
    fresh = app.test_client()
    response = login(fresh, "chem", password)
    assert response.status_code == 302 and "/login/code" not in response.headers["Location"]
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "chem"))
        assert user.totp_secret is None and not user.has_two_factor
        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.field == "two_factor")
                                   .order_by(AuditEntry.seq)).all()[-1]
        assert (entry.new_value, entry.reason) == ("false", "lost phone")
        assert entry.user_name.endswith("(boss)")


def test_technicians_and_investigators_cannot_enrol(app_ctx, make_user):
    for role in ("technician", "investigator"):
        with pytest.raises(Forbidden):
            services.begin_two_factor(make_user(role))



def test_knowing_the_password_does_not_reset_the_code_back_off(app, login, make_user,
                                                               password):
    make_user("admin", "boss")
    client = app.test_client()
    login(client, "boss")
    enrol(client)
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=2), tick=False):
        attacker = app.test_client()
        for number in range(5):
            assert login(attacker, "boss", password).status_code == 302
            environ = {"REMOTE_ADDR": f"10.3.0.{number}"}
            assert attacker.post("/login/code", data={"code": "000000"},
                                 environ_base=environ).status_code == 422
        # The password again does not clear the count: the next code has to wait.
        assert login(attacker, "boss", password).status_code == 429
