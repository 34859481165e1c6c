"""The audit trail: what every change writes, mandatory reasons, the hash chain, append-only
tables and fail-closed writes."""

import dataclasses
import json
import sys
import uuid
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from lims import create_app
from lims.audit import services as audit
from lims.audit.models import AuditEntry
from lims.audit.services import GENESIS_HASH, entry_hash, verify_chain
from lims.auth.models import User
from lims.config import load_settings
from lims.custody.models import CustodyEvent
from lims.custody.services import holder_of, party_from_key, resolve_discrepancy, transfer
from lims.db import db
from lims.errors import Invalid
from lims.intake.models import Case, Sample
from lims.intake.services import change_status, update_case, update_sample
from tests.conftest import dispose

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
        payload = {name: getattr(entry, name) for name in audit.HASHED_FIELDS_V2}
        assert entry.chain_version == 2
        assert entry_hash(payload) == entry.entry_hash != audit.public_hash(payload)
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
        for action in ("update", "delete", "replace"):
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
    """Even with the chain key, recomputing the edited entry's own hash breaks the next link."""
    entry = db.session.get(AuditEntry, 5)
    payload = {name: getattr(entry, name) for name in audit.HASHED_FIELDS_V2}
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
              "prev_hash": prev_hash, "chain_version": 2, "row_ref": None, "row_hash": None}
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


# --- keyed chain, journal, checkpoints, custody: what a database writer cannot hide ------------


def rewrite_from(seq: int, *, downgrade: bool) -> None:
    """Edit entry `seq` and recompute the rest of the chain with the public (unkeyed) formula."""
    prev = db.session.get(AuditEntry, seq - 1).entry_hash if seq > 1 else GENESIS_HASH
    later = db.session.scalars(select(AuditEntry).where(AuditEntry.seq >= seq)
                               .order_by(AuditEntry.seq)).all()
    rows = [{name: getattr(e, name) for name in audit.HASHED_FIELDS_V2} for e in later]
    db.session.expunge_all()
    for row in rows:
        row["prev_hash"] = prev
        if row["seq"] == seq:
            row["reason"] = "rewritten"
        if downgrade:
            row["chain_version"] = 1
        prev = audit.public_hash(row)
        db.session.execute(text(
            "UPDATE audit_entry SET reason = :reason, prev_hash = :prev_hash, "
            "chain_version = :chain_version, entry_hash = :h WHERE seq = :seq"),
            {**row, "h": prev})
    db.session.commit()


def test_rewriting_an_entry_with_the_public_formula_is_detected(cli, trail):
    rewrite_from(5, downgrade=False)
    verify_fails_at(cli, 5, "edited")


def test_rewriting_the_whole_trail_as_legacy_entries_is_caught_by_the_journal(cli, trail):
    """Version-1 entries verify with the public formula; the journal outside the database does
    not: the first journaled head after the rewrite no longer matches."""
    rewrite_from(1, downgrade=True)
    assert verify_chain().problem.endswith("does not match journal line 1")
    result = cli("audit", "verify")
    assert result.exit_code == 1 and "was changed" in result.output


@pytest.fixture
def long_trail(trail, tech, make_case):
    """More than twenty entries, each transaction's head in the journal."""
    for _ in range(16):
        make_case(tech)
    assert count(AuditEntry) > 25


@pytest.mark.parametrize("deleted", [1, 20])
def test_deleting_the_newest_entries_is_detected(cli, long_trail, deleted):
    last = db.session.scalar(select(func.max(AuditEntry.seq)))
    db.session.execute(text("DELETE FROM audit_entry WHERE seq > :s"), {"s": last - deleted})
    db.session.commit()
    verify_fails_at(cli, last - deleted + 1, f"entries {last - deleted + 1}..{last} deleted")


