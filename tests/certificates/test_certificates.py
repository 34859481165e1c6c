"""Certificates: content, signature, verification, amendment, withdrawal, access and packet."""

from __future__ import annotations

import hashlib
import io
import re
import subprocess
import zipfile

import pytest

from lims.certificates import services
from lims.certificates.models import Certificate
from lims.db import db
from lims.signing import export_ca, verify_pdf
from tests.certificates.helpers import (
    PASSWORD,
    SEAL,
    accepted_hit,
    approved_finding,
    make_certificate,
)
from tests.test_signing import flip_byte_in_page_content, pdfsig
from tests.tools import pdf_to_pngs, require_tool, zbar_decode


def pdf_pages(pdf: bytes, tmp_path) -> list[str]:
    """The text of each page, in reading order (pdftotext)."""
    tool = require_tool("pdftotext")
    path = tmp_path / "certificate.pdf"
    path.write_bytes(pdf)
    text = subprocess.run([tool, str(path), "-"], check=True, capture_output=True,
                          text=True).stdout
    return [page for page in text.split("\f") if page.strip()]


def download(client, number: str) -> bytes:
    response = client.get(f"/certificates/{number}.pdf")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/pdf"
    assert response.headers["X-Content-SHA256"] == hashlib.sha256(response.data).hexdigest()
    return response.data


def verify_upload(client, pdf: bytes) -> dict:
    response = client.post("/api/v1/verify", data={"file": (io.BytesIO(pdf), "c.pdf")},
                           content_type="multipart/form-data")
    assert response.status_code == 200
    return response.json


def audit_actions(app, entity_id: str) -> list[str]:
    from lims.audit.models import AuditEntry

    with app.app_context():
        return list(db.session.scalars(db.select(AuditEntry.action).where(
            AuditEntry.entity_id == entity_id).order_by(AuditEntry.seq)))


# --- the document ---------------------------------------------------------------------------


def test_issued_pdf_carries_the_17025_content_on_every_page(reviewer_client, issued, tmp_path):
    pdf = download(reviewer_client, issued["number"])
    pages = pdf_pages(pdf, tmp_path)
    assert len(pages) >= 2
    for index, page in enumerate(pages, start=1):
        assert f"Certificate {issued['number']}" in page, index
        assert f"Page {index} of {len(pages)}" in page
        assert "Reproduce only in full" in page
    text = re.sub(r"\s+", " ", " ".join(pages))
    assert f"End of certificate {issued['number']}" in pages[-1]
    for expected in (
        "Substance identification certificate", "47 Aksakov Street", issued["case"],
        issued["sample"], f"Seal received {SEAL}", "Seal BG-SEAL-004711 found intact on receipt",
        "Date of receipt", "Dates of analysis", "Date of issue", "SOP-IR-01 v3",
        "Identified: Cocaine hydrochloride", "78.4 % ± 2.1 %", "k = 2",
        "Legal classification on the date of seizure, 2026-03-14",
        "National list, List I (Narcotic Drugs Act)", "No statistical sampling",
        "The results relate only to the items tested",
        "may not be reproduced except in full",
        "Electronically signed by Dimitar Ivanov (performed)",
        "Electronically signed by Elena Georgieva (approved)",
        "Test IR library version 1",
    ):
        assert expected in text, expected


def test_pdf_title_is_the_number_and_the_spectrum_overlay_is_embedded(reviewer_client, issued):
    from pyhanko.pdf_utils.reader import PdfFileReader

    pdf = download(reviewer_client, issued["number"])
    info = PdfFileReader(io.BytesIO(pdf)).trailer_view["/Info"]
    assert info["/Title"] == issued["number"]
    assert pdf.count(b"/Subtype /Image") >= 2  # the QR code and the spectrum overlay


def test_qr_code_decodes_to_the_verification_url(app, reviewer_client, issued, tmp_path):
    pdf = download(reviewer_client, issued["number"])
    first_page = pdf_to_pngs(pdf, tmp_path, dpi=200)[0]
    urls = set(zbar_decode(first_page, "qrcode"))
    assert len(urls) == 1
    url = urls.pop()
    match = re.fullmatch(r"http://localhost/verify/([A-Za-z0-9_-]{32})", url)
    assert match, url
    page = app.test_client().get(f"/verify/{match.group(1)}")
    assert page.status_code == 200
    assert "Authentic" in page.get_data(as_text=True)
    with app.app_context():
        stored = db.session.scalar(db.select(Certificate.token_sha256))
        snapshot = db.session.scalar(db.select(Certificate.snapshot_json))
    assert stored == hashlib.sha256(match.group(1).encode()).hexdigest()
    assert match.group(1) not in snapshot  # the token itself is only in the PDF


