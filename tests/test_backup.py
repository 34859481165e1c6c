"""`lims backup` and `lims restore`: a snapshot taken during writes restores and verifies."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from lims import create_app
from lims.audit.models import AuditEntry
from lims.audit.services import verify_chain
from lims.cli import main as lims_main
from lims.config import load_settings
from lims.db import db
from lims.files import file_store
from lims.intake.models import Case
from tests.conftest import SECRET_KEY, dispose
from tests.scenarios import configure_lab, make_certificate


def _writer(app, tech_id: int, stop: threading.Event, made: list[str]) -> None:
    """Register cases one transaction at a time until told to stop."""
    from lims.auth.models import User
    from lims.intake.services import create_case

    with app.app_context():
        tech = db.session.get(User, tech_id)
        while not stop.is_set() and len(made) < 200:
            case = create_case(tech, {
                "customs_office": "BG002000 Varna Port", "officer_name": "Insp. Dimov",
                "seized_at": datetime(2026, 5, 1, tzinfo=UTC), "seizure_place": "Varna",
                "questions": "Identify the substance."},
                case_prefix=app.config["LIMS"].case_number_prefix)
            db.session.commit()
            made.append(case.case_number)
        db.session.remove()


@pytest.fixture
def outside(tmp_path_factory):
    """A folder outside the test's data folder, for backups and restored laboratories."""
    return tmp_path_factory.mktemp("backups")


@pytest.fixture
def restored_settings(outside, empty_database_url):
    """Settings of an empty laboratory (new data folder, empty database) to restore into."""
    return load_settings(data_dir=outside / "restored", database_url=empty_database_url,
                         secret_key=SECRET_KEY)


def test_backup_during_writes_restores_and_verifies(app, cli, make_user, outside,
                                                    restored_settings):
    configure_lab(app)
    issued = make_certificate(app)
    tech = make_user("technician")
    stop, made = threading.Event(), []
    writer = threading.Thread(target=_writer, args=(app, tech.id, stop, made))
    writer.start()
    try:
        while len(made) < 3:  # the snapshot starts while registrations are under way
            threading.Event().wait(0.01)
        result = cli("backup", str(outside / "backup"))
    finally:
        stop.set()
        writer.join()
    assert result.exit_code == 0, result.output
    assert "MANIFEST.sha256" in result.output
    manifest = (outside / "backup" / "MANIFEST.sha256").read_text()
    assert issued["pdf_sha256"] in manifest  # the certificate PDF blob is in the copy
    # The journal copy ends exactly at the snapshot's last audit entry, however writes went on.
    head = json.loads((outside / "backup" / "backup.json").read_text())["audit_head"]
    journal = (outside / "backup" / "data" / "audit" / "journal").read_text().splitlines()
    assert head > 0 and json.loads(journal[-1])["seq"] == head

    restored = create_app(restored_settings, testing=True)
    try:
        result = restored.test_cli_runner().invoke(lims_main, ["restore",
                                                               str(outside / "backup")])
        assert result.exit_code == 0, result.output
    finally:
        dispose(restored)
    # A new process on the restored folder: its keys (audit chain, signing) are the backup's.
    restored = create_app(load_settings(data_dir=restored_settings.data_dir,
                                        database_url=restored_settings.database_url,
                                        secret_key=SECRET_KEY), testing=True)
    try:
        result = restored.test_cli_runner().invoke(lims_main, ["audit", "verify"])
        assert result.exit_code == 0, result.output
        assert "journal head" in result.output
        with restored.app_context():
            from lims.certificates.services import verify_upload

            assert verify_chain().ok
            cases = db.session.scalar(select(func.count(Case.id)))
            assert 1 + 3 <= cases <= 1 + len(made)  # a snapshot: some, not necessarily all
            entries = db.session.scalar(select(func.count(AuditEntry.seq)))
            assert entries > 0
            pdf = file_store().get(issued["pdf_sha256"])
            answer = verify_upload(pdf)
            assert answer.status == "authentic", answer.message
    finally:
        dispose(restored)


def test_restore_refuses_a_tampered_backup(app, cli, outside, restored_settings):
    assert cli("backup", str(outside / "backup")).exit_code == 0
    dump = next((outside / "backup").glob("database.*"))
    dump.write_bytes(dump.read_bytes() + b"x")
    restored = create_app(restored_settings, testing=True)
    try:
        result = restored.test_cli_runner().invoke(lims_main, ["restore",
                                                               str(outside / "backup")])
        assert result.exit_code != 0
        assert f"{dump.name} does not match its SHA-256" in result.output
        assert not list((outside / "restored").glob("files"))  # nothing written
    finally:
        dispose(restored)


def test_restore_refuses_a_data_folder_in_use(app, cli, outside):
    assert cli("backup", str(outside / "backup")).exit_code == 0
    result = cli("restore", str(outside / "backup"))  # the test's own, non-empty laboratory
    assert result.exit_code != 0
    assert "not empty" in result.output or "already exists" in result.output


def test_backup_refuses_a_non_empty_target(app, cli, outside):
    (outside / "occupied").mkdir()
    (outside / "occupied" / "notes.txt").write_text("keep me")
    result = cli("backup", str(outside / "occupied"))
    assert result.exit_code != 0
    assert "is not empty" in result.output
    assert (outside / "occupied" / "notes.txt").read_text() == "keep me"
