"""Chain-of-custody rules, through the services and through the API."""

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import func, select

from lims.audit.models import AuditEntry
from lims.auth.models import User
from lims.auth.services import ReauthFailed
from lims.custody.models import CustodyEvent
from lims.custody.services import (
    Party,
    holder_of,
    party_from_key,
    reseal,
    resolve_discrepancy,
    timeline,
    transfer,
)
from lims.db import db
from lims.errors import Conflict, Forbidden, Invalid
from lims.intake.models import Location, Sample
from lims.intake.services import change_status, get_sample, register_subsample, update_sample

SEAL = "BG0071234"


@dataclass
class Lab:
    """People and places of one test: a technician holding one item, a chemist, two stores."""

    tech: User
    chem: User
    sample: Sample
    vault: Location
    safe: Location


@pytest.fixture
def lab(app_ctx, make_user, make_case, make_samples, make_location):
    tech = make_user("technician", "tech")
    chem = make_user("chemist", "chem")
    case = make_case(tech, seals_received=SEAL)
    [sample] = make_samples(tech, case, seal_received=SEAL, seal_intact=True)
    return Lab(tech, chem, sample, make_location("VAULT-A"), make_location("SAFE-1"))


def hand(lab: Lab, actor: User, to: str, *, expected_from: str | None = None,
         seal_found: str | None = None, seal_intact: bool | None = True, commit=True, **kw):
    """Transfer the lab's sample like the views do: seal as expected unless told otherwise."""
    sample = lab.sample
    event = transfer(actor, sample,
                     expected_from=holder_of(sample).key if expected_from is None
                     else expected_from,
                     to=party_from_key(to) if ":" in to else Party(external=to),
                     receiver_password=kw.pop("receiver_password",
                                              "correct horse battery staple"),
                     seal_found=sample.current_seal if seal_found is None else seal_found,
                     seal_intact=seal_intact, **kw)
    if commit:
        db.session.commit()
    return event


def refused(error_type, call, *args, **kwargs):
    """Call a service that must refuse; roll back like the error handler does."""
    with pytest.raises(error_type) as excinfo:
        call(*args, **kwargs)
    db.session.rollback()
    return excinfo.value


def events_of(sample: Sample) -> list[CustodyEvent]:
    return timeline(sample)


# --- receipt and hand-over -------------------------------------------------------------------


def test_registration_is_the_first_link_of_the_chain(lab):
    [receipt] = events_of(lab.sample)
    assert (receipt.event_type, receipt.sequence) == ("receipt", 1)
    assert receipt.from_external == "Insp. Petar Dimov"
    assert receipt.to_user_id == lab.tech.id and receipt.confirmed_by_id == lab.tech.id
    assert (receipt.seal_expected, receipt.seal_found, receipt.seal_ok) == (SEAL, SEAL, True)
    assert holder_of(lab.sample).key == "user:tech"
    assert lab.sample.current_seal == SEAL and not lab.sample.seal_discrepancy


def test_hand_over_to_a_person_confirmed_with_their_password(lab):
    event = hand(lab, lab.tech, "user:chem", weight_mg=1_104_300, note="for GC-MS")
    assert (event.event_type, event.sequence) == ("transfer", 2)
    assert (event.from_user_id, event.to_user_id) == (lab.tech.id, lab.chem.id)
    assert event.confirmed_by_id == lab.chem.id and event.recorded_by_id == lab.tech.id
    assert (event.weight_mg, event.note) == (1_104_300, "for GC-MS")
    assert holder_of(lab.sample).key == "user:chem"
    assert lab.sample.custody_count == 2


def test_a_wrong_receiver_password_writes_no_event_but_counts_the_failure(lab):
    error = refused(ReauthFailed, hand, lab, lab.tech, "user:chem",
                    receiver_password="not my password", commit=False)
    assert (error.status, error.field) == (422, "receiver_password")
    # The views commit what ReauthFailed leaves behind: only the counted failure.
    assert error.keep_writes
    db.session.rollback()
    with pytest.raises(ReauthFailed):
        hand(lab, lab.tech, "user:chem", receiver_password="still wrong", commit=False)
    db.session.commit()
    assert db.session.get(User, lab.chem.id).failed_logins == 1
    assert len(events_of(lab.sample)) == 1
    assert holder_of(lab.sample).key == "user:tech"
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "reauth_failed")) == 1


