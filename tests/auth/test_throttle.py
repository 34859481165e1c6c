"""Lockout that slows the attacker, not the user: back-off on the shared throttle table."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from lims.auth import services
from lims.auth.models import Throttle
from lims.auth.throttle import ADDRESS_FREE_FAILURES, account_key
from lims.db import db
from lims.errors import TooManyAttempts, Unauthorized

ATTACKER = {"REMOTE_ADDR": "10.0.0.66"}
COLLEAGUE = {"REMOTE_ADDR": "10.0.0.7"}


def two_workers(make_app, database_url):
    """Two application instances on one database, like two gunicorn workers."""
    apps = make_app(database_url), make_app(database_url)
    for app in apps:
        app.config["WTF_CSRF_ENABLED"] = False
    return apps


def post_login(client, username, password, environ=None):
    return client.post("/login", data={"username": username, "password": password},
                       environ_base=environ or ATTACKER)


def test_five_wrong_passwords_do_not_stop_the_right_one_after_a_short_delay(app, client,
                                                                           make_user, password):
    make_user("admin", "boss")
    with time_machine.travel(datetime.now(UTC), tick=False) as clock:
        for _ in range(5):
            assert post_login(client, "boss", "wrong password!").status_code == 422
        throttled = post_login(client, "boss", password)
        assert throttled.status_code == 429  # slowed down: the attempt is not even checked
        assert "Wait 1 second" in throttled.get_data(as_text=True)
        clock.shift(timedelta(seconds=1))
        response = post_login(client, "boss", password)
        assert response.status_code == 302, response.get_data(as_text=True)


def test_unknown_and_known_usernames_get_identical_answers(app, make_user, subtests):
    make_user("admin", "boss")
    answers = {}
    with time_machine.travel(datetime.now(UTC), tick=False):
        for username in ("boss", "no-such-user"):
            client = app.test_client()
            seen = []
            for _ in range(6):  # 5 failures, then the back-off
                response = post_login(client, username, "wrong password!",
                                      {"REMOTE_ADDR": f"10.1.0.{len(answers)}"})
                seen.append((response.status_code, response.get_data(as_text=True)
                             .replace(username, "NAME")))
            answers[username] = seen
    assert [status for status, _ in answers["boss"]] == [422] * 5 + [429]
    for (known, known_text), (unknown, unknown_text) in zip(answers["boss"],
                                                            answers["no-such-user"],
                                                            strict=True):
        with subtests.test(status=known):
            assert known == unknown
            assert known_text == unknown_text


class CountingHasher:
    """The test's password hasher, counting the hashes computed."""

    def __init__(self, inner):
        self.inner, self.calls = inner, 0

    def verify(self, stored, given):
        self.calls += 1
        return self.inner.verify(stored, given)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_unknown_and_known_usernames_cost_one_password_hash_each(app_ctx, make_user,
                                                                 monkeypatch):
    make_user("admin", "boss")
    counting = CountingHasher(services._hasher)
    monkeypatch.setattr(services, "_hasher", counting)
    for username in ("boss", "nobody"):
        counting.calls = 0
        with pytest.raises(Unauthorized):
            services.authenticate(username, "wrong password!")
        db.session.commit()
        assert counting.calls == 1, username


def test_a_password_spray_from_one_address_is_throttled(app, make_user, password):
    for number in range(3):
        make_user("technician", f"tech{number}")
    client = app.test_client()
    statuses = []
    with time_machine.travel(datetime.now(UTC), tick=False) as clock:
        for number in range(100):  # 100 logins for different users within 20 seconds
            statuses.append(post_login(client, f"user{number}", "Summer2026!!").status_code)
            clock.shift(timedelta(milliseconds=200))
        assert statuses[:ADDRESS_FREE_FAILURES] == [422] * ADDRESS_FREE_FAILURES
        assert statuses.count(429) >= 75
        # Even a right password from the spraying address now waits ...
        assert post_login(client, "tech0", password).status_code == 429
        # ... while a colleague at another address logs in at once.
        colleague = app.test_client()
        assert post_login(colleague, "tech1", password, COLLEAGUE).status_code == 302


def test_a_technician_cannot_lock_a_colleague_out_through_hand_overs(
        app, client, api, api_token, make_user, make_case, make_samples, password):
    tech = make_user("technician", "tech")
    make_user("chemist", "chem")
    [sample] = make_samples(tech, make_case(tech, seals_received="BG0071234"),
                            seal_received="BG0071234", seal_intact=True)
    desk = api(app.test_client(), api_token("tech"))
    with time_machine.travel(datetime.now(UTC), tick=False):
        for _ in range(ADDRESS_FREE_FAILURES + 5):
            response = desk.post(f"/samples/{sample.lab_number}/custody", json={
                "from": "user:tech", "to": "user:chem", "receiver_password": "guessing",
                "seal_found": "BG0071234", "seal_intact": True}, environ_base=ATTACKER)
            assert response.status_code in (422, 429)
        assert response.status_code == 429  # the guessing technician is slowed down
        with app.app_context():
            assert db.session.get(Throttle, account_key("chem")) is None
        # The colleague logs in at once, from their own desk ...
        assert post_login(client, "chem", password, COLLEAGUE).status_code == 302
        # ... and can still confirm a receipt there; only the guessing address waits.
        with app.test_request_context(environ_base=COLLEAGUE):
            services.confirm_password(services.get_user("chem"), password)
        with app.test_request_context(environ_base=ATTACKER), \
                pytest.raises(TooManyAttempts):
            services.confirm_password(services.get_user("chem"), password, "receiver_password")


def test_the_back_off_is_shared_by_every_worker(make_app, database_url, make_user, password):
    first, second = two_workers(make_app, database_url)
    make_user("technician", "tanya")
    with time_machine.travel(datetime.now(UTC), tick=False):
        for _ in range(5):
            assert post_login(first.test_client(), "tanya", "wrong!").status_code == 422
        # The other process sees the same counter: it does not start again from zero.
        assert post_login(second.test_client(), "tanya", password).status_code == 429


def test_the_verify_limit_holds_across_two_app_instances(make_app, database_url):
    first, second = two_workers(make_app, database_url)
    with time_machine.travel(datetime.now(UTC), tick=False) as clock:
        statuses = [(first if n % 2 else second).test_client().get("/verify/" + "x" * 20)
                    .status_code for n in range(31)]
        assert statuses[:30] == [404] * 30  # answered: no certificate has this code
        assert statuses[30] == 429  # 15 + 15 on two workers already used the budget
        api = second.test_client().post("/api/v1/verify", json={"token": "x" * 20})
        assert api.status_code == 429
        clock.shift(timedelta(seconds=61))
        assert first.test_client().get("/verify/" + "x" * 20).status_code == 404
    with first.app_context():
        keys = db.session.scalars(select(Throttle.key)).all()
        assert keys == ["verify:127.0.0.1"]
