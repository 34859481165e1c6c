"""The Alembic migrations build exactly the schema the models describe, and go both ways."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

from lims.db import db

APPEND_ONLY = ("audit_entry", "custody_event")


@pytest.fixture
def empty_app(empty_database_url, make_app):
    """The application on an empty database (no tables, not even alembic_version)."""
    # empty_database_url first: its teardown (DROP DATABASE) then runs after make_app's
    # (which disposes the engine).
    return make_app(empty_database_url)


def tables() -> set[str]:
    return set(inspect(db.engine).get_table_names())


def schema_differences() -> list:
    """What `alembic check` would report: the models compared with the live schema."""
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                         "render_as_batch": True})
        return compare_metadata(context, db.metadata)


def append_only_triggers() -> set[str]:
    if db.engine.dialect.name == "postgresql":
        sql = ("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal "
               "AND tgrelid::regclass::text = ANY(:tables)")
        rows = db.session.execute(text(sql), {"tables": list(APPEND_ONLY)})
    else:
        rows = db.session.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
    return {name for (name,) in rows}


def test_the_app_never_creates_tables_itself(empty_app):
    with empty_app.app_context():
        assert tables() == set()
    empty_app.test_client().get("/healthz")
    with empty_app.app_context():
        assert tables() == set()


def test_upgrade_builds_exactly_the_models(empty_app):
    with empty_app.app_context():
        upgrade()
        assert tables() >= {table.name for table in db.metadata.sorted_tables}
        assert schema_differences() == []
        assert append_only_triggers(), "the append-only triggers are missing"


def test_downgrade_to_base_and_upgrade_again(empty_app):
    with empty_app.app_context():
        upgrade()
        heads = db.session.execute(text("SELECT version_num FROM alembic_version")).all()
        assert len(heads) == 1
        db.session.remove()
        downgrade(revision="base")
        assert tables() <= {"alembic_version"}
        assert append_only_triggers() == set()
        if db.engine.dialect.name == "postgresql":
            functions = db.session.execute(text(
                "SELECT proname FROM pg_proc WHERE proname LIKE 'lims%'")).all()
            assert functions == []
        db.session.remove()
        upgrade()
        assert schema_differences() == []
        assert append_only_triggers()


def test_upgrade_twice_is_a_no_op(empty_app):
    with empty_app.app_context():
        upgrade()
        before = db.session.execute(text("SELECT version_num FROM alembic_version")).all()
        db.session.remove()
        upgrade()
        assert db.session.execute(text("SELECT version_num FROM alembic_version")).all() \
            == before


def test_a_migrated_database_has_no_accounts_and_no_data(empty_app):
    with empty_app.app_context():
        upgrade()
        for table in db.metadata.sorted_tables:
            assert db.session.execute(table.select().limit(1)).first() is None, table.name


def test_the_migration_history_has_one_head():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from lims import ROOT

    config = Config()
    config.set_main_option("script_location", str(ROOT / "lims" / "migrations"))
    script = ScriptDirectory.from_config(config)
    assert len(script.get_heads()) == 1
    revisions = list(script.walk_revisions())
    assert revisions[-1].down_revision is None
