"""Library imports through the service: entries, substances, index, refusals; legal status."""

from datetime import date

import numpy as np
import pytest
from sqlalchemy import func, select

from lims.audit.models import AuditEntry
from lims.db import db
from lims.errors import Conflict, Invalid
from lims.files import file_store
from lims.library import services
from lims.library.models import LibraryEntry, ReferenceLibrary, Substance
from lims.measurements.services import UnreadableFile
from tests.instruments.corpus import corpus_bytes
from tests.library.conftest import AMPHETAMINE, COCAINE, SMALL_MSP, jcamp_ir, msp


@pytest.fixture
def chem(app_ctx, make_user):
    return make_user("chemist", username="chem")


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def _import(actor, data=SMALL_MSP, filename="small.msp", name="Test MS", version="1", **kw):
    return services.import_library(actor, data, filename, name=name, version=version, **kw)


def test_msp_import_keeps_the_file_links_substances_and_builds_the_index(chem):
    seen = []
    library = _import(chem, description="two entries",
                      progress=lambda done, total, phase: seen.append((phase, done, total)))
    db.session.commit()
    assert (library.kind, library.technique, library.x_unit) == ("ms", "MS", "m/z")
    assert library.entry_count == 2 and library.approved and library.adapter == "msp"
    assert file_store().get(library.sha256) == SMALL_MSP
    assert ("entries", 2, 2) in seen and seen[-1] == ("indexing", 1, 1)
    first, second = services.entries(library).entries
    assert (first.position, first.name, first.cas) == (0, "Cocaine", "50-36-2")
    assert first.substance.name == "Cocaine" and first.substance.synonyms == [
        "Benzoylmethylecgonine"]
    assert second.substance.name == "Amphetamine" and second.substance.cas is None
    assert services.index_directory(library.sha256).is_dir()
    entry = db.session.scalars(select(AuditEntry).where(
        AuditEntry.action == "library.imported")).one()
    assert library.sha256 in entry.new_value and '"entries":"2"' in entry.new_value

    series = services.entry_series(chem, first.id)
    assert series.label == "Cocaine (Test MS 1)" and series.role == "reference"
    assert series.kind == "peaks" and series.x_unit == "m/z"
    assert list(series.x) == [82, 182, 303] and list(series.y) == [999, 900, 250]


def test_a_second_library_links_to_the_same_substances_by_cas_or_synonym(chem):
    _import(chem)
    other = msp({"name": "benzoylmethylecgonine", "peaks": [(82, 999)]},
                {"name": "Cocaine base", "cas": "50-36-2", "peaks": [(82, 999)]},
                {"name": "AMPHETAMINE", "peaks": [(44, 999)]})
    library = _import(chem, other, name="Other MS")
    linked = [e.substance.name for e in services.entries(library).entries]
    assert linked == ["Cocaine", "Cocaine", "Amphetamine"]
    assert _count(Substance) == 2


def test_a_wrong_cas_check_digit_in_the_file_leaves_the_entry_unlinked_by_cas(chem):
    library = _import(chem, msp({"name": "Mystery", "cas": "50-36-3", "peaks": [(1, 2)]}))
    entry = services.entries(library).entries[0]
    assert entry.cas is None and "check digit" in entry.meta["lims:unlinked"]


def test_transmittance_is_converted_to_absorbance_for_the_index(chem):
    percent = np.linspace(10.0, 100.0, 10)
    data = jcamp_ir("Lactose", percent, yunits="%T").encode()
    library = _import(chem, data, "lactose.jdx", name="IR lib")
    assert (library.kind, library.y_unit) == ("spectral", "absorbance")
    assert library.index_info["source_y_unit"] == "%T"
    assert "log10" in library.index_info["y_conversion"]
    entry = services.entries(library).entries[0]
    series = services.entry_series(chem, entry.id)
    assert series.y == pytest.approx(-np.log10(percent / 100.0))


