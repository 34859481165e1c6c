"""CSV/TXT exports: every corpus fact, the team's fixtures, malformed files, speed and fuzzing.

The fixtures under fixtures/csvtxt/ are small files written by the team (the decimal-comma one
is a synthetic silicon band written the way a de-DE LabSpec export would write it).
"""

import contextlib
import re
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from instruments import core, csvtxt
from instruments.core import ParseError, Spectrum
from tests.instruments.corpus import CORPUS, FIXTURES, corpus_bytes, fixture_bytes, manifest

TECHNIQUE_UNKNOWN = "does not say which technique"


def corpus_file(path: str) -> tuple[bytes, str]:
    """The corpus file's bytes and its MANIFEST known_facts text (skips without the corpus)."""
    data = corpus_bytes(path)
    return data, manifest()[path]["known_facts"]


def one(data: bytes, filename: str) -> Spectrum:
    spectra = csvtxt.parse(data, filename)
    assert len(spectra) == 1
    return spectra[0]


def peak(spectrum: Spectrum) -> tuple[float, float]:
    """(x, y) of the largest Y."""
    index = int(np.argmax(spectrum.y))
    return float(spectrum.x[index]), float(spectrum.y[index])


def fixture(name: str) -> bytes:
    return fixture_bytes(f"csvtxt/{name}")


# --- corpus: every MANIFEST fact ---------------------------------------------------------------


def test_labspec_raman_with_latin1_header():
    data, facts = corpus_file("csvtxt/labspec_532nm_Si_200mu.txt")
    for fact in ("1024 rows", "x 46.6417..1754.52 cm-1", "max 14997 at 522.624 cm-1",
                 "Laser=532nm_Edge", "Instrument=LabRAM HR Evol", "Date=16.12.2019 09:57"):
        assert fact in facts
    detection = csvtxt.detect(data, "labspec_532nm_Si_200mu.txt")
    assert detection.confidence >= 0.8 and "LabSpec" in detection.reason
    spectrum = one(data, "labspec_532nm_Si_200mu.txt")
    assert spectrum.n_points == 1024
    assert (spectrum.x[0], spectrum.x[-1]) == (46.6417, 1754.52)
    assert spectrum.x_unit == "cm-1" and spectrum.technique == "Raman"
    assert peak(spectrum) == (522.624, 14997.0)  # the silicon band (nominal 520.7 cm-1)
    meta = spectrum.metadata
    assert meta["Laser"] == "532nm_Edge" and meta["laser_wavelength_nm"] == "532"
    assert meta["instrument"] == "LabRAM HR Evol"
    assert meta["Date"] == "16.12.2019 09:57" and meta["acquired_at"] == "2019-12-16T09:57"
    assert meta["scans"] == "1" and meta["exposure_time"] == "1 s"
    assert meta["Detector temperature (°C)"] == "-60.1"  # Latin-1 decoded, not mangled
    assert meta["export_profile"] == "Horiba LabSpec" and meta["x_order"] == "ascending"
    assert spectrum.title == "HB003-_4"
    assert any("not UTF-8" in w for w in spectrum.warnings)


