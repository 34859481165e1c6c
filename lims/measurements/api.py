"""JSON API v1 routes of measurements: instrument file uploads, spectra and raw bytes."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from lims.api import http
from lims.api.openapi import register
from lims.auth.access import login_required, require
from lims.errors import Invalid
from lims.files import raw_response
from lims.intake.services import get_sample
from lims.measurements import services as measurements

bp = Blueprint("api_measurements", __name__, url_prefix="/api/v1")


def _spectrum_summary(spectrum) -> dict:
    return {"id": spectrum.id, "technique": spectrum.technique, "kind": spectrum.kind,
            "n_points": spectrum.n_points, "x_first": spectrum.x_first,
            "x_last": spectrum.x_last, "x_unit": spectrum.x_unit, "y_unit": spectrum.y_unit,
            "title": spectrum.title, "block": spectrum.block}


@bp.route("/samples/<lab_number>/measurements", methods=["POST"])
@login_required
def upload_measurement(lab_number: str):
    """Upload an instrument file (multipart `file`, optional `adapter`, `instrument`)."""
    require(g.user, "measurement.upload")
    sample = get_sample(g.user, lab_number)
    upload = request.files.get("file")
    if upload is None:
        raise Invalid("Send the instrument file as multipart field 'file'.", "file")
    instrument_name = request.form.get("instrument", "").strip()
    instrument = measurements.get_instrument(instrument_name) if instrument_name else None
    adapter = request.form.get("adapter", "").strip() or None
    measurement = http.commit(lambda: measurements.import_file(
        g.user, sample, upload.read(), upload.filename or "upload", adapter, instrument))
    return http.created({
        "measurement_id": measurement.id, "sha256": measurement.raw_sha256,
        "format": measurement.adapter, "warnings": measurement.warnings,
        "out_of_calibration": measurement.out_of_calibration,
        "spectra": [_spectrum_summary(s) for s in measurement.spectra]})


@bp.route("/spectra/<int:spectrum_id>", methods=["GET"])
@login_required
def get_spectrum(spectrum_id: int):
    """A spectrum's metadata and its x and y arrays (NaN as null)."""
    require(g.user, "measurement.view")
    spectrum = measurements.get_spectrum(g.user, spectrum_id)
    body = _spectrum_summary(spectrum)
    body.update(measurement_id=spectrum.measurement_id, metadata=spectrum.meta,
                warnings=spectrum.warnings, x=_floats(spectrum.x), y=_floats(spectrum.y))
    return jsonify(body)


def _floats(values) -> list:
    """JSON has no NaN: missing values become null."""
    return [None if v != v else v for v in values.tolist()]


@bp.route("/measurements/<int:measurement_id>/raw", methods=["GET"])
@login_required
def raw_measurement(measurement_id: int):
    """The uploaded bytes, unchanged."""
    require(g.user, "measurement.view")
    measurement = measurements.get_measurement(g.user, measurement_id)
    return raw_response(measurements.raw_bytes(measurement), measurement.original_filename,
                        measurement.raw_sha256)


SPECTRUM = {"type": "object", "properties": {
    "id": {"type": "integer"}, "technique": {"type": "string"}, "kind": {"type": "string"},
    "n_points": {"type": "integer", "description": "points, or peaks for a peak list"},
    "x_first": {"type": ["number", "null"]}, "x_last": {"type": ["number", "null"]},
    "x_unit": {"type": "string"}, "y_unit": {"type": "string"}, "title": {"type": "string"}}}


@register
def _paths() -> dict:
    upload = {"type": "object", "required": ["file"], "properties": {
        "file": {"type": "string", "format": "binary"},
        "adapter": {"type": "string", "enum": [n for n, _ in measurements.ADAPTER_CHOICES],
                    "description": "Force a reader instead of detection"},
        "instrument": {"type": "string", "description": "Instrument name"}}}
    return {
        "/api/v1/samples/{lab_number}/measurements": {"post": {
            "summary": "Upload an instrument file; 422 with line/offset when unreadable",
            "parameters": [http.SAMPLE],
            "requestBody": http.request_body(upload, "multipart/form-data"),
            "responses": http.responses("201", {"type": "object", "properties": {
                "measurement_id": {"type": "integer"}, "sha256": {"type": "string"},
                "format": {"type": "string"},
                "warnings": {"type": "array", "items": {"type": "string"}},
                "spectra": {"type": "array", "items": SPECTRUM}}},
                errors=(400, 401, 403, 404, 409, 413, 422))}},
        "/api/v1/spectra/{spectrum_id}": {"get": {
            "summary": "A spectrum: metadata and x, y arrays",
            "parameters": [http.path_param("spectrum_id", "Spectrum id")],
            "responses": http.responses("200", {**SPECTRUM, "properties": {
                **SPECTRUM["properties"],
                "x": {"type": "array", "items": {"type": ["number", "null"]}},
                "y": {"type": "array", "items": {"type": ["number", "null"]}}}})}},
        "/api/v1/measurements/{measurement_id}/raw": {"get": {
            "summary": "The uploaded file, byte for byte",
            "parameters": [http.path_param("measurement_id", "Measurement id")],
            "responses": http.responses("200", {"type": "string", "format": "binary"},
                                        "application/octet-stream")}},
    }