def test_entries_appended_behind_the_journal_are_detected(cli, trail):
    """A forger who holds the chain key still cannot add entries the journal never saw."""
    last = db.session.get(AuditEntry, db.session.scalar(select(func.max(AuditEntry.seq))))
    insert_forged(last.seq + 1, last.entry_hash, forge_hash=True)
    db.session.commit()
    verify_fails_at(cli, last.seq + 1, "not in the journal")


def replace_entry(seq: int) -> None:
    """Rewrite an entry in place: REPLACE on SQLite, an UPDATE (as superuser) on PostgreSQL."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("UPDATE audit_entry SET reason = 'replaced' WHERE seq = :s"),
                           {"s": seq})
        return
    columns = ", ".join(c.name for c in AuditEntry.__table__.columns)
    chosen = columns.replace("reason", "'replaced'")
    db.session.execute(text(f"INSERT OR REPLACE INTO audit_entry ({columns}) "
                            f"SELECT {chosen} FROM audit_entry WHERE seq = :s"), {"s": seq})


def test_replace_on_an_entry_is_detected(cli, trail):
    replace_entry(5)
    db.session.commit()
    assert db.session.get(AuditEntry, 5).reason == "replaced"
    verify_fails_at(cli, 5, "edited")


def test_sqlite_refuses_replace_on_the_append_only_tables(item, subtests):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("INSERT OR REPLACE is SQLite's; PostgreSQL upserts fire the UPDATE trigger")
    for table, key in (("audit_entry", "seq"), ("custody_event", "id")):
        columns = ", ".join(c.name for c in db.metadata.tables[table].columns)
        for statement in (f"INSERT OR REPLACE INTO {table} ({columns}) SELECT {columns} "
                          f"FROM {table} WHERE {key} = 1",
                          f"REPLACE INTO {table} ({columns}) SELECT {columns} FROM {table} "
                          f"WHERE {key} = 1"):
            with subtests.test(statement=statement):
                before = db.session.execute(text(f"SELECT * FROM {table}")).all()
                with pytest.raises(DBAPIError, match="REPLACE of an existing key refused"):
                    db.session.execute(text(statement))
                db.session.rollback()
                assert db.session.execute(text(f"SELECT * FROM {table}")).all() == before


def test_postgresql_upsert_on_an_entry_is_refused(item):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("ON CONFLICT DO UPDATE on PostgreSQL")
    columns = ", ".join(c.name for c in AuditEntry.__table__.columns)
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(text(f"INSERT INTO audit_entry ({columns}) SELECT {columns} FROM "
                                "audit_entry WHERE seq = 1 ON CONFLICT (seq) DO UPDATE SET "
                                "reason = 'upserted'"))
    db.session.rollback()
    assert verify_chain().ok


@pytest.fixture
def custody_open(trail):
    """The trail, with custody_event's append-only protection dropped too."""
    drop_append_only_protection("custody_event")
    db.session.commit()


def test_editing_a_custody_event_is_detected(cli, custody_open, item):
    [receipt] = entries(entity_type="custody_event", sample_id=item.id)
    db.session.execute(text("UPDATE custody_event SET seal_found = 'BG0000000' "
                            "WHERE sample_id = :s AND sequence = 1"), {"s": item.id})
    db.session.commit()
    verify_fails_at(cli, receipt.seq, "was changed")


def test_deleting_or_adding_a_custody_event_is_detected(cli, custody_open, item):
    [receipt] = entries(entity_type="custody_event", sample_id=item.id)
    row = db.session.execute(text("SELECT * FROM custody_event WHERE sample_id = :s"),
                             {"s": item.id}).one()._asdict()
    db.session.execute(text("DELETE FROM custody_event WHERE id = :i"), {"i": row["id"]})
    db.session.commit()
    verify_fails_at(cli, receipt.seq, "missing (deleted)")
    row["id"] = 1000
    db.session.execute(text(f"INSERT INTO custody_event ({', '.join(row)}) VALUES "
                            f"({', '.join(':' + name for name in row)})"), row)
    db.session.commit()
    result = cli("audit", "verify")
    assert result.exit_code == 1 and "custody_event row 1000 is in no audit entry" in (
        result.output), result.output


