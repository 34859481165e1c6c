"""The OpenAPI document, built from the API's routes and the forms that validate them."""

from __future__ import annotations

from wtforms import Form, IntegerField, RadioField, SelectField, SelectMultipleField

from lims.custody.forms import CustodyRequest
from lims.forms import LabDateTimeField, WeightField
from lims.intake.forms import CaseForm, ItemForm
from lims.measurements.services import ADAPTER_CHOICES
from lims.search.forms import SearchRequest

ERROR = {"type": "object", "required": ["error"],
         "properties": {"error": {"type": "string"}, "field": {"type": "string"}}}
RENAMED = {"expected_from": "from", "gross_weight": "gross_weight_g",
           "net_weight": "net_weight_g", "weight": "weight_g"}
SKIPPED = {"csrf_token", "reason"}


def _field_schema(field) -> dict:
    if isinstance(field, IntegerField):
        schema = {"type": "integer"}
    elif isinstance(field, WeightField):
        schema = {"type": ["number", "string"], "hint": "grams, or with a unit: 1.2 kg"}
    elif isinstance(field, LabDateTimeField):
        schema = {"type": "string", "format": "date-time"}
    elif isinstance(field, SelectMultipleField):
        schema = {"type": "array", "items": {"type": "string"}}
    elif isinstance(field, RadioField) and field.name == "seal_intact":
        schema = {"type": "boolean"}
    elif isinstance(field, SelectField) and field.choices:
        schema = {"type": "string", "enum": [c[0] for c in field.choices]}
    else:
        schema = {"type": "string"}
    text = str(field.label.text) + (f": {field.description}" if field.description else "")
    hint = schema.pop("hint", None)
    schema["description"] = f"{text} ({hint})" if hint else text
    return schema


