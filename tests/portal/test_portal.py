"""The investigator portal: only assigned cases, a timeline, certificates, audited views."""


import pytest
from sqlalchemy import select

from lims.audit.services import entries_for
from lims.db import db
from lims.intake.models import Case


@pytest.fixture
def portal(app, scenarios):
    """An investigator with one assigned case (two items, one certified) and a case not theirs."""
    return scenarios.values("portal", app)


def test_the_case_list_shows_only_the_assigned_cases(client, login, portal):
    login(client, "inv")
    page = client.get("/portal").get_data(as_text=True)
    assert portal["mine"] in page and "SR-MINE-1" in page
    assert portal["theirs"] not in page and "SR-OTHER-2" not in page
    row = page[page.index(portal["mine"]):].split("</tr>")[0]
    assert "<td>2</td>" in row  # items
    assert "2 registered" in row and "<strong>1</strong>" in row  # status, certificates


def test_another_case_answers_404_on_every_portal_page(client, login, portal):
    login(client, "inv")
    for path in ("", "/custody", "/timeline.png"):
        assert client.get(f"/portal/cases/{portal['theirs']}{path}").status_code == 404, path
    assert client.get("/portal/cases/NO-SUCH-CASE").status_code == 404


def test_staff_use_the_lab_pages_not_the_portal(client, login, portal):
    login(client, "tech")
    assert client.get("/portal").status_code == 403
    assert client.get(f"/portal/cases/{portal['mine']}").status_code == 403


def test_the_case_page_shows_progress_certificates_and_custody(client, login, portal):
    login(client, "inv")
    response = client.get(f"/portal/cases/{portal['mine']}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert portal["certificate"] in page and "valid" in page
    assert f'href="/certificates/{portal["certificate"]}.pdf"' in page
    assert f'href="/certificates/{portal["certificate"]}"' in page and 'href="/verify"' in page
    assert "Finding version 1 approved" in page
    assert f"Certificate {portal['certificate']} issued" in page
    assert f"/portal/cases/{portal['mine']}/timeline.png" in page
    assert f"/cases/{portal['mine']}/custody.pdf" in page
    picture = client.get(f"/portal/cases/{portal['mine']}/timeline.png")
    assert picture.mimetype == "image/png" and picture.data.startswith(b"\x89PNG")
    custody = client.get(f"/portal/cases/{portal['mine']}/custody").get_data(as_text=True)
    assert portal["first"] in custody and "receipt" in custody


def test_steps_are_listed_in_time_order(app, client, login, portal):
    login(client, "inv")
    page = client.get(f"/portal/cases/{portal['mine']}").get_data(as_text=True)
    times = [chunk.split('"')[0] for chunk in
             page.split('id="progress"')[1].split('<time datetime="')[1:]]
    assert times == sorted(times) and len(times) >= 5


def test_every_view_by_the_investigator_is_audited(app, client, login, portal):
    login(client, "inv")
    client.get(f"/portal/cases/{portal['mine']}")
    client.get(f"/portal/cases/{portal['mine']}/custody")
    client.get(f"/portal/cases/{portal['theirs']}")  # refused: nothing to audit
    with app.app_context():
        case_id = db.session.scalar(select(Case.id).where(Case.case_number == portal["mine"]))
        views = [(e.action, e.user_name, e.entity_id) for e in entries_for(case_id=case_id)
                 if e.action.startswith("portal_")]
        other_id = db.session.scalar(select(Case.id).where(Case.case_number == portal["theirs"]))
        assert not [e for e in entries_for(case_id=other_id) if e.action.startswith("portal_")]
    assert views == [("portal_case_viewed", "Test Inv (inv)", portal["mine"]),
                     ("portal_custody_viewed", "Test Inv (inv)", portal["mine"])]