def test_the_chain_key_stays_outside_the_database(app, cli, trail, settings):
    key_file = settings.data_dir / "audit" / "chain_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert key_file.parent.stat().st_mode & 0o777 == 0o700
    key = key_file.read_text().strip()
    assert len(key) >= 32
    for row in db.session.execute(text("SELECT * FROM audit_entry")).all():
        assert key not in str(tuple(row))
    app.config["LIMS"] = dataclasses.replace(settings, audit_key="k" * 40)
    result = cli("audit", "verify")
    assert result.exit_code == 1 and "BROKEN at entry 1: entry 1 was edited" in result.output


def journal_lines(settings) -> list[dict]:
    return [json.loads(line) for line in settings.audit_journal.read_text().splitlines()]


def test_each_commit_journals_its_head_and_a_rollback_does_not(app_ctx, settings, tech,
                                                                make_case):
    make_case(tech)
    head = db.session.execute(select(AuditEntry.seq, AuditEntry.entry_hash)
                              .order_by(AuditEntry.seq.desc())).first()
    lines = journal_lines(settings)
    assert (lines[-1]["seq"], lines[-1]["hash"]) == tuple(head)
    assert settings.audit_journal.stat().st_mode & 0o777 == 0o600
    update_case(tech, db.session.get(Case, 1), {"seizure_place": "elsewhere"}, "moved")
    db.session.rollback()
    assert journal_lines(settings) == lines


def test_cli_commits_are_journaled_too(app_ctx, cli, settings):
    result = cli("user", "create", "ana", "--role", "chemist", input="correct horse battery\n")
    assert result.exit_code == 0, result.output
    [line] = journal_lines(settings)
    assert line["seq"] == count(AuditEntry)


def checkpoints(settings) -> list[dict]:
    return [json.loads(line) for line in settings.audit_checkpoints.read_text().splitlines()]


def test_audit_checkpoint_signs_the_head(cli, trail, settings):
    result = cli("audit", "checkpoint")
    assert result.exit_code == 0, result.output
    [signed] = checkpoints(settings)
    assert signed["seq"] == count(AuditEntry) and f"entry {signed['seq']}" in result.output
    assert cli("audit", "verify").exit_code == 0
    forged = dict(signed, seq=signed["seq"] - 1)
    settings.audit_checkpoints.write_text(json.dumps(forged) + "\n")
    result = cli("audit", "verify")
    assert result.exit_code == 1 and "checkpoint 1 (entry" in result.output
    assert "bad signature" in result.output


def test_checkpoint_refuses_a_broken_chain(cli, trail, settings):
    db.session.execute(text("DELETE FROM audit_entry WHERE seq = 3"))
    db.session.commit()
    result = cli("audit", "checkpoint")
    assert result.exit_code == 1 and "entry 3 is missing" in result.output
    assert not settings.audit_checkpoints.exists()


def test_unjournaled_entries_are_adopted_only_on_request(cli, trail, settings):
    """A crash between commit and journal append: verify fails until a person adopts them."""
    lines = settings.audit_journal.read_text().splitlines(keepends=True)
    settings.audit_journal.write_text("".join(lines[:-1]))
    result = cli("audit", "checkpoint")
    assert result.exit_code == 1 and "not in the journal" in result.output
    assert cli("audit", "checkpoint", "--accept-unjournaled").exit_code == 0
    assert cli("audit", "verify").exit_code == 0
    db.session.execute(text("DELETE FROM audit_entry WHERE seq = 2"))
    db.session.commit()
    assert cli("audit", "checkpoint", "--accept-unjournaled").exit_code == 1


