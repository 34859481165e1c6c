"""The findings API: create in one body, the gate's 422, four-eyes 403, scoping, the snapshot."""

from __future__ import annotations

from sqlalchemy import func, select

from lims.db import db
from lims.esign.models import Signature
from tests.findings.conftest import finding_body

PASSWORD = "correct horse battery staple"
SNAPSHOT_KEYS = {"finding_id", "version", "result", "scope", "conclusion", "limitations",
                 "substances", "legal_status_date", "techniques", "scheme", "sampling",
                 "net_weight", "author", "submitted_at", "amendment_reason",
                 "supersedes_finding_id"}


def _client(client, api, api_token, user):
    return api(client, api_token(user))


def test_create_with_substances_techniques_and_sampling_in_one_body(app, client, api,
                                                                   api_token, lab):
    chem = _client(client, api, api_token, lab["chem"])
    body = {**finding_body(lab), "cannabis": False,
            "sampling": {"method": "hypergeometric", "population": 100, "seed": 7},
            "net_weight": {"method": "measured", "net_weight_mg": 101500}}
    response = chem.post(f"samples/{lab['sample']}/findings", json=body)
    assert response.status_code == 201, response.get_json()
    data = response.get_json()
    with app.app_context():
        from lims.findings.models import Finding
        from lims.findings.services import finding_snapshot

        assert set(finding_snapshot(db.session.get(Finding, data["finding_id"]))) \
            == SNAPSHOT_KEYS
    assert data["status"] == "draft" and data["gate"]["ok"] is True
    assert data["substances"][0]["name"] == lab["substance_name"]
    assert data["substances"][0]["legal_status"][0]["schedule"] == "Schedule I"
    assert data["legal_status_date"] == "2026-03-01"
    ir = data["techniques"][0]
    assert set(ir) == {"code", "name", "category", "positive", "aliquot", "run", "method_ref",
                       "note", "measurement", "search"}
    assert ir["measurement"]["id"] == lab["measurement"]
    assert set(ir["measurement"]) == {"id", "instrument", "instrument_model",
                                      "instrument_serial", "calibration_due",
                                      "out_of_calibration", "acquired_at", "raw_sha256",
                                      "filename"}
    assert set(ir["search"]) == {"search_id", "library", "library_version", "library_sha256",
                                 "algorithm", "algorithm_label", "recipe_summary", "rank",
                                 "substance", "score", "raw", "spectrum_id", "entry_id"}
    assert ir["search"]["search_id"] == lab["search"]
    assert data["scheme"]["rule"] == "R1"
    assert [c["code"] for c in data["scheme"]["counted"]] == ["IR", "COLOUR"]
    assert data["sampling"]["seed"] == 7 and len(data["sampling"]["selected_units"]) == 23
    assert data["net_weight"] == {"method": "measured", "value_mg": 101500,
                                  "lower_mg": 101500, "upper_mg": 101500, "confidence": None}
    assert data["author"] == {"name": "Dimitar Ivanov", "username": "dimitar"}


def test_submit_refused_by_the_gate_names_what_is_missing(app, client, api, api_token, lab):
    chem = _client(client, api, api_token, lab["chem"])
    created = chem.post(f"samples/{lab['sample']}/findings", json=finding_body(lab, passing=False))
    finding_id = created.get_json()["finding_id"]
    response = chem.post(f"findings/{finding_id}/submit", json={"password": PASSWORD})
    assert response.status_code == 422
    error = response.get_json()
    assert error["field"] == "techniques"
    assert "Needs a second technique" in error["error"] and "ATR-FTIR" in error["error"]


def test_bad_items_are_refused_with_the_item_named(client, api, api_token, lab):
    chem = _client(client, api, api_token, lab["chem"])
    body = finding_body(lab)
    body["techniques"] = [body["techniques"][0], {"technique": "SMELL"}]
    response = chem.post(f"samples/{lab['sample']}/findings", json=body)
    assert response.status_code == 422
    assert response.get_json()["field"] == "techniques[1].technique"
    body = {**finding_body(lab), "substances": [{"substance": "unobtainium"}]}
    response = chem.post(f"samples/{lab['sample']}/findings", json=body)
    assert response.status_code == 422
    assert "unobtainium" in response.get_json()["error"]


