"""B-LTA archiving of issued certificates: a new write-once revision that still verifies."""

from __future__ import annotations

import dataclasses
import io

import pytest
from sqlalchemy import select

from lims.audit.models import AuditEntry
from lims.audit.services import verify_chain
from lims.certificates.models import Certificate
from lims.db import db
from lims.files import file_store
from lims.signing import trusted_pem, verify_pdf
from tests.scenarios import make_certificate
from tests.tsa_server import running_tsa


@pytest.fixture
def tsa(tmp_path_factory):
    with running_tsa(tmp_path_factory.mktemp("tsa")) as running:
        yield running


def _with_tsa(app, tsa) -> None:
    url, ca = tsa
    app.config["LIMS"] = dataclasses.replace(app.config["LIMS"], tsa_url=url, tsa_ca=ca)


def _verify(app, pdf: bytes) -> dict:
    response = app.test_client().post("/api/v1/verify", data={
        "file": (io.BytesIO(pdf), "certificate.pdf")}, content_type="multipart/form-data")
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


@pytest.mark.parametrize("signed_with_tsa", [True, False], ids=["b-lt", "b-b"])
def test_archive_adds_a_revision_that_verifies(app, ca_pem, cli, login, tsa, signed_with_tsa):
    if signed_with_tsa:
        _with_tsa(app, tsa)
    issued = make_certificate(app)
    _with_tsa(app, tsa)
    with app.app_context():
        original = file_store().get(issued["pdf_sha256"])
        first = verify_pdf(original, trusted_pem(app.config["LIMS"]))
        assert first.status == "valid" and first.timestamped is signed_with_tsa

    result = cli("certificates", "archive")
    assert result.exit_code == 0, result.output
    assert f"{issued['number']}: revision 1" in result.output

    with app.app_context():
        certificate = db.session.scalar(select(Certificate).where(
            Certificate.number == issued["number"]))
        (revision,) = certificate.revisions
        archived = file_store().get(revision.sha256)
        assert archived.startswith(original)  # the signed bytes are untouched
        assert certificate.pdf_sha256 == issued["pdf_sha256"]
        check = verify_pdf(archived, trusted_pem(app.config["LIMS"]))
        assert check.status == "valid" and len(check.archive_timestamps) == 1
        entry = db.session.scalar(select(AuditEntry).where(
            AuditEntry.action == "certificate_archived"))
        assert entry.entity_id == issued["number"] and revision.sha256 in entry.new_value
        assert verify_chain().ok

    client = app.test_client()
    assert login(client, issued["reviewer"]).status_code == 302
    download = client.get(f"/certificates/{issued['number']}.pdf")
    assert download.data == archived
    assert download.headers["X-Content-SHA256"] == revision.sha256

    answer = _verify(app, archived)
    assert answer["status"] == "authentic" and answer["certificate_number"] == issued["number"]
    assert "archival revision 1" in answer["message"]
    assert _verify(app, original)["status"] == "authentic"  # the first copy handed out too

    # Nothing to do on a second run; --renew stamps again on top of the last revision.
    assert "0 certificate(s) archived" in cli("certificates", "archive").output
    renewed = cli("certificates", "archive", "--renew")
    assert renewed.exit_code == 0 and f"{issued['number']}: revision 2" in renewed.output


def test_archive_without_a_tsa_names_the_setting(app, ca_pem, cli):
    make_certificate(app)
    result = cli("certificates", "archive")
    assert result.exit_code != 0
    assert "LIMS_TSA_URL" in result.output and "0 archived before it" in result.output
    with app.app_context():
        assert not db.session.scalar(select(AuditEntry).where(
            AuditEntry.action == "certificate_archived"))
