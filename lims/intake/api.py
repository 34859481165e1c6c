"""JSON API v1 routes of intake: cases, samples and their labels."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, jsonify, request, url_for

from lims.api import http
from lims.api.openapi import register
from lims.auth.access import login_required, require
from lims.errors import Invalid
from lims.intake import services as intake
from lims.intake.forms import CaseRequest, SampleRequest
from lims.intake.labels import print_labels

bp = Blueprint("api_intake", __name__, url_prefix="/api/v1")
ITEM_NAMES = {"gross_weight": "gross_weight_g", "net_weight": "net_weight_g"}


def _settings():
    return current_app.config["LIMS"]


@bp.route("/cases", methods=["POST"])
@login_required
def create_case():
    """Register a case from a customs system."""
    require(g.user, "case.create")
    form = http.bind(CaseRequest, http.json_body())
    investigators = intake.investigators()
    form.investigators.choices = [(u.username, u.full_name) for u in investigators]
    chosen = set(http.validated(form).investigators.data or [])
    found = [u for u in investigators if u.username in chosen]
    case = http.commit(lambda: intake.create_case(
        g.user, form.case_data(), case_prefix=_settings().case_number_prefix,
        investigators=found))
    return http.created({"case_number": case.case_number,
                         "url": url_for("intake.case", case_number=case.case_number,
                                        _external=True)})


@bp.route("/cases/<case_number>", methods=["GET"])
@login_required
def get_case(case_number: str):
    """A case with the lab numbers of its samples."""
    case = intake.get_case(g.user, case_number)
    return jsonify({"case_number": case.case_number, "customs_office": case.customs_office,
                    "seizure_ref": case.seizure_ref, "container_number": case.container_number,
                    "mrn": case.mrn, "received_at": case.received_at.isoformat(),
                    "samples": [s.lab_number for s in case.samples]})


@bp.route("/cases/<case_number>/samples", methods=["POST"])
@login_required
def register_samples(case_number: str):
    """Register one item (a JSON object) or several (`{"items": [...]}`)."""
    require(g.user, "sample.register")
    case = intake.get_case(g.user, case_number)
    body = http.json_body()
    raw_items = http.objects(body, "items") if isinstance(body.get("items"), list) else [body]
    locations = {loc.code: loc.id for loc in intake.active_locations()}
    items = []
    for index, raw in enumerate(raw_items):
        form = http.bind(SampleRequest, raw, ITEM_NAMES)
        form.storage_location.choices = [(c, c) for c in locations]
        prefix = f"items[{index}]." if len(raw_items) > 1 else ""
        items.append(http.validated(form, prefix, ITEM_NAMES).item_data(locations))
    samples = http.commit(lambda: intake.register_samples(
        g.user, case, items, lab_prefix=_settings().lab_number_prefix))
    return http.created({"lab_number": samples[0].lab_number,
                         "lab_numbers": [s.lab_number for s in samples]})


@bp.route("/samples/<lab_number>/label.<fmt>", methods=["POST"])
@login_required
def sample_label(lab_number: str, fmt: str):
    """Print the label as PDF or ZPL (POST: each print is counted); a reprint needs `reason`."""
    require(g.user, "label.print")
    sample = intake.get_sample(g.user, lab_number)
    if fmt not in ("pdf", "zpl"):
        raise Invalid("Labels are label.pdf or label.zpl.", "format")
    reason = request.values.get("reason", "").strip()
    body, mimetype = http.commit(lambda: print_labels(
        g.user, [sample], "single", fmt, reason, _settings().timezone))
    return Response(body, mimetype=mimetype)


CASE = http.path_param("case_number", "Case number, e.g. CASE-2026-00001")
REASON = http.query_param("reason", "Required for a reprint.")


@register
def _paths() -> dict:
    item = http.form_schema(SampleRequest, ITEM_NAMES)
    return {
        "/api/v1/cases": {"post": {
            "summary": "Register a case (seizure)",
            "requestBody": http.request_body(http.form_schema(CaseRequest, skip=("reason",))),
            "responses": http.responses("201", {"type": "object", "properties": {
                "case_number": {"type": "string"}, "url": {"type": "string"}}},
                errors=(400, 401, 403, 422))}},
        "/api/v1/cases/{case_number}": {"get": {
            "summary": "A case with its samples", "parameters": [CASE],
            "responses": http.responses("200")}},
        "/api/v1/cases/{case_number}/samples": {"post": {
            "summary": "Register one item, or several as {items: [...]}", "parameters": [CASE],
            "requestBody": http.request_body({"oneOf": [item, {
                "type": "object", "required": ["items"],
                "properties": {"items": {"type": "array", "items": item}}}]}),
            "responses": http.responses("201", {"type": "object", "properties": {
                "lab_number": {"type": "string"},
                "lab_numbers": {"type": "array", "items": {"type": "string"}}}},
                errors=(400, 401, 403, 404, 422))}},
        "/api/v1/samples/{lab_number}/label.pdf": {"post": {
            "summary": "Label as PDF (Code 128 and DataMatrix)",
            "parameters": [http.SAMPLE, REASON],
            "responses": http.responses("200", {"type": "string", "format": "binary"},
                                        "application/pdf", (401, 403, 404, 409))}},
        "/api/v1/samples/{lab_number}/label.zpl": {"post": {
            "summary": "Label as ZPL II for Zebra printers", "parameters": [http.SAMPLE, REASON],
            "responses": http.responses("200", {"type": "string"}, "application/zpl",
                                        (401, 403, 404, 409))}},
    }
