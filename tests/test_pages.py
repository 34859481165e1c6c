"""Server-rendered pages: access matrix, CSRF, forms with their errors, bulk intake, labels."""

import io
import re
from pathlib import Path

import pytest
from werkzeug.routing import Rule

from lims.auth.access import PERMISSIONS
from lims.auth.models import ROLES
from tests.scenarios import configure_lab

PUBLIC = {"auth.login", "static", "main.healthz", "certificates.verify",
          "certificates.verify_token", "api_certificates.verify"}
FIXTURES = Path(__file__).parent / "fixtures"


def _url(app, rule: Rule, world: dict) -> str:
    values = {"lab_number": world["sample"], "case_number": world["case"], "username": "tech1",
              "fmt": "pdf", "filename": "css/app.css", "name": "FTIR-1",
              "measurement_id": world["measurement"], "spectrum_id": world["spectrum"],
              "library_id": world["library"], "substance_id": world["substance"],
              "status_id": world["status"], "search_id": world["search"],
              "hit_id": world["hit"], "finding_id": world["finding"],
              "number": world["certificate"], "token": "t" * 32,
              "statistic": "turnaround", "token_id": 1}
    args = {name: values[name] for name in rule.arguments}
    return app.url_map.bind("localhost").build(rule.endpoint, args)


@pytest.fixture
def world(app, scenarios):
    """Every kind of record a page can show (the ``world`` scenario of tests/scenarios.py)."""
    configure_lab(app)
    return scenarios.values("world", app)


def test_every_view_needs_a_login_except_the_public_ones(app, client, world):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC:
            continue
        url = _url(app, rule, world)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method)
            if rule.rule.startswith("/api/"):
                assert response.status_code == 401, (method, url)
                assert response.get_json()["error"]
            else:
                assert response.status_code == 302, (method, url)
                assert "/login" in response.headers["Location"]


def test_every_protected_view_declares_a_known_permission(app):
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        permission = getattr(view, "permission", None)
        if permission is not None:
            assert permission in PERMISSIONS, rule.endpoint


@pytest.mark.parametrize("role", ROLES)
def test_role_matrix_for_every_page(app, client, world, make_user, login, role):
    """Each GET page answers 200 (or a file) for the roles that hold its permission, 403 else."""
    user = make_user(role)
    assert login(client, user.username).status_code == 302
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        permission = getattr(view, "permission", None)
        if permission is None or "GET" not in rule.methods:
            continue
        url = _url(app, rule, world)
        response = client.get(url)
        if role not in PERMISSIONS[permission]:
            assert response.status_code == 403, (role, url, response.status_code)
        elif role == "investigator" and rule.arguments & {"lab_number", "case_number",
                                                           "measurement_id", "spectrum_id",
                                                           "search_id", "hit_id",
                                                           "number"}:
            assert response.status_code == 404, (role, url)  # not assigned to this case
        else:
            assert response.status_code in (200, 302), (role, url, response.status_code)


def test_investigator_sees_only_assigned_cases(client, make_user, make_case, make_samples,
                                               login):
    tech = make_user("technician")
    inv = make_user("investigator", username="inv1")
    mine = make_case(tech, investigators=[inv])
    other = make_case(tech)
    mine_sample = make_samples(tech, mine)[0]
    other_sample = make_samples(tech, other)[0]
    login(client, "inv1")
    assert client.get(f"/cases/{mine.case_number}").status_code == 200
    assert client.get(f"/samples/{mine_sample.lab_number}").status_code == 200
    assert client.get(f"/samples/{mine_sample.lab_number}/timeline").status_code == 200
    assert client.get(f"/cases/{other.case_number}").status_code == 404
    assert client.get(f"/samples/{other_sample.lab_number}").status_code == 404
    assert client.get(f"/samples/{other_sample.lab_number}/timeline").status_code == 404
    page = client.get("/cases").get_data(as_text=True)
    assert mine.case_number in page and other.case_number not in page
    scan = client.get(f"/scan?code={other_sample.lab_number}", follow_redirects=True)
    assert "not found" in scan.get_data(as_text=True)