def test_masshunter_tic_is_split_into_its_two_interleaved_signals():
    data, facts = corpus_file("csvtxt/agilent_masshunter_tic_front.csv")
    for fact in ("2616 rows (= 1307 scan + 1309 SIM TIC points interleaved)",
                 "first 0.09353,11398", "max 700250 at 2.68707 min"):
        assert fact in facts
    quirks = manifest()["csvtxt/agilent_masshunter_tic_front.csv"]["quirks_or_bug_refs"]
    assert "BOM + 2 preamble lines" in quirks and data.startswith(b"\xef\xbb\xbf")
    assert csvtxt.detect(data, "tic_front.csv").confidence >= 0.8
    first, second = csvtxt.parse(data, "agilent_masshunter_tic_front.csv")
    assert first.n_points + second.n_points == 2616
    assert (first.n_points, second.n_points) == (1309, 1307)
    assert (first.x[0], first.y[0]) == (0.09353, 11398.0)
    assert first.metadata["rows"].startswith("series 1 of 2: file lines 3, 5, 7")  # after 2
    assert second.metadata["rows"].startswith("series 2 of 2: file lines 4, 6, 8")
    assert peak(second) == (2.68707, 700250.0)
    for spectrum in (first, second):
        assert spectrum.technique == "chromatogram" and spectrum.x_unit == "min"
        assert spectrum.metadata["acquired_at"] == "2019-12-17T10:13:57"
        assert spectrum.metadata["origin"] == r"D:\MassHunter\Data\caye_nmr_test_mix .D"
        assert spectrum.metadata["x_order"] == "ascending"
        assert any("alternate between two time grids" in w for w in spectrum.warnings)
    # Cross-format: the 1307-point series is the full-scan TIC of yellow.D/data.ms.
    ms_facts = manifest()["agilent/yellow.D_data.ms"]["known_facts"]
    assert "1307 scans" in ms_facts and "t 0.09555..8.49383 min" in ms_facts
    assert (second.x[0], second.x[-1]) == (0.09555, 8.49383)
    assert "max TIC 700220 at 2.6871 min" in ms_facts
    assert abs(peak(second)[1] - 700220) / 700220 < 1e-4
    assert abs(peak(second)[0] - 2.6871) < 1e-3


def test_tga_semicolon_cr_only():
    data, facts = corpus_file("csvtxt/agir_tga_semicolon_cr_only.csv")
    assert "3246 rows; first -16.13;7.496165355" in facts
    spectrum = one(data, "tg.csv")
    # The manifest counts 3246 line ends; the last row has none, so there are 3247 rows.
    assert data.count(b"\r") == 3246 and b"\n" not in data and not data.endswith(b"\r")
    assert spectrum.n_points == 3247
    assert (spectrum.x[0], spectrum.y[0]) == (-16.13, 7.496165355)
    assert (spectrum.x[-1], spectrum.y[-1]) == (30.66650174, 8.178845271)
    assert spectrum.technique == "other" and spectrum.x_unit == "arbitrary"
    assert any(TECHNIQUE_UNKNOWN in w for w in spectrum.warnings)


def test_openspecy_ftir_without_header_uses_the_omnic_profile_and_says_so():
    data, facts = corpus_file("csvtxt/openspecy_ftir_pva_without_header.csv")
    assert "863 rows; 674.99..3999.81 cm-1; max 0.0903 at 1018.27 cm-1" in facts
    spectrum = one(data, "ftir_pva_without_header.csv")
    assert spectrum.n_points == 863
    assert round(spectrum.x[0], 2) == 674.99 and round(spectrum.x[-1], 2) == 3999.81
    x, y = peak(spectrum)
    assert round(x, 2) == 1018.27 and round(y, 4) == 0.0903
    assert spectrum.technique == "IR" and spectrum.x_unit == "cm-1"
    assert any("assumed from the Thermo OMNIC CSV layout" in w for w in spectrum.warnings)


def test_spectrochempy_ir_csv():
    data, facts = corpus_file("csvtxt/spectrochempy_IR.CSV")
    assert "3736 rows; x 399.1926..4000.605; max y 22.54 at 1224.577" in facts
    spectrum = one(data, "IR.CSV")
    assert spectrum.n_points == 3736
    assert (spectrum.x[0], spectrum.x[-1]) == (399.1926, 4000.605)
    x, y = peak(spectrum)
    assert x == 1224.577 and round(y, 2) == 22.54
    assert spectrum.technique == "IR" and spectrum.x_unit == "cm-1"


