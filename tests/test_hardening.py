"""No 5xx from input, security headers, request ids, and the smaller access defects (issue 11)."""

from __future__ import annotations

import io
import json
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from lims.audit.models import AuditEntry
from lims.audit.services import verify_chain
from lims.db import db
from lims.demo import DEMO_USERS
from lims.files import content_disposition
from lims.intake.models import Case, Sample
from lims.measurements.models import Measurement
from tests.scenarios import configure_lab

GOOD = (Path(__file__).parent / "fixtures" / "ir_small.jdx").read_bytes()
PASSWORDS = {username: password for username, _name, _role, password in DEMO_USERS}
HUGE_IDS = (2**31, 2**63, 2**64)  # beyond PostgreSQL integer, SQLite INTEGER, 64 bits


@pytest.fixture
def demo(app):
    """The demo laboratory: five users, two cases, measurements, a finding and a certificate."""
    from lims.demo import seed

    configure_lab(app)
    with app.app_context():
        seed()
        db.session.commit()
    return app


def first_lab_number(app) -> str:
    """The demo's first brick (in the vault, no measurement, never labelled)."""
    with app.app_context():
        return db.session.scalar(select(Sample.lab_number).order_by(Sample.id).limit(1))


def logged_in(app, username: str):
    """A test client logged in as one of the demo users."""
    client = app.test_client()
    response = client.post("/login", data={"username": username,
                                           "password": PASSWORDS[username]})
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def assert_no_server_error(response, what) -> None:
    assert response.status_code < 500, (what, response.status_code,
                                        response.get_data(as_text=True)[:500])


# --- ids out of range --------------------------------------------------------------------------


def _url_with_id(rule, huge: int) -> str:
    """The rule's path with every integer part set to `huge` and every other part to a word."""
    path = re.sub(r"<int:[^>]+>", str(huge), rule.rule)
    return re.sub(r"<[^>]+>", "x", path)


def test_every_integer_route_answers_404_for_ids_beyond_the_id_columns(demo):
    admin = logged_in(demo, "admin")
    int_rules = [rule for rule in demo.url_map.iter_rules() if "<int:" in rule.rule]
    assert len(int_rules) >= 30
    for rule in int_rules:
        for huge in HUGE_IDS:
            url = _url_with_id(rule, huge)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                response = admin.open(url, method=method)
                assert response.status_code == 404, (method, url, response.status_code)


def test_a_real_id_still_matches(demo):
    admin = logged_in(demo, "admin")
    assert admin.get("/measurements/1").status_code == 200
    assert admin.get(f"/measurements/{2**31 - 1}").status_code == 404


@pytest.mark.parametrize("value", [str(2**31), str(2**63), str(2**64), "-1", "abc", "1e3"])
def test_keyset_after_parameter_out_of_range_is_400_naming_it(demo, value):
    admin = logged_in(demo, "admin")
    for url in (f"/samples?after={value}", f"/libraries/1?after={value}"):
        response = admin.get(url, headers={"Accept": "application/json"})
        assert response.status_code == 400, (url, response.status_code)
        assert response.get_json()["field"] == "after"
    page = admin.get(f"/samples?after={value}").get_data(as_text=True)
    assert "The query parameter &#39;after&#39; must be a whole number" in page


def test_keyset_after_parameter_still_pages(demo):
    admin = logged_in(demo, "admin")
    assert admin.get("/samples?after=3").status_code == 200
    assert admin.get(f"/libraries/1?after={2**31 - 1}").status_code == 200


# --- every optional form field is optional in the view ---------------------------------------

SKIPPED_LINKS = re.compile(r"/logout|/api/|\.(pdf|zip|csv|zpl|png|svg|json|jdx|msp)(\?|$)|/raw$")
FILLERS = {"date": "2026-01-15", "datetime-local": "2026-01-15T10:00", "number": "1",
           "email": "someone@example.org"}


class _Forms(HTMLParser):
    """The links of a page and its POST forms as (action, [(name, value, required, type)])."""

    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.forms: list[tuple[str, list]] = []
        self._select = None
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "form":
            method = (a.get("method") or "get").lower()
            self.forms.append((a.get("action") or "", []) if method == "post" else ("", None))
        elif not self.forms or self.forms[-1][1] is None:
            return
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("radio", "checkbox") and "checked" not in a:
                if not any(f[0] == a["name"] for f in self.forms[-1][1]):
                    self.forms[-1][1].append([a["name"], a.get("value", "y"), "required" in a,
                                              kind])
                return
            if kind not in ("submit", "button", "file"):
                self.forms[-1][1].append([a["name"], a.get("value", ""), "required" in a, kind])
        elif tag == "select" and a.get("name"):
            self._select = [a["name"], None, "required" in a, "select"]
            self.forms[-1][1].append(self._select)
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            if self._select[1] in (None, "") or "selected" in a:
                self._select[1] = value
        elif tag == "textarea" and a.get("name"):
            self._textarea = [a["name"], "", "required" in a, "textarea"]
            self.forms[-1][1].append(self._textarea)

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1] += data