@pytest.mark.settings(audit_checkpoint_every=4)
def test_checkpoints_are_written_every_n_entries(app_ctx, settings, tech, make_case):
    for _ in range(5):
        make_case(tech)
    total = count(AuditEntry)
    signed = checkpoints(settings)
    assert len(signed) == total // 4
    assert all(a["seq"] // 4 < b["seq"] // 4 for a, b in zip(signed, signed[1:], strict=False))
    settings.audit_journal.unlink()  # the checkpoints alone still know their heads
    drop_append_only_protection("audit_entry")
    top = signed[-1]["seq"]
    db.session.execute(text("DELETE FROM audit_entry WHERE seq >= :s"), {"s": top})
    report = verify_chain()
    assert not report.ok and report.first_bad_seq == top
    assert report.problem == (f"entries {top}..{top} deleted: checkpoint {len(signed)} says "
                              f"the head is entry {top}")


def test_legacy_unkeyed_entries_still_verify(app_ctx, settings, make_user, make_case):
    """Entries written before the chain was keyed (version 1) verify by the public formula."""
    prev = GENESIS_HASH
    for seq in (1, 2):
        legacy = {"seq": seq, "recorded_at": MOMENT, "user_id": None, "user_name": "system",
                  "action": "create", "entity_type": "case", "entity_id": f"OLD-{seq}",
                  "case_id": None, "sample_id": None, "field": None, "old_value": None,
                  "new_value": "{}", "reason": None, "request_id": None, "client_ip": None,
                  "prev_hash": prev, "chain_version": 1}
        prev = audit.public_hash(legacy)
        db.session.add(AuditEntry(**legacy, entry_hash=prev))
    db.session.commit()
    assert verify_chain().ok and "lims audit checkpoint" in verify_chain().notes[0]
    make_case(make_user("technician", "tech"))
    report = verify_chain()
    assert report.ok and report.checked == count(AuditEntry) > 2
    assert [e.chain_version for e in entries()][:3] == [1, 1, 2]


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


@pytest.fixture
def app_role_login(app, settings):
    """A login role that is a member of the least-privilege application role (PostgreSQL)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("database roles and grants are PostgreSQL's")
    login = f"lims_login_{uuid.uuid4().hex[:10]}"
    with app.app_context():
        db.session.execute(text(f'CREATE ROLE "{login}" LOGIN IN ROLE "{settings.db_app_role}"'))
        db.session.commit()
    yield make_url(settings.database_url).set(username=login, password=None).render_as_string(
        hide_password=False)
    with app.app_context():
        db.session.execute(text(f'DROP ROLE "{login}"'))
        db.session.commit()


def test_the_app_role_works_but_cannot_rewrite_evidence(app, item, tech, make_location,
                                                        app_role_login, subtests):
    make_location("VAULT-A")
    db.session.commit()  # nothing of this session may be loaded while the role's app is current
    sample_id, tech_id = item.id, tech.id
    role_app = create_app(load_settings(data_dir=app.config["LIMS"].data_dir,
                                        database_url=app_role_login,
                                        secret_key=app.config["SECRET_KEY"]), testing=True)
    try:
        with role_app.app_context():
            sample, actor = db.session.get(Sample, sample_id), db.session.get(User, tech_id)
            change_status(actor, sample, "in_analysis", "requested")
            transfer(actor, sample, expected_from="user:tech",
                     to=party_from_key("location:VAULT-A"), seal_found="BG0071234",
                     seal_intact=True)
            db.session.commit()
            assert verify_chain().ok
            for statement in ("UPDATE {table} SET {column} = {column}", "DELETE FROM {table}",
                              "TRUNCATE {table} CASCADE", "ALTER TABLE {table} DISABLE TRIGGER "
                              "USER"):
                for table, (_model, column) in APPEND_ONLY.items():
                    sql = statement.format(table=table, column=column)
                    with subtests.test(statement=sql):
                        with pytest.raises(DBAPIError, match="permission denied|must be owner"):
                            db.session.execute(text(sql))
                        db.session.rollback()
            assert verify_chain().ok
    finally:
        dispose(role_app)


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