def test_from_must_be_the_current_holder(lab):
    error = refused(Conflict, hand, lab, lab.tech, "location:VAULT-A",
                    expected_from="user:chem")
    assert (error.status, error.field) == (409, "from")
    assert "Out of order" in error.message and "Test Tech (tech)" in error.message
    assert len(events_of(lab.sample)) == 1


def test_a_duplicate_submission_of_the_same_hand_over_is_refused(lab):
    hand(lab, lab.tech, "user:chem", expected_from="user:tech")
    error = refused(Conflict, hand, lab, lab.tech, "user:chem", expected_from="user:tech")
    assert error.status == 409 and "Out of order" in error.message
    assert len(events_of(lab.sample)) == 2


def test_handing_an_item_to_its_holder_is_refused(lab):
    error = refused(Conflict, hand, lab, lab.tech, "user:tech")
    assert "already held by" in error.message


def test_only_the_holder_can_hand_an_item_over(lab):
    error = refused(Forbidden, hand, lab, lab.chem, "location:VAULT-A")
    assert error.status == 403
    assert holder_of(lab.sample).key == "user:tech"


def test_investigators_do_not_hold_evidence(lab, make_user):
    make_user("investigator", "ivan")
    error = refused(Invalid, party_from_key, "user:ivan")
    assert error.field == "to"


def test_storage_in_and_out_with_a_person_between_locations(lab):
    event = hand(lab, lab.tech, "location:VAULT-A")
    assert event.event_type == "storage_in" and event.confirmed_by_id is None
    assert lab.sample.status == "in_storage"
    assert holder_of(lab.sample).key == "location:VAULT-A"

    error = refused(Conflict, hand, lab, lab.tech, "location:SAFE-1")
    assert "needs a person between" in error.message
    assert holder_of(lab.sample).key == "location:VAULT-A"

    event = hand(lab, lab.chem, "user:chem")
    assert event.event_type == "storage_out" and event.from_location_id == lab.vault.id
    assert event.confirmed_by_id == lab.chem.id
    event = hand(lab, lab.chem, "location:SAFE-1")
    assert holder_of(lab.sample).key == "location:SAFE-1"
    assert [e.event_type for e in events_of(lab.sample)] == [
        "receipt", "storage_in", "storage_out", "storage_in"]


def test_the_current_holder_is_always_the_last_receiver(lab):
    moves = ["user:chem", "location:VAULT-A", "user:tech", "user:chem", "location:SAFE-1"]
    actors = {"user:tech": lab.tech, "user:chem": lab.chem}
    for to in moves:
        holder = holder_of(lab.sample).key
        hand(lab, actors.get(holder, lab.tech), to)
        db.session.expire_all()
        sample = db.session.get(Sample, lab.sample.id)
        last = events_of(sample)[-1]
        assert holder_of(sample).key == to
        assert (last.to_user_id, last.to_location_id) == (
            sample.holder_user_id, sample.holder_location_id)
    sequences = [e.sequence for e in events_of(lab.sample)]
    assert sequences == list(range(1, len(moves) + 2))
    # Every link starts where the previous one ended.
    chain = events_of(lab.sample)
    for before, after in zip(chain, chain[1:], strict=False):
        assert (after.from_user_id, after.from_location_id) == (
            before.to_user_id, before.to_location_id)


def test_event_times_come_from_the_server_clock(lab):
    moment = datetime(2031, 5, 5, 8, 30, tzinfo=UTC)
    with time_machine.travel(moment, tick=False):
        event = hand(lab, lab.tech, "user:chem")
    assert db.session.get(CustodyEvent, event.id).occurred_at == moment


# --- seals -----------------------------------------------------------------------------------


