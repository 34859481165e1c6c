"""Statistics pages for the head of the laboratory: charts, tables and CSV downloads."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, render_template, request

from lims.auth.access import permission_required
from lims.db import utcnow
from lims.errors import Invalid, NotFound
from lims.files import content_disposition
from lims.forms import apply_error, field_errors, form_errors
from lims.plots import to_png
from lims.stats import services
from lims.stats.forms import PeriodForm

bp = Blueprint("stats", __name__)


def _period(form: PeriodForm) -> services.Period:
    """The period of a validated form; Invalid names the field in error."""
    if not form.validate():
        field, message = field_errors(form)[0]
        raise Invalid(f"{field.label.text}: {message}", field.short_name)
    tz = current_app.config["LIMS"].timezone
    return services.make_period(form.start.data, form.end.data,
                                today=utcnow().astimezone(tz).date(), tz=tz)


def _statistic(name: str) -> str:
    if name not in services.STATISTICS:
        raise NotFound(f"No statistic {name!r}; choose one of "
                       f"{', '.join(services.STATISTICS)}.")
    return name


@bp.route("/statistics")
@permission_required("stats.view")
def overview():
    """Every statistic of a period (default the last twelve months) with its chart."""
    form = PeriodForm(request.args)
    try:
        period = _period(form)
    except Invalid as error:
        if not form_errors(form):
            apply_error(form, error)
        return render_template("stats/overview.html", form=form, period=None), error.status
    query = {"from": period.start.isoformat(), "to": period.end.isoformat()}
    form.start.data, form.end.data = period.start, period.end
    return render_template(
        "stats/overview.html", form=form, period=period, query=query,
        names=services.STATISTICS, weeks=services.samples_per_week(period),
        turnaround=services.turnaround(period),
        per_month=services.substances_per_month(period),
        per_office=services.substances_per_office(period))


@bp.route("/statistics/<statistic>.png")
@permission_required("stats.view")
def chart(statistic: str):
    """One statistic as a PNG chart."""
    period = _period(PeriodForm(request.args))
    figure = services.statistic_figure(_statistic(statistic), period)
    return Response(to_png(figure), mimetype="image/png")


@bp.route("/statistics/<statistic>.csv")
@permission_required("stats.view")
def table(statistic: str):
    """One statistic as CSV."""
    period = _period(PeriodForm(request.args))
    body = services.statistic_csv(_statistic(statistic), period)
    filename = f"{statistic}-{period.start:%Y%m%d}-{period.end:%Y%m%d}.csv"
    return Response(body, mimetype="text/csv; charset=utf-8", headers={
        "Content-Disposition": content_disposition(filename)})
