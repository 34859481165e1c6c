"""Investigator pages: my cases, one case's progress, its certificates and custody chain."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, render_template, url_for

from lims.auth.access import permission_required, record_access
from lims.certificates.services import list_certificates
from lims.custody.services import timeline
from lims.forms import committed
from lims.intake.services import get_case
from lims.plots import timeline_figure, to_png
from lims.portal import services

bp = Blueprint("portal", __name__)


def _certificate_rows(certificates: list) -> list[dict]:
    return [{"number": c.number, "status": c.status, "issued_at": c.issued_at,
             "amends": c.amends_id is not None,
             "page": url_for("certificates.certificate", number=c.number),
             "pdf": url_for("certificates.download", number=c.number)} for c in certificates]


@bp.route("/portal")
@permission_required("portal.view")
def cases():
    """The investigator's cases with their progress."""
    return render_template("portal/cases.html", rows=services.my_cases(g.user))


@bp.route("/portal/cases/<case_number>")
@permission_required("portal.view")
def case(case_number: str):
    """One case: status timeline (picture and list), certificates, link to the custody chain."""
    case = get_case(g.user, case_number)
    steps = services.case_timeline(case)
    certificates = _certificate_rows(list_certificates(g.user, case))
    committed(lambda: record_access(g.user, case, "portal_case_viewed"))
    return render_template("portal/case.html", case=case, steps=steps,
                           certificates=certificates, verify_url=url_for("certificates.verify"))


@bp.route("/portal/cases/<case_number>/timeline.png")
@permission_required("portal.view")
def timeline_png(case_number: str):
    """The case's timeline as a picture (part of the case page, which is audited)."""
    case = get_case(g.user, case_number)
    steps = services.case_timeline(case)
    figure = timeline_figure([(s.at, s.lane, s.kind) for s in steps],
                             services.timeline_lanes(case, steps),
                             tz=current_app.config["LIMS"].timezone)
    return Response(to_png(figure), mimetype="image/png")


@bp.route("/portal/cases/<case_number>/custody")
@permission_required("portal.view")
def custody(case_number: str):
    """The chain of custody of every item of the case."""
    case = get_case(g.user, case_number)
    chains = [(sample, timeline(sample)) for sample in case.samples]
    committed(lambda: record_access(g.user, case, "portal_custody_viewed"))
    return render_template("portal/custody.html", case=case, chains=chains)
