"""Electronic signatures: the password is asked again; name, meaning, UTC time, content hash."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from lims.audit.models import AuditEntry
from lims.auth.models import Throttle
from lims.auth.services import ReauthFailed, get_user
from lims.auth.throttle import address_key
from lims.db import db
from lims.errors import Invalid
from lims.esign import services
from lims.esign.models import Signature

PASSWORD = "correct horse battery staple"
DIGEST = "ab" * 32


def test_a_wrong_password_signs_nothing_and_counts_as_a_failure(app_ctx, make_user):
    make_user("reviewer", username="elena", full_name="Elena Georgieva")
    user = get_user("elena")
    with pytest.raises(ReauthFailed, match="The password of Elena Georgieva is not correct"):
        services.sign(user, "wrong password", meaning="reviewed", subject_type="finding",
                      subject_id="1", content_sha256=DIGEST)
    assert db.session.scalar(select(func.count(Signature.id))) == 0
    assert db.session.get(Throttle, address_key()).count == 1
    assert db.session.scalar(select(AuditEntry.action).order_by(AuditEntry.seq.desc())
                             .limit(1)) == "reauth_failed"


def test_a_signature_holds_name_meaning_utc_time_and_hash_and_is_audited(app_ctx, make_user):
    make_user("reviewer", username="elena", full_name="Elena Georgieva")
    user = get_user("elena")
    signature = services.sign(user, PASSWORD, meaning="approved", subject_type="finding",
                              subject_id="7", content_sha256=DIGEST, reason="checked")
    db.session.commit()
    stored = db.session.get(Signature, signature.id)
    assert (stored.printed_name, stored.meaning, stored.content_sha256, stored.reason) == (
        "Elena Georgieva", "approved", DIGEST, "checked")
    assert stored.signed_at.tzinfo == UTC
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "signature_approved"))
    assert entry.entity_id == "7" and DIGEST in entry.new_value


def test_manifestation_prints_name_meaning_and_utc_time(app_ctx, make_user):
    make_user("reviewer", username="elena", full_name="Elena Georgieva")
    signature = Signature(printed_name="Elena Georgieva", meaning="reviewed",
                          signed_at=datetime(2026, 12, 1, 22, 15, 3, 900, tzinfo=UTC))
    assert services.manifestation(signature) == (
        "Electronically signed by Elena Georgieva (reviewed), 2026-12-01 22:15:03 UTC")


def test_signatures_of_a_record_come_oldest_first_and_meanings_are_checked(app_ctx, make_user):
    make_user("reviewer", username="elena")
    user = get_user("elena")
    for meaning in ("performed", "reviewed"):
        services.sign(user, PASSWORD, meaning=meaning, subject_type="certificate",
                      subject_id="C-1", content_sha256=DIGEST)
    with pytest.raises(Invalid, match="means one of performed, reviewed, approved"):
        services.sign(user, PASSWORD, meaning="witnessed", subject_type="certificate",
                      subject_id="C-1", content_sha256=DIGEST)
    assert [s.meaning for s in services.signatures_for("certificate", "C-1")] == [
        "performed", "reviewed"]
    assert services.signatures_for("certificate", "C-2") == []
