"""NIST MSP / AMDIS MSL reader: own fixtures, corpus facts, the matchms oracle, hostile input."""

import re
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from instruments import massbank, mgf, msp
from instruments.core import ParseError, Spectrum
from tests.instruments.corpus import CORPUS, FIXTURES, corpus_bytes, fixture_bytes, manifest


def parse_fixture(name):
    return msp.parse(fixture_bytes(f"msp/{name}"), name)


def base_peak(spectrum):
    index = int(np.argmax(spectrum.y))
    return spectrum.x[index], spectrum.y[index]


def assert_parse_error(data, filename="x.msp", **where):
    with pytest.raises(ParseError) as caught:
        msp.parse(data, filename)
    for key, value in where.items():
        assert getattr(caught.value, key) == value, caught.value
    return caught.value


# --- fixtures: every layout ---------------------------------------------------------------------

def test_one_peak_a_line_with_full_header():
    [spectrum] = parse_fixture("one_per_line.msp")
    assert isinstance(spectrum, Spectrum)
    assert (spectrum.technique, spectrum.kind, spectrum.x_unit) == ("MS", "peaks", "m/z")
    assert spectrum.title == "Cocaine"
    assert spectrum.block == "record 1"
    assert spectrum.x.tolist() == [42, 77, 82, 94, 105, 182, 198, 303]
    assert spectrum.y.tolist() == [180, 260, 999, 420, 310, 880, 90, 210]
    assert spectrum.y_unit == "relative intensity"
    assert spectrum.x.dtype == np.float64
    assert spectrum.warnings == []
    meta = spectrum.metadata
    assert meta["cas"] == "50-36-2"
    assert meta["formula"] == "C17H21NO4"
    assert meta["molecular_weight"] == "303"
    assert meta["db_id"] == "FIX-0001"
    assert meta["inchikey"] == "ZPUCINDJVBIVPJ-LJISPDSOSA-N"
    assert meta["comments"] == "written by hand for the LIMS tests"
    assert meta["synonyms"].split("; ")[0] == "Benzoylmethylecgonine"
    assert "3-benzoyloxy-8-methyl" in meta["synonyms"]


def test_nist_semicolon_pairs_and_cas_nist_on_one_line():
    [spectrum] = parse_fixture("nist_semicolon.msp")
    assert spectrum.n_points == 12
    assert spectrum.x.tolist() == [39, 41, 42, 44, 51, 62, 63, 65, 77, 91, 92, 120]
    assert base_peak(spectrum) == (44, 999)
    assert spectrum.metadata["cas"] == "300-62-9"
    assert spectrum.metadata["nist_id"] == "12345"
    assert spectrum.warnings == []


def test_golm_colon_pairs_and_decimal_commas():
    [spectrum] = parse_fixture("golm_colon.msp")
    assert spectrum.x.tolist() == [73, 86, 100, 147, 174, 248, 276]
    assert base_peak(spectrum) == (73, 1000)
    assert spectrum.metadata["molecular_weight"] == "291.62"
    # The top-level RI wins over the nested "Synon: RI: 1307,5", which stays a synonym.
    assert spectrum.metadata["retention_index"] == "959.45"
    assert "RI: 1307,5" in spectrum.metadata["synonyms"]


def test_tabs_third_column_quoted_annotations_and_crlf():
    [spectrum] = parse_fixture("tabs_annotated.msp")
    assert spectrum.x.tolist() == [58.0651, 65.0386, 91.0542, 119.0855, 134.0964]
    assert spectrum.y.tolist() == [999, 40, 120, 30, 25]
    assert spectrum.metadata["ionization"] == "EI+"
    assert spectrum.metadata["license"] == "CC BY 4.0"
    assert spectrum.warnings == []


def test_name_not_first_ms_dial_keys():
    [spectrum] = parse_fixture("name_not_first.msp")
    assert spectrum.title == "Cocaine [M+H]+"
    meta = spectrum.metadata
    assert meta["precursor_mz"] == "304.1543"
    assert meta["precursor_type"] == "[M+H]+"
    assert meta["ion_mode"] == "Positive"
    assert meta["retention_time"] == "6.42"
    assert meta["collision_energy"] == "20"
    assert meta["ms_level"] == "2"
    assert base_peak(spectrum) == (182.1176, 999)


