"""A laboratory with an identified sample: FTIR spectrum, accepted hit, legal status, people."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from lims.db import db
from tests.search.lab import identification_lab


@pytest.fixture
def lab(app, make_user, make_case, make_samples):
    """Chemist Dimitar Ivanov's sample of 100 units with an accepted cocaine hit on its FTIR."""
    from lims.library.services import add_legal_status
    from lims.processing import Recipe
    from lims.search.services import decide_hit, run_search

    base = identification_lab(app, make_user, make_case, make_samples)
    reviewer = make_user("reviewer", username="elena", full_name="Elena Georgieva")
    investigator = make_user("investigator", username="ivan")
    case = make_case(base["tech"], investigators=[investigator],
                     seized_at=datetime(2026, 3, 1, 22, 30, tzinfo=UTC))
    sample = make_samples(base["tech"], case, unit_count=100)[0]
    other = base["sample"]  # a sample of another case, not assigned to the investigator
    with app.app_context():
        from lims.library.services import get_library
        from lims.measurements.services import import_file

        chem = db.session.merge(base["chem"])
        measurement = import_file(chem, db.session.merge(sample), base["spectrum_file"],
                                  "ftir.jdx", None, None)
        spectrum = measurement.spectra[0]
        search = run_search(chem, spectrum, get_library(base["ir"]), algorithm="hqi", top=3,
                            recipe=Recipe())
        decide_hit(chem, search.hits[0], "accepted", "Matches the reference.")
        substance = search.hits[0].entry.substance
        add_legal_status(chem, substance, {
            "regime": "UN Single Convention 1961", "schedule": "Schedule I",
            "effective_from": date(1964, 12, 13), "effective_to": None,
            "reference": "Single Convention"})
        other_search = run_search(chem, db.session.get(type(spectrum), base["spectrum"]),
                                  get_library(base["ir"]), algorithm="hqi", top=3,
                                  recipe=Recipe())
        decide_hit(chem, other_search.hits[0], "accepted", "Matches.")
        db.session.commit()
        ids = {"measurement": measurement.id, "spectrum": spectrum.id, "search": search.id,
               "hit": search.hits[0].id, "rejected_hit": search.hits[1].id,
               "substance": substance.id, "substance_name": substance.name,
               "other_hit": other_search.hits[0].id}
    return {**ids, "chem": base["chem"], "tech": base["tech"], "reviewer": reviewer,
            "investigator": investigator, "sample": sample.lab_number,
            "other_sample": other.lab_number, "case": case.case_number}


def finding_body(lab: dict, *, passing: bool = True) -> dict:
    """A cocaine identification; without the colour test it lacks a second technique."""
    techniques = [{"technique": "IR", "search_hit_id": lab["hit"], "method_ref": "SOP-IR-01 v3"}]
    if passing:
        techniques.append({"technique": "COLOUR", "run": "Scott test plate 7"})
    return {"result": "identified", "limitations": "none",
            "conclusion": "The powder contains cocaine.",
            "same_aliquot_reason": "limited sample" if passing else "",
            "substances": [{"substance_id": lab["substance"], "salt_form": "hydrochloride"}],
            "techniques": techniques}


@pytest.fixture
def make_finding(app, lab):
    """``make_finding(passing=True, author=None, submit=False)``: a finding id, via services."""
    from lims.auth.services import get_user
    from lims.findings import services
    from lims.intake.services import get_sample

    def make(passing: bool = True, author=None, submit: bool = False) -> int:
        with app.app_context():
            actor = get_user((author or lab["chem"]).username)
            finding = services.create_finding(actor, get_sample(actor, lab["sample"]),
                                              finding_body(lab, passing=passing))
            if submit:
                services.submit(actor, finding, "correct horse battery staple")
            db.session.commit()
            return finding.id

    return make
