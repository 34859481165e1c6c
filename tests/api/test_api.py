"""JSON API v1: every endpoint, the error shapes, garbage input, and the OpenAPI document."""

import json
import os
import re
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from lims.audit.models import AuditEntry
from lims.auth.models import ApiToken
from lims.auth.services import get_user, set_active
from lims.db import db
from lims.intake.models import Case, Sample

CASE_BODY = {
    "seizure_ref": "BG-SOF-2026-0117",
    "proceedings_ref": "DP 412/2026",
    "customs_office": "BG001000 Sofia Airport",
    "officer_name": "Insp. Nikolay Dimov",
    "seized_at": "2026-01-15T09:30:00+02:00",
    "seizure_place": "Sofia Airport cargo",
    "direction": "import",
    "detection_method": "x-ray / NII",
    "container_number": "CSQU3054383",
    "mrn": "24BG1000A000000124",
    "hs_code": "0901 11",
    "conveyance": "Truck CA 1234 AB",
    "seals_received": "BG0071234, BG0071235",
    "description": "Coffee sacks with hidden bricks.",
    "questions": "Identify the substance.",
}
NOT_FOUND = "/samples/CL-2026-999999"


@pytest.fixture
def tech(make_user):
    return make_user("technician", "tanya")


@pytest.fixture
def tech_api(client, api, api_token, tech):
    return api(client, api_token(tech))


@pytest.fixture
def case_number(tech_api):
    response = tech_api.post("/cases", json={"customs_office": "BG001000",
                                             "officer_name": "Insp. Dimov",
                                             "questions": "What is it?"})
    assert response.status_code == 201, response.json
    return response.json["case_number"]


@pytest.fixture
def lab_number(tech_api, case_number):
    response = tech_api.post(f"/cases/{case_number}/samples",
                             json={"description": "Brick of white powder"})
    assert response.status_code == 201, response.json
    return response.json["lab_number"]


def assert_error(response, status: int, field: str | None = None) -> dict:
    """The response is a JSON error `{"error": ..., "field": ...}` with this status."""
    assert response.status_code == status, (response.status_code, response.get_data()[:300])
    assert response.mimetype == "application/json"
    body = response.json
    assert isinstance(body, dict) and set(body) <= {"error", "field"}, body
    assert isinstance(body["error"], str) and body["error"]
    if field is not None:
        assert body.get("field") == field, body
    return body


# --- cases and samples -----------------------------------------------------------------------


def test_create_case_returns_201_and_the_case_number(app, tech_api, make_user):
    make_user("investigator", "ivan")
    response = tech_api.post("/cases", json={**CASE_BODY, "investigators": ["ivan"]})
    assert response.status_code == 201, response.json
    number = response.json["case_number"]
    assert re.fullmatch(rf"CASE-{datetime.now(UTC).year}-\d{{5}}", number)
    assert response.json["url"].endswith(f"/cases/{number}")

    case = tech_api.get(f"/cases/{number}")
    assert case.status_code == 200
    assert case.json["container_number"] == "CSQU3054383"
    assert case.json["mrn"] == "24BG1000A000000124"
    assert case.json["samples"] == []
    with app.app_context():
        stored = db.session.scalar(select(Case).where(Case.case_number == number))
        assert stored.hs_code == "09011100"[:len(stored.hs_code)]
        assert stored.seal_list == ["BG0071234", "BG0071235"]
        assert stored.seized_at == datetime(2026, 1, 15, 7, 30, tzinfo=UTC)
        assert [u.username for u in stored.investigators] == ["ivan"]


def test_register_one_sample_returns_201_and_the_lab_number(tech_api, case_number):
    response = tech_api.post(f"/cases/{case_number}/samples", json={
        "description": "Brick of white powder", "packaging": "black tape",
        "gross_weight_g": 1104.3, "net_weight_g": "1.0021 kg", "unit_count": 1})
    assert response.status_code == 201, response.json
    year = datetime.now(UTC).year
    assert response.json["lab_number"] == f"CL-{year}-000001"
    assert response.json["lab_numbers"] == [f"CL-{year}-000001"]
    sample = tech_api.get(f"/samples/{response.json['lab_number']}").json
    assert (sample["gross_weight_mg"], sample["net_weight_mg"]) == (1_104_300, 1_002_100)


def test_register_several_samples_at_once(tech_api, case_number):
    items = [{"description": f"Sack {i}"} for i in range(1, 4)]
    response = tech_api.post(f"/cases/{case_number}/samples", json={"items": items})
    assert response.status_code == 201, response.json
    numbers = response.json["lab_numbers"]
    assert [int(n.rsplit("-", 1)[1]) for n in numbers] == [1, 2, 3]
    assert response.json["lab_number"] == numbers[0]
    assert tech_api.get(f"/cases/{case_number}").json["samples"] == numbers