def _crawl(client, start: str = "/", limit: int = 150):
    """GET one page of each kind reachable by links from start; return its distinct POST forms."""
    seen, queue, forms = set(), [start], {}
    while queue and len(seen) < limit:
        url = queue.pop(0)
        kind = re.sub(r"\d+", "N", url)
        if kind in seen:
            continue
        seen.add(kind)
        response = client.get(url)
        assert_no_server_error(response, url)
        if response.mimetype != "text/html":
            continue
        parser = _Forms()
        parser.feed(response.get_data(as_text=True))
        for href in parser.links:
            parts = urlsplit(href)
            if not parts.netloc and href.startswith("/") and not SKIPPED_LINKS.search(parts.path):
                queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
        for action, fields in parser.forms:
            # Logging out or deactivating oneself would end the walk, not test a form.
            if fields is not None and not re.search(r"/logout$|/users/admin/active$", action):
                action = action or url
                key = (re.sub(r"\d+", "N", action), tuple(sorted(f[0] for f in fields)))
                forms.setdefault(key, (action, fields))
    return list(forms.values())


def _filled(fields, password: str) -> dict:
    data = {}
    for name, value, required, kind in fields:
        if not value and required:
            value = password if kind == "password" else FILLERS.get(kind, "Test value 1")
        data[name] = value or ""
    return data


def _post_without_optional(client, action: str, fields) -> list:
    """POST a form once with every optional field left out, then once without each one."""
    full = _filled(fields, PASSWORDS["admin"])
    optional = [name for name, _v, required, _k in fields if not required and name != "csrf_token"]
    failures = []
    for what, omitted in [("all optional omitted", optional)] + [(f"without {n}", [n])
                                                                  for n in optional]:
        status = client.post(action, data={k: v for k, v in full.items()
                                           if k not in omitted}).status_code
        if status >= 500:
            failures.append((action, what, status))
    return failures


def _post_huge_ids(client, action: str, fields) -> list:
    """POST a form with each field that holds a number (an id, a count) set to 2^31, 2^64."""
    full = _filled(fields, PASSWORDS["admin"])
    failures = []
    for name in [name for name, value in full.items() if value.isdigit()]:
        for huge in (2**31, 2**64):
            if client.post(action, data={**full, name: str(huge)}).status_code >= 500:
                failures.append((action, f"{name}={huge}", 500))
    return failures


def test_every_form_accepts_its_optional_fields_omitted_and_huge_numbers(demo):
    admin = logged_in(demo, "admin")
    tested, failures = [], []
    for _round in range(2):  # the second walk reaches pages the first round's posts made
        forms = [form for form in _crawl(admin) if form not in tested]
        for action, fields in forms:
            failures += _post_huge_ids(admin, action, fields)
            failures += _post_without_optional(admin, action, fields)
        tested += forms
    assert len(tested) >= 30
    assert failures == []


# --- security headers, 405, request ids ------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


def test_security_headers_on_every_kind_of_response(app):
    client = app.test_client()
    for url in ("/login", "/static/css/app.css", "/api/v1/samples", "/no-such-page"):
        with client.get(url) as response:
            headers = response.headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, url
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp, url
        assert headers["X-Content-Type-Options"] == "nosniff", url
        assert headers["Referrer-Policy"] == "same-origin", url
        assert "camera=()" in headers["Permissions-Policy"], url
        assert "Strict-Transport-Security" not in headers, url


@pytest.mark.settings(secure_cookies=True)
def test_hsts_when_cookies_are_secure(app):
    headers = app.test_client().get("/login").headers
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_templates_have_no_inline_script():
    inline = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+\s*=|javascript:", re.I)
    offenders = [f"{path.relative_to(ROOT)}: {match.group(0)}"
                 for path in sorted((ROOT / "templates").rglob("*.html"))
                 for match in inline.finditer(path.read_text())]
    assert offenders == []


def test_405_names_the_allowed_methods(demo):
    tech = logged_in(demo, "tech")
    lab_number = first_lab_number(demo)
    for url in (f"/samples/{lab_number}/label.pdf", f"/api/v1/samples/{lab_number}/label.pdf",
                "/logout"):
        response = tech.get(url)
        assert response.status_code == 405, url
        assert set(response.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}, url


