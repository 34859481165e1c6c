"""What the author signed is what the reviewer approves and the certificate prints (issue 11.1)."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from lims.auth.services import get_user
from lims.certificates.models import Certificate
from lims.db import db
from lims.esign.models import Signature
from lims.findings.models import Finding
from lims.findings.snapshot import finding_snapshot, sha256_of
from lims.library.models import Substance
from lims.library.services import update_substance
from tests.scenarios import PASSWORD, configure_lab

RENAMED = "Caffeine (renamed after submission)"


def _signatures(app, finding_id: int) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(Signature.meaning).where(
            Signature.subject_id == str(finding_id)).order_by(Signature.id)))


def _rename_substance(app, lab) -> None:
    """A second chemist renames the finding's substance after the author signed it."""
    with app.app_context():
        substance = db.session.get(Substance, lab["substance"])
        update_substance(get_user("dimitar"), substance, {"name": RENAMED},
                         "Renamed while the finding waits for review")
        db.session.commit()


def test_a_substance_renamed_after_submission_blocks_approval(app, client, login, lab,
                                                              make_finding):
    configure_lab(app)
    finding_id = make_finding(submit=True)
    _rename_substance(app, lab)
    login(client, "elena")
    refused = client.post(f"/findings/{finding_id}/review",
                          data={"decision": "approve", "password": PASSWORD})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 409
    assert "changed after its author signed it" in text
    assert "substances[0].name" in text and RENAMED in text
    assert _signatures(app, finding_id) == ["performed"]  # nothing signed, nothing issued
    with app.app_context():
        assert db.session.get(Finding, finding_id).status == "submitted"
        assert db.session.scalar(select(func.count(Certificate.id))) == 0


def test_the_api_answers_409_naming_what_changed(app, client, api, api_token, lab, make_finding):
    configure_lab(app)
    finding_id = make_finding(submit=True)
    _rename_substance(app, lab)
    reviewer = api(client, api_token("elena"))
    refused = reviewer.post(f"findings/{finding_id}/review",
                            json={"decision": "approve", "password": PASSWORD})
    assert refused.status_code == 409
    body = refused.get_json()
    assert body["field"] == "finding" and "substances[0].name" in body["error"]
    # The reviewer returns it; the author signs the new content; then approval goes through.
    assert reviewer.post(f"findings/{finding_id}/review", json={
        "decision": "return", "password": PASSWORD,
        "reason": "The substance was renamed: check and sign again."}).status_code == 200
    author = api(client, api_token("dimitar"))
    assert author.post(f"findings/{finding_id}/submit",
                       json={"password": PASSWORD}).status_code == 200
    approved = reviewer.post(f"findings/{finding_id}/review",
                             json={"decision": "approve", "password": PASSWORD})
    assert approved.status_code == 200, approved.get_json()
    with app.app_context():
        certificate = db.session.scalar(select(Certificate))
        frozen = json.loads(certificate.snapshot_json)["finding"]
        assert frozen["substances"][0]["name"] == RENAMED


def test_the_certificate_prints_the_snapshot_the_author_signed(app, lab, make_finding):
    from lims.certificates.services import approve_and_issue

    configure_lab(app)
    finding_id = make_finding(submit=True)
    with app.app_context():
        finding = db.session.get(Finding, finding_id)
        signed = json.loads(finding.submitted_snapshot)
        performed = db.session.scalar(select(Signature).where(
            Signature.subject_id == str(finding_id), Signature.meaning == "performed"))
        assert performed.content_sha256 == sha256_of(finding.submitted_snapshot)
        certificate = approve_and_issue(get_user("elena"), finding, PASSWORD)
        db.session.commit()
        assert json.loads(certificate.snapshot_json)["finding"] == signed
        assert {s.content_sha256 for s in db.session.scalars(select(Signature).where(
            Signature.subject_id == str(finding_id)))} == {performed.content_sha256}
        # Reference data edited after issue changes neither the certificate nor the signed copy.
        update_substance(get_user("dimitar"), db.session.get(Substance, lab["substance"]),
                         {"name": RENAMED}, "Renamed after issue")
        db.session.commit()
        assert json.loads(finding.submitted_snapshot) == signed
        assert json.loads(certificate.snapshot_json)["finding"] == signed


def test_a_tampered_signed_copy_is_refused(app, lab, make_finding):
    from lims.certificates.services import approve_and_issue
    from lims.errors import Conflict

    configure_lab(app)
    finding_id = make_finding(submit=True)
    with app.app_context():
        finding = db.session.get(Finding, finding_id)
        copy = json.loads(finding.submitted_snapshot)
        copy["conclusion"] = "The powder contains heroin."
        finding.submitted_snapshot = json.dumps(copy)  # someone with database access
        db.session.commit()
        try:
            approve_and_issue(get_user("elena"), finding, PASSWORD)
        except Conflict as error:
            assert "does not match the signature" in error.message
        else:
            raise AssertionError("a tampered signed copy was approved")


def test_technique_notes_are_part_of_what_is_signed(app, lab, make_finding):
    finding_id = make_finding()
    with app.app_context():
        finding = db.session.get(Finding, finding_id)
        before = sha256_of(json.dumps(finding_snapshot(finding), sort_keys=True))
        finding.techniques[0].note = "Deviation: ATR crystal cleaned twice (SOP-IR-01 4.2)."
        snapshot = finding_snapshot(finding)
        assert snapshot["techniques"][0]["note"].startswith("Deviation")
        assert sha256_of(json.dumps(snapshot, sort_keys=True)) != before
        db.session.rollback()
