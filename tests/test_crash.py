"""Crash safety: the server is killed (SIGKILL, at an armed failpoint) in the middle of an upload,
a hand-over and a certificate issue; after a restart nothing is half-written and the chain holds."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from lims.audit.models import AuditEntry
from lims.audit.services import verify_chain
from lims.certificates.models import Certificate
from lims.config import ENV_KEYS
from lims.custody.models import CustodyEvent
from lims.db import db
from lims.failpoints import POINTS
from lims.findings import services as findings
from lims.findings.models import Finding
from lims.intake.models import Sample
from lims.measurements.models import Measurement
from tests.conftest import PASSWORD, SECRET_KEY, dispose
from tests.scenarios import LAB_ADDRESS, LAB_NAME, accepted_hit, configure_lab

ROOT = Path(__file__).resolve().parent.parent
IR_FILE = ROOT / "tests" / "fixtures" / "ir_small.jdx"


@contextmanager
def server(settings, tmp_path: Path, failpoint: str = ""):
    """The application in its own process on the test's database and data folder."""
    port_file = tmp_path / f"port-{time.monotonic_ns()}"
    env = {k: v for k, v in os.environ.items() if k not in ENV_KEYS}
    env.update(LIMS_DATA_DIR=str(settings.data_dir), LIMS_DATABASE_URL=settings.database_url,
               LIMS_SECRET_KEY=SECRET_KEY, LIMS_LAB_ADDRESS=LAB_ADDRESS, LIMS_LAB_NAME=LAB_NAME,
               LIMS_FAILPOINTS=failpoint, PYTHONPATH=str(ROOT))
    # -m from the repository root: a script's own folder (tests/) would shadow the packages.
    process = subprocess.Popen([sys.executable, "-m", "tests.serve_app", str(port_file)],
                               env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while not port_file.exists():
            assert process.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.05)
        process.base_url = f"http://127.0.0.1:{port_file.read_text()}/api/v1"
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
        process.wait(timeout=30)


def call(process, method: str, path: str, token: str, **kwargs):
    """One API call; None when the server died while answering it."""
    try:
        return requests.request(method, f"{process.base_url}{path}", timeout=60,
                                headers={"Authorization": f"Bearer {token}"}, **kwargs)
    except requests.ConnectionError:
        return None


def killed(process) -> bool:
    """True when the server process ended by SIGKILL (the armed failpoint)."""
    return process.wait(timeout=30) == -signal.SIGKILL


@pytest.fixture
def lab(app, make_user, make_case, make_samples, api_token):
    """A technician holding a new item, a chemist, a reviewer, their tokens; the lab's key."""
    configure_lab(app)
    tech, chem = make_user("technician", "tanya"), make_user("chemist", "chem")
    reviewer = make_user("reviewer", "rev")
    case = make_case(tech)
    (sample,) = make_samples(tech, case)
    tokens = {u.username: api_token(u) for u in (tech, chem, reviewer)}
    return {"lab_number": sample.lab_number, "tokens": tokens}


def counts(app, lab_number: str) -> dict:
    """What the database holds for the item, read in a short transaction of the test's own."""
    with app.app_context():
        sample = db.session.scalar(select(Sample).where(Sample.lab_number == lab_number))
        out = {
            "measurements": db.session.scalar(select(func.count(Measurement.id)).where(
                Measurement.sample_id == sample.id)),
            "custody": db.session.scalar(select(func.count(CustodyEvent.id)).where(
                CustodyEvent.sample_id == sample.id)),
            "certificates": db.session.scalar(select(func.count(Certificate.id))),
            "audit": db.session.scalar(select(func.count(AuditEntry.seq))),
            "chain_ok": verify_chain().ok,
        }
        db.session.remove()
    dispose(app)
    return out


def test_failpoints_are_the_documented_ones():
    text = (ROOT / "lims" / "config.py").read_text()
    assert all(point in text for point in POINTS)


