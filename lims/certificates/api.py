"""JSON API v1 routes of the certificates feature."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request, url_for

from lims.api.openapi import _param, _responses
from lims.api.views import _json_body
from lims.auth.access import login_required
from lims.certificates import services
from lims.certificates.views import limit_verifications, pdf_download, requested_case
from lims.db import db
from lims.errors import DomainError, Invalid

bp = Blueprint("api_certificates", __name__, url_prefix="/api/v1")


def certificate_json(certificate) -> dict:
    """A certificate as the API shows it."""
    snapshot = services.snapshot_of(certificate)
    return {
        "number": certificate.number, "status": certificate.status,
        "case_number": certificate.case.case_number,
        "lab_number": certificate.sample.lab_number,
        "finding_id": certificate.finding_id,
        "result": snapshot["finding"]["result"],
        "substances": [s["name"] for s in snapshot["finding"]["substances"]],
        "issued_at": certificate.issued_at.isoformat(),
        "issued_by": certificate.issued_by.display_name,
        "signatures": [s["manifestation"] for s in snapshot["signatures"]],
        "amends": certificate.amends.number if certificate.amends else None,
        "amendment_reason": certificate.amendment_reason,
        "superseded_by": certificate.superseded_by.number if certificate.superseded_by
        else None,
        "withdrawn_at": certificate.withdrawn_at.isoformat() if certificate.withdrawn_at
        else None,
        "withdrawal_reason": certificate.withdrawal_reason,
        "pdf_sha256": certificate.pdf_sha256, "pdf_size": certificate.pdf_size,
        "snapshot_sha256": certificate.snapshot_sha256,
        "pdf_url": url_for("api_certificates.certificate_pdf", number=certificate.number,
                           _external=True),
    }


def _text(body: dict, name: str) -> str:
    value = body.get(name, "")
    if not isinstance(value, str):
        raise Invalid(f"{name}: must be a string.", name)
    return value


@bp.route("/certificates")
@login_required
def certificates():
    """Certificates the caller may see; `?case=` filters by case number."""
    return jsonify({"certificates": [certificate_json(c) for c in
                                     services.list_certificates(g.user, requested_case())]})


@bp.route("/certificates/<number>")
@login_required
def certificate(number: str):
    """One certificate (audited when an investigator reads it)."""
    found = services.open_certificate(g.user, number)
    db.session.commit()
    return jsonify(certificate_json(found))


@bp.route("/certificates/<number>.pdf")
@login_required
def certificate_pdf(number: str):
    """The signed PDF, byte for byte as issued, with X-Content-SHA256."""
    return pdf_download(number)


@bp.route("/certificates/<number>/amend", methods=["POST"])
@login_required
def amend(number: str):
    """Open an amendment (`reason`): answers the new draft finding's id."""
    found = services.get_certificate(g.user, number)
    finding = services.amend(g.user, found, _text(_json_body(), "reason"))
    db.session.commit()
    return jsonify({"finding_id": finding.id, "version": finding.version,
                    "certificate_number": found.number}), 201


@bp.route("/certificates/<number>/withdraw", methods=["POST"])
@login_required
def withdraw(number: str):
    """Withdraw without replacement (`reason`, `password`)."""
    found = services.get_certificate(g.user, number)
    body = _json_body()
    services.withdraw(g.user, found, _text(body, "password"), _text(body, "reason"),
                      _text(body, "code"))
    db.session.commit()
    return jsonify(certificate_json(found))


@bp.route("/verify", methods=["POST"])
def verify():
    """Public: verify a PDF (multipart `file`) or a token (JSON or form `token`)."""
    limit_verifications()
    upload = request.files.get("file")
    if upload is not None:
        result = services.verify_upload(upload.read())
    else:
        if request.is_json:
            body = request.get_json(silent=True)
            token = body.get("token") if isinstance(body, dict) else None
        else:
            token = request.form.get("token")
        if not isinstance(token, str) or not token.strip():
            raise DomainError("Send the PDF as multipart field `file`, or `token` as JSON or "
                              "form data.", "file")
        result = services.verify_token(token)
    return jsonify(result.as_json()), 200 if result.found else 404