@pytest.mark.csrf
def test_every_form_post_without_csrf_token_is_refused(app, client, world, login):
    login_page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', login_page).group(1)
    assert client.post("/login", data={"username": "tech1", "password": "x" * 12}
                       ).status_code == 400  # no token: refused before the password is read
    assert client.post("/login", data={"username": "tech1", "password": "x" * 12,
                                       "csrf_token": token}).status_code == 422
    response = client.post("/login", data={"username": "tech1", "csrf_token": token,
                                           "password": "correct horse battery staple"})
    assert response.status_code == 302
    checked = 0
    for rule in app.url_map.iter_rules():
        if "POST" not in rule.methods or rule.rule.startswith("/api/"):
            continue
        url = _url(app, rule, world)
        response = client.post(url, data={"reason": "x"})
        assert response.status_code == 400, url
        assert "CSRF" in response.get_data(as_text=True)
        checked += 1
    assert checked >= 12


def test_case_form_shows_field_errors_and_keeps_input(client, make_user, login):
    make_user("technician", username="tech1")
    login(client, "tech1")
    response = client.post("/cases/new", data={
        "customs_office": "BG001000", "officer_name": "Insp. A", "questions": "Identify.",
        "container_number": "CSQU3054384", "mrn": "22GB02I89012847596",
        "hs_code": "77123", "direction": "import"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "There is a problem" in page
    assert "Check digit should be 3, not 4" in page
    assert 'href="#container_number"' in page and 'href="#mrn"' in page
    assert 'value="CSQU3054384"' in page
    assert client.get("/cases").get_data(as_text=True).count("CASE-") == 0


def test_register_several_items_in_one_form(client, world, login):
    login(client, "tech1")
    response = client.post(f"/cases/{world['case']}/samples/new", data={
        "items-0-description": "Brick one", "items-0-gross_weight": "1104,3",
        "items-0-net_weight": "1,002 kg", "items-0-seal_received": "bg 007",
        "items-0-seal_intact": "yes",
        "items-1-description": "Brick two", "items-1-unit_count": "3",
        "items-2-description": "",
    })
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    numbers = re.findall(r"CL-\d{4}-\d{6}", page)
    assert len(set(numbers)) == 4  # two from the fixture, two new
    assert "1.104 kg" not in page and "1.002 kg" in page


def test_register_refuses_net_above_gross_and_writes_nothing(client, world, login):
    login(client, "tech1")
    response = client.post(f"/cases/{world['case']}/samples/new", data={
        "items-0-description": "Brick", "items-0-gross_weight": "10", "items-0-net_weight": "11",
        "items-1-description": "Fine item"})
    assert response.status_code == 422
    assert "net weight is larger than the gross weight" in response.get_data(as_text=True)
    page = client.get(f"/cases/{world['case']}").get_data(as_text=True)
    assert len(set(re.findall(r"CL-\d{4}-\d{6}", page))) == 2


def test_scan_box_jumps_or_says_not_found(client, world, login):
    login(client, "tech1")
    response = client.get(f"/scan?code={world['sample'].lower()}")
    assert response.headers["Location"].endswith(f"/samples/{world['sample']}")
    assert client.get(f"/scan?code={world['case']}").headers["Location"].endswith(
        f"/cases/{world['case']}")
    response = client.get("/scan?code=NOPE-1", headers={"Referer": "http://localhost/samples"},
                          follow_redirects=True)
    assert "NOPE-1: not found" in response.get_data(as_text=True)
    assert response.request.path == "/samples"


def test_an_out_of_order_hand_over_is_shown_again_with_422_and_nothing_moves(client, world,
                                                                            login):
    login(client, "tech1")
    url = f"/samples/{world['sample']}/handover"
    response = client.post(url, data={"expected_from": "user:chem1", "step": "confirm",
                                      "to": "location:VAULT-A", "seal_intact": "yes"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "There is a problem" in page and "Out of order" in page
    timeline = client.get(f"/samples/{world['sample']}/timeline").get_data(as_text=True)
    assert "VAULT-A" not in timeline


def test_label_reprint_needs_a_reason_and_is_audited(client, world, login):
    login(client, "tech1")
    first = client.post(f"/samples/{world['sample']}/label.pdf")
    assert first.status_code == 200 and first.data.startswith(b"%PDF")
    again = client.post(f"/samples/{world['sample']}/label.pdf", follow_redirects=True)
    assert "give the reason for the reprint" in again.get_data(as_text=True)
    reprint = client.post(f"/samples/{world['sample']}/label.zpl", data={"reason": "label torn"})
    assert reprint.status_code == 200 and reprint.data.startswith(b"^XA")
    audit = client.get(f"/samples/{world['sample']}/audit").get_data(as_text=True)
    assert "label_print" in audit and "label_reprint" in audit and "label torn" in audit


def test_case_label_sheet(client, world, login):
    login(client, "tech1")
    response = client.post(f"/cases/{world['case']}/labels.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"


def _sheet(rows: list[str]) -> tuple[io.BytesIO, str]:
    header = "description,gross_weight_g,net_weight_g,seal_number,storage_location"
    return io.BytesIO("\n".join([header, *rows, ""]).encode()), "items.csv"


def test_bulk_intake_previews_then_imports_all(client, world, login):
    login(client, "tech1")
    response = client.post(f"/cases/{world['case']}/bulk", data={"sheet": _sheet([
        "Bag 1,12.5,10,S-1,VAULT-A", "Bag 2,13,11,S-2,", "Bag 3,1.2 kg,1 kg,S-3,VAULT-A"])},
        content_type="multipart/form-data")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "3 valid row(s)" in page and "Import all 3 items" in page
    sheet_id = re.search(r'name="sheet_id" type="hidden" value="([0-9a-f]{64})"', page).group(1)
    before = client.get(f"/cases/{world['case']}").get_data(as_text=True)
    assert "Bag 1" not in before  # nothing registered by the preview
    done = client.post(f"/cases/{world['case']}/bulk/confirm", data={"sheet_id": sheet_id},
                       follow_redirects=True)
    assert "Imported 3 items" in done.get_data(as_text=True)
    assert "Bag 3" in done.get_data(as_text=True)


def test_bulk_intake_with_bad_rows_imports_nothing_and_lists_every_row(client, world, login):
    login(client, "tech1")
    response = client.post(f"/cases/{world['case']}/bulk", data={"sheet": _sheet([
        "Bag 1,12.5,10,S-1,VAULT-A", ",13,11,S-2,", "Bag 3,abc,1,S-3,NOWHERE"])},
        content_type="multipart/form-data")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "nothing will be imported" in page
    assert "<td>3</td>" in page and "<td>4</td>" in page
    assert "Unknown storage location" in page
    assert "Import all" not in page
    assert "Bag 1" not in client.get(f"/cases/{world['case']}").get_data(as_text=True)


def test_stored_xss_is_escaped(client, world, login, make_samples, make_case):
    login(client, "tech1")
    client.post(f"/cases/{world['case']}/samples/new", data={
        "items-0-description": "<script>alert(1)</script>"})
    page = client.get(f"/cases/{world['case']}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.settings(max_upload_mb=1)
def test_upload_over_the_limit_is_refused_with_413(client, world, login):
    login(client, "tech1")
    head = b"--x\r\nContent-Disposition: form-data; name=sheet; filename=big.csv\r\n\r\n"
    response = client.post(f"/cases/{world['case']}/bulk",
                           data=head + b"x" * (2 * 1024 * 1024) + b"\r\n--x--\r\n",
                           content_type="multipart/form-data; boundary=x")
    assert response.status_code == 413
    assert "larger than the limit of 1 MiB" in response.get_data(as_text=True)


def test_security_headers(client, world, login):
    login(client, "tech1")
    response = client.get("/")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