def test_a_matching_intact_seal_passes(lab):
    event = hand(lab, lab.tech, "user:chem", seal_found=" bg 0071234 ")
    assert (event.seal_expected, event.seal_found, event.seal_ok) == (SEAL, SEAL, True)
    assert not lab.sample.seal_discrepancy


def test_the_seal_found_must_be_given(lab):
    error = refused(Invalid, hand, lab, lab.tech, "user:chem", seal_found="")
    assert error.field == "seal_found" and SEAL in error.message
    error = refused(Invalid, hand, lab, lab.tech, "user:chem", seal_intact=None)
    assert error.field == "seal_intact"
    assert len(events_of(lab.sample)) == 1


@pytest.mark.parametrize(
    ("seal_found", "intact", "problem"),
    [("BG0099999", True, "found where BG0071234 was expected"),
     (SEAL, False, "found broken")],
)
def test_a_seal_problem_is_recorded_and_blocks_the_sample_until_resolved(
        lab, seal_found, intact, problem):
    event = hand(lab, lab.tech, "user:chem", seal_found=seal_found, seal_intact=intact)
    # The event is recorded as it happened: the chemist received the item.
    assert event.seal_ok is False and event.seal_found == seal_found
    assert holder_of(lab.sample).key == "user:chem"
    assert problem in lab.sample.seal_discrepancy

    chem, sample = lab.chem, lab.sample
    blocked = [
        lambda: hand(lab, chem, "location:VAULT-A"),
        lambda: hand(lab, chem, "Owner Ltd", final="return"),
        lambda: change_status(chem, sample, "in_analysis", "start the analysis"),
        lambda: update_sample(lab.tech, sample, {"description": "changed"}, "typo"),
        lambda: register_subsample(chem, sample, {"description": "0.5 g"}),
        lambda: reseal(chem, sample, seal_found=seal_found, seal_intact=True,
                       new_seal="LAB-000001"),
    ]
    for step in blocked:
        error = refused(Conflict, step)
        assert error.status == 409 and "unresolved seal discrepancy" in error.message
    assert len(events_of(sample)) == 2

    error = refused(Invalid, resolve_discrepancy, chem, sample, "ok")
    assert error.field == "reason"
    resolution = resolve_discrepancy(chem, sample, "Customs confirmed the seal was replaced "
                                                   "at the border (record 17/2026).")
    db.session.commit()
    assert resolution.event_type == "seal_resolution" and resolution.sequence == 3
    assert not sample.seal_discrepancy
    assert holder_of(sample).key == "user:chem"
    entry = db.session.scalar(select(AuditEntry).where(
        AuditEntry.field == "seal_discrepancy", AuditEntry.old_value != ""))
    assert entry.reason.startswith("Customs confirmed") and entry.new_value == ""
    refused(Conflict, resolve_discrepancy, chem, sample, "nothing left to resolve here")

    change_status(chem, sample, "in_analysis", "start the analysis")
    db.session.commit()
    assert sample.status == "in_analysis"


def test_a_seal_mismatch_at_registration_blocks_the_new_sample(app_ctx, make_user, make_case,
                                                               make_samples):
    tech = make_user("technician", "tech")
    case = make_case(tech, seals_received="BG0071234,BG0071235")
    [ok, bad] = make_samples(tech, case, 1, seal_received="BG0071235", seal_intact=True) + \
        make_samples(tech, case, 1, seal_received="XX1", seal_intact=True)
    assert not ok.seal_discrepancy
    assert "BG0071234 or BG0071235" in bad.seal_discrepancy
    refused(Conflict, change_status, tech, bad, "in_storage", "into the vault")


def test_a_new_seal_becomes_the_current_seal(lab):
    event = reseal(lab.tech, lab.sample, seal_found=SEAL, seal_intact=True,
                   new_seal="lab-000001", weight_mg=1_000)
    db.session.commit()
    assert (event.event_type, event.seal_found, event.new_seal) == (
        "reseal", SEAL, "LAB-000001")
    assert lab.sample.current_seal == "LAB-000001"
    # The old seal no longer matches.
    hand(lab, lab.tech, "user:chem", seal_found=SEAL)
    assert "LAB-000001 was expected" in lab.sample.seal_discrepancy


