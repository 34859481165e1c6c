"""Scenario templates: every test gets its own copy of the database and of the data folder."""

from sqlalchemy import create_engine, text

from lims.files import file_store
from lims.signing import verify_pdf
from lims.storage import LocalStore
from tests.scenarios import configure_lab


def certificate_status(url: str, number: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT status FROM certificate WHERE number = :n"),
                                {"n": number}).scalar_one()
    finally:
        engine.dispose()


def test_the_copy_has_the_signed_pdf_and_the_key_that_signed_it(app, certified):
    with app.app_context():
        pdf = file_store().get(certified["pdf_sha256"])
    assert verify_pdf(pdf, configure_lab(app)).status == "valid"


def test_what_a_test_changes_stays_in_its_copy(app, certified, scenarios, databases, tmp_path,
                                               database_url):
    digest = certified["pdf_sha256"]
    (tmp_path / "files" / digest[:2] / digest[2:4] / digest).unlink()  # behind the store's back
    assert certificate_status(database_url, certified["number"]) == "issued"
    engine = create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE certificate SET status = 'withdrawn'"))
    engine.dispose()
    other = tmp_path / "other"
    other.mkdir()
    template = scenarios.copy_files("certified", other)
    with databases.database(other, template=template) as url:
        assert certificate_status(url, certified["number"]) == "issued"
    assert LocalStore(other / "files").get(certified["pdf_sha256"]).startswith(b"%PDF")