def test_openspecy_raman_long_csv_leaves_the_technique_to_the_user():
    data, facts = corpus_file("csvtxt/openspecy_raman_hdpe.csv")
    assert "964 rows; 301.04..3198.12 cm-1; max 816 at 2882.34 cm-1" in facts
    spectrum = one(data, "raman_hdpe.csv")
    assert spectrum.n_points == 964
    assert (spectrum.x[0], spectrum.x[-1]) == (301.04, 3198.12)
    assert peak(spectrum) == (2882.34, 816.0)  # the C-H stretch
    assert spectrum.x_unit == "cm-1" and spectrum.y_unit == "intensity"
    assert spectrum.technique == "other"  # "wavenumber,intensity" fits both IR and Raman
    assert any(TECHNIQUE_UNKNOWN in w for w in spectrum.warnings)


def test_openspecy_wide_csv_is_the_same_spectrum_as_the_long_one():
    wide_data, facts = corpus_file("csvtxt/openspecy_raman_hdpe_os_wide.csv")
    assert "973 columns; same HDPE spectrum as openspecy_raman_hdpe.csv (rounded X)" in facts
    assert all(len(line.split(b",")) == 973 for line in wide_data.splitlines())
    wide = one(wide_data, "raman_hdpe_os.csv")
    long = one(corpus_bytes("csvtxt/openspecy_raman_hdpe.csv"), "raman_hdpe.csv")
    assert wide.n_points == long.n_points == 964  # 973 columns less 9 metadata columns
    np.testing.assert_array_equal(wide.y, long.y)
    np.testing.assert_array_equal(wide.x, np.round(long.x))
    assert wide.technique == "Raman"  # the file's own spectrum_type column says so
    assert wide.x_unit == "cm-1" and wide.title == "HDPE"
    assert wide.metadata["license"] == "CC BY-NC"  # the row's licence, kept for the user
    assert wide.metadata["operator"] == "Win Cowger"
    assert wide.metadata["origin"] == "Horiba Scientific"
    assert (wide.metadata["map_x"], wide.metadata["map_y"]) == ("1", "1")


def test_agilent_asp_positional():
    data, facts = corpus_file("csvtxt/agilent_ftir_ldpe_soil.asp")
    assert "npoints=1798; firstX=3999.43349933624; lastX=650.420452594757; " \
           "first Y=0.00569463" in facts
    assert csvtxt.detect(data, "ftir_ldpe_soil.asp").confidence >= 0.9
    spectrum = one(data, "ftir_ldpe_soil.asp")
    assert spectrum.n_points == 1798
    assert (spectrum.x[0], spectrum.x[-1]) == (3999.43349933624, 650.420452594757)
    assert round(spectrum.y[0], 8) == 0.00569463
    assert spectrum.technique == "IR" and spectrum.x_unit == "cm-1"
    assert spectrum.metadata["x_order"] == "descending" and not spectrum.warnings


def test_corpus_csvtxt_rows_are_all_covered():
    rows = [path for path in manifest() if path.startswith("csvtxt/")]
    if not rows:
        pytest.skip(f"no manifest at {CORPUS}")
    covered = {"agilent_ftir_ldpe_soil.asp", "agilent_masshunter_tic_front.csv",
               "agir_tga_semicolon_cr_only.csv", "labspec_532nm_Si_200mu.txt",
               "openspecy_ftir_pva_without_header.csv", "openspecy_raman_hdpe.csv",
               "openspecy_raman_hdpe_os_wide.csv", "spectrochempy_IR.CSV"}
    present = {path.removeprefix("csvtxt/") for path in rows if (CORPUS / path).exists()}
    assert present <= covered, f"corpus files without a test: {present - covered}"


# --- the team's fixtures -----------------------------------------------------------------------


def test_decimal_comma_semicolon():
    spectrum = one(fixture("decimal_comma_semicolon.csv"), "si_de.csv")
    assert spectrum.n_points == 55
    assert (spectrum.x[0], spectrum.y[0]) == (480.0, 141.7)
    x, y = peak(spectrum)
    assert x == pytest.approx(520.5) and y > 9000
    assert spectrum.technique == "Raman" and spectrum.x_unit == "cm-1"  # Raman-Verschiebung
    assert spectrum.metadata["acquired_at"] == "2021-02-03T14:05"
    assert spectrum.metadata["laser_wavelength_nm"] == "785"
    assert spectrum.title == "Si-Referenz (synthetisch, de-DE)"
    assert "Numbers use a decimal comma." in spectrum.warnings


