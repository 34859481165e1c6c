"""The audit trail: what every change writes, mandatory reasons, the hash chain, append-only
tables and fail-closed writes."""

import sys
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from lims.audit import services as audit
from lims.audit.models import AuditEntry
from lims.audit.services import GENESIS_HASH, entry_hash, verify_chain
from lims.custody.models import CustodyEvent
from lims.custody.services import holder_of, party_from_key, resolve_discrepancy, transfer
from lims.db import db
from lims.errors import Invalid
from lims.intake.models import Case, Sample
from lims.intake.services import change_status, update_case, update_sample

MOMENT = datetime(2031, 5, 5, 8, 30, 15, 123456, tzinfo=UTC)


def entries(**where) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.seq)
    for name, value in where.items():
        query = query.where(getattr(AuditEntry, name) == value)
    return list(db.session.scalars(query))


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def tech(make_user):
    return make_user("technician", "tech", full_name="Tanya Petrova")


@pytest.fixture
def item(app_ctx, tech, make_case, make_samples):
    """A registered item (held by the technician) of a fresh case."""
    case = make_case(tech, seals_received="BG0071234")
    [sample] = make_samples(tech, case, seal_received="BG0071234", seal_intact=True)
    return sample


# --- what is written -------------------------------------------------------------------------


def test_creating_a_case_writes_who_when_what(app_ctx, tech, make_case):
    with time_machine.travel(MOMENT, tick=False):
        case = make_case(tech, container_number="CSQU3054383")
    [entry] = entries(entity_type="case")
    assert (entry.action, entry.entity_id, entry.case_id) == ("create", case.case_number,
                                                              case.id)
    assert (entry.user_id, entry.user_name) == (tech.id, "Tanya Petrova (tech)")
    assert entry.recorded_at == MOMENT and entry.recorded_at.utcoffset().total_seconds() == 0
    assert entry.old_value is None and entry.reason is None
    assert '"container_number":"CSQU3054383"' in entry.new_value
    assert '"customs_office":"BG001000 Sofia Airport"' in entry.new_value


def test_registering_a_sample_writes_the_sample_and_its_receipt(item):
    sample_entries = entries(sample_id=item.id)
    assert [(e.action, e.entity_type) for e in sample_entries] == [
        ("create", "sample"), ("custody", "custody_event")]
    created, receipt = sample_entries
    assert created.entity_id == item.lab_number and created.case_id == item.case_id
    assert f'"lab_number":"{item.lab_number}"' in created.new_value
    assert '"status":"registered"' in created.new_value
    assert receipt.entity_id == f"{item.lab_number}#1"
    assert '"type":"receipt"' in receipt.new_value and '"seal_ok":"true"' in receipt.new_value


def test_updates_write_one_entry_per_field_with_old_new_and_reason(item, tech):
    case = db.session.get(Case, item.case_id)
    changes = update_case(tech, case, {"seizure_place": "Kapitan Andreevo",
                                       "hs_code": "09011100",
                                       "customs_office": case.customs_office},
                          reason="corrected from the seizure record")
    update_sample(tech, item, {"net_weight_mg": 998_400, "packaging": "plastic bag"},
                  reason="re-weighed")
    db.session.commit()
    assert set(changes) == {"seizure_place", "hs_code"}
    rows = {(e.entity_type, e.field): e for e in entries(action="update")}
    place = rows["case", "seizure_place"]
    assert (place.old_value, place.new_value, place.reason) == (
        "Sofia Airport, cargo terminal", "Kapitan Andreevo", "corrected from the seizure record")
    assert (rows["case", "hs_code"].old_value, rows["case", "hs_code"].new_value) == (
        "", "09011100")
    weight = rows["sample", "net_weight_mg"]
    assert (weight.old_value, weight.new_value, weight.reason) == (None, "998400", "re-weighed")
    assert weight.entity_id == item.lab_number and weight.sample_id == item.id
    assert set(rows) == {("case", "seizure_place"), ("case", "hs_code"),
                         ("sample", "net_weight_mg")}  # packaging did not change
    assert all(e.user_id == tech.id for e in rows.values())


def test_changing_investigators_is_audited(app_ctx, tech, make_user, make_case):
    ivan, olga = make_user("investigator", "ivan"), make_user("investigator", "olga")
    case = make_case(tech, investigators=[ivan])
    update_case(tech, case, {}, "reassigned by the prosecutor", investigators=[olga, ivan])
    db.session.commit()
    [entry] = entries(field="investigators")
    assert (entry.old_value, entry.new_value) == ('["ivan"]', '["ivan","olga"]')