def test_mixed_y_units_and_mixed_techniques_are_refused(chem):
    ramp = np.linspace(0.1, 0.9, 10)
    mixed_units = (jcamp_ir("A", ramp * 100, yunits="%T") + jcamp_ir("B", ramp)).encode()
    with pytest.raises(Invalid, match=r"mixes y units \(%T: 1, absorbance: 1\)"):
        _import(chem, mixed_units, "a.jdx")
    mixed = (jcamp_ir("A", ramp) + jcamp_ir("B", ramp, technique="RAMAN SPECTRUM")).encode()
    with pytest.raises(Invalid, match="mixes techniques"):
        _import(chem, mixed, "b.jdx")
    assert _count(ReferenceLibrary) == 0 and _count(LibraryEntry) == 0


def test_duplicates_are_refused(chem):
    _import(chem)
    with pytest.raises(Conflict, match="already imported") as same_version:
        _import(chem, msp(AMPHETAMINE))
    assert same_version.value.field == "version"
    with pytest.raises(Conflict, match="exact file .* already imported as Test MS 1"):
        _import(chem, name="Renamed", version="2")


def test_a_broken_file_writes_nothing_and_says_where(chem):
    before = _count(AuditEntry)
    broken = SMALL_MSP.replace(b"82 999", b"82 lots")
    with pytest.raises(UnreadableFile) as error:
        _import(chem, broken)
    assert "line" in str(error.value) and error.value.status == 422
    db.session.rollback()
    assert _count(ReferenceLibrary) == 0 and _count(Substance) == 0
    assert _count(AuditEntry) == before
    index_root = services.index_directory("0" * 64).parent
    assert not index_root.exists() or not any(index_root.iterdir())


def test_a_file_the_index_cannot_hold_is_refused_with_nothing_written(chem):
    negative = msp({"name": "Odd", "peaks": [(82, -5), (90, 10)]})
    with pytest.raises(Invalid, match="cannot be indexed: .*negative") as error:
        _import(chem, negative)
    assert error.value.field == "file"
    db.session.rollback()
    assert _count(ReferenceLibrary) == 0 and _count(Substance) == 0


def test_the_index_is_rebuilt_from_the_stored_file_when_its_folder_is_gone(chem):
    import shutil

    library = _import(chem)
    db.session.commit()
    directory = services.index_directory(library.sha256)
    before = services.library_index(library).entry(1)
    shutil.rmtree(directory)
    rebuilt = services.library_index(library)
    assert directory.is_dir()
    assert np.array_equal(rebuilt.entry(1)[0], before[0])
    assert np.array_equal(rebuilt.entry(1)[1], before[1])


@pytest.mark.parametrize(("path", "entries", "technique"), [
    ("msp/MoNA-export-GC-MS-first10.msp", 10, "MS"),
    ("jcamp/ms_nist_jca_multi_entry.jca", 10, "MS"),
    ("spc/DRUG_SAMPLE_PEAKS.SPC", 6, "MS"),
    ("spc/KKSAM.SPC", 1, "IR"),
])
def test_corpus_libraries_import(chem, path, entries, technique):
    library = _import(chem, corpus_bytes(path), path.rsplit("/", 1)[1], name=path)
    assert (library.entry_count, library.technique) == (entries, technique)
    assert _count(LibraryEntry) == entries


def test_lookups_by_name_and_kind(chem):
    _import(chem, version="1")
    newer = _import(chem, msp(AMPHETAMINE), version="2")
    ir = _import(chem, jcamp_ir("X", np.ones(10)).encode(), "x.jdx", name="IR")
    assert services.get_library_by_name("Test MS") is newer
    assert services.get_library_by_name("Test MS", "1").version == "1"
    assert services.list_libraries(kind="spectral") == [ir]
    services.set_library_approval(chem, ir, False, "validation pending")
    assert ir not in services.list_libraries(approved_only=True)
    with pytest.raises(Invalid):
        services.set_library_approval(chem, ir, True, "")


