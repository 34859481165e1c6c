"""Custody log and audit extract of a case: CSV and PDF, and their download pages."""

import csv
import io
import subprocess
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from lims.audit.export import audit_extract_csv, audit_extract_pdf
from lims.audit.models import AuditEntry
from lims.audit.services import entries_for
from lims.csvfile import csv_cell
from lims.custody.export import custody_log_csv, custody_log_pdf
from lims.custody.models import CustodyEvent
from lims.custody.services import holder_of, party_from_key, transfer
from lims.db import db
from lims.intake.models import Case, Sample
from tests.test_audit import drop_append_only_protection
from tests.tools import require_tool

PASSWORD = "correct horse battery staple"


def parse(body: bytes) -> list[dict]:
    """Rows of a CSV export, read back with the csv module."""
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))


def pdf_text(pdf: bytes, tmp_path) -> str:
    """The text of a PDF as pdftotext reads it (layout kept)."""
    path = tmp_path / "export.pdf"
    path.write_bytes(pdf)
    return subprocess.run([require_tool("pdftotext"), "-layout", str(path), "-"],
                          capture_output=True, check=True, text=True).stdout


@pytest.fixture
def seized(app_ctx, make_user, make_case, make_samples, make_location):
    """A case of two items: one handed to a chemist and stored, with a formula-like officer."""
    tech = make_user("technician", "tech")
    make_user("chemist", "chem")
    investigator = make_user("investigator", "inv")
    make_location("VAULT-A")
    case = make_case(tech, investigators=[investigator], officer_name="=HYPERLINK(\"x\")",
                     seals_received="BG1,BG2")
    first, second = make_samples(tech, case, 2, seal_received="BG1", seal_intact=True)
    transfer(tech, first, expected_from=holder_of(first).key, to=party_from_key("user:chem"),
             receiver_password=PASSWORD, seal_found="BG1", seal_intact=True,
             witness="+ Ana Witness")
    chem = party_from_key("user:chem").user
    transfer(chem, first, expected_from="user:chem", to=party_from_key("location:VAULT-A"),
             seal_found="BG1", seal_intact=True, note="@night shift")
    db.session.commit()
    return db.session.get(Case, case.id)


def test_csv_cells_that_a_spreadsheet_would_run_get_a_quote():
    assert [csv_cell(v) for v in ("=1+1", "+1", "-1", "@SUM(A1)", "plain", None, -5)] == [
        "'=1+1", "'+1", "'-1", "'@SUM(A1)", "plain", "", "-5"]


def test_custody_log_csv_lists_every_event_of_every_item_in_order(seized):
    rows = parse(custody_log_csv(seized))
    events = db.session.scalars(select(CustodyEvent).join(Sample).where(
        Sample.case_id == seized.id).order_by(Sample.id, CustodyEvent.sequence)).all()
    assert [(r["lab_number"], int(r["sequence"]), r["event"]) for r in rows] == [
        (e.sample.lab_number, e.sequence, e.event_type.replace("_", " ")) for e in events]
    first, second = seized.samples
    assert [r["event"] for r in rows] == ["receipt", "transfer", "storage in", "receipt"]
    handover = rows[1]
    assert (handover["from"], handover["to"]) == ("Test Tech (tech)", "Test Chem (chem)")
    assert (handover["seal_expected"], handover["seal_found"], handover["seal_intact"]) == (
        "BG1", "BG1", "yes")
    assert handover["time_utc"] == events[1].occurred_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    assert rows[2]["to"] == "VAULT-A (Evidence store VAULT-A)"
    # Text that a spreadsheet would run as a formula is defused, and nothing else changes.
    assert rows[0]["from"] == "'=HYPERLINK(\"x\")"
    assert handover["witness"] == "'+ Ana Witness" and rows[2]["reason"] == "'@night shift"
    audit = {e.entity_id: e.entry_hash for e in entries_for(case_id=seized.id)}
    assert [r["event_hash"] for r in rows] == [
        audit[f"{r['lab_number']}#{r['sequence']}"] for r in rows]
    assert rows[3]["lab_number"] == second.lab_number and rows[0]["lab_number"] == first.lab_number


