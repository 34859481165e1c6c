"""JSON API v1 for customs systems, scanners and integrations (bearer tokens)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, jsonify, request, url_for
from werkzeug.datastructures import MultiDict

from lims.api.openapi import RENAMED, openapi_document
from lims.auth.access import login_required, require
from lims.custody import services as custody
from lims.custody.forms import CustodyRequest
from lims.db import db
from lims.errors import DomainError, Invalid
from lims.files import raw_response
from lims.forms import field_errors
from lims.intake import services as intake
from lims.intake.forms import CaseForm, ItemForm
from lims.intake.labels import label_dicts, render_labels
from lims.library import services as library
from lims.measurements import services as measurements
from lims.search import services as searches
from lims.search.forms import SearchRequest
from lims.spectra.processing import Recipe

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def _settings():
    return current_app.config["LIMS"]


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):  # a malformed request: 400, not 422
        raise DomainError("Send a JSON object with Content-Type: application/json.", "body")
    return body


def _formdata(body: dict) -> MultiDict:
    """JSON values as form data: lists become repeated keys, booleans yes/no."""
    pairs = []
    for key, value in body.items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, bool):
                item = "yes" if item else "no"
            text = "" if item is None else str(item)
            if "\x00" in text:  # PostgreSQL cannot store NUL in text
                raise Invalid(f"{key}: NUL characters are not allowed.", key)
            pairs.append((key, text))
    return MultiDict(pairs)


def _validated(form, prefix: str = ""):
    """Raise the first field error as a 422 naming the field (after `prefix`, e.g. an item)."""
    if not form.validate():
        field, message = field_errors(form)[0]
        name = prefix + RENAMED.get(field.name, field.name)  # the field as the API spells it
        raise Invalid(f"{name}: {message}", name)
    return form


def _sample_json(sample) -> dict:
    holder = custody.holder_of(sample)
    return {
        "lab_number": sample.lab_number,
        "case_number": sample.case.case_number,
        "kind": sample.kind,
        "parent": sample.parent.lab_number if sample.parent else None,
        "description": sample.description,
        "packaging": sample.packaging,
        "unit_count": sample.unit_count,
        "gross_weight_mg": sample.gross_weight_mg,
        "net_weight_mg": sample.net_weight_mg,
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


@bp.route("/openapi.json")
@login_required
def openapi():
    """The OpenAPI 3.1 description of this API."""
    return jsonify(openapi_document())


@bp.route("/cases", methods=["POST"])
@login_required
def create_case():
    """Register a case from a customs system."""
    require(g.user, "case.create")
    body = _json_body()
    form = _validated(CaseForm(formdata=_formdata(body), meta={"csrf": False}))
    chosen = body.get("investigators") or []
    if not isinstance(chosen, list) or not all(isinstance(u, str) for u in chosen):
        raise Invalid("investigators: give a list of usernames.", "investigators")
    chosen = set(chosen)
    found = [u for u in intake.investigators() if u.username in chosen]
    missing = chosen - {u.username for u in found}
    if missing:
        raise Invalid(f"investigators: no investigator {sorted(missing)[0]!r}.", "investigators")
    case = intake.create_case(g.user, form.case_data(),
                              case_prefix=_settings().case_number_prefix, investigators=found)
    db.session.commit()
    return jsonify({"case_number": case.case_number,
                    "url": url_for("intake.case", case_number=case.case_number,
                                   _external=True)}), 201


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
    body = _json_body()
    raw_items = body["items"] if isinstance(body.get("items"), list) else [body]
    locations = {loc.code: loc.id for loc in intake.active_locations()}
    items = []
    for index, raw in enumerate(raw_items):
        if not isinstance(raw, dict):
            raise Invalid(f"items[{index}] must be an object.", "items")
        raw = dict(raw)
        for unit in ("gross_weight", "net_weight"):
            if f"{unit}_g" in raw:
                raw[unit] = raw.pop(f"{unit}_g")
        form = ItemForm(formdata=_formdata(raw))
        form.storage_location.choices = [(c, c) for c in locations]
        prefix = f"items[{index}]." if len(raw_items) > 1 else ""
        _validated(form, prefix)
        if not (form.description.data or "").strip():
            raise Invalid(f"{prefix}description: describe the item.", prefix + "description")
        if form.storage_location.data and form.storage_location.data not in locations:
            raise Invalid(f"{prefix}storage_location: unknown location "
                          f"{form.storage_location.data!r}.", prefix + "storage_location")
        items.append(form.item_data(locations))
    samples = intake.register_samples(g.user, case, items,
                                      lab_prefix=_settings().lab_number_prefix)
    db.session.commit()
    return jsonify({"lab_number": samples[0].lab_number,
                    "lab_numbers": [s.lab_number for s in samples]}), 201


@bp.route("/samples/<lab_number>", methods=["GET"])
@login_required
def get_sample(lab_number: str):
    """A sample with its custody events and current holder."""
    sample = intake.get_sample(g.user, lab_number)
    body = _sample_json(sample)
    body["custody"] = [_event_json(e) for e in custody.timeline(sample)]
    return jsonify(body)


@bp.route("/samples/<lab_number>/label.<fmt>", methods=["POST"])
@login_required
def sample_label(lab_number: str, fmt: str):
    """Print the label as PDF or ZPL (POST: each print is counted); a reprint needs `reason`."""
    require(g.user, "label.print")
    sample = intake.get_sample(g.user, lab_number)
    if fmt not in ("pdf", "zpl"):
        raise Invalid("Labels are label.pdf or label.zpl.", "format")
    intake.record_label_print(g.user, [sample], request.values.get("reason", ""), fmt)
    body, mimetype = render_labels(label_dicts([sample], _settings().timezone), "single", fmt)
    db.session.commit()
    return Response(body, mimetype=mimetype)


@bp.route("/samples/<lab_number>/custody", methods=["POST"])
@login_required
def add_custody(lab_number: str):
    """Record a hand-over; `from` must be the current holder as the client last saw it."""
    require(g.user, "custody.transfer")
    sample = intake.get_sample(g.user, lab_number)
    body = _json_body()
    if "from" in body:
        body["expected_from"] = body.pop("from")
    if "weight_g" in body:
        body["weight"] = body.pop("weight_g")
    form = _validated(CustodyRequest(formdata=_formdata(body)))
    if form.final.data:
        target = custody.Party(external=(form.recipient.data or "").strip())
    else:
        target = custody.party_from_key(form.to.data or "")
    event = custody.transfer(g.user, sample, expected_from=form.expected_from.data, to=target,
                             receiver_password=form.receiver_password.data or "",
                             witness=form.witness.data or "", final=form.final.data or "",
                             **form.seal_values())
    db.session.commit()
    return jsonify({**_event_json(event), "current_holder": custody.holder_of(sample).key}), 201


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
    sample = intake.get_sample(g.user, lab_number)
    upload = request.files.get("file")
    if upload is None:
        raise Invalid("Send the instrument file as multipart field 'file'.", "file")
    instrument_name = request.form.get("instrument", "").strip()
    instrument = measurements.get_instrument(instrument_name) if instrument_name else None
    adapter = request.form.get("adapter", "").strip() or None
    measurement = measurements.import_file(g.user, sample, upload.read(),
                                           upload.filename or "upload", adapter, instrument)
    db.session.commit()
    return jsonify({
        "measurement_id": measurement.id, "sha256": measurement.raw_sha256,
        "format": measurement.adapter, "warnings": measurement.warnings,
        "out_of_calibration": measurement.out_of_calibration,
        "spectra": [_spectrum_summary(s) for s in measurement.spectra]}), 201


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


def _recipe(body: dict) -> Recipe:
    """The optional `recipe` object of a search request (422 naming the bad step)."""
    raw = body.pop("recipe", None)
    if raw is None:
        return Recipe()
    if not isinstance(raw, dict):
        raise Invalid("recipe: send an object such as {\"smoothing_window\": 11}.", "recipe")
    try:
        return Recipe.from_dict(raw)
    except ValueError as error:
        raise Invalid(f"recipe: {error}", "recipe") from error


@bp.route("/spectra/<int:spectrum_id>/search", methods=["POST"])
@login_required
def search_spectrum(spectrum_id: int):
    """Search a spectrum against a library; the search and its hits are stored."""
    require(g.user, "search.run")
    spectrum = measurements.get_spectrum(g.user, spectrum_id)
    body = _json_body()
    recipe = _recipe(body)
    form = _validated(SearchRequest(formdata=_formdata(body), meta={"csrf": False}))
    library_row = library.get_library_by_name(form.library.data,
                                              form.library_version.data or None)
    search = searches.run_search(g.user, spectrum, library_row, algorithm=form.algorithm.data,
                                 top=form.top.data or 10, recipe=recipe)
    db.session.commit()
    return jsonify({
        "search_id": search.id, "url": url_for("search.result", search_id=search.id),
        "spectrum_id": spectrum.id, "library": search.library_name,
        "library_version": search.library_version, "library_sha256": search.library_sha256,
        "algorithm": search.algorithm, "algorithm_label": search.algorithm_label,
        "recipe": search.recipe, "recipe_sha256": search.recipe_sha256,
        "hits": [searches.hit_json(hit, library_row) for hit in search.hits]}), 201