def test_wide_layout_with_row_labels():
    first, second = csvtxt.parse(fixture("wide_two_rows.csv"), "wide.csv")
    np.testing.assert_array_equal(first.x, np.arange(400, 640, 20))
    assert first.y[0] == 0.1 and second.y[0] == 0.5
    assert (first.title, second.title) == ("sample A", "sample B")
    assert first.x_unit == "cm-1" and first.technique == "other"


def test_wide_layout_of_numbers_only():
    data = (",".join(str(i) for i in range(20)) + "\n"
            + ",".join(str(i * i) for i in range(20)) + "\n").encode()
    spectrum = one(data, "wide.csv")
    assert spectrum.n_points == 20 and spectrum.y[-1] == 361
    assert any("wide table" in w for w in spectrum.warnings)


def test_cr_only_tab_separated_with_header_row():
    data = fixture("cr_only_tab.txt")
    assert b"\n" not in data
    spectrum = one(data, "cr.txt")
    assert spectrum.n_points == 8 and (spectrum.x[0], spectrum.x[-1]) == (200, 270)
    assert spectrum.technique == "Raman" and spectrum.x_unit == "cm-1"
    assert spectrum.y_unit == "intensity" and not spectrum.warnings


def test_latin1_header():
    data = fixture("latin1_header.txt")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    spectrum = one(data, "latin1.txt")
    assert spectrum.title == "café sample"
    assert spectrum.metadata["Objective"] == "x50 (µm)"
    assert spectrum.metadata["acquired_at"] == "2020-12-24T23:59"
    assert spectrum.metadata["laser_wavelength_nm"] == "633"
    assert spectrum.technique == "Raman"  # the LabSpec profile
    assert spectrum.warnings == ["The file is not UTF-8; it was read as cp1252."]


def test_tab_header_row_and_descending_x_kept_as_given():
    spectrum = one(fixture("uvvis_descending.tsv"), "uv.tsv")
    assert spectrum.x[0] == 700 and spectrum.x[-1] == 605
    assert spectrum.metadata["x_order"] == "descending"
    assert spectrum.technique == "UV-Vis" and spectrum.x_unit == "nm"
    assert spectrum.y_unit == "absorbance" and "export_profile" not in spectrum.metadata
    assert peak(spectrum)[0] == 660


def test_shimadzu_style_header():
    spectrum = one(fixture("shimadzu_style.csv"), "uv.csv")
    assert spectrum.metadata["export_profile"] == "Shimadzu UV CSV"
    assert spectrum.technique == "UV-Vis" and spectrum.x_unit == "nm"
    assert (spectrum.x[0], spectrum.x[-1]) == (300, 244)
    assert peak(spectrum)[0] == 260


def test_masshunter_fixture_split():
    first, second = csvtxt.parse(fixture("masshunter_interleaved.csv"), "tic.csv")
    assert first.n_points == second.n_points == 12
    assert (first.y < 2000).all() and (second.y >= 50000).all()
    assert first.title == "fixture_run.D (series 1 of 2)"
    assert first.metadata["acquired_at"] == "2021-03-03T09:15:00"


def test_masshunter_without_interleaving_stays_one_trace():
    rows = "\r\n".join(f"{0.1 + 0.005 * i:.4f},{100 + i}" for i in range(30))
    data = ("C:\\x.D Wed Mar 03 09:15:00 2021\r\nStart of data points\r\n" + rows).encode()
    spectrum = one(data, "tic.csv")
    assert spectrum.n_points == 30 and spectrum.technique == "chromatogram"


def test_agilent_asp_fixtures():
    spectrum = one(fixture("agilent_small.asp"), "small.asp")
    np.testing.assert_array_equal(spectrum.x, np.arange(4000, 3990, -1))
    liar = one(fixture("agilent_count_mismatch.asp"), "liar.asp")
    assert liar.n_points == 10
    assert any("declares 12 points" in w for w in liar.warnings)