def test_a_bad_item_among_several_registers_nothing(app, tech_api, case_number):
    items = [{"description": "Sack 1"}, {"description": "Sack 2", "gross_weight_g": "heavy"}]
    response = tech_api.post(f"/cases/{case_number}/samples", json={"items": items})
    assert_error(response, 422, "items[1].gross_weight_g")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Sample)) == 0


def test_get_sample_with_custody_events_and_current_holder(tech_api, lab_number):
    response = tech_api.get(f"/samples/{lab_number}")
    assert response.status_code == 200
    body = response.json
    assert body["lab_number"] == lab_number
    assert body["status"] == "registered"
    assert body["current_holder"]["key"] == "user:tanya"
    [receipt] = body["custody"]
    assert receipt["type"] == "receipt" and receipt["sequence"] == 1
    assert receipt["from"] == "Insp. Dimov" and receipt["recorded_by"] == "tanya"
    assert datetime.fromisoformat(receipt["occurred_at"]).utcoffset().total_seconds() == 0


def test_lab_numbers_are_case_insensitive_in_urls(tech_api, lab_number):
    assert tech_api.get(f"/samples/{lab_number.lower()}").status_code == 200


# --- labels ----------------------------------------------------------------------------------


def test_label_pdf_then_reprint_needs_a_reason(app, tech_api, lab_number):
    response = tech_api.post(f"/samples/{lab_number}/label.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")

    assert_error(tech_api.post(f"/samples/{lab_number}/label.pdf"), 409, "reason")
    assert_error(tech_api.post(f"/samples/{lab_number}/label.zpl?reason=%20"), 409, "reason")

    response = tech_api.post(f"/samples/{lab_number}/label.pdf?reason=label torn off")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    with app.app_context():
        entries = db.session.scalars(select(AuditEntry).where(
            AuditEntry.entity_id == lab_number, AuditEntry.field == "label")
            .order_by(AuditEntry.seq)).all()
        assert [(e.action, e.new_value, e.reason) for e in entries] == [
            ("label_print", "pdf", None), ("label_reprint", "pdf", "label torn off")]
        assert db.session.scalar(select(Sample.label_prints)) == 2


def test_a_reprint_reason_with_a_nul_is_refused(tech_api, lab_number):
    assert tech_api.post(f"/samples/{lab_number}/label.zpl").status_code == 200
    assert_error(tech_api.post(f"/samples/{lab_number}/label.zpl?reason=torn%00"), 422, "reason")


def test_label_zpl(tech_api, lab_number):
    response = tech_api.post(f"/samples/{lab_number}/label.zpl")
    assert response.status_code == 200
    assert response.mimetype == "application/zpl"
    text = response.get_data(as_text=True)
    assert text.lstrip().startswith("^XA") and text.rstrip().endswith("^XZ")
    assert lab_number in text


def test_label_in_an_unknown_format(tech_api, lab_number):
    response = tech_api.get(f"/samples/{lab_number}/label.png")
    assert 400 <= response.status_code < 500
    assert_error(response, response.status_code)


# --- custody through the API -----------------------------------------------------------------


def test_custody_hand_over_through_the_api(tech_api, lab_number, make_user, password):
    make_user("chemist", "chem")
    response = tech_api.post(f"/samples/{lab_number}/custody", json={
        "from": "user:tanya", "to": "user:chem", "receiver_password": password,
        "weight_g": "1104.3", "note": "for analysis"})
    assert response.status_code == 201, response.json
    assert response.json["current_holder"] == "user:chem"
    assert (response.json["type"], response.json["sequence"]) == ("transfer", 2)
    assert response.json["confirmed_by"] == "chem"
    assert response.json["weight_mg"] == 1_104_300
    sample = tech_api.get(f"/samples/{lab_number}").json
    assert sample["current_holder"]["key"] == "user:chem"
    assert [e["type"] for e in sample["custody"]] == ["receipt", "transfer"]

    again = tech_api.post(f"/samples/{lab_number}/custody", json={
        "from": "user:tanya", "to": "user:chem", "receiver_password": password})
    body = assert_error(again, 409, "from")
    assert "Out of order" in body["error"]


# --- error shapes ----------------------------------------------------------------------------


# Many small cases share one app through `subtests`: an app per case would cost more than
# the requests themselves.

