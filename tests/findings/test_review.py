"""Four-eyes review: approve or return, signatures bound to the content hash, amendments."""

from __future__ import annotations

import re
from datetime import UTC

from sqlalchemy import func, select

from lims.auth.models import Throttle
from lims.auth.services import get_user
from lims.auth.throttle import address_key
from lims.db import db
from lims.errors import Forbidden
from lims.esign.models import Signature
from lims.esign.services import manifestation
from lims.findings import services
from lims.findings.models import Finding

PASSWORD = "correct horse battery staple"


def _count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count(Signature.id)))


def test_the_author_cannot_approve_their_own_finding(app, client, login, lab, make_finding):
    finding_id = make_finding(author=lab["reviewer"], submit=True)
    login(client, "elena")
    before = _count(app)
    response = client.post(f"/findings/{finding_id}/review",
                           data={"decision": "approve", "password": PASSWORD})
    assert response.status_code == 403
    assert "The author cannot review their own finding" in response.get_data(as_text=True)
    assert _count(app) == before
    page = client.get(f"/findings/{finding_id}/review", follow_redirects=True)
    assert "The author cannot review their own finding" in page.get_data(as_text=True)


def test_a_wrong_password_creates_no_signature_and_counts_toward_lockout(app, client, login,
                                                                         lab, make_finding):
    finding_id = make_finding(submit=True)
    login(client, "elena")
    before = _count(app)
    response = client.post(f"/findings/{finding_id}/review",
                           data={"decision": "approve", "password": "not my password!"})
    assert response.status_code == 422
    assert "The password of Elena Georgieva is not correct" in response.get_data(as_text=True)
    assert _count(app) == before
    with app.app_context():
        assert db.session.get(Throttle, address_key("127.0.0.1")).count == 1
        assert db.session.get(Finding, finding_id).status == "submitted"


def test_review_page_shows_what_is_signed_and_its_meanings(app, client, login, lab,
                                                          make_finding):
    finding_id = make_finding(submit=True)
    login(client, "elena")
    page = client.get(f"/findings/{finding_id}/review").get_data(as_text=True)
    with app.app_context():
        digest = services.finding_sha256(db.session.get(Finding, finding_id))
    assert f'id="content-sha256">{digest}<' in page
    assert "unchanged since the author signed" in page
    assert "Electronically signed by Dimitar Ivanov (performed)" in page
    assert "<strong>reviewed</strong>" in page and "<strong>approved</strong>" in page
    assert "meets SWGDRUG" in page and 'type="password"' in page


def test_approval_signatures_hold_name_meaning_utc_time_and_the_content_hash(app, lab,
                                                                            make_finding):
    finding_id = make_finding(submit=True)
    with app.app_context():
        finding = db.session.get(Finding, finding_id)
        reviewed, approved = services.approve(get_user("elena"), finding, PASSWORD)
        db.session.commit()
        digest = services.finding_sha256(finding)
        rows = services.signatures(finding)
        assert [(s.printed_name, s.meaning) for s in rows] == [
            ("Dimitar Ivanov", "performed"), ("Elena Georgieva", "reviewed"),
            ("Elena Georgieva", "approved")]
        assert all(s.content_sha256 == digest for s in rows)
        assert finding.snapshot_sha256 == digest and finding.status == "approved"
        assert all(s.signed_at.tzinfo == UTC for s in rows)
        assert re.fullmatch(r"Electronically signed by Elena Georgieva \(approved\), "
                            r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", manifestation(approved))
        assert finding.reviewed_by.username == "elena"


def test_approval_moves_the_sample_to_reported(app, lab, make_finding):
    from lims.intake.services import change_status, get_sample

    finding_id = make_finding(submit=True)
    with app.app_context():
        sample = get_sample(get_user("dimitar"), lab["sample"])
        change_status(get_user("dimitar"), sample, "in_analysis", "analysis started")
        services.approve(get_user("elena"), db.session.get(Finding, finding_id), PASSWORD)
        db.session.commit()
        assert sample.status == "reported"


def test_returning_needs_a_reason_then_the_author_edits_and_resubmits(app, client, login, lab,
                                                                     make_finding):
    finding_id = make_finding(submit=True)
    login(client, "elena")
    refused = client.post(f"/findings/{finding_id}/review",
                          data={"decision": "return", "password": PASSWORD, "reason": " "})
    assert refused.status_code == 422
    assert "Give the reason for returning" in refused.get_data(as_text=True)
    returned = client.post(f"/findings/{finding_id}/review", data={
        "decision": "return", "password": PASSWORD, "reason": "Attach the GC-MS run."})
    assert returned.status_code == 302
    client.post("/logout")
    login(client, "dimitar")
    page = client.get(f"/findings/{finding_id}").get_data(as_text=True)
    assert "Attach the GC-MS run." in page and "Check and submit" in page
    assert client.post(f"/findings/{finding_id}/edit", data={
        "result": "identified", "conclusion": "Contains cocaine hydrochloride.",
        "limitations": "none", "same_aliquot_reason": "limited sample"}).status_code == 302
    assert client.post(f"/findings/{finding_id}/submit",
                       data={"password": PASSWORD}).status_code == 302
    with app.app_context():
        finding = db.session.get(Finding, finding_id)
        assert finding.status == "submitted"
        assert [s.meaning for s in services.signatures(finding)] == ["performed", "performed"]


def test_only_a_submitted_finding_can_be_reviewed(app, lab, make_finding):
    finding_id = make_finding()
    with app.app_context():
        finding = db.session.get(Finding, finding_id)
        try:
            services.approve(get_user("elena"), finding, PASSWORD)
        except Exception as error:  # noqa: BLE001 - the type is asserted next
            assert type(error).__name__ == "Conflict" and "draft" in error.message
        else:
            raise AssertionError("a draft was approved")
        try:
            services.approve(get_user("dimitar"), finding, PASSWORD)
        except Forbidden as error:
            assert error.message == "The author cannot review their own finding."


def test_reopen_makes_a_new_version_that_supersedes_on_approval(app, lab, make_finding):
    finding_id = make_finding(submit=True)
    with app.app_context():
        old = db.session.get(Finding, finding_id)
        services.approve(get_user("elena"), old, PASSWORD)
        new = services.reopen(get_user("elena"), old, "Salt form corrected")
        assert (new.version, new.status, new.supersedes_id) == (2, "draft", old.id)
        assert old.status == "approved"  # its certificate stays valid until v2 is approved
        assert [t.technique for t in new.techniques] == ["IR", "COLOUR"]
        services.submit(get_user("dimitar"), new, PASSWORD)
        services.approve(get_user("elena"), new, PASSWORD)
        db.session.commit()
        assert old.status == "superseded" and new.status == "approved"
        assert services.finding_snapshot(new)["supersedes_finding_id"] == old.id


def test_approving_on_the_web_issues_the_certificate(app, client, login, lab, make_finding):
    from tests.scenarios import configure_lab

    configure_lab(app)
    finding_id = make_finding(submit=True)
    login(client, "elena")
    response = client.post(f"/findings/{finding_id}/review",
                           data={"decision": "approve", "password": PASSWORD})
    assert response.status_code == 302
    assert "/certificates/" in response.headers["Location"]
    with app.app_context():
        finding = db.session.get(Finding, finding_id)
        assert finding.status == "approved"
        assert [s.meaning for s in services.signatures(finding)] == [
            "performed", "reviewed", "approved"]
    number = response.headers["Location"].rsplit("/", 1)[1]
    shown = client.get(response.headers["Location"])
    assert shown.status_code == 200 and number in shown.get_data(as_text=True)