def test_name_right_after_peaks_starts_a_record():
    first, second = parse_fixture("no_blank_line.msp")
    assert (first.title, first.n_points, first.block) == ("First", 2, "record 1")
    assert (second.title, second.n_points, second.block) == ("Second", 3, "record 2")
    assert second.x.tolist() == [70, 80, 90]
    assert first.warnings == second.warnings == []


def test_amdis_msl_groups():
    [spectrum] = parse_fixture("amdis.msl")
    assert spectrum.title == "Caffeine"
    assert spectrum.x.tolist() == [55, 67, 82, 94, 109, 194]
    assert spectrum.y.tolist() == [120, 150, 180, 140, 260, 1000]
    assert spectrum.metadata["cas"] == "58-08-2"
    assert spectrum.metadata["retention_index"] == "1844.3"
    assert spectrum.metadata["retention_time"] == "12.514"


def test_mona_comments_give_license_and_ionization():
    [spectrum] = parse_fixture("mona_comments.msp")
    meta = spectrum.metadata
    assert meta["license"] == "CC BY-SA"
    assert meta["ionization"] == "EI"
    assert meta["ion_mode"] == "positive"
    assert meta["synonyms"] == "3,4-methylenedioxymethamphetamine"
    assert meta["db_id"] == "FIX-0002"
    assert meta["comments"].startswith('"accession=FIX-0002"')
    assert base_peak(spectrum) == (58, 99.99)
    assert spectrum.y_unit == "relative intensity"


def test_blank_line_inside_a_short_peak_list_is_joined():
    [spectrum] = parse_fixture("blank_inside_peaks.msp")
    assert spectrum.x.tolist() == [10, 20, 30, 40]
    assert spectrum.warnings == []


def test_count_order_and_duplicate_warnings_keep_the_data():
    short, unordered, repeated = parse_fixture("warnings.msp")
    assert short.n_points == 2
    assert short.warnings == ["'Num Peaks' declares 5 peaks but 2 were read."]
    assert unordered.x.tolist() == [91, 65, 77]
    assert len(unordered.warnings) == 1 and "ascending" in unordered.warnings[0]
    assert repeated.x.tolist() == [43, 43, 58, 58]
    assert len(repeated.warnings) == 1 and "43, 58" in repeated.warnings[0]


def test_latin1_file_is_read_with_a_warning():
    [spectrum] = parse_fixture("latin1.msp")
    assert spectrum.title == "Äthylbenzol °C"
    assert spectrum.warnings == ["The file is not UTF-8; it was decoded as cp1252."]


def test_unicode_case_folding_does_not_fake_a_licence():
    # Under re.IGNORECASE "ſ" (long s) matches "s"; the licence must not come from it.
    [spectrum] = msp.parse('Name: a\nComments: "licenſe=x"\nNum Peaks: 1\n1 2\n'.encode())
    assert "license" not in spectrum.metadata


def test_absolute_intensities_are_not_called_relative():
    [spectrum] = msp.parse(b"Name: abs\nNum Peaks: 2\n10 12345\n20 678\n")
    assert spectrum.y_unit == "intensity"


def test_record_without_name_is_read_with_a_warning():
    [spectrum] = msp.parse(b"Formula: CH4\nNum Peaks: 1\n16 999\n")
    assert spectrum.title == ""
    assert spectrum.warnings == ["The record has no 'Name:' line."]


def test_declared_zero_peaks_is_an_empty_peak_list():
    [spectrum] = msp.parse(b"Name: nothing\nNum Peaks: 0\n")
    assert spectrum.n_points == 0
    assert spectrum.y_unit == "intensity"


# --- fixtures: malformed files ------------------------------------------------------------------

def test_peak_line_with_letters_names_line_and_record():
    error = assert_parse_error(fixture_bytes("msp/bad_peak_letters.msp"), line=9,
                               block="record 2")
    assert "42 abc" in error.message


def test_words_after_peaks_name_their_line():
    error = assert_parse_error(fixture_bytes("msp/words_in_peaks.msp"), line=4)
    assert "peaks end here" in error.message


def test_truncated_record_names_the_cut_line():
    error = assert_parse_error(fixture_bytes("msp/truncated.msp"), line=5)
    assert "'53'" in error.message


def test_four_numbers_without_separators_are_refused_not_half_read():
    error = assert_parse_error(b"Name: a\nNum Peaks: 4\n12 0 24 0\n25 2 26 4\n", line=3)
    assert "12 0 24 0" in error.message