def test_a_hand_over_can_apply_a_new_seal(lab):
    hand(lab, lab.tech, "user:chem", new_seal="LAB-000002")
    assert lab.sample.current_seal == "LAB-000002"
    event = hand(lab, lab.chem, "location:VAULT-A", seal_found="LAB-000002")
    assert event.seal_expected == "LAB-000002" and event.seal_ok


def test_only_the_holder_can_reseal(lab):
    refused(Forbidden, reseal, lab.chem, lab.sample, seal_found=SEAL, seal_intact=True,
            new_seal="LAB-1")
    error = refused(Invalid, reseal, lab.tech, lab.sample, seal_found=SEAL, seal_intact=True,
                    new_seal=" ")
    assert error.field == "new_seal"


# --- leaving the laboratory ------------------------------------------------------------------


def assert_everything_refused(lab: Lab, status: str) -> None:
    sample = lab.sample
    steps = [
        lambda: hand(lab, lab.tech, "user:chem", expected_from=holder_of(sample).key),
        lambda: change_status(lab.tech, sample, "in_storage", "back"),
        lambda: update_sample(lab.tech, sample, {"notes": "x"}, "late note"),
        lambda: register_subsample(lab.tech, sample, {"description": "a bit"}),
        lambda: reseal(lab.tech, sample, seal_found=SEAL, seal_intact=True, new_seal="L-9"),
        lambda: hand(lab, lab.tech, "Someone", final="return"),
    ]
    for step in steps:
        error = refused(Conflict, step)
        assert error.status == 409 and f"is {status}" in error.message, error.message


def test_return_to_the_owner_is_final(lab):
    event = hand(lab, lab.tech, "Sofia Trading Ltd (owner)", final="return",
                 note="released by prosecutor's order 12/2026")
    assert event.event_type == "return" and event.to_external == "Sofia Trading Ltd (owner)"
    assert lab.sample.status == "returned"
    assert holder_of(lab.sample).key == ""
    assert_everything_refused(lab, "returned")


def test_destruction_needs_a_witness_and_is_final(lab):
    error = refused(Conflict, hand, lab, lab.tech, "Commission 4/2026", final="destruction",
                    witness="Insp. Dimov")
    assert "cannot be destroyed" in error.message  # a registered item is not yet in storage
    hand(lab, lab.tech, "location:VAULT-A")
    error = refused(Invalid, hand, lab, lab.tech, "Commission 4/2026", final="destruction")
    assert error.field == "witness"
    refused(Invalid, hand, lab, lab.tech, " ", final="destruction", witness="Insp. Dimov")
    event = hand(lab, lab.tech, "Commission 4/2026", final="destruction",
                 witness="Insp. Dimov")
    assert event.event_type == "destruction" and event.witness == "Insp. Dimov"
    assert event.from_location_id == lab.vault.id
    assert lab.sample.status == "destroyed"
    assert_everything_refused(lab, "destroyed")


# --- sub-samples -----------------------------------------------------------------------------


def test_sub_samples_and_aliquots_are_numbered_from_their_parent(lab):
    parent = lab.sample
    first = register_subsample(lab.tech, parent, {"description": "2 g for GC-MS",
                                                  "net_weight_mg": 2000})
    second = register_subsample(lab.tech, parent, {"description": "2 g reserve"})
    aliquot = register_subsample(lab.tech, first, {"description": "0.1 g"})
    second_aliquot = register_subsample(lab.tech, first, {"description": "0.1 g"})
    db.session.commit()
    assert first.lab_number == f"{parent.lab_number}.1"
    assert second.lab_number == f"{parent.lab_number}.2"
    assert aliquot.lab_number == f"{parent.lab_number}.1.1"
    assert second_aliquot.lab_number == f"{parent.lab_number}.1.2"
    assert (first.kind, aliquot.kind) == ("subsample", "aliquot")
    assert aliquot.parent_id == first.id and first.parent_id == parent.id
    assert first.case_id == parent.case_id
    # A sub-sample starts its own chain in the hands of whoever took it.
    [receipt] = events_of(aliquot)
    assert receipt.from_external == f"taken from {first.lab_number}"
    assert holder_of(aliquot).key == "user:tech"


