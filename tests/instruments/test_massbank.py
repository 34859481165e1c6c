"""MassBank record reader: own fixtures, the corpus record, the MoNA cross-format pair."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from instruments import massbank, msp
from instruments.core import ParseError
from tests.instruments.corpus import CORPUS, corpus_bytes, fixture_bytes, manifest
from tests.instruments.test_msp import (
    HOSTILE,
    base_peak,
    mutated,
    mutation_sources,
    only_parse_errors,
)

JP000001 = "massbank/JP000001_1-nitropyrene_EI.txt"
MONA = "msp/MoNA-export-GC-MS-first10.msp"


def parse_fixture(name):
    return massbank.parse(fixture_bytes(f"massbank/{name}"), name)


def assert_parse_error(data, **where):
    with pytest.raises(ParseError) as caught:
        massbank.parse(data, "r.txt")
    for key, value in where.items():
        assert getattr(caught.value, key) == value, caught.value
    return caught.value


def test_two_records_with_every_namespace():
    cocaine, caffeine = parse_fixture("two_records.txt")
    assert (cocaine.technique, cocaine.kind, cocaine.x_unit) == ("MS", "peaks", "m/z")
    assert cocaine.y_unit == caffeine.y_unit == "relative intensity"
    assert (cocaine.block, caffeine.block) == ("record 1", "record 2")
    assert cocaine.title == "Cocaine"
    assert cocaine.x.tolist() == [82.0651, 105.0335, 182.1176, 304.1543]
    assert cocaine.y.tolist() == [120, 80, 999, 260]  # the rel.int. column
    assert cocaine.warnings == []
    meta = cocaine.metadata
    assert meta["accession"] == "FIX00001"
    assert meta["license"] == "CC BY"
    assert meta["synonyms"] == "Benzoylmethylecgonine"
    assert meta["formula"] == "C17H21NO4"
    assert meta["exact_mass"] == "303.14706"
    assert meta["cas"] == "50-36-2"
    assert meta["inchikey"] == "ZPUCINDJVBIVPJ-LJISPDSOSA-N"
    assert meta["ch_link_pubchem"] == "CID:446220"
    assert meta["instrument"] == "Hand-written QTOF"
    assert meta["instrument_type"] == "LC-ESI-QTOF"
    assert meta["ms_level"] == "2"
    assert meta["ion_mode"] == "POSITIVE"
    assert meta["ionization"] == "ESI"
    assert meta["collision_energy"] == "20 eV"
    assert meta["retention_time"] == "6.42 min"
    assert meta["precursor_mz"] == "304.1543"
    assert meta["precursor_type"] == "[M+H]+"
    assert meta["comments"] == "written by hand for the LIMS tests; second comment line"
    assert meta["splash"].startswith("splash10-")
    assert caffeine.title == "Caffeine"
    assert caffeine.metadata["license"] == "CC BY-NC-SA"
    assert caffeine.metadata["ms_level"] == "1"
    assert caffeine.x.tolist() == [109, 194, 55]
    assert len(caffeine.warnings) == 1 and "ascending" in caffeine.warnings[0]


def test_missing_terminator_and_short_table_are_warnings():
    [spectrum] = parse_fixture("no_terminator.txt")
    assert spectrum.n_points == 2
    assert spectrum.warnings == [
        "The record is not ended by '//' (the file may be truncated).",
        "PK$NUM_PEAK declares 3 peaks but 2 were read."]


def test_bad_row_names_its_line():
    error = assert_parse_error(fixture_bytes("massbank/bad_row.txt"), line=6, block="record 1")
    assert "42 x7 999" in error.message


def test_num_peak_not_a_number():
    assert_parse_error(fixture_bytes("massbank/num_peak_abc.txt"), line=3)


def test_record_without_peak_table():
    assert_parse_error(fixture_bytes("massbank/no_peaks.txt"), line=1)


def test_wrong_peak_columns():
    error = assert_parse_error(b"ACCESSION: X\nCH$NAME: a\nPK$PEAK: m/z int.\n  1 2\n//\n",
                               line=3)
    assert "m/z int. rel.int." in error.message


def test_text_that_is_not_a_tag_line():
    assert_parse_error(b"ACCESSION: X\nthis is not a tag\n//\n", line=2)


def test_empty_binary_and_stray_terminator():
    assert_parse_error(b"", offset=0)
    assert_parse_error(b"ACC\x00ESSION", offset=3)
    assert_parse_error(b"//\n", line=1)


def test_no_record_in_a_file_of_unicode_spaces():
    assert "No MassBank record" in assert_parse_error("\u00a0\n".encode(), line=1).message


def test_detect():
    data = fixture_bytes("massbank/two_records.txt")
    assert massbank.detect(data, "r.txt").confidence == 0.95
    assert massbank.detect(b"ACCESSION: X\n", "r.txt").confidence == 0.5
    assert massbank.detect(fixture_bytes("msp/one_per_line.msp"), "x.msp") is None
    assert massbank.detect(b"\x00ACCESSION:", "r.txt") is None


# --- the corpus ---------------------------------------------------------------------------------

def test_jp000001_manifest_facts():
    facts = manifest().get(JP000001, {}).get("known_facts", "")
    [spectrum] = massbank.parse(corpus_bytes(JP000001), JP000001)
    for fact in ("ACCESSION JP000001", "75 peaks", "base m/z 201 (rel 999)", "M+ 247 (527)",
                 "splash10-0udj-7790000000-5839a7971f0d731a8df6"):
        assert fact in facts
    assert spectrum.metadata["accession"] == "JP000001"
    assert spectrum.n_points == 75
    assert base_peak(spectrum) == (201, 999)
    assert spectrum.y[spectrum.x == 247].tolist() == [527]
    assert spectrum.metadata["splash"] == "splash10-0udj-7790000000-5839a7971f0d731a8df6"
    assert spectrum.metadata["license"] == "CC BY-NC-SA"
    assert spectrum.title == "1-NITROPYRENE"
    assert spectrum.metadata["formula"] == "C16H9NO2"
    assert spectrum.metadata["exact_mass"] == "247.06333"
    assert spectrum.metadata["instrument"] == "VARIAN MAT-44"
    assert spectrum.metadata["ion_mode"] == "POSITIVE"
    assert spectrum.warnings == []
    assert massbank.detect(corpus_bytes(JP000001), JP000001).confidence == 0.95


def test_jp000001_is_mona_record_1():
    [record] = massbank.parse(corpus_bytes(JP000001), JP000001)
    mona = msp.parse(corpus_bytes(MONA), MONA)[0]
    assert mona.metadata["db_id"] == record.metadata["accession"]
    assert mona.metadata["inchikey"] == record.metadata["inchikey"]
    assert mona.metadata["formula"] == record.metadata["formula"]
    assert mona.metadata["license"] == record.metadata["license"]
    np.testing.assert_array_equal(mona.x, record.x)
    # MoNA keeps MassBank's int. column (base 99.99); rel.int. is ten times it, capped at 999.
    np.testing.assert_array_equal(np.minimum(np.round(mona.y * 10), 999), record.y)


# --- hostile input ------------------------------------------------------------------------------

SOURCES = mutation_sources("massbank", [JP000001] if (CORPUS / JP000001).exists() else [])


@HOSTILE
@given(mutated(SOURCES))
def test_mutated_files(data):
    only_parse_errors(massbank.parse, data, "r.txt")
    massbank.detect(data, "r.txt")


@HOSTILE
@given(st.binary(max_size=3000))
def test_arbitrary_bytes(data):
    only_parse_errors(massbank.parse, data, "r.txt")
