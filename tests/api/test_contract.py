"""The OpenAPI document is the contract: the server requires what it marks required, no more."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import select

from lims.db import db
from lims.measurements.models import SpectrumRecord
from tests.certificates.helpers import make_certificate

JCAMP = (Path(__file__).parent.parent / "fixtures" / "ir_small.jdx").read_bytes()
MEDIA = ("application/json", "multipart/form-data")


@pytest.fixture
def world(app, make_user, api_token, api, client, password):
    """An issued certificate and everything on its way, and an admin's API client."""
    issued = make_certificate(app)
    with app.app_context():
        spectrum = db.session.scalar(select(SpectrumRecord).order_by(SpectrumRecord.id))
        spectrum_id, measurement_id = spectrum.id, spectrum.measurement_id
    admin = api(client, api_token(make_user("admin")))
    holder = admin.get(f"samples/{issued['sample']}").json["current_holder"]["key"]
    return {"api": admin, "path": {
        "case_number": issued["case"], "lab_number": issued["sample"],
        "spectrum_id": spectrum_id, "measurement_id": measurement_id,
        "finding_id": issued["finding_id"], "number": issued["number"]},
        "values": {"password": password, "from": holder, "to": "location:NOWHERE",
                   "library": "Test IR library", "token": "B" * 32, "file": JCAMP}}


def _required(schema: dict) -> list[str]:
    """What a body must carry: the schema's own list, then its first alternative's."""
    schema = schema.get("oneOf", [schema])[0]
    alternative = (schema.get("anyOf") or [{}])[0]
    return [*schema.get("required", []), *alternative.get("required", [])]


def _value(name: str, schema: dict, values: dict):
    """A plausible value of a property: a known one, else one of the type the schema says."""
    if name in values:
        return values[name]
    if schema.get("enum"):
        return next(v for v in schema["enum"] if v)
    kind = schema.get("type")
    kind = next(k for k in kind if k != "null") if isinstance(kind, list) else kind
    if schema.get("format") == "date-time":
        return "2026-01-05T10:00:00+00:00"
    return {"integer": 1, "number": 1, "boolean": True, "array": ["x"]}.get(kind, "x")


def _operations(document: dict):
    """(method, path, media type, body schema) of every operation that takes a body."""
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for media, content in operation.get("requestBody", {}).get("content", {}).items():
                yield method, path, media, content["schema"]


def _send(world: dict, method: str, path: str, media: str, body: dict):
    url = path.removeprefix("/api/v1/").format(**world["path"])
    if media == "application/json":
        return world["api"].request(method.upper(), url, json=body)
    data = {name: (io.BytesIO(value), "upload.jdx") if isinstance(value, bytes) else value
            for name, value in body.items()}
    return world["api"].request(method.upper(), url, data=data,
                                content_type="multipart/form-data")


def test_the_server_requires_exactly_what_the_document_marks_required(world, subtests):
    document = world["api"].get("openapi.json").json
    checked = []
    for method, path, media, schema in _operations(document):
        assert media in MEDIA, (path, media)
        fields = _required(schema)
        properties = schema.get("oneOf", [schema])[0].get("properties", {})
        minimal = {name: _value(name, properties.get(name, {}), world["values"])
                   for name in fields}
        for missing in fields:
            with subtests.test(path=path, media=media, missing=missing):
                body = {k: v for k, v in minimal.items() if k != missing}
                response = _send(world, method, path, media, body)
                assert response.status_code == 422, (response.status_code, response.json)
                assert response.json["field"] == missing, response.json
        with subtests.test(path=path, media=media, only_required=sorted(minimal)):
            response = _send(world, method, path, media, minimal)
            assert response.status_code < 500, response.get_data()[:300]
            refused_for = response.json.get("field") if response.status_code == 422 else None
            assert refused_for is None or refused_for in minimal, response.json
        checked.append((path, media, len(fields)))
    # Every body-taking operation was checked, and most of them require something.
    assert len(checked) >= 12 and sum(1 for *_, n in checked if n) >= 10, checked

