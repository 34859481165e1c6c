"""EMSA/MSA (ISO 22029): every corpus fact, the team's fixtures, malformed files and fuzzing."""

import re
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from instruments import emsa
from instruments.core import ParseError, Spectrum
from tests.instruments.corpus import CORPUS, FIXTURES, corpus_bytes, fixture_bytes, manifest


def corpus_file(path: str) -> tuple[bytes, str]:
    """The corpus file's bytes and its MANIFEST known_facts text (skips without the corpus)."""
    data = corpus_bytes(path)
    return data, manifest()[path]["known_facts"]


def one(data: bytes, filename: str = "spectrum.msa") -> Spectrum:
    spectra = emsa.parse(data, filename)
    assert len(spectra) == 1
    return spectra[0]


def fixture(name: str) -> bytes:
    return fixture_bytes(f"emsa/{name}")


# --- corpus ------------------------------------------------------------------------------------


def test_iso_22029_compliance_file():
    data, facts = corpus_file("emsa_msa/ISO_22029_2022_compliance.msa")
    assert "NPOINTS=21; 21 rows 520.13..580.50; max 7809 at 541.80" in facts
    assert emsa.detect(data, "ISO_22029_2022_compliance.msa").confidence == 1.0
    spectrum = one(data)
    assert spectrum.n_points == 21
    assert (spectrum.x[0], spectrum.x[-1]) == (520.13, 580.50)
    index = int(np.argmax(spectrum.y))
    assert (spectrum.x[index], spectrum.y[index]) == (541.80, 7809.0)
    assert spectrum.x_unit == "eV"  # "Energy Loss (eV)"
    assert spectrum.y_unit == "intensity"
    assert spectrum.title == "NIO EELS OK SHELL"
    assert spectrum.metadata["acquired_at"] == "1991-10-01T12:00"
    assert spectrum.metadata["owner"] == "EMSA/MAS TASK FORCE"
    assert spectrum.metadata["beam_kv"] == "120.0"
    assert spectrum.metadata["VERSION"] == "TC202v2.0"
    assert not any("NPOINTS" in w for w in spectrum.warnings)
    # The spec example is an electron energy-loss spectrum: not XRF, and said so.
    assert spectrum.technique == "other"
    assert any("#SIGNALTYPE ELS" in w for w in spectrum.warnings)


def test_emsa_v1_example_with_wrong_npoints_and_stray_quotes():
    data, facts = corpus_file("emsa_msa/example1_emsa_v1.msa")
    for fact in ("NPOINTS=20 declared but 21 data rows", "XPERCHAN=3.1", "OFFSET=520.13",
                 "#ENDOFDATA line has stray quotes"):
        assert fact in facts
    assert b'#ENDOFDATA   :"""' in data
    spectrum = one(data)
    assert spectrum.n_points == 21  # the data, not the declared 20
    assert any("#NPOINTS declares 20 points" in w and "holds 21" in w
               for w in spectrum.warnings)
    assert not any("ENDOFDATA" in w for w in spectrum.warnings)
    assert any("#XLABEL is given twice" in w for w in spectrum.warnings)
    assert spectrum.metadata["XPERCHAN"] == "3.1" and spectrum.metadata["OFFSET"] == "520.13"
    assert spectrum.metadata["beam_kv"] == "120.0"  # '#BEAMKV   -kV: 120.0'
    assert spectrum.metadata["CONVANGLE (mR)"] == "1.5"
    assert spectrum.x_unit == "eV" and spectrum.title == "NIO EELS OK SHELL"


def test_the_two_corpus_versions_hold_the_same_spectrum():
    old = one(corpus_file("emsa_msa/example1_emsa_v1.msa")[0])
    new = one(corpus_file("emsa_msa/ISO_22029_2022_compliance.msa")[0])
    np.testing.assert_array_equal(old.x, new.x)
    np.testing.assert_array_equal(old.y, new.y)