def test_request_ids_are_the_servers_and_the_clients_is_kept_apart(demo):
    tech = logged_in(demo, "tech")
    given = "evil\t<script>" + "x" * 200
    response = tech.post(f"/samples/{first_lab_number(demo)}/label.pdf",
                         headers={"X-Request-ID": given})
    assert response.status_code == 200
    server_id = response.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", server_id)
    with demo.app_context():
        entry = db.session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
        assert entry.action == "label_print"
        assert entry.request_id == server_id
        assert entry.client_request_id == ("evil__script_" + "x" * 200)[:64]
        assert verify_chain().ok
    assert tech.get("/samples").headers["X-Request-ID"] != server_id


# --- labels, 413, locations --------------------------------------------------------------------


def _label_prints(app, lab_number: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Sample.label_prints).where(
            Sample.lab_number == lab_number))


def test_labels_are_counted_only_when_printed_by_post(demo):
    tech = logged_in(demo, "tech")
    lab_number = first_lab_number(demo)
    assert tech.get(f"/samples/{lab_number}/label.pdf").status_code == 405
    assert tech.get(f"/samples/{lab_number}/label.zpl?reason=x").status_code == 405
    assert _label_prints(demo, lab_number) == 0
    page = tech.get(f"/samples/{lab_number}").get_data(as_text=True)
    assert (f'<form class="inline" method="post" action="/samples/{lab_number}/label.pdf"'
            in page)
    assert tech.post(f"/samples/{lab_number}/label.pdf").data.startswith(b"%PDF")
    assert _label_prints(demo, lab_number) == 1


def test_too_many_form_parts_has_its_own_message(app):
    fields = {f"f{i}": "x" for i in range(1100)}
    response = app.test_client().post("/login", data=fields, content_type="multipart/form-data",
                                      headers={"Accept": "application/json"})
    assert response.status_code == 413
    message = response.get_json()["error"]
    assert "more than 1000 parts" in message and "larger than the limit" not in message


def test_investigators_may_not_list_locations(demo):
    inv = logged_in(demo, "inv")
    assert inv.get("/locations").status_code == 403
    assert 'href="/locations"' not in inv.get("/portal").get_data(as_text=True)
    assert logged_in(demo, "tech").get("/locations").status_code == 200


# --- uploaded file names and downloads ---------------------------------------------------------


def _upload(client, lab_number: str, name: str, **headers):
    return client.post(f"/samples/{lab_number}/measurements/new", headers=headers,
                       data={"file": (io.BytesIO(GOOD), name)},
                       content_type="multipart/form-data")


def _staged_digest(page: str) -> str:
    return re.search(r'name="sha256" type="hidden" value="([0-9a-f]{64})"', page).group(1)


@pytest.mark.parametrize("name", ["a\x00b.jdx", "a\x1bb.jdx", "a\x7fb.jdx", "a\u0085b.jdx"])
def test_file_names_with_control_characters_are_refused(demo, name):
    chem = logged_in(demo, "chem")
    lab_number = first_lab_number(demo)
    with demo.app_context():
        before = db.session.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq.desc()))
    response = _upload(chem, lab_number, name, Accept="application/json")
    assert response.status_code == 422
    assert response.get_json()["field"] == "file"
    assert "control character" in response.get_json()["error"]
    api = chem.post(f"/api/v1/samples/{lab_number}/measurements",
                    data={"file": (io.BytesIO(GOOD), name)}, content_type="multipart/form-data")
    assert api.status_code == 422 and api.get_json()["field"] == "file"
    with demo.app_context():
        assert db.session.scalar(select(AuditEntry.seq).order_by(AuditEntry.seq.desc())) == before


def test_downloads_name_the_file_per_rfc_6266(demo, api_token):
    chem = logged_in(demo, "chem")
    lab_number = first_lab_number(demo)
    created = chem.post(f"/api/v1/samples/{lab_number}/measurements",
                        headers={"Authorization": f"Bearer {api_token('chem')}"},
                        data={"file": (io.BytesIO(GOOD), "Проба 1; (ü).jdx")},
                        content_type="multipart/form-data")
    assert created.status_code == 201, created.get_json()
    raw = chem.get(f"/measurements/{created.get_json()['measurement_id']}/raw")
    assert raw.data == GOOD
    assert raw.headers["Content-Disposition"] == (
        "attachment; filename=\"_____ 1; (_).jdx\"; "
        "filename*=UTF-8''%D0%9F%D1%80%D0%BE%D0%B1%D0%B0%201%3B%20%28%C3%BC%29.jdx")
    # A name stored before names were checked still downloads, without its control character.
    with demo.app_context():
        measurement = db.session.get(Measurement, created.get_json()["measurement_id"])
        measurement.original_filename = "a\x1bb.jdx"  # PostgreSQL text cannot hold a NUL
        db.session.commit()
    old = chem.get(f"/measurements/{created.get_json()['measurement_id']}/raw")
    assert old.status_code == 200 and old.data == GOOD
    assert old.headers["Content-Disposition"] == (
        "attachment; filename=\"ab.jdx\"; filename*=UTF-8''ab.jdx")


