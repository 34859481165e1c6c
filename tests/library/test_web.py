"""The library and substance pages: import with errors, permissions, legal-status forms."""

import io
import re
from datetime import date

import pytest
from sqlalchemy import func, select

from lims.audit.models import AuditEntry
from lims.db import db
from lims.library.models import LegalStatus, LibraryEntry, ReferenceLibrary, Substance
from tests.library.conftest import SMALL_MSP


def _counts(app) -> tuple[int, ...]:
    with app.app_context():
        return tuple(db.session.scalar(select(func.count()).select_from(m))
                     for m in (ReferenceLibrary, LibraryEntry, Substance, AuditEntry))


def _post_import(client, data=SMALL_MSP, filename="small.msp", **fields):
    form = {"file": (io.BytesIO(data), filename), "name": "Test MS", "version": "1",
            "adapter": "", "description": "", **fields}
    return client.post("/libraries", data=form, content_type="multipart/form-data")


@pytest.fixture
def chem(client, login, make_user):
    user = make_user("chemist", username="chem")
    login(client, "chem")
    return user


def test_a_chemist_imports_a_library_and_browses_it(app, client, chem):
    response = _post_import(client)
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Test MS" in page and "Cocaine" in page and "50-36-2" in page
    assert "approved for casework" in page
    listing = client.get("/libraries").get_data(as_text=True)
    with app.app_context():
        library = db.session.scalars(select(ReferenceLibrary)).one()
        substance_id = db.session.scalar(select(Substance.id).where(Substance.name == "Cocaine"))
    assert f'title="{library.sha256}"' in listing and library.sha256[:12] in listing
    assert f"/substances/{substance_id}" in page
    assert 'data-upload-progress' in listing and "upload-progress.js" in listing


def test_entries_are_paged_in_file_order(app, client, chem):
    records = "\n\n".join(f"Name: Compound {i}\nNum Peaks: 1\n{i + 10} 999" for i in range(55))
    location = _post_import(client, records.encode(), "many.msp").headers["Location"]
    first = client.get(location).get_data(as_text=True)
    assert "Compound 49" in first and "Compound 50" not in first
    after = re.search(r'href="([^"]*after=49)"', first).group(1).replace("&amp;", "&")
    second = client.get(after).get_data(as_text=True)
    assert "Compound 50" in second and "Compound 54" in second and "Compound 1<" not in second


def test_a_duplicate_and_a_broken_file_are_refused_with_422_and_nothing_written(
        app, client, chem):
    assert _post_import(client).status_code == 302
    before = _counts(app)
    duplicate = _post_import(client)
    assert duplicate.status_code == 422
    assert "There is a problem" in duplicate.get_data(as_text=True)
    assert "already imported" in duplicate.get_data(as_text=True)
    broken = _post_import(client, SMALL_MSP.replace(b"82 999", b"82 lots"), version="2")
    text = broken.get_data(as_text=True)
    assert broken.status_code == 422 and "line" in text and "There is a problem" in text
    assert _counts(app) == before


def test_technicians_see_but_cannot_import_and_investigators_see_nothing(
        app, client, login, make_user):
    make_user("technician", username="tech")
    make_user("investigator", username="inv")
    login(client, "tech")
    page = client.get("/libraries")
    assert page.status_code == 200 and "Import a library" not in page.get_data(as_text=True)
    assert _post_import(client).status_code == 403
    assert client.get("/substances").status_code == 200
    assert _counts(app)[0] == 0
    client.post("/logout")
    login(client, "inv")
    assert client.get("/libraries").status_code == 403
    assert client.get("/substances").status_code == 403


@pytest.mark.csrf
def test_the_import_form_needs_its_csrf_token(app, client, chem):
    assert _post_import(client).status_code == 400
    assert _counts(app)[0] == 0


def _cocaine_id(app) -> int:
    with app.app_context():
        return db.session.scalar(select(Substance.id).where(Substance.name == "Cocaine"))


def test_legal_status_form_and_in_force_highlight(app, client, chem):
    _post_import(client)
    substance_id = _cocaine_id(app)
    bad = client.post(f"/substances/{substance_id}/legal-status", data={
        "regime": "UN Single Convention 1961", "schedule": "Schedule I",
        "effective_from": "2020-01-01", "effective_to": "2019-01-01"})
    assert bad.status_code == 422
    assert "The end date must be after" in bad.get_data(as_text=True)
    good = client.post(f"/substances/{substance_id}/legal-status", data={
        "regime": "UN Single Convention 1961", "schedule": "Schedule I",
        "effective_from": "1964-12-13", "reference": "Single Convention"})
    assert good.status_code == 302
    client.post(f"/substances/{substance_id}/legal-status", data={
        "regime": "National list", "schedule": "List II", "effective_from": "2000-01-01",
        "effective_to": "2015-01-01"})
    page = client.get(f"/substances/{substance_id}").get_data(as_text=True)
    assert page.count('class="in-force"') == 1 and "List II" in page
    with app.app_context():
        open_id = db.session.scalar(select(LegalStatus.id).where(
            LegalStatus.effective_to.is_(None)))
    ended = client.post(f"/legal-status/{open_id}/end", data={
        "effective_to": date.today().isoformat(), "reason": "removed"})
    assert ended.status_code == 302
    page = client.get(f"/substances/{substance_id}").get_data(as_text=True)
    assert 'class="in-force"' not in page


def test_substance_search_and_edit_with_the_cas_check_digit(app, client, chem):
    _post_import(client)
    found = client.get("/substances?q=ecgonine").get_data(as_text=True)
    assert "Cocaine" in found and "Amphetamine" not in found
    substance_id = _cocaine_id(app)
    bad = client.post(f"/substances/{substance_id}/edit", data={
        "name": "Cocaine", "cas": "50-36-3", "formula": "", "synonyms": "", "notes": "",
        "reason": "typo"})
    assert bad.status_code == 422 and "Check digit" in bad.get_data(as_text=True)
    good = client.post(f"/substances/{substance_id}/edit", data={
        "name": "Cocaine", "cas": "50-36-2", "formula": "C17H21NO4",
        "synonyms": "Benzoylmethylecgonine\nCoke", "notes": "", "reason": "synonym"})
    assert good.status_code == 302
    assert "Coke" in client.get(f"/substances/{substance_id}").get_data(as_text=True)


def test_the_nav_links_to_libraries(client, chem):
    assert 'href="/libraries">Libraries</a>' in client.get("/libraries").get_data(as_text=True)