def test_corpus_emsa_rows_are_all_covered():
    rows = [path for path in manifest() if path.startswith("emsa_msa/")]
    if not rows:
        pytest.skip(f"no manifest at {CORPUS}")
    present = {path for path in rows if (CORPUS / path).exists()}
    assert present <= {"emsa_msa/ISO_22029_2022_compliance.msa",
                       "emsa_msa/example1_emsa_v1.msa"}


# --- fixtures ----------------------------------------------------------------------------------


def test_xrf_y_data_in_five_columns():
    spectrum = one(fixture("xrf_y_5columns.msa"), "coin.msa")
    assert spectrum.technique == "XRF" and not spectrum.warnings
    assert spectrum.n_points == 200
    assert spectrum.x_unit == "keV" and spectrum.y_unit == "counts"
    assert spectrum.x[0] == 0.0 and spectrum.x[-1] == pytest.approx(3.98)
    assert spectrum.x[int(np.argmax(spectrum.y))] == pytest.approx(1.74)  # channel 87
    meta = spectrum.metadata
    assert meta["acquired_at"] == "2022-03-17T14:32:05"
    assert (meta["beam_kv"], meta["live_time_s"], meta["real_time_s"]) == ("40.0", "30.0", "31.5")
    assert meta["elevation_angle_deg"] == "45.0"
    assert meta["instrument"] == "Tracer 5g"  # a vendor '##' keyword
    assert spectrum.title == "Brass coin, handheld XRF"


def test_eds_xy_with_unit_in_brackets():
    spectrum = one(fixture("eds_xy_kev.msa"), "glass.msa")
    assert spectrum.technique == "XRF" and spectrum.metadata["signal_type"] == "EDS"
    assert spectrum.x_unit == "keV" and spectrum.n_points == 150
    assert spectrum.x[int(np.argmax(spectrum.y))] == pytest.approx(1.74)  # Si K-alpha
    assert spectrum.metadata["acquired_at"] == "2023-01-05T09:07"
    assert spectrum.metadata["detector"] == "SDD"


def test_keywords_are_case_insensitive_and_signal_type_may_be_missing():
    data = (b"#format : EMSA/MAS Spectral Data File\n#Version : 1.0\n#datatype : y\n"
            b"#xperchan : 0.01\n#offset : 1.0\n#XUnits : keV\n#spectrum :\n1, 2, 3,\n"
            b"#endofdata :\n")
    spectrum = one(data)
    np.testing.assert_allclose(spectrum.x, [1.0, 1.01, 1.02])
    assert spectrum.technique == "XRF"
    assert any("does not state #SIGNALTYPE" in w for w in spectrum.warnings)


def test_truncated_file_keeps_its_data_and_warns():
    spectrum = one(fixture("truncated_no_enddata.msa"))
    assert spectrum.n_points == 4
    assert "No #ENDOFDATA line: the file may be truncated." in spectrum.warnings


def test_detection():
    assert emsa.detect(fixture("eds_xy_kev.msa"), "x.txt").confidence == 1.0
    assert emsa.detect(fixture("bad_no_spectrum.msa"), "x.msa").confidence == 0.9
    assert emsa.detect(fixture("bad_no_format.msa"), "x.msa").confidence == 0.7
    assert emsa.detect(b"#TITLE : x\n1, 2\n", "x.msa").confidence == 0.2
    assert emsa.detect(b"1,2\n3,4\n", "x.csv") is None
    assert emsa.detect(b"#FORMAT : EMSA\x00\x00", "x.msa") is None