# --- signature and verification ------------------------------------------------------------


def test_signature_verifies_with_pyhanko_and_pdfsig(app, reviewer_client, issued, tmp_path):
    pdf = download(reviewer_client, issued["number"])
    with app.app_context():
        export_ca(app.config["LIMS"], tmp_path / "exported-ca.pem")
    exported = (tmp_path / "exported-ca.pem").read_bytes()
    result = verify_pdf(pdf, exported)
    assert result.status == "valid", result.reason
    assert result.certified and result.docmdp_permission == "NO_CHANGES"
    report = pdfsig(pdf, tmp_path / "nss", exported)
    assert "Signature is Valid." in report and "Certificate is Trusted." in report


def test_one_changed_byte_is_altered_for_pyhanko_pdfsig_and_verify(app, reviewer_client,
                                                                   issued, ca_pem, tmp_path):
    tampered = flip_byte_in_page_content(download(reviewer_client, issued["number"]))
    assert verify_pdf(tampered, ca_pem).status == "altered"
    report = pdfsig(tampered, tmp_path / "nss", ca_pem)
    assert "Signature is Valid." not in report
    answer = verify_upload(app.test_client(), tampered)
    assert answer["status"] == "altered"
    assert answer["certificate_number"] == issued["number"]
    assert answer["sha256"] == hashlib.sha256(tampered).hexdigest() != issued["pdf_sha256"]
    page = app.test_client().post("/verify", data={"file": (io.BytesIO(tampered), "x.pdf")},
                                  content_type="multipart/form-data")
    assert page.status_code == 200
    assert "Altered" in page.get_data(as_text=True)


def test_verify_answers_authentic_for_the_issued_bytes(app, reviewer_client, issued):
    pdf = download(reviewer_client, issued["number"])
    answer = verify_upload(app.test_client(), pdf)
    assert answer["status"] == "authentic"
    assert answer["certificate_number"] == issued["number"]
    assert answer["signer"] == "Elena Georgieva"
    assert answer["sha256"] == issued["pdf_sha256"]


def test_foreign_or_unsigned_pdf_is_not_issued_by_this_laboratory(app, issued):
    from lims.pdf import render_pdf

    with app.app_context():
        unsigned = render_pdf(f"<title>{issued['number']}</title><p>Cocaine</p>")
    answer = verify_upload(app.test_client(), unsigned)
    assert answer["status"] == "not_issued"
    assert answer["certificate_number"] is None
    garbage = verify_upload(app.test_client(), b"not a pdf at all")
    assert garbage["status"] == "not_issued"


def test_unknown_token_is_404_on_the_page_and_the_api(app, issued):
    client = app.test_client()
    assert client.get("/verify/" + "A" * 32).status_code == 404
    response = client.post("/api/v1/verify", json={"token": "B" * 32})
    assert response.status_code == 404 and response.json["status"] == "unknown"
    missing = client.post("/api/v1/verify", json={})  # a missing field is named, as everywhere
    assert missing.status_code == 422 and missing.json["field"] == "token"
    assert client.post("/api/v1/verify", data="[1]",
                       content_type="application/json").status_code == 400


def test_verification_is_rate_limited_per_client(app, issued):
    client = app.test_client()
    codes = [client.get("/verify/" + "C" * 32).status_code
             for _ in range(services.VERIFY_PER_MINUTE + 1)]
    assert codes[:-1] == [404] * services.VERIFY_PER_MINUTE
    assert codes[-1] == 429


@pytest.mark.csrf
def test_the_verify_form_needs_its_csrf_token_but_no_login(app, issued):
    client = app.test_client()
    page = client.get("/verify")
    assert page.status_code == 200
    assert client.post("/verify", data={"token": "D" * 32}).status_code == 400
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                      page.get_data(as_text=True)).group(1)
    answer = client.post("/verify", data={"token": "D" * 32, "csrf_token": token})
    assert answer.status_code == 404 and "Not found" in answer.get_data(as_text=True)


# --- immutability, amendment, withdrawal ----------------------------------------------------


def test_every_download_returns_the_identical_bytes(app, reviewer_client, issued, api_token,
                                                   api):
    first = download(reviewer_client, issued["number"])
    assert download(reviewer_client, issued["number"]) == first
    assert hashlib.sha256(first).hexdigest() == issued["pdf_sha256"]
    response = api(app.test_client(), api_token(issued["reviewer"])).get(
        f"/certificates/{issued['number']}.pdf")
    assert response.data == first
    assert response.headers["X-Content-SHA256"] == issued["pdf_sha256"]