def test_num_peaks_not_a_number():
    error = assert_parse_error(fixture_bytes("msp/num_peaks_abc.msp"), line=2, block="record 1")
    assert "abc" in error.message


def test_num_peaks_absurdly_long_is_refused():
    assert_parse_error(b"Name: x\nNum Peaks: " + b"9" * 5000 + b"\n1 2\n", line=2)


def test_empty_file():
    assert "empty" in assert_parse_error(fixture_bytes("msp/empty.msp"), offset=0).message
    assert "empty" in assert_parse_error(b" \r\n\n\t\n").message


def test_no_record_in_a_file_of_unicode_spaces():
    error = assert_parse_error("\u00a0\n\u2003\n".encode(), line=1)
    assert "No MSP record" in error.message


def test_binary_junk():
    data = fixture_bytes("msp/binary_junk.msp")
    error = assert_parse_error(data, offset=data.index(b"\x00"))
    assert "binary" in error.message
    assert_parse_error(data.replace(b"\x00", b"\x01"))


def test_header_without_peaks_or_count():
    assert_parse_error(fixture_bytes("msp/header_only.msp"), line=1, block="record 1")


def test_peaks_without_any_header():
    error = assert_parse_error(b"\n10 20\n30 40\n", line=2)
    assert "no record header" in error.message


def test_peaks_after_a_complete_uncounted_record():
    assert_parse_error(b"Name: a\n10 20\n\n30 40\n", line=4)


def test_overflowing_peak_value():
    error = assert_parse_error(b"Name: a\nNum Peaks: 2\n10 20\n1e999 40\n", line=4)
    assert "too large" in error.message


def test_too_many_peaks_for_one_file(monkeypatch):
    monkeypatch.setattr(msp, "MAX_POINTS", 3)
    error = assert_parse_error(b"Name: a\nNum Peaks: 4\n1 2\n3 4\n5 6\n7 8\n")
    assert "more than the 3 allowed" in error.message


# --- detection ----------------------------------------------------------------------------------

def test_detect_by_content_and_by_name():
    data = fixture_bytes("msp/one_per_line.msp")
    assert msp.detect(data, "lib.msp").confidence == 0.9
    assert msp.detect(data, "lib.txt").confidence == 0.8
    assert msp.detect(b"Num Peaks: 1\n1 2\n", "").confidence == 0.6
    assert msp.detect(b"whatever", "LIB.MSL").confidence == 0.2
    assert msp.detect(b"whatever", "lib.txt") is None
    assert msp.detect(fixture_bytes("msp/binary_junk.msp"), "junk.bin") is None


def test_other_library_formats_are_not_taken_for_msp():
    assert msp.detect(fixture_bytes("massbank/two_records.txt"), "r.txt") is None
    assert msp.detect(fixture_bytes("mgf/globals.mgf"), "g.mgf") is None


# --- the corpus: every MANIFEST fact ------------------------------------------------------------

CORPUS_MSP = sorted(str(p.relative_to(CORPUS)) for p in CORPUS.glob("msp/*")
                    if p.suffix.lower() in (".msp", ".msl")) if CORPUS.exists() else []


def corpus_spectra(relative):
    return msp.parse(corpus_bytes(relative), relative)


def test_hydrogen_chloride_nist_style():
    [spectrum] = corpus_spectra("msp/Hydrogen_chloride_nist_style.msp")
    assert spectrum.title == "Hydrogen chloride"
    assert spectrum.x.tolist() == [35, 36, 37, 38]
    assert base_peak(spectrum) == (36, 999)
    assert spectrum.metadata["formula"] == "ClH"


def test_mona_gc_ei_ten_records():
    spectra = corpus_spectra("msp/MoNA-export-GC-MS-first10.msp")
    assert len(spectra) == 10
    first, last = spectra[0], spectra[-1]
    assert first.title == "1-NITROPYRENE"
    assert first.metadata["db_id"] == "JP000001"
    assert first.n_points == 75
    assert base_peak(first) == (201, 99.99)
    assert first.metadata["license"] == "CC BY-NC-SA"
    assert last.title == "2,4,6-TRICHLOROPHENOL"
    assert last.n_points == 66
    assert base_peak(last)[0] == 196
    assert [s.block for s in spectra] == [f"record {n}" for n in range(1, 11)]
    assert all(s.warnings == [] for s in spectra)
    assert all(s.metadata["license"].startswith("CC BY") for s in spectra)


