"""`lims library import` and `lims library list`."""

import hashlib

from sqlalchemy import func, select

from lims.db import db
from lims.library.models import ReferenceLibrary
from tests.library.conftest import SMALL_MSP


def test_import_prints_progress_id_entries_and_sha256(app, cli, make_user, tmp_path):
    make_user("chemist", username="chem")
    path = tmp_path / "small.msp"
    path.write_bytes(SMALL_MSP)
    result = cli("library", "import", str(path), "--name", "Test MS", "--version", "1",
                 "--user", "chem", "--description", "two entries")
    assert result.exit_code == 0, result.output
    assert "entries: 2/2" in result.output and "indexing: 1/1" in result.output
    assert f"2 entries, sha256 {hashlib.sha256(SMALL_MSP).hexdigest()}" in result.output
    listing = cli("library", "list")
    assert "Test MS 1  ms/MS  2 entries  approved" in listing.output

    again = cli("library", "import", str(path), "--name", "Test MS", "--version", "1")
    assert again.exit_code != 0 and "already imported" in again.output


def test_a_broken_file_fails_with_the_line_and_writes_nothing(app, cli, tmp_path):
    path = tmp_path / "broken.msp"
    path.write_bytes(SMALL_MSP.replace(b"82 999", b"82 lots"))
    result = cli("library", "import", str(path), "--name", "X", "--version", "1")
    assert result.exit_code == 1 and "line" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ReferenceLibrary)) == 0