def form_schema(form_class: type[Form]) -> dict:
    """A JSON schema for the body a form validates (field names as the API spells them)."""
    form = form_class(formdata=None, meta={"csrf": False})
    properties, required = {}, []
    for field in form:
        if field.name in SKIPPED:
            continue
        name = RENAMED.get(field.name, field.name)
        properties[name] = _field_schema(field)
        if any(getattr(v, "field_flags", {}).get("required") for v in field.validators):
            required.append(name)
    schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def _responses(ok: str, ok_schema: dict | None = None, media: str = "application/json",
               errors: tuple[int, ...] = (401, 403, 404)) -> dict:
    content = {media: {"schema": ok_schema or {"type": "object"}}}
    out = {ok: {"description": "Success", "content": content}}
    for code in errors:
        out[str(code)] = {"description": "Error", "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return out


def _body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _param(name: str, description: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"},
            "description": description}


CASE = _param("case_number", "Case number, e.g. CASE-2026-00001")
SAMPLE = _param("lab_number", "Lab number, e.g. CL-2026-000001")
SPECTRUM = {"type": "object", "properties": {
    "id": {"type": "integer"}, "technique": {"type": "string"}, "kind": {"type": "string"},
    "n_points": {"type": "integer", "description": "points, or peaks for a peak list"},
    "x_first": {"type": ["number", "null"]}, "x_last": {"type": ["number", "null"]},
    "x_unit": {"type": "string"}, "y_unit": {"type": "string"}, "title": {"type": "string"}}}
HIT = {"type": "object", "properties": {
    "rank": {"type": "integer"}, "substance": {"type": "string"}, "cas": {"type": "string"},
    "score": {"type": "number", "description": "display value (HQI 0-100, cosine, MF 0-999)"},
    "raw": {"type": "number", "description": "exact float64 r, cosine, distance or MF"},
    "matches": {"type": ["integer", "null"]}, "entry_id": {"type": "integer"},
    "library": {"type": "string"}, "library_version": {"type": "string"},
    "decision": {"type": ["string", "null"]}}}
SEARCH_RESULT = {"type": "object", "properties": {
    "search_id": {"type": "integer"}, "url": {"type": "string"},
    "spectrum_id": {"type": "integer"}, "library": {"type": "string"},
    "library_version": {"type": "string"}, "library_sha256": {"type": "string"},
    "algorithm": {"type": "string"}, "algorithm_label": {"type": "string"},
    "recipe": {"type": "object"}, "recipe_sha256": {"type": "string"},
    "hits": {"type": "array", "items": HIT}}}
REASON = {"name": "reason", "in": "query", "required": False, "schema": {"type": "string"},
          "description": "Required for a reprint."}


def _operations() -> dict:
    item = form_schema(ItemForm)
    search = form_schema(SearchRequest)
    return {
        "/api/v1/openapi.json": {"get": {
            "summary": "This document (needs a token, like every endpoint)",
            "responses": _responses("200", errors=(401,))}},
        "/api/v1/cases": {"post": {
            "summary": "Register a case (seizure)", "requestBody": _body(form_schema(CaseForm)),
            "responses": _responses("201", {"type": "object", "properties": {
                "case_number": {"type": "string"}, "url": {"type": "string"}}},
                errors=(400, 401, 403, 422))}},
        "/api/v1/cases/{case_number}": {"get": {
            "summary": "A case with its samples", "parameters": [CASE],
            "responses": _responses("200")}},
        "/api/v1/cases/{case_number}/samples": {"post": {
            "summary": "Register one item, or several as {items: [...]}", "parameters": [CASE],
            "requestBody": _body({"oneOf": [item, {"type": "object", "properties": {
                "items": {"type": "array", "items": item}}}]}),
            "responses": _responses("201", {"type": "object", "properties": {
                "lab_number": {"type": "string"},
                "lab_numbers": {"type": "array", "items": {"type": "string"}}}},
                errors=(400, 401, 403, 404, 422))}},
        "/api/v1/samples/{lab_number}": {"get": {
            "summary": "A sample with its custody events and current holder",
            "parameters": [SAMPLE], "responses": _responses("200")}},
        "/api/v1/samples/{lab_number}/label.pdf": {"post": {
            "summary": "Label as PDF (Code 128 and DataMatrix)", "parameters": [SAMPLE, REASON],
            "responses": _responses("200", {"type": "string", "format": "binary"},
                                    "application/pdf", (401, 403, 404, 409))}},
        "/api/v1/samples/{lab_number}/label.zpl": {"post": {
            "summary": "Label as ZPL II for Zebra printers", "parameters": [SAMPLE, REASON],
            "responses": _responses("200", {"type": "string"}, "application/zpl",
                                    (401, 403, 404, 409))}},
        "/api/v1/samples/{lab_number}/measurements": {"post": {
            "summary": "Upload an instrument file; 422 with line/offset when unreadable",
            "parameters": [SAMPLE],
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["file"], "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "adapter": {"type": "string", "enum": [n for n, _ in ADAPTER_CHOICES],
                                "description": "Force a reader instead of detection"},
                    "instrument": {"type": "string", "description": "Instrument name"}}}}}},
            "responses": _responses("201", {"type": "object", "properties": {
                "measurement_id": {"type": "integer"}, "sha256": {"type": "string"},
                "format": {"type": "string"},
                "warnings": {"type": "array", "items": {"type": "string"}},
                "spectra": {"type": "array", "items": SPECTRUM}}},
                errors=(400, 401, 403, 404, 409, 413, 422))}},
        "/api/v1/spectra/{spectrum_id}": {"get": {
            "summary": "A spectrum: metadata and x, y arrays",
            "parameters": [_param("spectrum_id", "Spectrum id")],
            "responses": _responses("200", {**SPECTRUM, "properties": {
                **SPECTRUM["properties"],
                "x": {"type": "array", "items": {"type": ["number", "null"]}},
                "y": {"type": "array", "items": {"type": ["number", "null"]}}}})}},
        "/api/v1/measurements/{measurement_id}/raw": {"get": {
            "summary": "The uploaded file, byte for byte",
            "parameters": [_param("measurement_id", "Measurement id")],
            "responses": _responses("200", {"type": "string", "format": "binary"},
                                    "application/octet-stream")}},
        "/api/v1/spectra/{spectrum_id}/search": {"post": {
            "summary": "Search a spectrum against a reference library (stored, audited)",
            "parameters": [_param("spectrum_id", "Spectrum id")],
            "requestBody": _body({**search, "properties": {**search["properties"], "recipe": {
                "type": "object", "description": "Processing recipe applied first (optional)"}}}),
            "responses": _responses("201", SEARCH_RESULT, errors=(400, 401, 403, 404, 409, 422))}},
        "/api/v1/samples/{lab_number}/custody": {"post": {
            "summary": "Record a hand-over, return or destruction", "parameters": [SAMPLE],
            "requestBody": _body(form_schema(CustodyRequest)),
            "responses": _responses("201", errors=(400, 401, 403, 404, 409, 422))}},
    }


def openapi_document() -> dict:
    """The whole OpenAPI 3.1 document."""
    from lims.certificates.api import openapi_paths as certificate_paths
    from lims.findings.api import openapi_paths as finding_paths

    paths = {**_operations(), **finding_paths(), **certificate_paths()}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Customs LIMS API", "version": "1"},
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "Token from `lims token create`."}},
            "schemas": {"Error": ERROR},
        },
        "paths": paths,
    }