@pytest.mark.settings(timezone=ZoneInfo("Europe/Sofia"))
def test_exports_give_utc_and_the_lab_time_zone(seized):
    row = parse(custody_log_csv(seized))[0]
    assert row["time_utc"].endswith(" UTC") and row["time_local"].split()[-1] in ("EET", "EEST")
    assert row["time_utc"][:10] <= row["time_local"][:10]


def test_custody_log_pdf_names_every_item_and_the_case_on_each_page(seized, tmp_path):
    pdf = custody_log_pdf(seized)
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf, tmp_path)
    for sample in seized.samples:
        assert sample.lab_number in text
    assert f"Case {seized.case_number}" in text and "Page 1 of 1" in text
    assert "VAULT-A" in text and "storage in" in text


def test_custody_log_pdf_repeats_case_and_page_numbers_on_long_logs(seized, tmp_path,
                                                                   make_samples):
    make_samples(_tech(), seized, 40)
    text = pdf_text(custody_log_pdf(db.session.get(Case, seized.id)), tmp_path)
    pages = text.split("\f")
    pages = [page for page in pages if page.strip()]
    assert len(pages) >= 2
    for number, page in enumerate(pages, 1):
        assert f"Case {seized.case_number}" in page
        assert f"Page {number} of {len(pages)}" in page


def _tech():
    from lims.auth.services import get_user

    return get_user("tech")


def test_audit_extract_csv_has_every_entry_of_the_case_and_the_chain_check(seized):
    expected = [(e.seq, e.action, e.entry_hash, e.prev_hash)
                for e in entries_for(case_id=seized.id, limit=10_000)]
    rows = parse(audit_extract_csv(seized.id, seized.case_number))
    *entries, chain = rows
    assert [(int(r["seq"]), r["action"], r["entry_hash"], r["prev_hash"]) for r in entries] \
        == expected
    assert {"create", "custody", "status"} <= {r["action"] for r in entries}
    assert entries[0]["entity"] == f"case {seized.case_number}"
    assert chain["seq"] == "chain" and chain["time_utc"].startswith("Audit chain verified")


def test_audit_extract_says_when_the_chain_is_broken(seized, tmp_path):
    seq = entries_for(case_id=seized.id)[1].seq
    number = seized.case_number
    drop_append_only_protection("audit_entry")
    db.session.execute(update(AuditEntry).where(AuditEntry.seq == seq).values(reason="edited"))
    db.session.commit()
    case_id = db.session.scalar(select(Case.id).where(Case.case_number == number))
    chain = parse(audit_extract_csv(case_id, number))[-1]
    assert chain["time_utc"].startswith("AUDIT CHAIN DOES NOT VERIFY")
    assert f"entry {seq} was edited" in chain["time_utc"]
    assert "AUDIT CHAIN DOES NOT VERIFY" in pdf_text(audit_extract_pdf(case_id, number), tmp_path)


def test_audit_extract_pdf_lists_the_items_and_the_chain_check(seized, tmp_path):
    numbers = [s.lab_number for s in seized.samples]
    case_number = seized.case_number
    text = pdf_text(audit_extract_pdf(seized.id, case_number), tmp_path)
    for number in numbers:
        assert number in text
    assert "Audit chain verified" in text and f"Case {case_number}" in text
    assert "Page 1 of" in text


def test_download_pages_answer_files_with_the_access_rules_of_their_pages(
        client, login, seized, make_user, make_case):
    case_number = seized.case_number
    other = make_case(_tech()).case_number
    db.session.rollback()  # end the fixture's transaction before the requests write
    login(client, "tech")
    response = client.get(f"/cases/{case_number}/custody.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    assert len(parse(response.data)) == 4
    response = client.get(f"/cases/{case_number}/audit.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    assert client.get(f"/cases/{case_number}/audit.xlsx").status_code == 404
    client.post("/logout")
    login(client, "inv")
    assert client.get(f"/cases/{case_number}/custody.pdf").status_code == 200
    assert client.get(f"/cases/{other}/custody.csv").status_code == 404
    assert client.get(f"/cases/{case_number}/audit.csv").status_code == 403
    db.session.rollback()  # the requests ran in this app context: read what they committed
    case_id = db.session.scalar(select(Case.id).where(Case.case_number == case_number))
    downloads = [e for e in entries_for(case_id=case_id) if e.action == "custody_log_downloaded"]
    assert [(e.user_name, e.new_value) for e in downloads] == [("Test Inv (inv)", "pdf")]