# --- substances and legal status --------------------------------------------------------


@pytest.fixture
def cocaine(chem):
    _import(chem, msp(COCAINE, AMPHETAMINE))
    return db.session.scalars(select(Substance).where(Substance.name == "Cocaine")).one()


def test_search_finds_synonyms_and_cas(cocaine):
    assert services.search_substances("ecgonine") == [cocaine]
    assert services.search_substances("50-36-2") == [cocaine]
    assert services.search_substances("coca") == [cocaine]
    assert services.search_substances("100%") == []


def test_cas_check_digit_is_verified_on_edit(chem, cocaine):
    with pytest.raises(Invalid, match="Check digit") as error:
        services.update_substance(chem, cocaine, {"cas": "50-36-3"}, "typo")
    assert error.value.field == "cas"
    changes = services.update_substance(chem, cocaine, {
        "cas": "5036-2", "synonyms": ["Benzoylmethylecgonine", "Coke"]}, "corrected")
    assert cocaine.cas == "50-36-2" and "cas" not in changes
    assert cocaine.synonyms == ["Benzoylmethylecgonine", "Coke"]
    assert services.search_substances("coke") == [cocaine]
    audited = db.session.scalars(select(AuditEntry.field).where(
        AuditEntry.entity_type == "substance", AuditEntry.action == "update")).all()
    assert audited == ["synonyms"]


def test_legal_status_applies_from_its_first_day_up_to_its_end_date(chem, cocaine):
    status = services.add_legal_status(chem, cocaine, {
        "regime": "National list", "schedule": "List II", "effective_from": date(2020, 1, 1),
        "effective_to": date(2021, 1, 1), "reference": "Act 1"})
    services.add_legal_status(chem, cocaine, {
        "regime": "National list", "schedule": "List I", "effective_from": date(2021, 1, 1)})
    on = lambda day: [s.schedule for s in services.legal_status_on(cocaine, day)]  # noqa: E731
    assert on(date(2019, 12, 31)) == []
    assert on(date(2020, 1, 1)) == ["List II"]
    assert on(date(2020, 12, 31)) == ["List II"]
    assert on(date(2021, 1, 1)) == ["List I"]
    assert on(date(2099, 1, 1)) == ["List I"]
    assert status.recorded_by is chem


def test_legal_status_dates_and_regime_are_checked(chem, cocaine):
    base = {"regime": "UN Convention 1971", "schedule": "Schedule I",
            "effective_from": date(2020, 1, 1)}
    with pytest.raises(Invalid) as error:
        services.add_legal_status(chem, cocaine, {**base, "effective_to": date(2020, 1, 1)})
    assert error.value.field == "effective_to"
    with pytest.raises(Invalid) as error:
        services.add_legal_status(chem, cocaine, {**base, "regime": "Made-up list"})
    assert error.value.field == "regime"


def test_ending_a_legal_status_is_audited_and_happens_once(chem, cocaine):
    status = services.add_legal_status(chem, cocaine, {
        "regime": "UN Single Convention 1961", "schedule": "Schedule I",
        "effective_from": date(1964, 12, 13)})
    with pytest.raises(Invalid) as error:
        services.end_legal_status(chem, status, date(1964, 12, 13), "removed")
    assert error.value.field == "effective_to"
    services.end_legal_status(chem, status, date(2030, 1, 1), "removed by CND decision")
    assert services.legal_status_on(cocaine, date(2030, 1, 1)) == []
    with pytest.raises(Conflict):
        services.end_legal_status(chem, status, date(2031, 1, 1), "again")
    entry = db.session.scalars(select(AuditEntry).where(
        AuditEntry.entity_type == "legal_status", AuditEntry.action == "update")).one()
    assert (entry.field, entry.new_value, entry.reason) == (
        "effective_to", "2030-01-01", "removed by CND decision")
