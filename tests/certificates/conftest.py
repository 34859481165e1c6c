"""Fixtures of the certificate tests: a configured lab (address, key) and one certificate."""

from __future__ import annotations

import pytest

from tests.scenarios import configure_lab


@pytest.fixture
def ca_pem(app):
    """The lab's CA certificate PEM (the key is made in this test's data folder)."""
    return configure_lab(app)


@pytest.fixture
def issued(certified, ca_pem):
    """One issued certificate (plain values: number, case, sample, usernames)."""
    return certified


@pytest.fixture
def reviewer_client(app, issued, login):
    """A test client logged in as the certificate's reviewer."""
    client = app.test_client()
    assert login(client, issued["reviewer"]).status_code == 302
    return client
