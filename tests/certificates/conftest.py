"""Fixtures of the certificate tests: a configured lab (address, key) and one certificate."""

from __future__ import annotations

import pytest

from tests.certificates.helpers import configure_lab, make_certificate


@pytest.fixture
def ca_pem(app):
    """The lab's CA certificate PEM (the key is made in this test's data folder)."""
    return configure_lab(app)


@pytest.fixture
def investigator(make_user):
    """An investigator assigned to the certificate's case."""
    return make_user("investigator", username="inv-mine")


@pytest.fixture
def issued(app, ca_pem, investigator):
    """One issued certificate (plain values: number, case, sample, usernames)."""
    return make_certificate(app, investigators=[investigator])


@pytest.fixture
def reviewer_client(app, issued, login):
    """A test client logged in as the certificate's reviewer."""
    client = app.test_client()
    assert login(client, issued["reviewer"]).status_code == 302
    return client