def test_several_y_columns_give_several_spectra():
    tic, other = csvtxt.parse(fixture("multi_y_columns.csv"), "multi.csv")
    assert (tic.block, other.block) == ("TIC", "Signal 2")
    assert tic.technique == "chromatogram" and tic.x_unit == "min"
    assert other.technique == "other"
    assert other.y[-1] == 35 and tic.y[-1] == 500


def test_key_colon_header_bracket_units_and_footer():
    spectrum = one(fixture("key_colon_header_footer.txt"), "pe.txt")
    assert spectrum.title == "PE film"
    meta = spectrum.metadata
    assert (meta["instrument"], meta["serial"], meta["operator"]) == (
        "Nicolet iS5", "ABC123", "J. Doe")
    assert meta["acquired_at"] == "2021-03-04T10:20:30" and meta["scans"] == "32"
    assert spectrum.technique == "IR" and spectrum.y_unit == "%T"
    assert spectrum.n_points == 8
    assert any("End Processed Spectral Data" in w for w in spectrum.warnings)


def test_mz_column_means_mass_spectrum():
    spectrum = one(fixture("ms_mz_abundance.csv"), "ms.csv")
    assert spectrum.technique == "MS" and spectrum.x_unit == "m/z"
    assert peak(spectrum) == (43, 999)


def test_headerless_file_says_what_it_does_not_know():
    spectrum = one(fixture("headerless_plain.csv"), "plain.csv")
    assert spectrum.technique == "other" and spectrum.x_unit == "arbitrary"
    assert any(TECHNIQUE_UNKNOWN in w for w in spectrum.warnings)
    assert "The file does not say the X unit." in spectrum.warnings


def test_non_monotonic_x_is_kept_and_reported_with_its_line():
    spectrum = one(b"x,y\n1,1\n2,2\n3,3\n2.5,4\n4,5\n", "zigzag.csv")
    np.testing.assert_array_equal(spectrum.x, [1, 2, 3, 2.5, 4])
    assert spectrum.metadata["x_order"] == "unordered"
    assert any("line 5" in w for w in spectrum.warnings)


@pytest.mark.parametrize("text, iso", [
    ("16.12.2019 09:57", "2019-12-16T09:57"),
    ("2021-03-04 10:20:30", "2021-03-04T10:20:30"),
    ("Tue Dec 17 10:13:57 2019", "2019-12-17T10:13:57"),
    ("01-OCT-1991", "1991-10-01"),
    ("17 Dec 19  10:04 am", "2019-12-17T10:04"),
    ("25/12/2020 1:05 PM", "2020-12-25T13:05"),
    ("12/25/2020", "2020-12-25"),
    ("03/04/2020", None),  # day and month cannot be told apart
    ("31.02.2020", None),
    ("yesterday", None),
])
def test_iso_datetime(text, iso):
    assert core.iso_datetime(text) == iso


