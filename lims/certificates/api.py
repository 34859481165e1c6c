"""JSON API v1 routes of the certificates feature, with the review whose approval issues one."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request, url_for

from lims.api import http
from lims.api.openapi import register
from lims.auth.access import login_required, require
from lims.certificates import services
from lims.certificates.forms import AmendForm, VerifyForm, VerifyRequest, WithdrawForm
from lims.certificates.services import approve_and_issue
from lims.certificates.views import pdf_download, requested_case
from lims.findings.api import FINDING, FINDING_ID, finding_json
from lims.findings.forms import ReviewForm
from lims.findings.services import get_finding, return_finding

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
    found = http.commit(lambda: services.open_certificate(g.user, number))
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
    form = http.validate(AmendForm, http.json_body())
    finding = http.commit(lambda: services.amend(g.user, found, form.reason.data))
    return http.created({"finding_id": finding.id, "version": finding.version,
                         "certificate_number": found.number})


@bp.route("/certificates/<number>/withdraw", methods=["POST"])
@login_required
def withdraw(number: str):
    """Withdraw without replacement (`reason`, `password`)."""
    found = services.get_certificate(g.user, number)
    form = http.validate(WithdrawForm, http.json_body())
    http.commit(lambda: services.withdraw(g.user, found, form.password.data, form.reason.data))
    return jsonify(certificate_json(found))


@bp.route("/verify", methods=["POST"])
def verify():
    """Public: verify a PDF (multipart `file`) or a token (JSON or form `token`)."""
    services.check_verify_rate(request.remote_addr)
    if request.is_json:
        result = services.verify_token(http.validate(VerifyRequest, http.json_body()).token.data)
    else:
        form = http.validated(VerifyForm(meta={"csrf": False}))
        result = (services.verify_upload(form.file.data.read()) if form.file.data
                  else services.verify_token(form.token.data))
    return jsonify(result.as_json()), 200 if result.found else 404


@bp.route("/findings/<int:finding_id>/review", methods=["POST"])
@login_required
def review(finding_id: int):
    """Approve (signed reviewed + approved, certificate issued) or return with a reason."""
    require(g.user, "finding.review")
    finding = get_finding(g.user, finding_id)
    form = http.validate(ReviewForm, http.json_body())
    if form.decision.data == "return":
        http.commit(lambda: return_finding(g.user, finding, form.password.data,
                                           form.reason.data or ""))
        return jsonify(finding_json(finding))
    certificate = http.commit(lambda: approve_and_issue(g.user, finding, form.password.data))
    return jsonify({**finding_json(finding), "certificate": certificate.number})


NUMBER = http.path_param("number", "Certificate number, e.g. CL-CERT-2026-00001")
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


@register
def _paths() -> dict:
    token = {"token": {"type": "string", "description": "The code after /verify/ in the QR"}}
    return {
        "/api/v1/certificates": {"get": {
            "summary": "Certificates the caller may see (investigators: their cases)",
            "parameters": [http.query_param("case", "Case number")],
            "responses": http.responses("200", {"type": "object", "properties": {
                "certificates": {"type": "array", "items": CERTIFICATE}}})}},
        "/api/v1/certificates/{number}": {"get": {
            "summary": "One certificate", "parameters": [NUMBER],
            "responses": http.responses("200", CERTIFICATE)}},
        "/api/v1/certificates/{number}.pdf": {"get": {
            "summary": "The signed PDF, identical bytes on every download (X-Content-SHA256)",
            "parameters": [NUMBER],
            "responses": http.responses("200", {"type": "string", "format": "binary"},
                                        "application/pdf")}},
        "/api/v1/certificates/{number}/amend": {"post": {
            "summary": "Open an amendment: a new draft version of the finding; its approval "
                       "issues the amended certificate",
            "parameters": [NUMBER],
            "requestBody": http.request_body(http.form_schema(AmendForm)),
            "responses": http.responses("201", {"type": "object", "properties": {
                "finding_id": {"type": "integer"}, "version": {"type": "integer"},
                "certificate_number": {"type": "string"}}},
                errors=(400, 401, 403, 404, 409, 422))}},
        "/api/v1/certificates/{number}/withdraw": {"post": {
            "summary": "Withdraw without replacement (reason and the caller's password)",
            "parameters": [NUMBER],
            "requestBody": http.request_body(http.form_schema(WithdrawForm)),
            "responses": http.responses("200", CERTIFICATE,
                                        errors=(400, 401, 403, 404, 409, 422, 429))}},
        "/api/v1/findings/{finding_id}/review": {"post": {
            "summary": "Approve (reviewed + approved signatures, certificate issued) or return",
            "parameters": [FINDING_ID],
            "requestBody": http.request_body({
                **http.form_schema(ReviewForm),
                "if": {"properties": {"decision": {"const": "return"}}},
                "then": {"required": ["reason"]}}),
            "responses": http.responses("200", FINDING,
                                        errors=(400, 401, 403, 404, 409, 422, 429))}},
        "/api/v1/verify": {"post": {
            "summary": "Public, no token needed: verify a certificate PDF or a QR token",
            "security": [],
            "requestBody": {"required": True, "content": {
                "multipart/form-data": {"schema": {
                    "type": "object", "anyOf": [{"required": ["file"]}, {"required": ["token"]}],
                    "properties": {"file": {"type": "string", "format": "binary"}, **token}}},
                "application/json": {"schema": http.form_schema(VerifyRequest)}}},
            "responses": {**http.responses("200", VERDICT, errors=(400, 413, 422, 429)),
                          "404": {"description": "No certificate has this token",
                                  "content": {"application/json": {"schema": VERDICT}}}}}},
    }