NUMBER = _param("number", "Certificate number, e.g. CL-CERT-2026-00001")
CERTIFICATE = {"type": "object", "properties": {
    "number": {"type": "string"}, "status": {"type": "string",
                                             "enum": ["issued", "superseded", "withdrawn"]},
    "case_number": {"type": "string"}, "lab_number": {"type": "string"},
    "finding_id": {"type": "integer"}, "result": {"type": "string"},
    "substances": {"type": "array", "items": {"type": "string"}},
    "issued_at": {"type": "string", "format": "date-time"}, "issued_by": {"type": "string"},
    "signatures": {"type": "array", "items": {"type": "string"}},
    "amends": {"type": ["string", "null"]}, "amendment_reason": {"type": ["string", "null"]},
    "superseded_by": {"type": ["string", "null"]},
    "withdrawn_at": {"type": ["string", "null"]},
    "withdrawal_reason": {"type": ["string", "null"]},
    "pdf_sha256": {"type": "string"}, "pdf_size": {"type": "integer"},
    "snapshot_sha256": {"type": "string"}, "pdf_url": {"type": "string"}}}
VERDICT = {"type": "object", "required": ["status"], "properties": {
    "status": {"type": "string", "enum": ["authentic", "superseded", "withdrawn", "altered",
                                          "not_issued", "unknown"]},
    "message": {"type": "string"},
    "certificate_number": {"type": ["string", "null"]},
    "issued_at": {"type": ["string", "null"]},
    "signer": {"type": ["string", "null"]}, "signed_at": {"type": ["string", "null"]},
    "sha256": {"type": ["string", "null"]}, "registered_sha256": {"type": ["string", "null"]},
    "superseded_by": {"type": ["string", "null"]},
    "withdrawn_at": {"type": ["string", "null"]},
    "withdrawal_reason": {"type": ["string", "null"]}}}


def _json_request(properties: dict, required: list[str]) -> dict:
    return {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": required,
        "properties": {name: {"type": "string", "description": text}
                       for name, text in properties.items()}}}}}


def openapi_paths() -> dict:
    """The OpenAPI path items of these routes."""
    token = {"token": {"type": "string", "description": "The code after /verify/ in the QR"}}
    return {
        "/api/v1/certificates": {"get": {
            "summary": "Certificates the caller may see (investigators: their cases)",
            "parameters": [{"name": "case", "in": "query", "required": False,
                            "schema": {"type": "string"}, "description": "Case number"}],
            "responses": _responses("200", {"type": "object", "properties": {
                "certificates": {"type": "array", "items": CERTIFICATE}}})}},
        "/api/v1/certificates/{number}": {"get": {
            "summary": "One certificate", "parameters": [NUMBER],
            "responses": _responses("200", CERTIFICATE)}},
        "/api/v1/certificates/{number}.pdf": {"get": {
            "summary": "The signed PDF, identical bytes on every download (X-Content-SHA256)",
            "parameters": [NUMBER],
            "responses": _responses("200", {"type": "string", "format": "binary"},
                                    "application/pdf")}},
        "/api/v1/certificates/{number}/amend": {"post": {
            "summary": "Open an amendment: a new draft version of the finding; its approval "
                       "issues the amended certificate",
            "parameters": [NUMBER],
            "requestBody": _json_request({"reason": "Printed on the amended certificate"},
                                         ["reason"]),
            "responses": _responses("201", {"type": "object", "properties": {
                "finding_id": {"type": "integer"}, "version": {"type": "integer"},
                "certificate_number": {"type": "string"}}},
                errors=(400, 401, 403, 404, 409, 422))}},
        "/api/v1/certificates/{number}/withdraw": {"post": {
            "summary": "Withdraw without replacement (reason and the caller's password)",
            "parameters": [NUMBER],
            "requestBody": _json_request({"reason": "Shown on the verification page",
                                          "password": "The caller's password (signature)",
                                          "code": "Authenticator code, when enrolled"},
                                         ["reason", "password"]),
            "responses": _responses("200", CERTIFICATE,
                                    errors=(400, 401, 403, 404, 409, 422, 429))}},
        "/api/v1/verify": {"post": {
            "summary": "Public, no token needed: verify a certificate PDF or a QR token",
            "security": [],
            "requestBody": {"required": True, "content": {
                "multipart/form-data": {"schema": {"type": "object", "properties": {
                    "file": {"type": "string", "format": "binary"}, **token}}},
                "application/json": {"schema": {"type": "object", "required": ["token"],
                                                "properties": token}}}},
            "responses": {**_responses("200", VERDICT, errors=(400, 413, 429)),
                          "404": {"description": "No certificate has this token",
                                  "content": {"application/json": {"schema": VERDICT}}}}}},
    }