def test_only_the_holder_can_take_a_sub_sample(lab):
    error = refused(Conflict, register_subsample, lab.chem, lab.sample, {"description": "x"})
    assert "Only the current holder" in error.message
    hand(lab, lab.tech, "user:chem")
    child = register_subsample(lab.chem, lab.sample, {"description": "x"})
    assert child.lab_number.endswith(".1")
    hand(lab, lab.chem, "location:VAULT-A")
    refused(Conflict, register_subsample, lab.chem, lab.sample, {"description": "y"})


# --- through the API -------------------------------------------------------------------------


@pytest.fixture
def desk(app, client, api, api_token, make_user, make_case, make_samples, make_location):
    """API clients for a technician holding one sealed item, and a chemist."""
    tech = make_user("technician", "tech")
    make_user("chemist", "chem")
    case = make_case(tech, seals_received=SEAL)
    [sample] = make_samples(tech, case, seal_received=SEAL, seal_intact=True)
    make_location("VAULT-A")
    make_location("SAFE-1")
    return {"tech": api(client, api_token("tech")), "chem": api(app.test_client(),
                                                                 api_token("chem")),
            "url": f"/samples/{sample.lab_number}", "lab_number": sample.lab_number}


def post_custody(desk, who: str, **body):
    payload = {"seal_found": SEAL, "seal_intact": True, **body}
    return desk[who].post(f"{desk['url']}/custody", json=payload)


def holder(desk) -> str:
    return desk["tech"].get(desk["url"]).json["current_holder"]["key"]


def test_api_hand_over_and_continuity(desk, password):
    response = post_custody(desk, "tech", **{"from": "user:tech", "to": "user:chem",
                                             "receiver_password": password})
    assert response.status_code == 201, response.json
    assert response.json["current_holder"] == "user:chem"

    duplicate = post_custody(desk, "tech", **{"from": "user:tech", "to": "user:chem",
                                              "receiver_password": password})
    assert duplicate.status_code == 409
    assert duplicate.json["field"] == "from" and "Out of order" in duplicate.json["error"]
    assert "Test Chem (chem)" in duplicate.json["error"]

    response = post_custody(desk, "chem", **{"from": "user:chem", "to": "location:VAULT-A"})
    assert response.status_code == 201 and response.json["type"] == "storage_in"
    response = post_custody(desk, "chem", **{"from": "location:VAULT-A",
                                             "to": "location:SAFE-1"})
    assert response.status_code == 409 and "person between" in response.json["error"]
    assert holder(desk) == "location:VAULT-A"
    events = desk["tech"].get(desk["url"]).json["custody"]
    assert [e["type"] for e in events] == ["receipt", "transfer", "storage_in"]


def test_api_wrong_receiver_password_counts_the_failure(app, desk):
    response = post_custody(desk, "tech", **{"from": "user:tech", "to": "user:chem",
                                             "receiver_password": "guess"})
    assert response.status_code == 422 and response.json["field"] == "receiver_password"
    assert holder(desk) == "user:tech"
    with app.app_context():
        chem = db.session.scalar(select(User).where(User.username == "chem"))
        assert chem.failed_logins == 1
        assert db.session.scalar(select(func.count()).select_from(CustodyEvent)) == 1


def test_api_client_times_are_ignored(app, desk, password):
    moment = datetime(2031, 5, 5, 8, 30, tzinfo=UTC)
    with time_machine.travel(moment, tick=False):
        response = post_custody(desk, "tech", **{
            "from": "user:tech", "to": "user:chem", "receiver_password": password,
            "occurred_at": "2001-01-01T00:00:00Z", "sequence": 99})
    assert response.status_code == 201
    assert datetime.fromisoformat(response.json["occurred_at"]) == moment
    assert response.json["sequence"] == 2