def test_status_changes_and_custody_are_audited(item, tech, make_user, make_location):
    make_user("chemist", "chem")
    make_location("VAULT-A")
    change_status(tech, item, "in_analysis", "analysis requested")
    transfer(tech, item, expected_from="user:tech", to=party_from_key("user:chem"),
             receiver_password="correct horse battery staple", seal_found="BG0071234",
             seal_intact=True, witness="Insp. Dimov")
    db.session.commit()
    [status] = entries(action="status")
    assert (status.field, status.old_value, status.new_value, status.reason) == (
        "status", "registered", "in_analysis", "analysis requested")
    handover = entries(action="custody")[-1]
    assert handover.entity_id == f"{item.lab_number}#2"
    for fragment in ('"from":"user:tech"', '"to":"user:chem"', '"confirmed_by":"chem"',
                     '"witness":"Insp. Dimov"', '"seal_found":"BG0071234"'):
        assert fragment in handover.new_value


def test_a_seal_discrepancy_and_its_resolution_are_audited(item, tech, make_location):
    make_location("VAULT-A")
    transfer(tech, item, expected_from="user:tech", to=party_from_key("location:VAULT-A"),
             seal_found="XX999", seal_intact=True)
    db.session.commit()
    [flag] = entries(action="seal_discrepancy")
    assert flag.old_value == "" and "XX999" in flag.new_value
    resolve_discrepancy(tech, item, "Seal replaced at the border, record 17/2026.")
    db.session.commit()
    resolution = entries(action="update", field="seal_discrepancy")[-1]
    assert resolution.old_value == flag.new_value and resolution.new_value == ""
    assert resolution.reason == "Seal replaced at the border, record 17/2026."


def test_a_change_after_registration_needs_a_reason(item, tech, subtests):
    before = count(AuditEntry)
    calls = {
        "case": lambda reason: update_case(tech, db.session.get(Case, item.case_id),
                                           {"seizure_place": "elsewhere"}, reason),
        "sample": lambda reason: update_sample(tech, db.session.get(Sample, item.id),
                                               {"description": "changed"}, reason),
        "status": lambda reason: change_status(tech, db.session.get(Sample, item.id),
                                               "in_storage", reason),
    }
    for change, call in calls.items():
        for reason in ("", "   ", None):
            with subtests.test(change=change, reason=reason):
                with pytest.raises(Invalid) as excinfo:
                    call(reason)
                assert (excinfo.value.status, excinfo.value.field) == (422, "reason")
                db.session.rollback()
                db.session.expire_all()
                assert count(AuditEntry) == before
                case = db.session.get(Case, item.case_id)
                assert case.seizure_place == "Sofia Airport, cargo terminal"
                sample = db.session.get(Sample, item.id)
                assert (sample.description, sample.status) == ("Item 1: white powder",
                                                               "registered")


def test_resolving_a_discrepancy_needs_a_real_reason(item, tech, make_location):
    make_location("VAULT-A")
    transfer(tech, item, expected_from="user:tech", to=party_from_key("location:VAULT-A"),
             seal_found="XX999", seal_intact=True)
    db.session.commit()
    before = count(AuditEntry)
    with pytest.raises(Invalid) as excinfo:
        resolve_discrepancy(tech, item, "ok")
    assert excinfo.value.status == 422
    db.session.rollback()
    assert count(AuditEntry) == before and db.session.get(Sample, item.id).seal_discrepancy


def test_unchanged_values_write_nothing_and_need_no_reason(item, tech):
    before = count(AuditEntry)
    assert update_sample(tech, item, {"description": item.description}, "") == {}
    db.session.commit()
    assert count(AuditEntry) == before


