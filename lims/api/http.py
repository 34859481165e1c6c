"""The JSON API toolkit each feature's api.py is built on: bodies, forms, commits, OpenAPI."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

from flask import abort, jsonify, make_response, request
from werkzeug.datastructures import MultiDict
from wtforms import (
    BooleanField,
    FloatField,
    Form,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    SubmitField,
)
from wtforms.validators import InputRequired

from lims.errors import DomainError, Invalid, error_response
from lims.forms import LabDateTimeField, WeightField, field_errors, run

T = TypeVar("T")
MAX_DEPTH = 32  # objects and arrays inside each other; real bodies need 3
MAX_KEYS = 10_000  # object keys in the whole body
NO_RENAMES: Mapping[str, str] = {}


class _TooManyKeys(Exception):
    pass


def _depth(value) -> int:
    """How many objects and arrays are nested inside each other (breadth first, no recursion)."""
    depth, level = 0, [value]
    while level:
        level = [v for v in level if isinstance(v, dict | list)]
        if not level:
            break
        depth += 1
        if depth > MAX_DEPTH:
            break
        level = [child for v in level for child in (v.values() if isinstance(v, dict) else v)]
    return depth


def json_body() -> dict:
    """The request's JSON object; 400 when it is none, or nested or keyed beyond the limits."""
    if not request.is_json:
        raise DomainError("Send a JSON object with Content-Type: application/json.", "body")
    keys = 0

    def counted(pairs: list) -> dict:
        nonlocal keys
        keys += len(pairs)
        if keys > MAX_KEYS:
            raise _TooManyKeys
        return dict(pairs)

    too_deep = DomainError(f"The JSON body is nested more than {MAX_DEPTH} levels deep.", "body")
    try:
        body = json.loads(request.get_data(cache=True), object_pairs_hook=counted)
    except RecursionError:  # deeper than the parser itself goes
        raise too_deep from None
    except _TooManyKeys:
        raise DomainError(f"The JSON body has more than {MAX_KEYS} keys.", "body") from None
    except ValueError:
        body = None
    if _depth(body) > MAX_DEPTH:
        raise too_deep
    if not isinstance(body, dict):  # a malformed request: 400, not 422
        raise DomainError("Send a JSON object with Content-Type: application/json.", "body")
    return body


def objects(body: dict, name: str) -> list[dict]:
    """The list of objects under `name` (empty when absent); 422 naming the list or the item."""
    items = body.get(name) or []
    if not isinstance(items, list):
        raise Invalid(f"{name}: give a list of objects.", name)
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise Invalid(f"{name}[{index}]: must be an object.", name)
    return items


def object_at(body: dict, name: str) -> dict | None:
    """The object under `name`, or None when absent; 422 naming it when it is not an object."""
    value = body.get(name)
    if value is not None and not isinstance(value, dict):
        raise Invalid(f"{name}: must be an object.", name)
    return value


def formdata(body: dict, renamed: Mapping[str, str] = NO_RENAMES) -> MultiDict:
    """JSON values as form data: lists become repeated keys, booleans yes/no, API names form's."""
    form_name = {api: name for name, api in renamed.items()}
    pairs = []
    for key, value in body.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, bool):
                item = "yes" if item else "no"
            text = "" if item is None else str(item)
            if "\x00" in text:  # PostgreSQL cannot store NUL in text
                raise Invalid(f"{key}: NUL characters are not allowed.", key)
            pairs.append((form_name.get(key, key), text))
    return MultiDict(pairs)


def bind(form_class: type[Form], body: dict, renamed: Mapping[str, str] = NO_RENAMES) -> Form:
    """The form filled from a JSON object (no CSRF: bearer tokens are not ambient credentials)."""
    return form_class(formdata=formdata(body, renamed), meta={"csrf": False})


def validated(form: Form, prefix: str = "", renamed: Mapping[str, str] = NO_RENAMES) -> Form:
    """The form once valid; else a 422 naming the first field in error (after `prefix`)."""
    if not form.validate():
        field, message = field_errors(form)[0]
        name = prefix + renamed.get(field.name, field.name)  # the field as the API spells it
        raise Invalid(f"{name}: {message}", name)
    return form