def test_quotes_and_backslashes_never_end_the_fallback_name():
    assert content_disposition('a"b\\c\r\n.pdf', "inline") == (
        "inline; filename=\"a_b_c.pdf\"; filename*=UTF-8''a%22b%5Cc.pdf")


def test_a_staged_upload_is_accepted_only_by_its_user_onto_its_sample(demo, make_user, login):
    chem = logged_in(demo, "chem")
    lab_number = first_lab_number(demo)
    with demo.app_context():
        other_lab = db.session.scalars(select(Sample.lab_number).order_by(Sample.id)).all()[1]
    digest = _staged_digest(_upload(chem, lab_number, "ir.jdx").get_data(as_text=True))
    decision = {"sha256": digest, "filename": "ir.jdx", "decision": "accept"}

    onto_other_sample = chem.post(f"/samples/{other_lab}/measurements/decide", data=decision,
                                  headers={"Accept": "application/json"})
    assert onto_other_sample.status_code == 409
    colleague = demo.test_client()
    make_user("chemist", username="chem2")
    login(colleague, "chem2")
    by_colleague = colleague.post(f"/samples/{lab_number}/measurements/decide", data=decision,
                                  headers={"Accept": "application/json"})
    assert by_colleague.status_code == 409
    assert "expired or was already decided" in by_colleague.get_json()["error"]
    with demo.app_context():
        assert db.session.scalar(select(Measurement).where(
            Measurement.raw_sha256 == digest)) is None

    mine = chem.post(f"/samples/{lab_number}/measurements/decide", data=decision)
    assert mine.status_code == 302
    with demo.app_context():
        saved = db.session.scalar(select(Measurement).where(Measurement.raw_sha256 == digest))
        assert saved.sample.lab_number == lab_number and saved.uploaded_by.username == "chem"


# --- absolute links and hosts ------------------------------------------------------------------


@pytest.mark.settings(public_url="https://lims.example.org")
def test_api_links_use_the_public_url_not_the_host_header(demo, api_token):
    lab_number = first_lab_number(demo)
    body = demo.test_client().get(f"/api/v1/samples/{lab_number}", headers={
        "Host": "evil.example", "Authorization": f"Bearer {api_token('tech')}"}).get_json()
    assert body["url"] == f"https://lims.example.org/samples/{lab_number}"


@pytest.mark.settings(trusted_hosts=("lims.example.org",))
def test_an_untrusted_host_header_is_refused(app):
    client = app.test_client()
    assert client.get("/login", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/login", headers={"Host": "lims.example.org"}).status_code == 200


# --- the investigator's case packet agrees with the permission matrix ---------------------------


def _packet(client, case_number: str) -> zipfile.ZipFile:
    response = client.get(f"/cases/{case_number}/packet.zip")
    assert response.status_code == 200
    return zipfile.ZipFile(io.BytesIO(response.data))


def test_the_investigators_packet_leaves_out_what_their_role_may_not_see(demo):
    with demo.app_context():
        case = db.session.scalars(select(Case).where(Case.investigators.any())).one()
        case_number = case.case_number
        measurement_id = db.session.scalar(select(Measurement.id).join(Sample).where(
            Sample.case_id == case.id).limit(1))
    inv = logged_in(demo, "inv")
    names = set(_packet(inv, case_number).namelist())
    assert any(name.startswith("certificates/") for name in names)
    assert {"custody/custody-log.csv", "custody/custody-log.pdf"} <= names
    assert not any(name.startswith(("raw/", "audit/")) for name in names)
    manifest = json.loads(_packet(inv, case_number).read("manifest.json"))
    assert manifest["withheld_for_role"] == ["raw instrument files", "audit extract"]
    # ...and the pages say the same.
    assert inv.get(f"/measurements/{measurement_id}/raw").status_code == 403
    assert inv.get(f"/cases/{case_number}/audit").status_code == 403
    assert inv.get(f"/cases/{case_number}/audit.csv").status_code == 403

    staff = set(_packet(logged_in(demo, "review"), case_number).namelist())
    assert any(name.startswith("raw/") for name in staff)
    assert {"audit/audit-extract.csv", "audit/audit-extract.pdf"} <= staff