# --- malformed ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name, message, line", [
    ("bad_no_format.msa", "#FORMAT keyword is missing", 1),
    ("bad_value.msa", "Line 14, value 2: 'x2' is not a number", 14),
    ("bad_no_spectrum.msa", "No #SPECTRUM line", 12),
    ("bad_odd_pairs.msa", "odd number of values", 14),
])
def test_malformed_files(name, message, line):
    with pytest.raises(ParseError) as error:
        emsa.parse(fixture(name), name)
    assert message in str(error.value) and error.value.line == line


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"\x00\x01\x02#FORMAT", "binary"),
    (b"#FORMAT : EMSA\n#VERSION : 1\nhello\n#SPECTRUM :\n", "Line 3 is not a '#KEYWORD"),
    (b"#FORMAT : EMSA\n#VERSION : 1\n#DATATYPE : Z\n#SPECTRUM :\n1\n", "must be XY or Y"),
    (b"#FORMAT : EMSA\n#VERSION : 1\n#DATATYPE : Y\n#SPECTRUM :\n1, 2\n", "needs #XPERCHAN"),
    (b"#FORMAT : EMSA\n#VERSION : 1\n#DATATYPE : Y\n#XPERCHAN : abc\n#SPECTRUM :\n1, 2\n",
     "#XPERCHAN must be a number"),
    (b"#FORMAT : EMSA\n#VERSION : 1\n#DATATYPE : XY\n#SPECTRUM :\n1, 2\n#ENDOFDATA :\n",
     "at least 2"),
    (b"#FORMAT : EMSA\n#VERSION : 1\n#DATATYPE : Y\n#XPERCHAN : 1e308\n#SPECTRUM :\n"
     + b"1, " * 20 + b"\n", "beyond float64"),
])
def test_bad_input_gives_parse_errors(data, message):
    with pytest.raises(ParseError, match=re.escape(message)):
        emsa.parse(data, "bad.msa")


# --- fuzzing -----------------------------------------------------------------------------------


def checked(data: bytes) -> None:
    emsa.detect(data, "fuzz.msa")
    try:
        spectra = emsa.parse(data, "fuzz.msa")
    except ParseError as error:
        assert str(error)
        return
    for spectrum in spectra:
        assert spectrum.n_points >= 2
        assert np.isfinite(spectrum.x).all() and np.isfinite(spectrum.y).all()


SOURCES = sorted(FIXTURES.glob("emsa/*")) + sorted((CORPUS / "emsa_msa").glob("*"))
HEADER = b"#FORMAT : EMSA/MAS Spectral Data File\n#VERSION : 1.0\n"


@settings(max_examples=300, deadline=1000)
@given(st.binary(max_size=4096))
def test_fuzz_arbitrary_bytes(data):
    checked(data)
    checked(HEADER + data)


@settings(max_examples=300, deadline=1000)
@given(st.text(alphabet=st.sampled_from(list("#:-,. \n\r\t0123456789eEXYSPECTRUMDATANOF\"")),
               max_size=800))
def test_fuzz_keyword_like_text(text):
    checked(HEADER + text.encode())


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.data_too_large])
@given(st.sampled_from(SOURCES), st.data())
def test_fuzz_mutated_real_files(path, data):
    mutated = bytearray(path.read_bytes())
    for _ in range(data.draw(st.integers(1, 6))):
        position = data.draw(st.integers(0, max(len(mutated) - 1, 0)))
        action = data.draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
        if action == "flip" and mutated:
            mutated[position] ^= 1 << data.draw(st.integers(0, 7))
        elif action == "delete":
            del mutated[position:position + data.draw(st.integers(1, 64))]
        elif action == "insert":
            mutated[position:position] = data.draw(st.sampled_from(
                [b",", b"#", b":", b"\n", b"-", b"#ENDOFDATA :\n", b"#SPECTRUM :\n", b"1e999"]))
        else:
            del mutated[position:]
    checked(bytes(mutated))


@pytest.mark.parametrize("body", [b"1, " * 300_000, b" " * 600_000 + b"x",
                                  b"#" + b"-" * 600_000 + b":", b"#A" + b" " * 600_000 + b"x",
                                  b"#A" + b" " * 300_000 + b"-" + b" " * 300_000 + b"x",
                                  b"\n" * 600_000])
def test_long_lines_take_linear_time(body):
    start = time.perf_counter()
    checked(HEADER + b"#DATATYPE : Y\n#XPERCHAN : 1\n#SPECTRUM :\n" + body)
    checked(HEADER + body)
    assert time.perf_counter() - start < 5
