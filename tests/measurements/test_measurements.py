"""Instruments, uploads with preview, accept and reject, API, raw bytes, watched folder."""

import hashlib
import io
import re
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lims.audit.models import AuditEntry
from lims.db import db
from lims.measurements.models import Measurement, RawFile, SpectrumRecord

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
GOOD = (FIXTURES / "ir_small.jdx").read_bytes()
BROKEN = (FIXTURES / "ir_broken.jdx").read_bytes()


@pytest.fixture
def lab(make_user, make_case, make_samples, app):
    from lims.measurements.services import create_instrument

    chem = make_user("chemist", username="chem1")
    tech = make_user("technician", username="tech1")
    case = make_case(tech)
    samples = make_samples(tech, case, 2)
    with app.app_context():
        create_instrument(None, {"name": "FTIR-1", "model": "Nicolet iS50", "serial": "A1",
                                 "technique": "IR", "default_adapter": "",
                                 "calibration_due": date.today() + timedelta(days=30)})
        create_instrument(None, {"name": "RAMAN-OLD", "technique": "Raman",
                                 "default_adapter": "",
                                 "calibration_due": date.today() - timedelta(days=1)})
        db.session.commit()
    return {"chem": chem, "sample": samples[0].lab_number, "other": samples[1].lab_number}


def _count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def _actions(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq)))


def _upload(client, lab_number, data, name="ir_small.jdx", **fields):
    return client.post(f"/samples/{lab_number}/measurements/new",
                       data={"file": (io.BytesIO(data), name), **fields},
                       content_type="multipart/form-data")


def test_preview_saves_nothing_until_accepted(app, client, lab, login):
    login(client, "chem1")
    response = _upload(client, lab["sample"], GOOD, instrument="FTIR-1")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'data-format="jcamp"' in page and "JCAMP-DX" in page
    assert "<td>11</td>" in page and "cm-1 / absorbance" in page
    assert 'src="data:image/png;base64,' in page
    assert _count(app, Measurement) == 0 and _count(app, RawFile) == 0
    assert "measurement_previewed" in _actions(app)
    digest = re.search(r'name="sha256" type="hidden" value="([0-9a-f]{64})"', page).group(1)
    assert digest == hashlib.sha256(GOOD).hexdigest()

    done = client.post(f"/samples/{lab['sample']}/measurements/decide", data={
        "sha256": digest, "filename": "ir_small.jdx", "adapter": "", "instrument": "FTIR-1",
        "decision": "accept"})
    assert done.status_code == 302
    assert _count(app, Measurement) == 1 and _count(app, SpectrumRecord) == 1
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "FTIR-1" in page and digest in page and "past its calibration" not in page
    with app.app_context():
        spectrum = db.session.scalars(select(SpectrumRecord)).one()
        assert spectrum.n_points == 11 and spectrum.x_first == 400 and spectrum.x_last == 410
        assert spectrum.y[0] == pytest.approx(0.1) and spectrum.y[-1] == pytest.approx(0.3)
    assert "create" in _actions(app)[-1:]
    sample_page = client.get(f"/samples/{lab['sample']}").get_data(as_text=True)
    assert "ir_small.jdx" in sample_page


def test_reject_keeps_only_the_audit_entry(app, client, lab, login):
    login(client, "chem1")
    page = _upload(client, lab["sample"], GOOD).get_data(as_text=True)
    digest = re.search(r'name="sha256" type="hidden" value="([0-9a-f]{64})"', page).group(1)
    response = client.post(f"/samples/{lab['sample']}/measurements/decide", data={
        "sha256": digest, "filename": "ir_small.jdx", "decision": "reject",
        "reason": "wrong sample"})
    assert response.status_code == 302
    assert _count(app, Measurement) == 0 and _count(app, RawFile) == 0
    assert _actions(app)[-1] == "measurement_rejected"
    again = client.post(f"/samples/{lab['sample']}/measurements/decide", data={
        "sha256": digest, "filename": "ir_small.jdx", "decision": "accept"})
    assert again.status_code == 409  # the staged bytes are gone: nothing to accept


def test_unreadable_file_shows_the_line_and_is_audited(app, client, lab, login):
    login(client, "chem1")
    response = _upload(client, lab["sample"], BROKEN, "ir_broken.jdx")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "line 16" in page
    assert _count(app, Measurement) == 0
    assert _actions(app)[-1] == "measurement_unreadable"


def test_calibration_overdue_is_flagged(app, client, lab, login, api, api_token):
    response = api(client, api_token("chem1")).post(
        f"samples/{lab['sample']}/measurements",
        data={"file": (io.BytesIO(GOOD), "x.jdx"), "instrument": "RAMAN-OLD"},
        content_type="multipart/form-data")
    assert response.status_code == 201
    assert response.get_json()["out_of_calibration"] is True
    login(client, "chem1")
    measurement_id = response.get_json()["measurement_id"]
    assert "past its calibration due date" in client.get(
        f"/measurements/{measurement_id}").get_data(as_text=True)
    assert "past calibration" in client.get(f"/samples/{lab['sample']}").get_data(as_text=True)