def test_api_seal_mismatch_blocks_until_resolved(app, desk, password):
    response = post_custody(desk, "tech", **{"from": "user:tech", "to": "user:chem",
                                             "receiver_password": password,
                                             "seal_found": "BG0000000"})
    assert response.status_code == 201
    assert response.json["seal_ok"] is False
    sample = desk["tech"].get(desk["url"]).json
    assert "BG0000000" in sample["seal_discrepancy"]

    response = post_custody(desk, "chem", **{"from": "user:chem", "to": "location:VAULT-A",
                                             "seal_found": "BG0000000"})
    assert response.status_code == 409
    assert "unresolved seal discrepancy" in response.json["error"]
    with app.app_context():
        chem = db.session.scalar(select(User).where(User.username == "chem"))
        resolve_discrepancy(chem, get_sample(chem, desk["lab_number"]),
                            "Seal replaced by customs, see record 17/2026.")
        db.session.commit()
    response = post_custody(desk, "chem", **{"from": "user:chem", "to": "location:VAULT-A",
                                             "seal_found": "BG0000000"})
    assert response.status_code == 201, response.json


CUSTODY_INPUT_ERRORS = [
        ({"to": "user:chem"}, 422, "from"),
        ({"from": "user:tech"}, 422, "to"),
        ({"from": "user:tech", "to": "chem"}, 422, "to"),
        ({"from": "user:tech", "to": "user:nobody"}, 422, "to"),
        ({"from": "user:tech", "to": "location:NOWHERE"}, 422, "to"),
        ({"from": "user:tech", "final": "destruction", "recipient": "Commission",
          "witness": "Insp. Dimov"}, 409, "event_type"),
        ({"from": "user:tech", "final": "return"}, 422, "recipient"),
        ({"from": "user:tech", "final": "burn", "recipient": "x"}, 422, "final"),
        ({"from": "user:tech", "to": "location:VAULT-A", "seal_found": ""}, 422,
         "seal_found"),
        ({"from": "user:tech", "to": "location:VAULT-A", "seal_found": "BG 00/71*234"}, 422,
         "seal_found"),
        ({"from": "user:tech", "to": "location:VAULT-A", "new_seal": "ÄÖ"}, 422, "new_seal"),
        ({"from": "user:tech", "to": "location:VAULT-A", "weight_g": "-1"}, 422, "weight_g"),
        ({"from": "user:tech", "to": "user:chem", "receiver_password": "\x00"}, 422,
         "receiver_password"),
]


def test_api_custody_input_errors(desk, subtests):
    for body, status, field in CUSTODY_INPUT_ERRORS:
        with subtests.test(body=body):
            response = post_custody(desk, "tech", **body)
            assert response.status_code == status, response.json
            assert response.json["field"] == field
            assert holder(desk) == "user:tech"


def test_api_return_and_destruction(desk, password):
    response = post_custody(desk, "tech", **{"from": "user:tech", "to": "location:VAULT-A"})
    assert response.status_code == 201
    response = post_custody(desk, "tech", **{"from": "location:VAULT-A",
                                             "final": "destruction", "recipient": "Commission"})
    assert response.status_code == 422 and response.json["field"] == "witness"
    response = post_custody(desk, "tech", **{"from": "location:VAULT-A", "final": "destruction",
                                             "recipient": "Commission 4/2026",
                                             "witness": "Insp. Dimov"})
    assert response.status_code == 201, response.json
    assert response.json["type"] == "destruction" and response.json["current_holder"] == ""
    sample = desk["tech"].get(desk["url"]).json
    assert sample["status"] == "destroyed"
    response = post_custody(desk, "tech", **{"from": "", "to": "user:chem",
                                             "receiver_password": password})
    assert response.status_code in (409, 422)
    response = post_custody(desk, "tech", **{"from": "external:x", "to": "user:chem",
                                             "receiver_password": password})
    assert response.status_code == 409 and "destroyed" in response.json["error"]