def test_api_entries_carry_the_request_ids_and_client_address(app, client, api, api_token,
                                                              tech):
    response = api(client, api_token("tech")).post(
        "/cases", json={"customs_office": "BG001000", "officer_name": "Insp. Dimov",
                        "questions": "What is it?"},
        headers={"X-Request-ID": "scanner-7-000123"}, environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert response.status_code == 201
    with app.app_context():
        [entry] = entries(entity_type="case")
        # The request id is the server's own; the caller's is kept apart, never in its place.
        assert entry.request_id == response.headers["X-Request-ID"] != "scanner-7-000123"
        assert (entry.client_request_id, entry.client_ip) == ("scanner-7-000123", "10.1.2.3")
        assert entry.user_id == tech.id


def test_client_sent_timestamps_are_ignored(app, client, api, api_token, tech, password,
                                            make_user):
    make_user("chemist", "chem")
    forged = "2001-02-03T04:05:06Z"
    with time_machine.travel(MOMENT, tick=False):
        tech_api = api(client, api_token("tech"))  # API tokens expire: made at that moment
        number = tech_api.post("/cases", json={
            "customs_office": "BG001000", "officer_name": "Insp. Dimov", "questions": "?",
            "received_at": forged, "recorded_at": forged, "created_at": forged}).json[
            "case_number"]
        lab_number = tech_api.post(f"/cases/{number}/samples", json={
            "description": "Brick", "created_at": forged, "registered_at": forged}).json[
            "lab_number"]
        response = tech_api.post(f"/samples/{lab_number}/custody", json={
            "from": "user:tech", "to": "user:chem", "receiver_password": password,
            "occurred_at": forged, "recorded_at": forged})
        assert response.status_code == 201
    with app.app_context():
        case = db.session.scalar(select(Case))
        sample = db.session.scalar(select(Sample))
        times = [case.received_at, sample.created_at]
        times += [e.occurred_at for e in db.session.scalars(select(CustodyEvent))]
        written = [e for e in entries() if e.entity_type in ("case", "sample", "custody_event")]
        assert len(written) == 4
        times += [e.recorded_at for e in written]
        assert times and all(t == MOMENT for t in times), times


# --- the hash chain and `lims audit verify` --------------------------------------------------


def test_entries_form_a_hash_chain(item):
    chain = entries()
    assert [e.seq for e in chain] == list(range(1, len(chain) + 1))
    assert chain[0].prev_hash == GENESIS_HASH
    for before, after in zip(chain, chain[1:], strict=False):
        assert after.prev_hash == before.entry_hash
    for entry in chain:
        payload = {name: getattr(entry, name) for name in audit.HASHED_FIELDS}
        assert entry_hash(payload) == entry.entry_hash
    assert verify_chain().ok and verify_chain().checked == len(chain)


def test_audit_verify_exits_0_on_an_intact_chain(app, cli, item):
    result = cli("audit", "verify")
    assert result.exit_code == 0, result.output
    assert f"intact: {count(AuditEntry)} entries" in result.output


def test_audit_verify_on_an_empty_trail(app, cli):
    result = cli("audit", "verify")
    assert result.exit_code == 0 and "intact: 0 entries" in result.output


def drop_append_only_protection(table: str) -> None:
    """What an attacker with the database owner's rights does first."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
    else:
        for action in ("update", "delete"):
            db.session.execute(text(f"DROP TRIGGER {table}_no_{action}"))


@pytest.fixture
def trail(item, tech, make_case, make_samples):
    """Some twenty audit entries, the protection dropped; returns the verify helper."""
    make_samples(tech, db.session.get(Case, item.case_id), 3)
    make_case(tech)
    assert count(AuditEntry) >= 10
    drop_append_only_protection("audit_entry")
    db.session.commit()


def verify_fails_at(cli, seq: int, word: str) -> None:
    result = cli("audit", "verify")
    assert result.exit_code != 0
    output = result.output + (result.stderr or "")
    assert f"BROKEN at entry {seq}:" in output, output
    assert word in output, output


def test_audit_verify_names_an_edited_entry(cli, trail):
    db.session.execute(text("UPDATE audit_entry SET new_value = 'nothing to see' "
                            "WHERE seq = 5"))
    db.session.commit()
    verify_fails_at(cli, 5, "edited")


def test_audit_verify_names_an_entry_edited_with_its_hash_recomputed(cli, trail):
    """Recomputing the edited entry's own hash breaks the link to the next one."""
    entry = db.session.get(AuditEntry, 5)
    payload = {name: getattr(entry, name) for name in audit.HASHED_FIELDS}
    payload["reason"] = "rewritten"
    db.session.execute(text("UPDATE audit_entry SET reason = 'rewritten', entry_hash = :h "
                            "WHERE seq = 5"), {"h": entry_hash(payload)})
    db.session.commit()
    verify_fails_at(cli, 6, "does not follow entry 5")


def test_audit_verify_names_a_deleted_entry(cli, trail):
    db.session.execute(text("DELETE FROM audit_entry WHERE seq = 7"))
    db.session.commit()
    verify_fails_at(cli, 7, "missing")


def test_audit_verify_names_the_first_of_several_deleted_entries(cli, trail):
    db.session.execute(text("DELETE FROM audit_entry WHERE seq IN (3, 4, 9)"))
    db.session.commit()
    verify_fails_at(cli, 3, "missing")


def make_room_at(seq: int) -> None:
    """Shift every entry from seq on by one (highest first, so the key stays unique)."""
    for (later,) in db.session.execute(text(
            "SELECT seq FROM audit_entry WHERE seq >= :s ORDER BY seq DESC"), {"s": seq}):
        db.session.execute(text("UPDATE audit_entry SET seq = seq + 1 WHERE seq = :s"),
                           {"s": later})


def insert_forged(seq: int, prev_hash: str, forge_hash: bool) -> None:
    forged = {"seq": seq, "recorded_at": datetime.now(UTC), "user_id": None,
              "user_name": "system", "action": "update", "entity_type": "sample",
              "entity_id": "CL-2026-000001", "case_id": None, "sample_id": None,
              "field": "net_weight_mg", "old_value": "1000", "new_value": "900",
              "reason": "backdated correction", "request_id": None, "client_ip": None,
              "prev_hash": prev_hash}
    forged["entry_hash"] = entry_hash(forged) if forge_hash else "f" * 64
    db.session.add(AuditEntry(**forged))


def test_audit_verify_names_an_inserted_entry(cli, trail):
    make_room_at(6)
    insert_forged(6, db.session.get(AuditEntry, 5).entry_hash, forge_hash=False)
    db.session.commit()
    verify_fails_at(cli, 6, "edited")


def test_audit_verify_detects_an_insertion_with_a_recomputed_hash(cli, trail):
    """A forger who recomputes the inserted entry's hash is caught at the entry after it."""
    make_room_at(6)
    insert_forged(6, db.session.get(AuditEntry, 5).entry_hash, forge_hash=True)
    db.session.commit()
    assert verify_chain().first_bad_seq in (6, 7)
    result = cli("audit", "verify")
    assert result.exit_code != 0


def test_audit_verify_detects_an_entry_appended_out_of_chain(cli, trail):
    last = db.session.scalar(select(func.max(AuditEntry.seq)))
    insert_forged(last + 1, GENESIS_HASH, forge_hash=True)
    db.session.commit()
    verify_fails_at(cli, last + 1, "does not follow")


def test_audit_verify_detects_reordered_entries(cli, trail):
    db.session.execute(text("UPDATE audit_entry SET seq = -1 WHERE seq = 4"))
    db.session.execute(text("UPDATE audit_entry SET seq = 4 WHERE seq = 5"))
    db.session.execute(text("UPDATE audit_entry SET seq = 5 WHERE seq = -1"))
    db.session.commit()
    verify_fails_at(cli, 4, "edited")


# --- append-only in the database itself ------------------------------------------------------


APPEND_ONLY = {"audit_entry": (AuditEntry, "seq"), "custody_event": (CustodyEvent, "sequence")}
REFUSED = [
    "UPDATE {table} SET {column} = {column}",
    "UPDATE {table} SET note = 'x'",
    "DELETE FROM {table}",
    "DELETE FROM {table} WHERE {column} = (SELECT MAX({column}) FROM {table})",
]


def test_append_only_tables_refuse_update_and_delete(item, subtests):
    for table, (model, column) in APPEND_ONLY.items():
        before = count(model)
        for statement in REFUSED:
            if "note" in statement and table == "audit_entry":
                statement = statement.replace("note", "reason")
            with subtests.test(statement=statement.format(table=table, column=column)):
                with pytest.raises(DBAPIError, match="append-only"):
                    db.session.execute(text(statement.format(table=table, column=column)))
                db.session.rollback()
                assert count(model) == before


def test_append_only_tables_refuse_truncate_on_postgresql(item, subtests):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE exists on PostgreSQL only (SQLite turns it into DELETE)")
    for table, (model, _column) in APPEND_ONLY.items():
        with subtests.test(table=table):
            before = count(model)
            with pytest.raises(DBAPIError, match="append-only"):
                db.session.execute(text(f"TRUNCATE {table} CASCADE"))
            db.session.rollback()
            assert count(model) == before


def test_the_orm_cannot_change_an_entry_either(item):
    entry = entries()[0]
    entry.reason = "changed"
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.commit()
    db.session.rollback()
    db.session.delete(db.session.get(CustodyEvent, 1))
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.commit()
    db.session.rollback()
    assert verify_chain().ok


# --- fail closed -----------------------------------------------------------------------------


def break_audit_record(monkeypatch) -> None:
    """Make every `record()` call fail, wherever it was imported."""

    def fail(*_args, **_kwargs):
        raise RuntimeError("audit store unavailable")

    original = audit.record
    patched = [name for name, module in list(sys.modules.items())
               if name.startswith("lims") and getattr(module, "record", None) is original]
    for name in patched:
        monkeypatch.setattr(sys.modules[name], "record", fail)
    assert {"lims.intake.services", "lims.custody.services"} <= set(patched)


def snapshot() -> tuple:
    return tuple(count(model) for model in (Case, Sample, CustodyEvent, AuditEntry))


def test_no_business_change_without_its_audit_entry(app, client, api, api_token, tech,
                                                    make_user, monkeypatch, password):
    make_user("chemist", "chem")
    tech_api = api(client, api_token("tech"))
    number = tech_api.post("/cases", json={"customs_office": "BG001000",
                                           "officer_name": "Insp. Dimov",
                                           "questions": "?"}).json["case_number"]
    lab_number = tech_api.post(f"/cases/{number}/samples",
                               json={"description": "Brick"}).json["lab_number"]
    with app.app_context():
        before = snapshot()

    calls = [
        ("/cases", {"customs_office": "BG001000", "officer_name": "Insp. Dimov",
                    "questions": "?"}),
        (f"/cases/{number}/samples", {"items": [{"description": "a"}, {"description": "b"}]}),
        (f"/samples/{lab_number}/custody", {"from": "user:tech", "to": "user:chem",
                                            "receiver_password": password}),
    ]
    with monkeypatch.context() as patch:
        break_audit_record(patch)
        for path, body in calls:
            response = tech_api.post(path, json=body)
            assert response.status_code == 500, response.json
            assert response.json == {"error": "Internal error; it has been logged."}
        assert tech_api.post(f"/samples/{lab_number}/label.pdf").status_code == 500

    with app.app_context():
        assert snapshot() == before
        sample = db.session.scalar(select(Sample))
        assert holder_of(sample).key == "user:tech" and sample.label_prints == 0
        assert verify_chain().ok
    # The counters were not advanced by the failed attempts either.
    again = tech_api.post(f"/cases/{number}/samples", json={"description": "c"})
    assert again.json["lab_number"].endswith("-000002")


def refuse_audit_inserts() -> None:
    """Make the database refuse new audit rows, as if its storage had failed."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text(
            "CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'audit storage failed'; END $$"))
        db.session.execute(text(
            "CREATE TRIGGER test_refuse BEFORE INSERT ON audit_entry "
            "FOR EACH ROW EXECUTE FUNCTION test_refuse()"))
    else:
        db.session.execute(text(
            "CREATE TRIGGER test_refuse BEFORE INSERT ON audit_entry "
            "BEGIN SELECT RAISE(ABORT, 'audit storage failed'); END"))
    db.session.commit()


def test_a_failed_audit_insert_rolls_the_change_back(app, client, api, api_token, tech,
                                                     make_case, make_samples, make_user,
                                                     password):
    make_user("chemist", "chem")
    case = make_case(tech)
    [sample] = make_samples(tech, case)
    tech_api = api(client, api_token("tech"))
    with app.app_context():
        before = snapshot()
        refuse_audit_inserts()
    calls = [
        ("/cases", {"customs_office": "BG001000", "officer_name": "Insp. Dimov",
                    "questions": "?"}),
        (f"/cases/{case.case_number}/samples", {"description": "x"}),
        (f"/samples/{sample.lab_number}/custody", {"from": "user:tech", "to": "user:chem",
                                                   "receiver_password": password}),
    ]
    for path, body in calls:
        assert tech_api.post(path, json=body).status_code == 500
    with app.app_context():
        assert snapshot() == before
        assert holder_of(db.session.get(Sample, sample.id)).key == "user:tech"
