"""Audit checkpoints RFC 3161 time-stamped by a real time-stamp server (openssl ts)."""

from __future__ import annotations

import base64
import dataclasses
import json

import pytest

from tests.tsa_server import running_tsa


@pytest.fixture
def tsa(tmp_path_factory):
    with running_tsa(tmp_path_factory.mktemp("tsa")) as running:
        yield running


@pytest.fixture
def stamped_app(app, tsa):
    """The app with the time-stamp server and its CA configured."""
    url, ca = tsa
    app.config["LIMS"] = dataclasses.replace(app.config["LIMS"], tsa_url=url, tsa_ca=ca)
    return app


def _checkpoints(app) -> list[dict]:
    path = app.config["LIMS"].audit_checkpoints
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_checkpoint_carries_a_trusted_time_stamp(stamped_app, cli, make_user):
    make_user("technician")  # an audited change, so the chain has a head
    result = cli("audit", "checkpoint")
    assert result.exit_code == 0, result.output
    assert "RFC 3161 time-stamped" in result.output
    (record,) = _checkpoints(stamped_app)
    assert record["tst"]
    verified = cli("audit", "verify")
    assert verified.exit_code == 0, verified.output


def test_a_forged_time_stamp_fails_verification(stamped_app, cli, make_user):
    make_user("technician")
    assert cli("audit", "checkpoint").exit_code == 0
    make_user("chemist")
    assert cli("audit", "checkpoint").exit_code == 0
    first, second = _checkpoints(stamped_app)
    second["tst"] = first["tst"]  # a genuine token, but of another checkpoint's message
    path = stamped_app.config["LIMS"].audit_checkpoints
    path.write_text("".join(json.dumps(r) + "\n" for r in (first, second)))
    result = cli("audit", "verify")
    assert result.exit_code != 0
    assert "checkpoint 2" in result.output and "time-stamp" in result.output


def test_a_time_stamp_from_an_untrusted_server_fails_verification(stamped_app, cli, make_user):
    make_user("technician")
    assert cli("audit", "checkpoint").exit_code == 0
    stamped_app.config["LIMS"] = dataclasses.replace(stamped_app.config["LIMS"], tsa_ca=None)
    result = cli("audit", "verify")
    assert result.exit_code != 0 and "time-stamp" in result.output


def test_a_server_that_is_down_leaves_the_checkpoint_signed_but_unstamped(app, cli, make_user):
    app.config["LIMS"] = dataclasses.replace(app.config["LIMS"], tsa_url="http://127.0.0.1:9/")
    make_user("technician")
    result = cli("audit", "checkpoint")
    assert result.exit_code == 0 and "time-stamped" not in result.output
    (record,) = _checkpoints(app)
    assert "tst" not in record and base64.b64decode(record["sig"])
    assert cli("audit", "verify").exit_code == 0
