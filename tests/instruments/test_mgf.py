"""Mascot MGF reader: own fixtures, the corpus file, pyteomics and matchms as oracles."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from instruments import mgf
from instruments.core import ParseError
from tests.instruments.corpus import CORPUS, corpus_bytes, fixture_bytes, manifest
from tests.instruments.test_msp import HOSTILE, mutated, mutation_sources, only_parse_errors

PYTEOMICS_MGF = "msp/pyteomics_test.mgf"
CORPUS_MGF = sorted(str(p.relative_to(CORPUS)) for p in CORPUS.glob("*/*")
                    if p.suffix.lower() == ".mgf") if CORPUS.exists() else []


def parse_fixture(name):
    return mgf.parse(fixture_bytes(f"mgf/{name}"), name)


def assert_parse_error(data, **where):
    with pytest.raises(ParseError) as caught:
        mgf.parse(data, "x.mgf")
    for key, value in where.items():
        assert getattr(caught.value, key) == value, caught.value
    return caught.value


def test_global_parameters_comments_and_three_arrangements():
    cocaine, charged, late = parse_fixture("globals.mgf")
    assert (cocaine.technique, cocaine.kind, cocaine.x_unit) == ("MS", "peaks", "m/z")
    assert [s.block for s in (cocaine, charged, late)] == ["spectrum 1", "spectrum 2",
                                                           "spectrum 3"]
    assert cocaine.title == "Cocaine MS2"
    assert cocaine.x.tolist() == [82.0651, 105.0335, 182.1176, 304.1543]
    assert cocaine.y.tolist() == [120, 80, 999, 260]
    meta = cocaine.metadata
    assert (meta["precursor_mz"], meta["precursor_intensity"]) == ("304.1543", "15000")
    assert meta["charge"] == "1+"
    assert (meta["retention_time"], meta["retention_time_unit"]) == ("385.2", "s")
    assert meta["scan_numbers"] == "1204"
    assert meta["com"] == "LIMS test file"
    assert meta["mass"] == "Monoisotopic"
    assert charged.title == "With charges and a comment"
    assert charged.metadata["charge"] == "2+ and 3+"  # the global default
    assert charged.x.tolist() == [345.10, 370.20, 460.20]
    assert charged.y.tolist() == [237, 128, 108]
    assert "precursor_intensity" not in charged.metadata
    assert late.title == "Parameters after peaks"
    assert late.x.tolist() == [100.5, 200.5]
    assert late.metadata["retention_time"] == "12"
    assert all(s.warnings == [] for s in (cocaine, charged, late))


def test_bad_pepmass_is_a_warning_and_crlf_is_read():
    [spectrum] = parse_fixture("crlf_bad_pepmass.mgf")
    assert spectrum.title == "CRLF block"
    assert spectrum.x.tolist() == [50, 60]
    assert spectrum.metadata["pepmass"] == "abc"
    assert "precursor_mz" not in spectrum.metadata
    assert len(spectrum.warnings) == 1 and "PEPMASS" in spectrum.warnings[0]


def test_truncated_block_is_a_warning():
    [spectrum] = parse_fixture("truncated.mgf")
    assert spectrum.x.tolist() == [10, 20]
    assert spectrum.warnings == ["The block has no END IONS (the file may be truncated)."]


def test_truncated_unusual_block_is_a_warning():
    [spectrum] = mgf.parse(b"BEGIN IONS\n10 1\n# comment\n20 2\n")
    assert spectrum.x.tolist() == [10, 20]
    assert spectrum.warnings == ["The block has no END IONS (the file may be truncated)."]


@pytest.mark.parametrize(("name", "line", "text"), [
    ("peak_outside.mgf", 2, "outside BEGIN IONS"),
    ("bad_peak.mgf", 4, "20 two"),
    ("nested_begin.mgf", 4, "BEGIN IONS inside"),
    ("mz_only.mgf", 3, "'10'"),
    ("no_blocks.mgf", 1, "No BEGIN IONS"),
])
def test_malformed_files_name_their_line(name, line, text):
    error = assert_parse_error(fixture_bytes(f"mgf/{name}"), line=line)
    assert text in error.message


def test_end_without_begin_and_junk_inside_a_block():
    assert "END IONS without" in assert_parse_error(b"END IONS\n", line=1).message
    assert_parse_error(b"BEGIN IONS\n10 1\nwhat is this\nEND IONS\n", line=3,
                       block="spectrum 1")


def test_empty_and_binary():
    assert_parse_error(fixture_bytes("mgf/empty.mgf"), offset=0)
    assert_parse_error(b"BEGIN IONS\n\x00\x01", offset=11)


def test_detect():
    data = fixture_bytes("mgf/globals.mgf")
    assert mgf.detect(data, "g.mgf").confidence == 0.95
    assert mgf.detect(data, "g.txt").confidence == 0.9
    assert mgf.detect(b"nothing", "G.MGF").confidence == 0.2
    assert mgf.detect(b"nothing", "g.txt") is None
    assert mgf.detect(fixture_bytes("msp/one_per_line.msp"), "x.msp") is None


# --- the corpus ---------------------------------------------------------------------------------

def test_pyteomics_test_file_manifest_facts():
    facts = manifest().get(PYTEOMICS_MGF, {}).get("known_facts", "")
    for fact in ('"Spectrum 1" PEPMASS=983.6 CHARGE=2+ 6 peaks',
                 '"Spectrum 2" PEPMASS=1084.9 1234, RTINSECONDS=25, 6 peaks with 3rd column'):
        assert fact in facts
    first, second = mgf.parse(corpus_bytes(PYTEOMICS_MGF), PYTEOMICS_MGF)
    assert (first.title, first.n_points) == ("Spectrum 1", 6)
    assert first.metadata["precursor_mz"] == "983.6"
    assert first.metadata["charge"] == "2+"
    assert first.metadata["username"] == "Lou Scene"  # a global parameter
    assert (second.title, second.n_points) == ("Spectrum 2", 6)
    assert (second.metadata["precursor_mz"], second.metadata["precursor_intensity"]) == (
        "1084.9", "1234")
    assert second.metadata["retention_time"] == "25"
    assert second.x.tolist() == [345.10, 370.20, 460.20, 1673.30, 1674.00, 1675.30]
    assert second.y.tolist() == [237, 128, 108, 1007, 974, 79]
    assert first.warnings == second.warnings == []


@pytest.mark.parametrize("relative", CORPUS_MGF)
def test_peaks_equal_pyteomics(relative):
    pyteomics_mgf = pytest.importorskip("pyteomics.mgf")
    ours = mgf.parse(corpus_bytes(relative), relative)
    with pyteomics_mgf.MGF(str(CORPUS / relative)) as reader:
        theirs = list(reader)
    assert len(ours) == len(theirs)
    for mine, reference in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(mine.x, reference["m/z array"])
        np.testing.assert_array_equal(mine.y, reference["intensity array"])
        assert mine.title == reference["params"].get("title", "")


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("relative", CORPUS_MGF)
def test_peaks_equal_matchms(relative):
    importing = pytest.importorskip("matchms.importing")
    ours = mgf.parse(corpus_bytes(relative), relative)
    theirs = list(importing.load_from_mgf(str(CORPUS / relative),
                                          metadata_harmonization=False))
    assert len(ours) == len(theirs)
    for mine, reference in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(mine.x, reference.peaks.mz)
        np.testing.assert_array_equal(mine.y, reference.peaks.intensities)


# --- hostile input ------------------------------------------------------------------------------

SOURCES = mutation_sources("mgf", CORPUS_MGF)
MGF_ALPHABET = st.sampled_from(["BEGIN IONS\n", "END IONS\n", "TITLE=", "PEPMASS=", "CHARGE=",
                                "=", "\n", "\r", " ", "\t", "#", ";", "1", "42.5", "2+",
                                "1e999", "x", "\x0b", "é"])


@HOSTILE
@given(mutated(SOURCES))
def test_mutated_files(data):
    only_parse_errors(mgf.parse, data, "x.mgf")
    mgf.detect(data, "x.mgf")


@HOSTILE
@given(st.binary(max_size=3000))
def test_arbitrary_bytes(data):
    only_parse_errors(mgf.parse, data, "x.mgf")


@HOSTILE
@given(st.lists(MGF_ALPHABET, max_size=200).map("".join))
def test_mgf_shaped_text(text):
    only_parse_errors(mgf.parse, text.encode("utf-8"), "x.mgf")
