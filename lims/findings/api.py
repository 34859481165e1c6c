"""JSON API v1 routes of the findings feature (review, which issues the certificate, is there)."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, url_for

from lims.api import http
from lims.api.openapi import register
from lims.auth.access import login_required, require
from lims.esign.services import manifestation
from lims.findings import services
from lims.findings.forms import (
    FindingForm,
    NetWeightRequest,
    SamplingRequest,
    SubmitFindingForm,
    SubstanceForm,
    TechniqueForm,
)
from lims.intake.services import get_sample

bp = Blueprint("api_findings", __name__, url_prefix="/api/v1")


def _item_data(body: dict, name: str, form_class, data) -> list[dict]:
    """Each technique or substance object validated by the web form (errors name the item)."""
    return [data(http.validate(form_class, item, f"{name}[{index}]."))
            for index, item in enumerate(http.objects(body, name))]


def _part_data(body: dict, name: str, form_class, data) -> dict | None:
    """The optional sampling or net-weight object validated by its form (errors name it)."""
    part = http.object_at(body, name)
    return None if part is None else data(http.validate(form_class, part, f"{name}."))


def signature_json(signature) -> dict:
    """An electronic signature as the API shows it."""
    return {"id": signature.id, "meaning": signature.meaning,
            "printed_name": signature.printed_name, "signed_at": signature.signed_at.isoformat(),
            "content_sha256": signature.content_sha256, "text": manifestation(signature)}


def finding_json(finding) -> dict:
    """A finding as the API shows it: snapshot, status, gate, problems, signatures."""
    gate = services.gate(finding)
    return {**services.finding_snapshot(finding), "status": finding.status,
            "lab_number": finding.sample.lab_number,
            "gate": {"ok": gate.ok, "rule": gate.rule, "missing": gate.missing,
                     "counted": [t.code for t in gate.counted], "notes": gate.notes},
            "problems": [{"field": field, "message": message}
                         for field, message in services.readiness(finding)],
            "content_sha256": services.finding_sha256(finding),
            "signatures": [signature_json(s) for s in services.signatures(finding)],
            "url": url_for("findings.finding", finding_id=finding.id, _external=True)}


@bp.route("/samples/<lab_number>/findings", methods=["POST"])
@login_required
def create(lab_number: str):
    """Create a finding with its substances, techniques, sampling and net weight in one body."""
    require(g.user, "finding.edit")
    sample = get_sample(g.user, lab_number)
    body = http.json_body()
    scalars = {k: v for k, v in body.items() if not isinstance(v, list | dict)}
    form = http.validate(FindingForm, scalars)
    data = {**form.finding_data(),
            "techniques": _item_data(body, "techniques", TechniqueForm,
                                     TechniqueForm.technique_data),
            "substances": _item_data(body, "substances", SubstanceForm,
                                     SubstanceForm.substance_data),
            "sampling": _part_data(body, "sampling", SamplingRequest,
                                   SamplingRequest.sampling_data),
            "net_weight": _part_data(body, "net_weight", NetWeightRequest,
                                     NetWeightRequest.weight_data)}
    finding = http.commit(lambda: services.create_finding(g.user, sample, data))
    return http.created(finding_json(finding))


@bp.route("/findings/<int:finding_id>", methods=["GET"])
@login_required
def get(finding_id: int):
    """A finding: its snapshot, status, gate, signatures."""
    finding = services.get_finding(g.user, finding_id)
    require(g.user, "finding.view")
    return jsonify(finding_json(finding))


@bp.route("/findings/<int:finding_id>/submit", methods=["POST"])
@login_required
def submit(finding_id: int):
    """The author signs the finding as performed and submits it (422 naming what is missing)."""
    require(g.user, "finding.edit")
    finding = services.get_finding(g.user, finding_id)
    form = http.validate(SubmitFindingForm, http.json_body())
    signature = http.commit(lambda: services.submit(g.user, finding, form.password.data))
    return jsonify({**finding_json(finding), "signature": signature_json(signature)})


FINDING_ID = http.path_param("finding_id", "Finding id", "integer")
FINDING = {"type": "object", "description": "The finding snapshot (fractional numbers as exact"
                                            " text) with status, gate, signatures."}


@register
def _paths() -> dict:
    create_body = http.form_schema(FindingForm)
    create_body["properties"] = {
        **create_body["properties"],
        "techniques": {"type": "array", "items": http.form_schema(TechniqueForm)},
        "substances": {"type": "array", "items": http.form_schema(SubstanceForm)},
        "sampling": http.form_schema(SamplingRequest),
        "net_weight": http.form_schema(NetWeightRequest)}
    return {
        "/api/v1/samples/{lab_number}/findings": {"post": {
            "summary": "Create a finding with substances and techniques",
            "parameters": [http.SAMPLE], "requestBody": http.request_body(create_body),
            "responses": http.responses("201", FINDING,
                                        errors=(400, 401, 403, 404, 409, 422))}},
        "/api/v1/findings/{finding_id}": {"get": {
            "summary": "A finding", "parameters": [FINDING_ID],
            "responses": http.responses("200", FINDING)}},
        "/api/v1/findings/{finding_id}/submit": {"post": {
            "summary": "Sign as performed and submit; 422 names what the SWGDRUG gate misses",
            "parameters": [FINDING_ID],
            "requestBody": http.request_body(http.form_schema(SubmitFindingForm)),
            "responses": http.responses("200", FINDING,
                                        errors=(400, 401, 403, 404, 409, 422, 429))}},
    }
