"""One scoping rule for investigators (visible_to) and one audit of their reads (record_access)."""

from sqlalchemy import select

from lims.audit.models import AuditEntry
from lims.auth.access import record_access, visible_to
from lims.db import db
from lims.intake.models import Case, Sample


def test_an_investigator_sees_the_cases_and_items_assigned_and_staff_see_all(
        app_ctx, make_user, make_case, make_samples):
    tech = make_user("technician")
    inv = make_user("investigator")
    mine = make_case(tech, investigators=[inv])
    other = make_case(tech)
    make_samples(tech, mine, n=2)
    make_samples(tech, other, n=3)

    cases = set(db.session.scalars(visible_to(inv, select(Case))))
    assert cases == {db.session.get(Case, mine.id)}
    assert len(db.session.scalars(visible_to(inv, select(Sample))).all()) == 2
    assert len(db.session.scalars(visible_to(tech, select(Sample))).all()) == 5
    assert {c.case_number for c in db.session.scalars(visible_to(tech, select(Case)))} == {
        mine.case_number, other.case_number}


def test_only_an_investigators_look_at_a_case_is_audited(app_ctx, make_user, make_case):
    tech = make_user("technician")
    inv = make_user("investigator")
    case = db.session.get(Case, make_case(tech, investigators=[inv]).id)
    record_access(tech, case, "portal_case_viewed")
    record_access(inv, case, "portal_case_viewed", "from the portal")
    db.session.flush()
    looks = db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "portal_case_viewed")).all()
    assert [(e.user_id, e.case_id, e.new_value) for e in looks] == [
        (inv.id, case.id, "from the portal")]