def test_submit_then_review_four_eyes_and_wrong_password(app, client, api, api_token, lab):
    from tests.scenarios import configure_lab

    configure_lab(app)
    chem = _client(client, api, api_token, lab["chem"])
    finding_id = chem.post(f"samples/{lab['sample']}/findings",
                           json=finding_body(lab)).get_json()["finding_id"]
    submitted = chem.post(f"findings/{finding_id}/submit", json={"password": PASSWORD})
    assert submitted.status_code == 200
    signature = submitted.get_json()["signature"]
    assert signature["meaning"] == "performed"
    assert signature["content_sha256"] == submitted.get_json()["content_sha256"]
    again = chem.post(f"findings/{finding_id}/submit", json={"password": PASSWORD})
    assert again.status_code == 409
    reviewer = _client(client, api, api_token, lab["reviewer"])
    with app.app_context():
        before = db.session.scalar(select(func.count(Signature.id)))
    wrong = reviewer.post(f"findings/{finding_id}/review",
                          json={"decision": "approve", "password": "wrong password!"})
    assert wrong.status_code == 422 and wrong.get_json()["field"] == "password"
    no_reason = reviewer.post(f"findings/{finding_id}/review",
                              json={"decision": "return", "password": PASSWORD})
    assert no_reason.status_code == 422 and no_reason.get_json()["field"] == "reason"
    with app.app_context():
        assert db.session.scalar(select(func.count(Signature.id))) == before
    approved = reviewer.post(f"findings/{finding_id}/review",
                             json={"decision": "approve", "password": PASSWORD})
    assert approved.status_code == 200, approved.get_json()
    data = approved.get_json()
    assert data["status"] == "approved" and data["certificate"]
    assert [s["meaning"] for s in data["signatures"]] == ["performed", "reviewed", "approved"]
    assert {s["content_sha256"] for s in data["signatures"]} == {data["content_sha256"]}


def test_the_author_cannot_approve_via_the_api(client, api, api_token, lab, make_finding):
    finding_id = make_finding(author=lab["reviewer"], submit=True)
    reviewer = _client(client, api, api_token, lab["reviewer"])
    response = reviewer.post(f"findings/{finding_id}/review",
                             json={"decision": "approve", "password": PASSWORD})
    assert response.status_code == 403
    assert response.get_json()["error"] == "The author cannot review their own finding."


def test_investigators_get_404_outside_their_cases_and_403_inside(app, client, api, api_token,
                                                                  lab, make_user, login):
    from lims.auth.services import get_user
    from lims.findings import services
    from lims.intake.services import get_sample

    with app.app_context():
        chem = get_user("dimitar")
        other = services.create_finding(chem, get_sample(chem, lab["other_sample"]), {
            "result": "inconclusive", "limitations": "none"})
        mine = services.create_finding(chem, get_sample(chem, lab["sample"]), {
            "result": "inconclusive", "limitations": "none"})
        db.session.commit()
        other_id, mine_id = other.id, mine.id
    investigator = _client(client, api, api_token, lab["investigator"])
    assert investigator.get(f"findings/{other_id}").status_code == 404
    assert investigator.get(f"findings/{mine_id}").status_code == 403
    assert investigator.get("findings/999").status_code == 404
    login(client, "ivan")
    assert client.get(f"/findings/{mine_id}").status_code == 403
    assert "Findings" not in client.get(f"/samples/{lab['sample']}").get_data(as_text=True)


def test_the_openapi_document_lists_the_finding_routes(client, api, api_token, lab):
    document = api(client, api_token(lab["chem"])).get("openapi.json").get_json()
    for path in ("/api/v1/samples/{lab_number}/findings", "/api/v1/findings/{finding_id}",
                 "/api/v1/findings/{finding_id}/submit", "/api/v1/findings/{finding_id}/review"):
        assert path in document["paths"]