NOT_JSON = [
    ("customs_office=BG001000", "application/x-www-form-urlencoded"),
    ("not json at all", "application/json"),
    ('{"customs_office": ', "application/json"),
    ('{"customs_office": "BG001000"}', "text/plain"),
    ("", "application/json"),
    (b"\xff\xfe\x00garbage", "application/json"),
    *[(json.dumps(body), "application/json") for body in ([], [1, 2], 42, "text", None, True)],
]


def test_a_body_that_is_not_a_json_object_is_400(tech_api, case_number, subtests):
    for path in ("/cases", f"/cases/{case_number}/samples",
                 f"{NOT_FOUND}/custody"):
        for data, content_type in NOT_JSON:
            with subtests.test(path=path, data=data, content_type=content_type):
                response = tech_api.post(path, data=data, content_type=content_type)
                if path.endswith("/custody"):
                    assert_error(response, 404)  # the sample is looked up first
                else:
                    assert_error(response, 400, "body")


def test_no_or_invalid_token_is_401(client, api, tech, subtests):
    for header in (None, "", "Bearer", "Bearer ", "Bearer nonsense", "Basic dGFueWE6cHc=",
                   "bearer lims_x", "Bearer lims_" + "x" * 43):
        headers = {} if header is None else {"Authorization": header}
        for method, path in (("GET", NOT_FOUND), ("POST", "/cases"),
                             ("POST", f"{NOT_FOUND}/label.pdf")):
            with subtests.test(header=header, method=method, path=path):
                response = api(client, None).request(method, path, headers=headers, json={})
                assert_error(response, 401)


def test_a_revoked_token_is_401(app, client, api, api_token, tech):
    token = api_token(tech)
    assert api(client, token).get(NOT_FOUND).status_code == 404
    with app.app_context():
        db.session.scalar(select(ApiToken)).revoked_at = datetime.now(UTC)
        db.session.commit()
    assert_error(api(client, token).get(NOT_FOUND), 401)


def test_a_disabled_users_token_is_401(app, client, api, api_token, tech):
    token = api_token(tech)
    with app.app_context():
        set_active(None, get_user("tanya"), False, "left the laboratory")
        db.session.commit()
    assert_error(api(client, token).get(NOT_FOUND), 401)
    assert_error(api(client, token).post("/cases", json=CASE_BODY), 401)


def test_a_session_cookie_does_not_authenticate_the_api(client, api, login, tech):
    login(client, "tanya")
    assert_error(api(client, None).get(NOT_FOUND), 401)


def test_roles_that_may_not_create_cases_get_403(client, api, api_token, make_user, subtests):
    for role in ("investigator", "chemist", "reviewer"):
        with subtests.test(role=role):
            user = make_user(role)
            assert_error(api(client, api_token(user)).post("/cases", json=CASE_BODY), 403)


def test_investigators_may_not_register_samples_or_print_labels(
        client, api, api_token, make_user, make_case, make_samples, tech):
    ivan = make_user("investigator", "ivan")
    case = make_case(tech, investigators=[ivan])
    [sample] = make_samples(tech, case)
    ivan_api = api(client, api_token(ivan))
    assert ivan_api.get(f"/samples/{sample.lab_number}").status_code == 200
    assert_error(ivan_api.post(f"/cases/{case.case_number}/samples",
                               json={"description": "x"}), 403)
    assert_error(ivan_api.post(f"/samples/{sample.lab_number}/label.pdf"), 403)
    assert_error(ivan_api.post(f"/samples/{sample.lab_number}/custody",
                               json={"from": "user:tanya", "to": "user:ivan"}), 403)


def test_unknown_sample_and_case_are_404(tech_api):
    body = assert_error(tech_api.get(NOT_FOUND), 404, "lab_number")
    assert "CL-2026-999999" in body["error"]
    assert_error(tech_api.get("/cases/CASE-2026-99999"), 404)
    assert_error(tech_api.post("/cases/CASE-2026-99999/samples", json={"description": "x"}),
                 404)
    assert_error(tech_api.post(f"{NOT_FOUND}/label.pdf"), 404)
    assert_error(tech_api.post(f"{NOT_FOUND}/custody", json={"from": "user:tanya"}), 404)
    assert_error(tech_api.get("/no-such-endpoint"), 404)


def test_investigators_see_only_their_cases(client, api, api_token, make_user, make_case,
                                            make_samples, tech):
    ivan = make_user("investigator", "ivan")
    olga = make_user("investigator", "olga")
    case = make_case(tech, investigators=[ivan])
    [sample] = make_samples(tech, case)
    assert api(client, api_token(ivan)).get(f"/samples/{sample.lab_number}").status_code == 200
    olga_api = api(client, api_token(olga))
    # Not 403: the existence of a case the investigator is not assigned to is not revealed.
    assert_error(olga_api.get(f"/samples/{sample.lab_number}"), 404)
    assert_error(olga_api.get(f"/cases/{case.case_number}"), 404)


