"""Lab numbers under concurrent registration, and the legal sample status transitions."""

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import func, select, text

from lims.audit.models import AuditEntry
from lims.audit.services import verify_chain
from lims.auth.models import User
from lims.db import db
from lims.errors import Conflict
from lims.intake.models import SAMPLE_STATUSES, STATUS_TRANSITIONS, Case, Sample
from lims.intake.services import change_status, register_samples

WRITERS = 8
TOTAL = 200
ROUNDS = TOTAL // WRITERS


def run_writers(work: Callable[[int, Callable[[], None]], list[str]]) -> list[str]:
    """Run `work(writer, sync)` in WRITERS threads; return every lab number they made.

    `work` calls `sync()` before each registration: all writers then register at the same
    moment in every round, so they really contend for the counter (a writer that got the lock
    first cannot run through all its rounds while the others wait to be woken up).
    """
    rendezvous = threading.Barrier(WRITERS, timeout=60)
    results: dict[int, list[str]] = {}
    errors: list[BaseException] = []

    def writer(index: int) -> None:
        try:
            results[index] = work(index, rendezvous.wait)
        except BaseException as error:  # re-raised in the main thread below
            errors.append(error)
            rendezvous.abort()  # release the others at once

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "a writer hung"
    if errors:
        raise errors[0]
    # The writers ran at the same time: every writer's numbers are spread, not one block.
    for numbers in results.values():
        values = sorted(int(n.rsplit("-", 1)[1]) for n in numbers)
        assert values[-1] - values[0] + 1 > len(values), "the writers never interleaved"
    return [number for index in sorted(results) for number in results[index]]


def assert_distinct_and_gap_free(app, numbers: list[str]) -> None:
    """Every number once, 1 to TOTAL, and the audit chain intact and gap-free."""
    assert len(numbers) == TOTAL
    assert len(set(numbers)) == TOTAL, "duplicate lab numbers"
    prefixes = {n.rsplit("-", 1)[0] for n in numbers}
    assert len(prefixes) == 1 and prefixes.pop().startswith("CL-")
    assert sorted(int(n.rsplit("-", 1)[1]) for n in numbers) == list(range(1, TOTAL + 1))
    with app.app_context():
        stored = db.session.scalars(select(Sample.lab_number)).all()
        assert sorted(stored) == sorted(numbers)
        report = verify_chain()
        assert report.ok, report.problem
        seqs = db.session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)).all()
        assert seqs == list(range(1, len(seqs) + 1))
        # One sample entry and one receipt entry per registration, none lost.
        for entity_type, action in (("sample", "create"), ("custody_event", "custody")):
            written = db.session.scalar(select(func.count()).select_from(AuditEntry).where(
                AuditEntry.entity_type == entity_type, AuditEntry.action == action))
            assert written == TOTAL, (entity_type, written)


@pytest.fixture
def intake_desk(make_user, make_case):
    """Eight technicians (one per writer) and one case."""
    techs = [make_user("technician", f"tech{i}") for i in range(WRITERS)]
    return techs, make_case(techs[0])


def test_parallel_writers_through_the_service_get_distinct_gap_free_numbers(app, intake_desk):
    techs, case = intake_desk
    with app.app_context():
        if db.engine.dialect.name == "sqlite":  # the configuration under test
            assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            db.session.rollback()

    def work(index: int, sync) -> list[str]:
        numbers = []
        with app.app_context():
            for i in range(ROUNDS):
                sync()  # outside any transaction (SQLite: BEGIN IMMEDIATE holds the lock)
                actor = db.session.get(User, techs[index].id)
                [sample] = register_samples(actor, db.session.get(Case, case.id),
                                            [{"description": f"writer {index} item {i}"}],
                                            lab_prefix=app.config["LIMS"].lab_number_prefix)
                numbers.append(sample.lab_number)  # read now: after commit it would reload
                db.session.commit()
        return numbers

    assert_distinct_and_gap_free(app, run_writers(work))


def test_parallel_writers_through_the_api_get_distinct_gap_free_numbers(app, api, api_token,
                                                                        intake_desk):
    techs, case = intake_desk
    tokens = [api_token(tech) for tech in techs]

    def work(index: int, sync) -> list[str]:
        client = api(app.test_client(), tokens[index])
        numbers = []
        for i in range(ROUNDS):
            sync()
            response = client.post(f"/cases/{case.case_number}/samples",
                                   json={"description": f"writer {index} item {i}"})
            assert response.status_code == 201, response.json
            numbers.append(response.json["lab_number"])
        return numbers

    assert_distinct_and_gap_free(app, run_writers(work))


# --- status transitions ----------------------------------------------------------------------

# The rule as the laboratory states it, written out independently of the code.
LEGAL = {
    "registered": {"in_storage", "in_analysis", "returned"},
    "in_storage": {"in_analysis", "reported", "returned", "destroyed"},
    "in_analysis": {"in_storage", "reported"},
    "reported": {"in_storage", "returned", "destroyed"},
    "returned": set(),
    "destroyed": set(),
}


def test_the_transition_table_is_the_documented_one():
    assert set(SAMPLE_STATUSES) == set(LEGAL)
    assert {k: set(v) for k, v in STATUS_TRANSITIONS.items()} == LEGAL


def test_only_legal_status_transitions_are_allowed(app_ctx, make_user, make_case,
                                                   make_samples, subtests):
    tech = make_user("technician", "tech")
    case = make_case(tech)
    targets = [*LEGAL, "lost"]
    for source in LEGAL:
        samples = make_samples(tech, case, len(targets))
        for sample in samples:
            sample.status = source  # set up directly: the path to it is not under test here
        db.session.commit()
        for sample, target in zip(samples, targets, strict=True):
            with subtests.test(source=source, target=target):
                check_transition(tech, sample, source, target)


def check_transition(tech, sample, source: str, target: str) -> None:
    if target in LEGAL[source]:
        change_status(tech, sample, target, f"{source} to {target}")
        db.session.commit()
        assert db.session.get(Sample, sample.id).status == target
        entry = db.session.scalars(select(AuditEntry).where(
            AuditEntry.sample_id == sample.id, AuditEntry.action == "status")).one()
        assert (entry.old_value, entry.new_value) == (source, target)
        return
    with pytest.raises(Conflict) as excinfo:
        change_status(tech, sample, target, f"{source} to {target}")
    db.session.rollback()
    assert excinfo.value.status == 409
    assert db.session.get(Sample, sample.id).status == source
    assert all(option in excinfo.value.message for option in LEGAL[source])