def test_amdis_msl():
    [spectrum] = corpus_spectra("msp/amdis_JL_2021_V2.msl")
    assert spectrum.title == "G3P"
    assert spectrum.n_points == 30
    assert base_peak(spectrum) == (73, 1000)
    assert spectrum.metadata["retention_index"] == "1586.2"
    assert spectrum.metadata["retention_time"] == "9.648"


def test_comments_with_quotes():
    [spectrum] = corpus_spectra("msp/comments_with_quotes.msp")
    assert spectrum.n_points == 248
    assert base_peak(spectrum) == (218.10259, 999)
    assert 'Contributor="Thermo Fisher Scientific"' in spectrum.metadata["comments"]


def test_golm_synon_decimal_comma():
    [spectrum] = corpus_spectra("msp/edge_golm_synon_decimal_comma.msp")
    assert spectrum.n_points == 26
    assert base_peak(spectrum) == (160, 1000)
    assert spectrum.metadata["molecular_weight"] == "175.258"
    assert spectrum.metadata["retention_index"] == "986.12"
    assert spectrum.metadata["cas"] == "55493-91-9"
    assert "METB N: Glyoxylate" in spectrum.metadata["synonyms"]


def test_massbank_five_spectra():
    spectra = corpus_spectra("msp/massbank_five_spectra.msp")
    assert [s.n_points for s in spectra] == [2, 1, 3, 3, 32]
    cyclizine = spectra[2]
    assert cyclizine.title == "Cyclizine"
    assert base_peak(cyclizine)[0] == 167.0856
    assert cyclizine.metadata["precursor_mz"] == "267.1856"
    assert cyclizine.metadata["ion_mode"] == "POSITIVE"
    assert cyclizine.metadata["ms_level"] == "2"


def test_multiline_semicolon_jwh_081():
    compound_a, jwh = corpus_spectra("msp/multiline_semicolon.msp")
    assert (compound_a.title, compound_a.n_points, base_peak(compound_a)[0]) == (
        "Compound A", 15, 37)
    assert (jwh.title, jwh.n_points, base_peak(jwh)[0]) == ("JWH 081", 10, 40)


def test_recetox_annotated_peaks():
    [spectrum] = corpus_spectra("msp/recetox_perylene_annotated_peaks.msp")
    assert spectrum.title == "Perylene"
    assert spectrum.n_points == 19
    assert base_peak(spectrum)[0] == 252.09323
    assert spectrum.metadata["license"] == "CC BY-NC"
    assert spectrum.metadata["retention_index"] == "2886.9"
    assert spectrum.y_unit == "intensity"


def _fact(pattern, text):
    match = re.search(pattern, text)
    return match.group(1) if match else None


@pytest.mark.parametrize("relative", CORPUS_MSP)
def test_manifest_counts_and_base_peaks(relative):
    """Read the counts and base peak straight from MANIFEST.tsv, for kept-back files too."""
    facts = manifest()[relative]["known_facts"]
    spectra = corpus_spectra(relative)
    records = _fact(r"(\d+) (?:records?|spectra)\b", facts)
    assert records is not None, facts
    assert len(spectra) == int(records)
    if len(spectra) == 1:
        assert spectra[0].n_points == int(_fact(r"(\d+) peaks", facts))
        assert base_peak(spectra[0])[0] == float(_fact(r"base m/z ([\d.]+)", facts))
    assert msp.detect(corpus_bytes(relative), relative).confidence >= 0.8


def test_every_msp_manifest_fact_is_asserted_here():
    rows = {path for path in manifest() if path.startswith("msp/") and not path.endswith(".mgf")}
    tested = {"msp/Hydrogen_chloride_nist_style.msp", "msp/MoNA-export-GC-MS-first10.msp",
              "msp/amdis_JL_2021_V2.msl", "msp/comments_with_quotes.msp",
              "msp/edge_golm_synon_decimal_comma.msp", "msp/massbank_five_spectra.msp",
              "msp/multiline_semicolon.msp", "msp/recetox_perylene_annotated_peaks.msp"}
    if not rows:
        pytest.skip("corpus manifest not available")
    assert rows <= tested | set(CORPUS_MSP)