def test_api_upload_spectrum_and_raw_bytes(app, client, lab, api, api_token):
    chem = api(client, api_token("chem1"))
    response = chem.post(f"samples/{lab['sample']}/measurements",
                         data={"file": (io.BytesIO(GOOD), "ir_small.jdx")},
                         content_type="multipart/form-data")
    assert response.status_code == 201
    body = response.get_json()
    assert body["sha256"] == hashlib.sha256(GOOD).hexdigest() and body["format"] == "jcamp"
    [spectrum] = body["spectra"]
    assert spectrum | {"id": 0} == {"id": 0, "technique": "IR", "kind": "continuous",
                                     "n_points": 11, "x_first": 400.0, "x_last": 410.0,
                                     "x_unit": "cm-1", "y_unit": "absorbance",
                                     "title": "Test spectrum CL-2026-000001", "block": ""}
    data = chem.get(f"spectra/{spectrum['id']}").get_json()
    assert data["x"][:3] == [400.0, 401.0, 402.0] and len(data["y"]) == 11
    raw = chem.get(f"measurements/{body['measurement_id']}/raw")
    assert raw.status_code == 200 and raw.data == GOOD
    assert "attachment" in raw.headers["Content-Disposition"]

    second = chem.post(f"samples/{lab['other']}/measurements",
                       data={"file": (io.BytesIO(GOOD), "copy.jdx")},
                       content_type="multipart/form-data")
    assert second.status_code == 201
    assert _count(app, RawFile) == 1  # the same bytes are stored once
    store = app.config["LIMS"].file_store
    assert len([p for p in store.rglob("*") if p.is_file()]) == 1


def test_api_errors(app, client, lab, api, api_token):
    chem = api(client, api_token("chem1"))
    bad = chem.post(f"samples/{lab['sample']}/measurements",
                    data={"file": (io.BytesIO(BROKEN), "b.jdx")},
                    content_type="multipart/form-data")
    assert bad.status_code == 422
    assert bad.get_json()["line"] == 16 and "error" in bad.get_json()
    empty = chem.post(f"samples/{lab['sample']}/measurements",
                      data={"file": (io.BytesIO(b""), "e.jdx")},
                      content_type="multipart/form-data")
    assert empty.status_code == 422 and "empty" in empty.get_json()["error"]
    junk = chem.post(f"samples/{lab['sample']}/measurements",
                     data={"file": (io.BytesIO(bytes(range(256)) * 40), "j.bin")},
                     content_type="multipart/form-data")
    assert junk.status_code == 422
    forced = chem.post(f"samples/{lab['sample']}/measurements",
                       data={"file": (io.BytesIO(GOOD), "x.spc"), "adapter": "spc"},
                       content_type="multipart/form-data")
    assert forced.status_code == 422 and "not a Galactic SPC" in forced.get_json()["error"]
    nofile = chem.post(f"samples/{lab['sample']}/measurements", data={},
                       content_type="multipart/form-data")
    assert nofile.status_code == 422 and nofile.get_json()["field"] == "file"
    assert chem.get("spectra/999").status_code == 404
    assert _count(app, Measurement) == 0


def test_investigator_cannot_see_measurements(app, client, lab, make_user, api, api_token):
    chem = api(client, api_token("chem1"))
    body = chem.post(f"samples/{lab['sample']}/measurements",
                     data={"file": (io.BytesIO(GOOD), "x.jdx")},
                     content_type="multipart/form-data").get_json()
    make_user("investigator", username="inv9")
    inv = api(client, api_token("inv9"))
    assert inv.get(f"measurements/{body['measurement_id']}/raw").status_code == 403
    assert inv.get(f"spectra/{body['spectra'][0]['id']}").status_code == 403


@pytest.mark.settings(max_upload_mb=1)
def test_upload_limit_before_reading(app, client, lab, api, api_token):
    chem = api(client, api_token("chem1"))
    body = b"--x\r\nContent-Disposition: form-data; name=file; filename=big.csv\r\n\r\n"
    response = chem.post(f"samples/{lab['sample']}/measurements",
                         data=body + b"#" * (3 * 1024 * 1024) + b"\r\n--x--\r\n",
                         content_type="multipart/form-data; boundary=x")
    assert response.status_code == 413 and "limit of 1 MiB" in response.get_json()["error"]
    assert _count(app, Measurement) == 0


def test_watched_folder(app, lab, tmp_path, cli):
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / f"{lab['sample']}_run1.jdx").write_bytes(GOOD)
    (folder / "no-number.jdx").write_bytes(GOOD.replace(b"CL-2026-000001", b"unknown"))
    (folder / f"{lab['other']}.jdx").write_bytes(BROKEN)
    named_inside = GOOD.replace(b"##END=", b"##$SAMPLE NAME=x\n##END=").replace(
        b"CL-2026-000001", lab["other"].encode()) + b"\n"
    (folder / "inside.jdx").write_bytes(named_inside)
    result = cli("watch", str(folder), "--instrument", "FTIR-1", "--user", "chem1", "--once")
    assert result.exit_code == 0, result.output
    assert f"done  {lab['sample']}_run1.jdx: imported" in result.output
    assert "FAILED  no-number.jdx: no lab number" in result.output
    assert f"FAILED  {lab['other']}.jdx: {lab['other']}: " in result.output
    assert "done  inside.jdx: imported as measurement" in result.output
    assert sorted(p.name for p in (folder / "done").iterdir()) == sorted([
        f"{lab['sample']}_run1.jdx", f"{lab['sample']}_run1.jdx.reason.txt",
        "inside.jdx", "inside.jdx.reason.txt"])
    reason = (folder / "failed" / f"{lab['other']}.jdx.reason.txt").read_text()
    assert "line 16" in reason
    assert not [p for p in folder.iterdir() if p.is_file()]

    (folder / "again.jdx").write_bytes(GOOD)  # same bytes: idempotent by sha256
    time.sleep(0.01)
    result = cli("watch", str(folder), "--instrument", "FTIR-1", "--user", "chem1", "--once")
    assert "done  again.jdx: already imported as measurement" in result.output
    assert _count(app, Measurement) == 2