def test_kill_during_upload_leaves_no_measurement(app, settings, tmp_path, lab):
    before = counts(app, lab["lab_number"])
    data = IR_FILE.read_bytes()
    with server(settings, tmp_path, "measurement.saved") as proc:
        answer = call(proc, "POST", f"/samples/{lab['lab_number']}/measurements",
                      lab["tokens"]["chem"], files={"file": ("ir.jdx", data)})
        assert answer is None and killed(proc)
    after = counts(app, lab["lab_number"])
    assert after == before  # no measurement, no audit entry, chain intact
    with app.app_context():  # the bytes may be in the store, but nothing counts them
        assert not db.session.scalar(select(Measurement).where(
            Measurement.raw_sha256 == hashlib.sha256(data).hexdigest()))
    with server(settings, tmp_path) as proc:
        answer = call(proc, "POST", f"/samples/{lab['lab_number']}/measurements",
                      lab["tokens"]["chem"], files={"file": ("ir.jdx", data)})
        assert answer.status_code == 201, answer.text
    assert counts(app, lab["lab_number"])["measurements"] == 1


def test_kill_during_handover_leaves_no_custody_event(app, settings, tmp_path, lab):
    before = counts(app, lab["lab_number"])
    body = {"from": "user:tanya", "to": "user:chem", "receiver_password": PASSWORD}
    with server(settings, tmp_path, "custody.recorded") as proc:
        answer = call(proc, "POST", f"/samples/{lab['lab_number']}/custody",
                      lab["tokens"]["tanya"], json=body)
        assert answer is None and killed(proc)
    assert counts(app, lab["lab_number"]) == before
    with server(settings, tmp_path) as proc:
        held = call(proc, "GET", f"/samples/{lab['lab_number']}", lab["tokens"]["tanya"])
        assert held.json()["current_holder"]["key"] == "user:tanya"  # it never happened
        answer = call(proc, "POST", f"/samples/{lab['lab_number']}/custody",
                      lab["tokens"]["tanya"], json=body)
        assert answer.status_code == 201, answer.text
    after = counts(app, lab["lab_number"])
    assert after["custody"] == before["custody"] + 1 and after["chain_ok"]


def test_kill_during_certificate_issue_leaves_no_certificate(app, settings, tmp_path, lab):
    with app.app_context():
        from lims.auth.models import User

        chem = db.session.scalar(select(User).where(User.username == "chem"))
        sample = db.session.scalar(select(Sample).where(Sample.lab_number == lab["lab_number"]))
        hit = accepted_hit(app, chem, sample)
        finding = findings.create_finding(chem, sample, {
            "result": "identified", "conclusion": "The powder contains cocaine.",
            "limitations": "Isomers not differentiated.",
            "same_aliquot_reason": "Limited sample: one aliquot for both tests.",
            "techniques": [
                {"technique": "IR", "search_hit_id": hit.id, "method_ref": "SOP-IR-01 v3"},
                {"technique": "COLOUR", "run": "Scott test plate 7",
                 "aliquot": sample.lab_number, "method_ref": "SOP-CT-02 v1"}],
            "substances": [{"substance_id": hit.entry.substance_id}]})
        findings.submit(chem, finding, PASSWORD)
        db.session.commit()
        finding_id = finding.id
        db.session.remove()
    before = counts(app, lab["lab_number"])
    review = {"decision": "approve", "password": PASSWORD}
    with server(settings, tmp_path, "certificate.stored") as proc:
        answer = call(proc, "POST", f"/findings/{finding_id}/review", lab["tokens"]["rev"],
                      json=review)
        assert answer is None and killed(proc)
    assert counts(app, lab["lab_number"]) == before  # no certificate, no approval, no entry
    with app.app_context():
        assert db.session.get(Finding, finding_id).status == "submitted"
        db.session.remove()
    with server(settings, tmp_path) as proc:
        answer = call(proc, "POST", f"/findings/{finding_id}/review", lab["tokens"]["rev"],
                      json=review)
        assert answer.status_code == 200, answer.text
        number = answer.json()["certificate"]
        number = number["number"] if isinstance(number, dict) else number
        pdf = call(proc, "GET", f"/certificates/{number}.pdf", lab["tokens"]["rev"])
        assert pdf.status_code == 200
        assert hashlib.sha256(pdf.content).hexdigest() == pdf.headers["X-Content-SHA256"]
    assert counts(app, lab["lab_number"])["chain_ok"]