def test_utf16_text_export():
    text = "Wavenumber (cm-1)\tAbsorbance\r\n1000\t0.1\r\n1001\t0.2\r\n1002\t0.3\r\n"
    spectrum = one(text.encode("utf-16"), "excel.txt")
    assert spectrum.technique == "IR" and spectrum.n_points == 3
    assert "read as utf-16" in spectrum.warnings[0]
    # A long file whose first 64 KiB end inside a surrogate pair is still detected.
    rows = "".join(f"{i}\t{i % 7}\n" for i in range(100))
    comment = "#" + "p" * (csvtxt.SNIFF_BYTES // 2 - 3 - len(rows))  # then a 4-byte character
    big = b"\xff\xfe" + (rows + comment + "\U0001f600\n" + rows).encode("utf-16-le")
    assert big[csvtxt.SNIFF_BYTES - 2:csvtxt.SNIFF_BYTES] == "\U0001f600".encode("utf-16-le")[:2]
    assert csvtxt.detect(big, "big.txt").confidence >= 0.5


# --- malformed files ---------------------------------------------------------------------------


def test_ragged_row_names_line_and_columns():
    with pytest.raises(ParseError) as error:
        csvtxt.parse(fixture("bad_ragged_row.csv"), "ragged.csv")
    assert error.value.line == 4 and "3 columns" in str(error.value)


def test_ragged_row_deep_inside_the_data():
    rows = [f"{i},{i}" for i in range(500)]
    rows[321] = "321,1,2"
    with pytest.raises(ParseError) as error:
        csvtxt.parse("\n".join(rows).encode(), "ragged.csv")
    assert error.value.line == 322 and "has 3 columns; the data has 2" in str(error.value)


def test_text_in_a_data_row_names_line_and_column():
    with pytest.raises(ParseError) as error:
        csvtxt.parse(fixture("bad_text_in_row.csv"), "text.csv")
    assert error.value.line == 5 and "column 2: 'n/a'" in str(error.value)


def test_text_deep_inside_whitespace_data():
    rows = [f"{i} {i}" for i in range(500)]
    rows[400] = "400 4O0"
    with pytest.raises(ParseError) as error:
        csvtxt.parse("\n".join(rows).encode(), "text.txt")
    assert error.value.line == 401 and "column 2: '4O0'" in str(error.value)


def test_only_a_header():
    with pytest.raises(ParseError, match="No numeric data"):
        csvtxt.parse(fixture("bad_header_only.csv"), "header.csv")


def test_one_point():
    with pytest.raises(ParseError, match="fewer than 2 points") as error:
        csvtxt.parse(fixture("bad_one_point.csv"), "one.csv")
    assert error.value.line == 2


def test_binary_junk_is_neither_claimed_nor_read():
    data = fixture("bad_binary_junk.csv")
    assert csvtxt.detect(data, "junk.csv") is None
    with pytest.raises(ParseError, match="binary") as error:
        csvtxt.parse(data, "junk.csv")
    assert error.value.offset == 0


def test_empty_file():
    with pytest.raises(ParseError, match="empty"):
        csvtxt.parse(b"  \r\n", "empty.csv")


@pytest.mark.parametrize("data, name", [
    (b"##TITLE=benzene\n##JCAMP-DX=4.24\n##XYDATA=(X++(Y..Y))\n400 1 2 3\n401 4 5 6\n", "a.jdx"),
    (b"#FORMAT : EMSA/MAS Spectral Data File\n#VERSION : 1.0\n#SPECTRUM :\n1, 2\n2, 3\n", "a.txt"),
    (b"Name: caffeine\nNum Peaks: 3\n109 100\n194 999\n55 20\n", "lib.txt"),
    (b"BEGIN IONS\nPEPMASS=400\n100 5\n200 6\n300 7\nEND IONS\n", "a.txt"),
])
def test_other_text_formats_are_not_claimed(data, name):
    assert csvtxt.detect(data, name) is None
    with pytest.raises(ParseError, match="not a CSV/TXT export"):
        csvtxt.parse(data, name)


def test_markup_and_prose_are_not_claimed():
    assert csvtxt.detect(b'<?xml version="1.0"?>\n<mzML>\n1 2\n3 4\n5 6\n</mzML>', "a.txt") is None
    assert csvtxt.detect(b'{"a": [1, 2],\n "b": 3}\n', "a.json") is None
    assert csvtxt.detect(b"80 files written by real instruments, copied byte for byte.\n"
                         b"- Several files carry notices.\n", "README.md") is None


def test_detection_levels():
    plain = csvtxt.detect(fixture("headerless_plain.csv"), "plain.csv")
    assert 0.5 <= plain.confidence <= 0.6
    assert csvtxt.detect(fixture("bad_header_only.csv"), "header.csv").confidence < 0.5
    assert csvtxt.detect(b"no numbers here\n", "notes.bin") is None


# --- speed -------------------------------------------------------------------------------------


def test_a_million_rows_parse_in_seconds():
    x = np.arange(1_000_000) * 0.001
    text = "\n".join(f"{a:.3f};{b:.4f}".replace(".", ",") for a, b in zip(x, np.sin(x),
                                                                         strict=True))
    data = ("Zeit (min);Signal\n" + text + "\n").encode()
    start = time.perf_counter()
    spectrum = one(data, "big.csv")
    assert time.perf_counter() - start < 15
    assert spectrum.n_points == 1_000_000 and spectrum.x[-1] == 999.999


@pytest.mark.parametrize("line", [
    "1," * 400_000 + "x",
    "\t" * 400_000 + "1",
    " " * 400_000 + "x",
    "1;" * 200_000 + "2\n" + ";" * 400_000,
    "#" + "=" * 400_000,
    "a: " + ":" * 400_000,
    "1 2\n" * 3 + "3 " * 300_000,
    ("1\t2" + "\t" * 400_000 + "\n") * 3,
    "3.1e" * 200_000,
    "Mon Jan 1 " * 40_000,
    "\n" * 60_000 + "1,2\n3,4\n",
    "#A" + " " * 400_000 + "x\n1,2\n3,4\n",
    "x" + " " * 400_000 + "(\t\n1\t2\n3\t4\n",
    "C:\\a.D" + " .D" * 100_000 + "\nStart of data points\n1,2\n3,4\n",
])
def test_long_lines_take_linear_time(line):
    start = time.perf_counter()
    with contextlib.suppress(ParseError):
        csvtxt.parse(line.encode(), "long.txt")
    csvtxt.detect(line.encode(), "long.txt")
    assert time.perf_counter() - start < 5


# --- fuzzing -----------------------------------------------------------------------------------


def checked(data: bytes, filename: str = "fuzz.csv") -> None:
    """Parse; only ParseError may escape, and whatever comes back is a clean spectrum."""
    csvtxt.detect(data, filename)
    try:
        spectra = csvtxt.parse(data, filename)
    except ParseError as error:
        assert str(error)
        return
    assert spectra
    for spectrum in spectra:
        assert spectrum.n_points >= 2
        assert np.isfinite(spectrum.x).all() and np.isfinite(spectrum.y).all()


SOURCES = sorted(FIXTURES.glob("csvtxt/*")) + sorted((CORPUS / "csvtxt").glob("*"))
NUMERIC_TEXT = st.text(alphabet=st.sampled_from(list("0123456789.,;\t -+eE#:=\n\r\"aT")),
                       max_size=600)


@settings(max_examples=300, deadline=1000)
@given(st.binary(max_size=4096))
def test_fuzz_arbitrary_bytes(data):
    checked(data)


@settings(max_examples=300, deadline=1000)
@given(NUMERIC_TEXT)
def test_fuzz_numeric_looking_text(text):
    checked(text.encode())


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.data_too_large])
@given(st.sampled_from(SOURCES), st.data())
def test_fuzz_mutated_real_files(path, data):
    original = path.read_bytes()
    mutated = bytearray(original)
    for _ in range(data.draw(st.integers(1, 6))):
        position = data.draw(st.integers(0, max(len(mutated) - 1, 0)))
        action = data.draw(st.sampled_from(["flip", "delete", "insert", "truncate", "line"]))
        if action == "flip" and mutated:
            mutated[position] ^= 1 << data.draw(st.integers(0, 7))
        elif action == "delete":
            del mutated[position:position + data.draw(st.integers(1, 64))]
        elif action == "insert":
            mutated[position:position] = data.draw(st.binary(min_size=1, max_size=16))
        elif action == "truncate":
            del mutated[position:]
        else:  # repeat or drop a separator-rich chunk
            mutated[position:position] = data.draw(st.sampled_from(
                [b",", b";", b"\t", b"\r", b"\n", b",,", b"1,2,3\n", b"#k=v\n", b'"']))
    checked(bytes(mutated), path.name)


def test_fuzz_sources_are_present():
    assert any(re.search(r"\.(csv|txt|asp|tsv)$", p.name) for p in SOURCES)