# --- matchms as the oracle ----------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("relative", CORPUS_MSP)
def test_peaks_equal_matchms(relative):
    importing = pytest.importorskip("matchms.importing")
    ours = corpus_spectra(relative)
    theirs = list(importing.load_from_msp(str(CORPUS / relative),
                                          metadata_harmonization=False))
    assert len(ours) == len(theirs)
    for mine, reference in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(mine.x, reference.peaks.mz)
        np.testing.assert_array_equal(mine.y, reference.peaks.intensities)


# --- scale ----------------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_library_of_100000_records_imports():
    record = ("Name: compound {n}\nCAS#: 50-00-0\nFormula: CH2O\nMW: 30\n"
              "Num Peaks: 5\n12 10\n13 20\n14 30\n29 999\n30 800\n\n")
    data = "".join(record.format(n=n) for n in range(100_000)).encode()
    start = time.process_time()
    spectra = msp.parse(data, "big.msp")
    elapsed = time.process_time() - start
    assert len(spectra) == 100_000
    assert spectra[-1].title == "compound 99999"
    assert spectra[-1].x.tolist() == [12, 13, 14, 29, 30]
    assert elapsed < 60, f"{len(data) / elapsed / 1e6:.1f} MB/s"


# --- hostile input --------------------------------------------------------------------------------

def only_parse_errors(parse, data, filename):
    try:
        spectra = parse(data, filename)
    except ParseError as error:
        assert error.message
        return
    assert spectra and all(isinstance(s, Spectrum) for s in spectra)


def mutation_sources(folder, corpus_files):
    """The non-empty fixture files of a folder and the given corpus files, as bytes."""
    sources = [path.read_bytes() for path in sorted((FIXTURES / folder).iterdir())]
    sources += [(CORPUS / relative).read_bytes() for relative in corpus_files]
    return [source for source in sources if source]


MSP_ALPHABET = st.sampled_from(["Name: ", "Num Peaks: ", "NUM PEAKS:", "Synon: RI: ", "MW: 1,5",
                                "Comments: \"license=CC\"", "\n", "\r\n", "\r", " ", "\t", ";",
                                ":", "(", ")", "\"", "'", ",", ".", "e", "-", "+", "1", "42",
                                "999", "1e999", "x", "//", "\x00", "\x0b", "\u00a0", "é", "ſ",
                                "\u212a", "\"licenſe=", "Spectrum_type: MS"])


@st.composite
def mutated(draw, sources):
    data = bytearray(draw(st.sampled_from(sources)))
    for _ in range(draw(st.integers(1, 6))):
        where = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["replace", "insert", "delete", "cut"]))
        chunk = draw(st.binary(min_size=1, max_size=8))
        if action == "replace":
            data[where:where + len(chunk)] = chunk
        elif action == "insert":
            data[where:where] = chunk
        elif action == "delete":
            del data[where:where + draw(st.integers(1, 40))]
        else:
            del data[where:]
    return bytes(data)


HOSTILE = settings(max_examples=150, deadline=2000,
                   suppress_health_check=[HealthCheck.too_slow])


@HOSTILE
@given(st.binary(max_size=3000))
def test_arbitrary_bytes(data):
    only_parse_errors(msp.parse, data, "x.msp")


@HOSTILE
@given(st.lists(MSP_ALPHABET, max_size=200).map("".join))
def test_msp_shaped_text(text):
    only_parse_errors(msp.parse, text.encode("utf-8"), "x.msp")


@HOSTILE
@given(mutated(mutation_sources("msp", CORPUS_MSP)))
def test_mutated_real_files(data):
    only_parse_errors(msp.parse, data, "x.msp")
    for module in (msp, massbank, mgf):
        module.detect(data, "x.msp")


@pytest.mark.parametrize("data", [
    b"a" * 1_000_000,
    b" " * 1_000_000 + b"x",
    b"Name: " + b" " * 500_000 + b":" * 500_000,
    b"Name: x\nNum Peaks: 1\n" + b"1 " * 500_000 + b"\n",
    b"Name: x\nNum Peaks: 1\n" + b"(1 2) " * 200_000 + b"x\n",
    b"Name: x\nCAS#: 1;" + b" " * 500_000 + b"x\n",
    b"Name: x\nNum Peaks: 1\n" + b"1" * 1_000_000 + b" 2\n",
], ids=["letters", "spaces", "colons", "one-line", "msl-junk", "cas", "long-number"])
def test_pathological_input_is_fast(data):
    start = time.process_time()
    only_parse_errors(msp.parse, data, "x.msp")
    assert time.process_time() - start < 2