def amend_and_approve(app, issued, reason: str = "Wrong seal number on the first certificate"):
    """Amend through the API-level services and approve the new version (issues it)."""
    from lims.auth.services import get_user
    from lims.findings.services import get_finding, submit

    with app.app_context():
        reviewer, chemist = get_user(issued["reviewer"]), get_user(issued["chemist"])
        old = services.get_certificate(reviewer, issued["number"])
        finding = services.amend(reviewer, old, reason)
        db.session.commit()
        finding = get_finding(chemist, finding.id)
        submit(chemist, finding, PASSWORD)
        new = services.approve_and_issue(reviewer, finding, PASSWORD)
        db.session.commit()
        return new.number


def test_amendment_supersedes_and_the_original_stays_downloadable(app, reviewer_client, issued,
                                                                 tmp_path):
    original = download(reviewer_client, issued["number"])
    new_number = amend_and_approve(app, issued)
    assert new_number != issued["number"]
    assert download(reviewer_client, issued["number"]) == original
    with app.app_context():
        old = db.session.scalar(db.select(Certificate).where(
            Certificate.number == issued["number"]))
        assert old.pdf_sha256 == issued["pdf_sha256"] and old.status == "superseded"
        assert old.superseded_by.number == new_number
    answer = verify_upload(app.test_client(), original)
    assert answer["status"] == "superseded" and answer["superseded_by"] == new_number
    amended = download(reviewer_client, new_number)
    text = re.sub(r"\s+", " ", " ".join(pdf_pages(amended, tmp_path)))
    assert f"It replaces certificate {issued['number']}" in text
    assert "Wrong seal number on the first certificate" in text
    assert "amendment history" in text.lower()
    assert verify_upload(app.test_client(), amended)["status"] == "authentic"
    assert "certificate_superseded" in audit_actions(app, issued["number"])


def test_an_amendment_needs_a_reason(app, issued, api_token, api):
    client = api(app.test_client(), api_token(issued["reviewer"]))
    response = client.post(f"/certificates/{issued['number']}/amend", json={"reason": "  "})
    assert response.status_code == 422 and response.json["field"] == "reason"


def test_withdrawal_needs_reason_and_password_and_verifies_withdrawn(app, reviewer_client,
                                                                    issued, api_token, api):
    client = api(app.test_client(), api_token(issued["reviewer"]))
    url = f"/certificates/{issued['number']}/withdraw"
    assert client.post(url, json={"reason": "", "password": PASSWORD}).status_code == 422
    wrong = client.post(url, json={"reason": "Sample mix-up", "password": "x" * 12})
    assert wrong.status_code == 422 and wrong.json["field"] == "password"
    done = client.post(url, json={"reason": "Sample mix-up", "password": PASSWORD})
    assert done.status_code == 200 and done.json["status"] == "withdrawn"
    pdf = download(reviewer_client, issued["number"])
    answer = verify_upload(app.test_client(), pdf)
    assert answer["status"] == "withdrawn" and answer["withdrawal_reason"] == "Sample mix-up"
    assert "certificate_withdrawn" in audit_actions(app, issued["number"])
    again = client.post(url, json={"reason": "again", "password": PASSWORD})
    assert again.status_code == 409


def test_withdraw_form_on_the_certificate_page(reviewer_client, issued):
    page = reviewer_client.get(f"/certificates/{issued['number']}")
    assert page.status_code == 200 and "Withdraw" in page.get_data(as_text=True)
    response = reviewer_client.post(f"/certificates/{issued['number']}/withdraw",
                                    data={"reason": "Wrong item", "password": PASSWORD})
    assert response.status_code == 302
    page = reviewer_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "withdrawn" in page and "Wrong item" in page


def test_a_second_certificate_for_the_same_finding_is_refused(app, issued):
    from lims.auth.services import get_user
    from lims.errors import Conflict
    from lims.findings.models import Finding

    with app.app_context():
        finding = db.session.get(Finding, issued["finding_id"])
        with pytest.raises(Conflict):
            services.issue_certificate(get_user(issued["reviewer"]), finding)


@pytest.mark.settings(public_url="https://verify.lab.example")
def test_the_qr_url_uses_the_public_url_setting(app, ca_pem, tmp_path):
    issued = make_certificate(app)
    with app.app_context():
        pdf = services.file_store().get(issued["pdf_sha256"])
    urls = zbar_decode(pdf_to_pngs(pdf, tmp_path, dpi=200)[0], "qrcode")
    assert urls and urls[0].startswith("https://verify.lab.example/verify/")


# --- access and audit ------------------------------------------------------------------------


