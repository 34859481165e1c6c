"""Instrument administration, uploads with preview, measurement pages and raw downloads."""

from __future__ import annotations

from flask import Blueprint, Response, flash, g, redirect, render_template, url_for

from lims.auth.access import can, permission_required, require
from lims.db import utcnow
from lims.files import raw_response
from lims.forms import attempt, committed, form_status
from lims.intake.services import get_sample
from lims.measurements import services
from lims.measurements.forms import DecisionForm, InstrumentForm, UploadForm
from lims.pdf import data_uri
from lims.plots import spectrum_figure, to_png

bp = Blueprint("measurements", __name__)


def _thumbnail(spectrum) -> bytes:
    return to_png(spectrum_figure(spectrum.x, spectrum.y, x_unit=spectrum.x_unit,
                                  y_unit=spectrum.y_unit, technique=spectrum.technique,
                                  kind=spectrum.kind))


def _instrument(name: str):
    return services.get_instrument(name) if name else None


@bp.route("/instruments", methods=["GET", "POST"])
@permission_required("instrument.view")
def instruments():
    """The laboratory's instruments; administrators register new ones."""
    form = InstrumentForm()
    if form.validate_on_submit():
        require(g.user, "instrument.manage")
        done = attempt(form, lambda: services.create_instrument(g.user, form.instrument_data()))
        if done.ok:
            flash(f"Instrument {done.value.name} registered.")
            return redirect(url_for("measurements.instruments"))
    return render_template("measurements/instruments.html", form=form,
                           instruments=services.list_instruments(), today=utcnow().date(),
                           can_manage=can(g.user, "instrument.manage")), form_status(form)


@bp.route("/instruments/<name>/edit", methods=["GET", "POST"])
@permission_required("instrument.manage")
def edit_instrument(name: str):
    """Change an instrument, e.g. its calibration due date, with a reason."""
    instrument = services.get_instrument(name)
    form = InstrumentForm(obj=instrument)
    if form.validate_on_submit() and attempt(form, lambda: services.update_instrument(
            g.user, instrument, form.instrument_data(), form.reason.data)).ok:
        flash(f"Instrument {instrument.name} saved.")
        return redirect(url_for("measurements.instruments"))
    return render_template("measurements/instrument_edit.html", form=form,
                           instrument=instrument), form_status(form)


def _upload_form() -> UploadForm:
    form = UploadForm()
    form.instrument.choices = [("", "—")] + [(i.name, f"{i.name} ({i.technique})")
                                             for i in services.list_instruments(True)]
    return form


@bp.route("/samples/<lab_number>/measurements/new", methods=["GET", "POST"])
@permission_required("measurement.upload")
def upload(lab_number: str):
    """Upload an instrument file and preview what it holds before saving anything."""
    sample = get_sample(g.user, lab_number)
    form = _upload_form()
    if form.validate_on_submit():
        data = form.file.data.read()
        filename = form.file.data.filename or "upload"
        # An unreadable file keeps its audit entry (the refusal keeps its writes).
        done = attempt(form, lambda: services.preview_upload(
            g.user, sample, data, filename, form.adapter.data or None,
            _instrument(form.instrument.data)))
        if done.ok:
            preview = done.value
            decision = DecisionForm(sha256=preview.sha256, filename=filename,
                                    adapter=form.adapter.data,
                                    instrument=form.instrument.data)
            thumbnails = [data_uri(_thumbnail(s)) for s in preview.result.spectra[:24]]
            return render_template("measurements/preview.html", sample=sample,
                                   preview=preview, decision=decision,
                                   thumbnails=thumbnails)
    return render_template("measurements/upload.html", form=form, sample=sample), \
        form_status(form)


@bp.route("/samples/<lab_number>/measurements/decide", methods=["POST"])
@permission_required("measurement.upload")
def decide(lab_number: str):
    """Accept (save) or reject (discard, audited) a previewed upload."""
    sample = get_sample(g.user, lab_number)
    form = DecisionForm()
    if not form.validate_on_submit():
        flash("The preview is incomplete; upload the file again.", "error")
        return redirect(url_for("measurements.upload", lab_number=sample.lab_number))
    if form.decision.data == "reject":
        committed(lambda: services.reject_upload(g.user, sample, form.sha256.data,
                                                 form.filename.data, form.reason.data))
        flash(f"{form.filename.data} rejected; nothing was saved.")
        return redirect(url_for("intake.sample", lab_number=sample.lab_number))
    measurement = committed(lambda: services.accept_upload(
        g.user, sample, form.sha256.data, form.filename.data, form.adapter.data or None,
        _instrument(form.instrument.data)))
    flash(f"{measurement.original_filename} saved with {len(measurement.spectra)} "
          "spectrum(s).")
    return redirect(url_for("measurements.measurement", measurement_id=measurement.id))


@bp.route("/measurements/<int:measurement_id>")
@permission_required("measurement.view")
def measurement(measurement_id: int):
    """One measurement: instrument, calibration status, spectra, warnings, raw file."""
    return render_template("measurements/measurement.html",
                           measurement=services.get_measurement(g.user, measurement_id))


@bp.route("/measurements/<int:measurement_id>/raw")
@permission_required("measurement.view")
def raw(measurement_id: int):
    """The uploaded file exactly as received."""
    measurement = services.get_measurement(g.user, measurement_id)
    return raw_response(services.raw_bytes(measurement), measurement.original_filename,
                        measurement.raw_sha256)


@bp.route("/spectra/<int:spectrum_id>.png")
@permission_required("measurement.view")
def thumbnail(spectrum_id: int):
    """A small plot of one spectrum."""
    spectrum = services.get_spectrum(g.user, spectrum_id)
    return Response(_thumbnail(spectrum), mimetype="image/png",
                    headers={"Cache-Control": "private, max-age=3600"})
