"""A finding's signatures ask for the authenticator code of an enrolled signer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine

from tests.auth.test_two_factor import enrol


def test_an_enrolled_author_signs_a_finding_with_password_and_code(app, login, lab,
                                                                   make_finding, password):
    finding_id = make_finding()
    author = app.test_client()
    login(author, lab["chem"].username)
    authenticator = enrol(author)
    url = f"/findings/{finding_id}/submit"
    page = author.get(url).get_data(as_text=True)
    assert "Authenticator code" in page
    refused = author.post(url, data={"password": password})
    assert refused.status_code == 422
    assert "The authenticator code is not correct" in refused.get_data(as_text=True)
    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=30), tick=False):
        done = author.post(url, data={"password": password, "code": authenticator.now()})
    assert done.status_code == 302, done.get_data(as_text=True)