def test_investigator_of_another_case_gets_404(app, issued, make_user, login, api_token, api):
    outsider = make_user("investigator", username="inv-other")
    client = app.test_client()
    login(client, outsider.username)
    number = issued["number"]
    for url in (f"/certificates/{number}", f"/certificates/{number}.pdf",
                f"/cases/{issued['case']}/packet.zip", f"/samples/{issued['sample']}",
                f"/portal/cases/{issued['case']}"):
        assert client.get(url).status_code == 404, url
    assert number not in client.get("/certificates").get_data(as_text=True)
    token_client = api(app.test_client(), api_token(outsider))
    for path in (f"/certificates/{number}", f"/certificates/{number}.pdf",
                 f"/samples/{issued['sample']}"):
        assert token_client.get(path).status_code == 404, path
    assert token_client.get("/certificates").json == {"certificates": []}


def test_assigned_investigator_reads_and_every_read_is_audited(app, issued, login):
    client = app.test_client()
    login(client, "inv-mine")
    number = issued["number"]
    assert client.get(f"/certificates/{number}").status_code == 200
    assert client.get(f"/certificates/{number}.pdf").status_code == 200
    assert client.get(f"/cases/{issued['case']}/packet.zip").status_code == 200
    assert client.post(f"/certificates/{number}/amend", data={"reason": "x"}).status_code == 403
    actions = audit_actions(app, number)
    assert "certificate_viewed" in actions and "certificate_downloaded" in actions
    assert "packet_downloaded" in audit_actions(app, issued["case"])


def test_api_lists_and_shows_certificates(app, issued, api_token, api):
    client = api(app.test_client(), api_token(issued["reviewer"]))
    listed = client.get(f"/certificates?case={issued['case']}").json["certificates"]
    assert [c["number"] for c in listed] == [issued["number"]]
    one = client.get(f"/certificates/{issued['number']}").json
    assert one["status"] == "issued" and one["substances"] == ["Cocaine hydrochloride"]
    assert one["pdf_sha256"] == issued["pdf_sha256"]
    assert client.get("/certificates/NO-SUCH-1").status_code == 404


def test_api_amend_returns_the_new_draft_finding(app, issued, api_token, api):
    client = api(app.test_client(), api_token(issued["reviewer"]))
    response = client.post(f"/certificates/{issued['number']}/amend",
                           json={"reason": "Purity corrected"})
    assert response.status_code == 201
    with app.app_context():
        from lims.findings.models import Finding

        draft = db.session.get(Finding, response.json["finding_id"])
        assert draft.status == "draft" and draft.supersedes_id == issued["finding_id"]
    again = client.post(f"/certificates/{issued['number']}/amend", json={"reason": "Twice"})
    assert again.status_code == 409


# --- the case packet ------------------------------------------------------------------------


def test_packet_manifest_hashes_match_its_files(app, reviewer_client, issued):
    new_number = amend_and_approve(app, issued)
    response = reviewer_client.get(f"/cases/{issued['case']}/packet.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    names = set(archive.namelist())
    assert {f"certificates/{issued['number']}.pdf", f"certificates/{new_number}.pdf",
            "custody/custody-log.csv", "custody/custody-log.pdf", "audit/audit-extract.csv",
            "audit/audit-extract.pdf", "manifest.json", "MANIFEST.sha256"} <= names
    assert any(name.startswith(f"raw/{issued['sample']}/") for name in names)
    sums = {}
    for line in archive.read("MANIFEST.sha256").decode().splitlines():
        digest, path = line.split("  ", 1)
        sums[path] = digest
    assert set(sums) == names - {"MANIFEST.sha256"}
    for path, digest in sums.items():
        assert hashlib.sha256(archive.read(path)).hexdigest() == digest, path
    assert sums[f"certificates/{issued['number']}.pdf"] == issued["pdf_sha256"]
    import json

    manifest = json.loads(archive.read("manifest.json"))
    assert {c["number"]: c["status"] for c in manifest["certificates"]} == {
        issued["number"]: "superseded", new_number: "issued"}


def test_issuing_without_a_lab_address_is_refused(app, ca_pem, make_user, make_case,
                                                  make_samples):
    import dataclasses

    from lims.auth.services import get_user
    from lims.signing import SigningUnavailable

    app.config["LIMS"] = dataclasses.replace(app.config["LIMS"], lab_address="")
    chemist, reviewer = make_user("chemist"), make_user("reviewer")
    case = make_case(make_user("technician"))
    sample = make_samples(make_user("technician"), case)[0]
    with app.app_context():
        chemist, reviewer = get_user(chemist.username), get_user(reviewer.username)
        sample = db.session.merge(sample)
        finding = approved_finding(app, chemist, reviewer, sample,
                                   accepted_hit(app, chemist, sample))
        with pytest.raises(SigningUnavailable, match="LIMS_LAB_ADDRESS"):
            services.issue_certificate(reviewer, finding)