def test_a_wrong_method_is_405_as_json(tech_api, lab_number):
    assert_error(tech_api.request("DELETE", f"/samples/{lab_number}"), 405)


def test_a_bad_container_number_is_422_naming_the_check_digit(app, tech_api, subtests):
    for value, expected in [("CSQU3054384", "should be 3, not 4"),
                            ("MSCU1234560", "should be 6, not 0"),
                            ("CSQU305438", "CSQU3054383")]:
        with subtests.test(value=value):
            response = tech_api.post("/cases", json={**CASE_BODY, "container_number": value})
            body = assert_error(response, 422, "container_number")
            assert expected in body["error"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Case)) == 0


def test_a_bad_mrn_is_422_naming_the_check_character(tech_api):
    response = tech_api.post("/cases", json={**CASE_BODY, "mrn": "22GB02I89012847596"})
    body = assert_error(response, 422, "mrn")
    assert "should be 8, not 6" in body["error"]


INVALID_CASE_FIELDS = [
        ({"customs_office": ""}, "customs_office"),
        ({"questions": None}, "questions"),
        ({"direction": "sideways"}, "direction"),
        ({"hs_code": "12"}, "hs_code"),
        ({"seized_at": "yesterday"}, "seized_at"),
        ({"seized_at": "2999-01-01T00:00:00Z"}, "seized_at"),
        ({"seals_received": "BG 007 1234 ™"}, "seals_received"),
        ({"investigators": ["nobody"]}, "investigators"),
        ({"deadline": "31/12/2026"}, "deadline"),
        ({"customs_office": "x" * 201}, "customs_office"),
        ({"description": "\x00"}, "description"),
]


def test_invalid_case_fields_are_422_with_the_field(tech_api, subtests):
    for changes, field in INVALID_CASE_FIELDS:
        with subtests.test(changes=changes):
            assert_error(tech_api.post("/cases", json={**CASE_BODY, **changes}), 422, field)


INVALID_ITEMS = [
        ({}, "description"),
        ({"description": "   "}, "description"),
        ({"description": "x", "unit_count": 0}, "unit_count"),
        ({"description": "x", "unit_count": "many"}, "unit_count"),
        ({"description": "x", "gross_weight_g": "-3"}, "gross_weight_g"),
        ({"description": "x", "gross_weight": "-3"}, "gross_weight_g"),
        ({"description": "x", "gross_weight_g": 5, "net_weight_g": 6}, "net_weight_g"),
        ({"description": "x", "storage_location": "NOWHERE"}, "storage_location"),
        ({"description": "x", "seal_received": "é"}, "seal_received"),
        ({"description": "x", "unit_count": 2**31}, "unit_count"),
        ({"description": "x", "gross_weight_g": "9" * 30}, "gross_weight_g"),
]


def test_invalid_items_are_422_with_the_field(app, tech_api, case_number, subtests):
    for item, field in INVALID_ITEMS:
        with subtests.test(item=item):
            response = tech_api.post(f"/cases/{case_number}/samples", json=item)
            assert_error(response, 422, field)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Sample)) == 0


# --- never a 500 -----------------------------------------------------------------------------

HUGE = "X" * 200_000
GARBAGE_VALUES = [
    None, True, -1, 10**30, 1e308, 1.5, " ", HUGE, "\x00", "😀" * 50, "' OR 1=1 --",
    [1, "a", None], [[[]]], {"a": {"b": [1]}}, "9" * 40, "9" * 5000, "1e309", "NaN", "user:",
    "location:", "user:tanya",
]
CASE_KEYS = [*CASE_BODY, "investigators", "deadline", "items", "reason", "received_at"]
ITEM_KEYS = ["description", "packaging", "unit_count", "gross_weight_g", "net_weight_g",
             "gross_weight", "seal_received", "seal_intact", "current_seal",
             "storage_location", "items"]
CUSTODY_KEYS = ["from", "to", "receiver_password", "seal_found", "seal_intact", "new_seal",
                "weight_g", "weight", "witness", "note", "final", "recipient", "occurred_at"]


def assert_not_500(response) -> None:
    assert response.status_code < 500, response.get_data()[:500]
    if response.status_code >= 400:
        assert_error(response, response.status_code)


