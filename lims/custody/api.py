"""JSON API v1 routes of custody: a sample with its chain of custody, and hand-overs."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, url_for

from lims.api import http
from lims.api.openapi import register
from lims.auth.access import login_required, require
from lims.custody import services as custody
from lims.custody.forms import CustodyRequest
from lims.intake.services import get_sample, item_facts

bp = Blueprint("api_custody", __name__, url_prefix="/api/v1")
RENAMED = {"expected_from": "from", "weight": "weight_g"}


def _sample_json(sample) -> dict:
    holder = custody.holder_of(sample)
    return {
        **item_facts(sample),
        "case_number": sample.case.case_number,
        "seal_received": sample.seal_received,
        "current_seal": sample.current_seal,
        "status": sample.status,
        "seal_discrepancy": sample.seal_discrepancy or None,
        "current_holder": {"key": holder.key, "name": holder.label},
        "registered_at": sample.created_at.isoformat(),
        "url": url_for("intake.sample", lab_number=sample.lab_number, _external=True),
    }


def _event_json(event) -> dict:
    return {
        "sequence": event.sequence, "type": event.event_type,
        "occurred_at": event.occurred_at.isoformat(),
        "from": event.from_label, "to": event.to_label,
        "seal_expected": event.seal_expected, "seal_found": event.seal_found,
        "seal_intact": event.seal_intact, "seal_ok": event.seal_ok, "new_seal": event.new_seal,
        "weight_mg": event.weight_mg, "witness": event.witness, "note": event.note,
        "recorded_by": event.recorded_by.username,
        "confirmed_by": event.confirmed_by.username if event.confirmed_by else None,
    }


@bp.route("/samples/<lab_number>", methods=["GET"])
@login_required
def get_sample_with_custody(lab_number: str):
    """A sample with its custody events and current holder."""
    sample = get_sample(g.user, lab_number)
    body = _sample_json(sample)
    body["custody"] = [_event_json(e) for e in custody.timeline(sample)]
    return jsonify(body)


@bp.route("/samples/<lab_number>/custody", methods=["POST"])
@login_required
def add_custody(lab_number: str):
    """Record a hand-over; `from` must be the current holder as the client last saw it."""
    require(g.user, "custody.transfer")
    sample = get_sample(g.user, lab_number)
    form = http.validate(CustodyRequest, http.json_body(), renamed=RENAMED)
    if form.final.data:
        target = custody.Party(external=(form.recipient.data or "").strip())
    else:
        target = custody.party_from_key(form.to.data or "")
    event = http.commit(lambda: custody.transfer(
        g.user, sample, expected_from=form.expected_from.data, to=target,
        receiver_password=form.receiver_password.data or "", witness=form.witness.data or "",
        final=form.final.data or "", **form.seal_values()))
    return http.created({**_event_json(event), "current_holder": custody.holder_of(sample).key})


@register
def _paths() -> dict:
    request = http.form_schema(CustodyRequest, RENAMED)
    # Who receives depends on the event: a hand-over names `to`, a final event its recipient.
    request["anyOf"] = [{"required": ["to"]}, {"required": ["final", "recipient"]}]
    return {
        "/api/v1/samples/{lab_number}": {"get": {
            "summary": "A sample with its custody events and current holder",
            "parameters": [http.SAMPLE], "responses": http.responses("200")}},
        "/api/v1/samples/{lab_number}/custody": {"post": {
            "summary": "Record a hand-over, return or destruction", "parameters": [http.SAMPLE],
            "requestBody": http.request_body(request),
            "responses": http.responses("201", errors=(400, 401, 403, 404, 409, 422))}},
    }
