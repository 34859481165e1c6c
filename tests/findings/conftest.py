"""The findings tests start from the identified sample (tests/scenarios.py)."""

from __future__ import annotations

import pytest

from lims.db import db


@pytest.fixture
def lab(identified):
    """Chemist Dimitar Ivanov's sample of 100 units with an accepted cocaine hit on its FTIR."""
    return identified


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
