"""JSON API v1 routes of the findings feature."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, url_for

from lims.api.openapi import SAMPLE, _body, _responses, form_schema
from lims.api.views import _formdata, _json_body, _validated
from lims.auth.access import login_required, require
from lims.db import db
from lims.errors import Invalid
from lims.esign.services import manifestation
from lims.findings import services
from lims.findings.forms import FindingForm, SubstanceForm, TechniqueForm
from lims.intake.services import get_sample

bp = Blueprint("api_findings", __name__, url_prefix="/api/v1")
ITEM_FORMS = {"techniques": TechniqueForm, "substances": SubstanceForm}


def _item_data(body: dict, name: str) -> list[dict]:
    """Each technique or substance object validated by the web form (errors name the item)."""
    items = body.get(name) or []
    if not isinstance(items, list):
        raise Invalid(f"{name}: give a list of objects.", name)
    out = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise Invalid(f"{name}[{index}]: must be an object.", name)
        form = _validated(ITEM_FORMS[name](formdata=_formdata(item), meta={"csrf": False}),
                          f"{name}[{index}].")
        out.append(form.technique_data() if name == "techniques" else form.substance_data())
    return out


def _signature_json(signature) -> dict:
    return {"id": signature.id, "meaning": signature.meaning,
            "printed_name": signature.printed_name, "signed_at": signature.signed_at.isoformat(),
            "content_sha256": signature.content_sha256, "text": manifestation(signature)}


def _finding_json(finding) -> dict:
    gate = services.gate(finding)
    return {**services.finding_snapshot(finding), "status": finding.status,
            "lab_number": finding.sample.lab_number,
            "gate": {"ok": gate.ok, "rule": gate.rule, "missing": gate.missing,
                     "counted": [t.code for t in gate.counted], "notes": gate.notes},
            "problems": [{"field": field, "message": message}
                         for field, message in services.readiness(finding)],
            "content_sha256": services.finding_sha256(finding),
            "signatures": [_signature_json(s) for s in services.signatures(finding)],
            "url": url_for("findings.finding", finding_id=finding.id, _external=True)}


@bp.route("/samples/<lab_number>/findings", methods=["POST"])
@login_required
def create(lab_number: str):
    """Create a finding with its substances, techniques, sampling and net weight in one body."""
    require(g.user, "finding.edit")
    sample = get_sample(g.user, lab_number)
    body = _json_body()
    scalars = {k: v for k, v in body.items() if not isinstance(v, list | dict)}
    form = _validated(FindingForm(formdata=_formdata(scalars), meta={"csrf": False}))
    data = {**form.finding_data(), "techniques": _item_data(body, "techniques"),
            "substances": _item_data(body, "substances"),
            "sampling": body.get("sampling"), "net_weight": body.get("net_weight")}
    finding = services.create_finding(g.user, sample, data)
    db.session.commit()
    return jsonify(_finding_json(finding)), 201


@bp.route("/findings/<int:finding_id>", methods=["GET"])
@login_required
def get(finding_id: int):
    """A finding: its snapshot, status, gate, signatures."""
    finding = services.get_finding(g.user, finding_id)
    require(g.user, "finding.view")
    return jsonify(_finding_json(finding))


def _code(body: dict) -> str:
    code = body.get("code", "")
    if not isinstance(code, str):
        raise Invalid("code: the authenticator code is a string of 6 digits.", "code")
    return code


def _password(body: dict) -> str:
    password = body.get("password")
    if not isinstance(password, str) or not password:
        raise Invalid("password: signing needs your password.", "password")
    return password


@bp.route("/findings/<int:finding_id>/submit", methods=["POST"])
@login_required
def submit(finding_id: int):
    """The author signs the finding as performed and submits it (422 naming what is missing)."""
    require(g.user, "finding.edit")
    finding = services.get_finding(g.user, finding_id)
    body = _json_body()
    signature = services.submit(g.user, finding, _password(body), _code(body))
    db.session.commit()
    return jsonify({**_finding_json(finding), "signature": _signature_json(signature)})


@bp.route("/findings/<int:finding_id>/review", methods=["POST"])
@login_required
def review(finding_id: int):
    """Approve (signed reviewed + approved, certificate issued) or return with a reason."""
    require(g.user, "finding.review")
    finding = services.get_finding(g.user, finding_id)
    body = _json_body()
    decision = body.get("decision")
    if decision == "return":
        reason = body.get("reason") if isinstance(body.get("reason"), str) else ""
        services.return_finding(g.user, finding, _password(body), reason, _code(body))
        db.session.commit()
        return jsonify(_finding_json(finding))
    if decision != "approve":
        raise Invalid("decision: approve or return.", "decision")
    from lims.certificates.services import issue_certificate

    services.approve(g.user, finding, _password(body), _code(body))
    certificate = issue_certificate(g.user, finding)
    db.session.commit()
    return jsonify({**_finding_json(finding), "certificate": certificate.number})


FINDING_ID = {"name": "finding_id", "in": "path", "required": True,
              "schema": {"type": "integer"}, "description": "Finding id"}


def openapi_paths() -> dict:
    """The OpenAPI path items of these routes."""
    finding = {"type": "object", "description": "The finding snapshot (fractional numbers as"
                                                " exact text) with status, gate, signatures."}
    create_body = {**form_schema(FindingForm)}
    create_body["properties"] = {
        **create_body["properties"],
        "techniques": {"type": "array", "items": form_schema(TechniqueForm)},
        "substances": {"type": "array", "items": form_schema(SubstanceForm)},
        "sampling": {"type": "object", "description": "method, population, proportion (0-1),"
                                                      " confidence (0-1), negatives, seed,"
                                                      " tested, positives"},
        "net_weight": {"type": "object", "description": "method measured (net_weight_mg) or"
                                                        " extrapolated (unit_weights_mg,"
                                                        " population, confidence, interval)"}}
    password = {"type": "string", "description": "The signer's password, asked again"}
    code = {"type": "string", "description": "Authenticator code, when the signer has TOTP"}
    return {
        "/api/v1/samples/{lab_number}/findings": {"post": {
            "summary": "Create a finding with substances and techniques", "parameters": [SAMPLE],
            "requestBody": _body(create_body),
            "responses": _responses("201", finding, errors=(400, 401, 403, 404, 409, 422))}},
        "/api/v1/findings/{finding_id}": {"get": {
            "summary": "A finding", "parameters": [FINDING_ID],
            "responses": _responses("200", finding)}},
        "/api/v1/findings/{finding_id}/submit": {"post": {
            "summary": "Sign as performed and submit; 422 names what the SWGDRUG gate misses",
            "parameters": [FINDING_ID],
            "requestBody": _body({"type": "object", "required": ["password"],
                                  "properties": {"password": password, "code": code}}),
            "responses": _responses("200", finding, errors=(400, 401, 403, 404, 409, 422, 429))}},
        "/api/v1/findings/{finding_id}/review": {"post": {
            "summary": "Approve (reviewed + approved signatures, certificate issued) or return",
            "parameters": [FINDING_ID],
            "requestBody": _body({"type": "object", "required": ["decision", "password"],
                                  "properties": {
                                      "decision": {"type": "string",
                                                   "enum": ["approve", "return"]},
                                      "reason": {"type": "string",
                                                 "description": "Required to return"},
                                      "password": password, "code": code}}),
            "responses": _responses("200", finding, errors=(400, 401, 403, 404, 409, 422, 429))}},
    }
