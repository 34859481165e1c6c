"""Migration 0009 keeps existing accounts and tokens working."""

from datetime import UTC, datetime, timedelta

from flask_migrate import upgrade
from sqlalchemy import text

from lims.auth import services
from lims.auth.models import ApiToken
from lims.db import db


def test_existing_accounts_and_tokens_survive_the_upgrade(empty_database_url, make_app):
    app = make_app(empty_database_url)
    long_ago = datetime(2020, 1, 1)
    with app.app_context():
        upgrade(revision="0008")
        db.session.execute(text(
            'INSERT INTO "user" (username, full_name, role, password_hash, is_active, '
            "failed_logins, last_login_at, created_at) VALUES ('old', 'Old Timer', 'admin', "
            ":hash, :yes, 3, :when, :when)"),
            {"hash": services._hasher.hash("correct horse battery staple"), "yes": True,
             "when": long_ago.isoformat(sep=" ")})
        db.session.execute(text(
            "INSERT INTO api_token (label, token_hash, user_id, created_at) "
            "SELECT 'scanner', :digest, id, :when FROM \"user\""),
            {"digest": services.token_digest("lims_old-token"), "when": long_ago.isoformat(
                sep=" ")})
        db.session.commit()
        upgrade()
        # Idle since 2020, yet the idle period starts at the upgrade: not expired.
        assert services.authenticate("old", "correct horse battery staple").username == "old"
        assert services.user_for_token("lims_old-token").username == "old"
        expires = db.session.query(ApiToken).one().expires_at
        assert timedelta(days=89) < expires - datetime.now(UTC) <= timedelta(days=90)