def test_garbage_values_in_every_field_never_give_a_500(tech_api, lab_number, case_number,
                                                        password):
    valid_custody = {"from": "user:tanya", "to": "location:NOWHERE"}
    for index, value in enumerate(GARBAGE_VALUES):
        for key in CASE_KEYS:
            assert_not_500(tech_api.post("/cases", json={**CASE_BODY, key: value}))
        for key in ITEM_KEYS:
            item = {"description": "x", key: value}
            # A single item and a list of items go through the same form: alternate them.
            body = item if index % 2 else {"items": [item, {"description": "y"}]}
            assert_not_500(tech_api.post(f"/cases/{case_number}/samples", json=body))
        for key in CUSTODY_KEYS:
            assert_not_500(tech_api.post(f"/samples/{lab_number}/custody",
                                         json={**valid_custody, key: value}))
        assert_not_500(tech_api.post(f"/cases/{case_number}/samples", json={"items": value}))
    # The sample is still held by its technician: nothing above was half-written.
    assert tech_api.get(f"/samples/{lab_number}").json["current_holder"]["key"] == "user:tanya"


def test_garbage_in_urls_never_gives_a_500(tech_api, lab_number, subtests):
    for bad in ("%00", "..%2F..%2Fetc%2Fpasswd", "X" * 5000, "%F0%9F%98%80", "%FF%FE",
                "CL-2026-000001%20OR%201=1", "CL-2026-000001'--"):
        for path in ("/samples/{bad}", "/samples/{bad}/label.zpl", "/cases/{bad}",
                     "/samples/{bad}/label.pdf", "/cases/{bad}/samples",
                     "/samples/{lab}/label.zpl?reason={bad}"):
            with subtests.test(bad=bad[:20], path=path):
                url = path.format(bad=bad, lab=lab_number)
                method = "POST" if url.endswith("/samples") or "/label." in url else "GET"
                assert_not_500(tech_api.request(method, url, json={"description": "x"}))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=st.dictionaries(st.sampled_from(CASE_KEYS + ITEM_KEYS + CUSTODY_KEYS), JSON_VALUES,
                            max_size=8))
def test_random_json_objects_never_give_a_500(tech_api, lab_number, case_number, body):
    assert_not_500(tech_api.post("/cases", json={**CASE_BODY, **body}))
    assert_not_500(tech_api.post(f"/cases/{case_number}/samples", json=body))
    assert_not_500(tech_api.post(f"/samples/{lab_number}/custody", json=body))


def test_an_oversized_body_is_413_as_json(app, tech_api):
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
    response = tech_api.post("/cases", json={**CASE_BODY, "description": "x" * 2_000_000})
    body = assert_error(response, 413)
    assert "1 MiB" in body["error"]


# --- OpenAPI ---------------------------------------------------------------------------------


def test_openapi_document_is_valid_openapi_3_1(tech_api):
    try:
        import openapi_spec_validator as validator
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("openapi-spec-validator is not installed; CI must not skip tests")
        pytest.skip("openapi-spec-validator is not installed")
    response = tech_api.get("/openapi.json")
    assert response.status_code == 200
    document = response.json
    assert document["openapi"].startswith("3.1")
    validator.validate(document)


def test_openapi_document_lists_every_api_route(app, tech_api):
    document = tech_api.get("/openapi.json").json
    adapter = app.url_map.bind("localhost")
    documented = set()
    for path, operations in document["paths"].items():
        params = re.findall(r"{(\w+)}", path)
        for method, operation in operations.items():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == set(params), (path, method)
            concrete = re.sub(r"{\w+}", "1", path)  # "1" satisfies string and int converters
            endpoint, _args = adapter.match(concrete, method=method.upper())
            assert endpoint.split(".")[0].startswith("api"), (
                path, endpoint)
            documented.add((endpoint, method.upper()))
    routed = {(rule.endpoint, method) for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api/v1")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routed == documented
    # label.<fmt>: every format the view serves is documented as its own path.
    assert {"/api/v1/samples/{lab_number}/label.pdf",
            "/api/v1/samples/{lab_number}/label.zpl"} <= set(document["paths"])


def test_openapi_security_matches_what_the_routes_require(client, tech_api):
    document = tech_api.get("/openapi.json").json
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert document["security"] == [{"bearer": []}]
    anonymous = client.get("/api/v1/openapi.json").status_code
    assert anonymous in (200, 401)
    for path, operations in document["paths"].items():
        for operation in operations.values():
            public = operation.get("security") == []
            if path.endswith("/openapi.json"):
                assert public == (anonymous == 200), "the document says otherwise"
            elif path == "/api/v1/verify":  # public: anyone holding a certificate checks it
                assert public and "401" not in operation["responses"], path
            else:
                assert not public and "401" in operation["responses"], path