def validate(form_class: type[Form], body: dict, prefix: str = "",
             renamed: Mapping[str, str] = NO_RENAMES) -> Form:
    """Bind a JSON object to a form and validate it (`bind` then `validated`)."""
    return validated(bind(form_class, body, renamed), prefix, renamed)


def query(name: str) -> str:
    """A query-string parameter, stripped ('' when absent)."""
    return request.args.get(name, "").strip()


def commit(action: Callable[[], T]) -> T:
    """Call one service through `lims.forms.run`; a refusal answers its JSON error and status."""
    outcome = run(action)
    if outcome.error is not None:
        error = outcome.error
        abort(make_response(error_response(error.status, error.message, error.field,
                                           error.details())))
    return outcome.value


def created(body: dict):
    """A 201 answer with a JSON body."""
    return jsonify(body), 201


# --- OpenAPI parts ---------------------------------------------------------------------------


def _field_schema(field) -> dict:
    if getattr(field, "json_schema", None):  # a field that says how JSON spells it
        schema = dict(field.json_schema)
    elif isinstance(field, IntegerField):
        schema = {"type": "integer"}
    elif isinstance(field, FloatField):
        schema = {"type": "number"}
    elif isinstance(field, WeightField):
        schema = {"type": ["number", "string"], "hint": "grams, or with a unit: 1.2 kg"}
    elif isinstance(field, LabDateTimeField):
        schema = {"type": "string", "format": "date-time"}
    elif isinstance(field, SelectMultipleField):
        schema = {"type": "array", "items": {"type": "string"}}
    elif isinstance(field, BooleanField) or (
            isinstance(field, RadioField) and {c[0] for c in field.choices} == {"yes", "no"}):
        schema = {"type": "boolean"}
    elif isinstance(field, SelectField) and field.choices:
        schema = {"type": "string", "enum": [c[0] for c in field.choices]}
    else:
        schema = {"type": "string"}
    text = str(field.label.text) + (f": {field.description}" if field.description else "")
    hint = schema.pop("hint", None)
    schema["description"] = f"{text} ({hint})" if hint else text
    return schema


def _required(field) -> bool:
    """Whether a request must carry the field: InputRequired, or DataRequired with no default."""
    flagged = [v for v in field.validators if getattr(v, "field_flags", {}).get("required")]
    return any(isinstance(v, InputRequired) or not field.default for v in flagged)


def form_schema(form_class: type[Form], renamed: Mapping[str, str] = NO_RENAMES,
                skip: Iterable[str] = ()) -> dict:
    """The JSON schema of the body a form validates: its fields, required as its validators say."""
    form = form_class(formdata=None, meta={"csrf": False})
    properties, required = {}, []
    for field in form:
        if field.name == "csrf_token" or field.name in skip or isinstance(field, SubmitField):
            continue
        name = renamed.get(field.name, field.name)
        properties[name] = _field_schema(field)
        if _required(field):
            required.append(name)
    schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def responses(ok: str, ok_schema: dict | None = None, media: str = "application/json",
              errors: tuple[int, ...] = (401, 403, 404)) -> dict:
    """The responses of an operation: its success and the JSON errors it may answer."""
    content = {media: {"schema": ok_schema or {"type": "object"}}}
    out = {ok: {"description": "Success", "content": content}}
    for code in errors:
        out[str(code)] = {"description": "Error", "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return out


def request_body(schema: dict, media: str = "application/json") -> dict:
    """A required request body of one media type."""
    return {"required": True, "content": {media: {"schema": schema}}}


def path_param(name: str, description: str, kind: str = "string") -> dict:
    """A path parameter."""
    return {"name": name, "in": "path", "required": True, "schema": {"type": kind},
            "description": description}


def query_param(name: str, description: str) -> dict:
    """An optional query-string parameter."""
    return {"name": name, "in": "query", "required": False, "schema": {"type": "string"},
            "description": description}


SAMPLE = path_param("lab_number", "Lab number, e.g. CL-2026-000001")
