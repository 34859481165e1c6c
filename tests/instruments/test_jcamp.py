"""JCAMP-DX reader: every corpus fact, the team's own fixtures, jcamp as oracle, fuzzing.

The fixture files under fixtures/jcamp/ are small files written by hand for this suite, one
per feature of the format plus the malformed ones (names starting with 'bad_').
"""

import contextlib
import io
import re
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from instruments import core, jcamp
from instruments.core import ParseError, Spectrum
from tests.instruments.corpus import CORPUS, FIXTURES, corpus_bytes, fixture_bytes, manifest
from tests.instruments.fuzz import mutated

JCAMP_ROWS = sorted(name for name in manifest() if name.startswith("jcamp/"))


def read(name: str) -> list[Spectrum]:
    """Parse a corpus file (jcamp/...) or one of the project's fixtures."""
    if name.startswith("jcamp/"):
        return jcamp.parse(corpus_bytes(name), name.rsplit("/", 1)[-1])
    return jcamp.parse(fixture_bytes(f"jcamp/{name}"), name)


def one(name: str) -> Spectrum:
    spectra = read(name)
    assert len(spectra) == 1, [s.block for s in spectra]
    return spectra[0]


def at_max(spectrum: Spectrum) -> tuple[float, float]:
    index = int(np.nanargmax(spectrum.y))
    return float(spectrum.x[index]), float(spectrum.y[index])


def at_min(spectrum: Spectrum) -> tuple[float, float]:
    index = int(np.nanargmin(spectrum.y))
    return float(spectrum.x[index]), float(spectrum.y[index])


def has_warning(spectrum: Spectrum, pattern: str) -> bool:
    return any(re.search(pattern, warning) for warning in spectrum.warnings)


# --- the corpus: facts from MANIFEST.tsv ---------------------------------------------------------

# name: (points, first x, last x, title, technique, x unit, y unit)
CONTINUOUS = {
    "ir_affn_coblentz_benzene.jdx": (3343, 452, 3794, "Benzene", "IR", "cm-1", "transmittance"),
    "ir_affn_pacsign_nist_acetone.jdx": (14106, 574.928, 3975.077, "Acetone", "IR", "cm-1",
                                         "(micromol/mol)-1m-1 (base 10)"),
    "ir_affn_sadtler_1-butene.jdx": (880, 450, 3966, "1-Butene", "IR", "cm-1", "absorbance"),
    "ir_affn_sci_notation.jdx": (1867, 399.361384615384, 3999.40169230769, "compound name",
                                 "IR", "cm-1", "absorbance"),
    "ir_difdup_BRUKER1.JCM": (3735, 4000.655017, 400.1619262, "CCH-4", "IR", "cm-1",
                              "transmittance"),
    "ir_difdup_BRUKER2.JCM": (3735, 4000.655017, 400.1619262, "CCH-4", "IR", "cm-1",
                              "absorbance"),
    "ir_difdup_dupdec2.jdx": (3951, 4400, 450, "dupdec2.jdx", "IR", "cm-1", "transmittance"),
    "ir_difdup_polyethylene_SPECFILE.DX": (1801, 400, 4000, "POLYETHYLENE", "IR", "cm-1",
                                           "transmittance"),
    "ir_npoints_mismatch_ethanol2_v2017.jdx": (1764, 599.86169434, 4000.36425781, "", "IR",
                                               "cm-1", "transmittance"),
    "ir_pnnl_nitrocellulose_latin1.jdx": (7154, 7498.994, 599.91952, "Nitrocellulose", "IR",
                                          "cm-1", "reflectance"),
    "ir_sqz_dup_sqzdupd1.jdx": (18669, 5000.0323, 499.95502, "sqzdupd1.jdx", "IR", "cm-1",
                                "transmittance"),
    "ir_yfactor_comment_jtpolys.jdx": (1844, 447.484259, 4002.28378,
                                       "FIX form (FILE: jtpolys.jdx)", "IR", "cm-1",
                                       "transmittance"),
    "ims_difdup_IMSDEMO.DX": (1000, 0, 66.6, "Example Ion Mobility Spectrum (Acetone, Pentane)",
                              "IMS", "ms", "pA"),
    "ms_continuous_difdup_ISAS_MS2.DX": (346, 13.998, 6.999, "PFK", "MS", "s", "counts"),
    "raman_xypoints_rod_1000002_noyvalues_end.jdx": (512, 10.3909, 668.802, "1000002", "Raman",
                                                     "cm-1", "intensity"),
    "raman_xyxy_tannic_acid.jdx": (1949, 100.595, 2854.713, "tannic acid", "Raman", "cm-1",
                                   "intensity"),
    "uvvis_difdup_dupinc1.jdx": (440, 250, 469.5, "dupinc1.jdx", "UV-Vis", "nm", "absorbance"),
    "difdup_tiny_example.jdx": (53, 4, 56, "Incomplete example file for DIFDUP data form!",
                                "other", "ms", "NANOAMPERES"),
    "epr_corrupted_splice_xyinc2.jdx": (350, 2750, 3938,
                                        "EPR of frozen Amanita muscaria (xyinc2.jdx)", "EPR",
                                        "G", "intensity"),
}


@pytest.mark.parametrize("name", sorted(CONTINUOUS))
def test_continuous_corpus_files(name):
    points, first, last, title, technique, x_unit, y_unit = CONTINUOUS[name]
    spectrum = one(f"jcamp/{name}")
    assert spectrum.kind == "continuous"
    assert spectrum.n_points == points
    assert spectrum.x[0] == pytest.approx(first, abs=1e-9)
    assert spectrum.x[-1] == pytest.approx(last, abs=1e-9)
    assert spectrum.title == title
    assert (spectrum.technique, spectrum.x_unit, spectrum.y_unit) == (technique, x_unit, y_unit)
    assert spectrum.block == ""
    assert np.all(np.isfinite(spectrum.y))


@pytest.mark.parametrize("name, kind, x, y, tolerance", [
    ("ir_affn_coblentz_benzene.jdx", "min", 672, 0.0, 1),           # C-H out-of-plane bend
    ("ir_affn_pacsign_nist_acetone.jdx", "max", 1739.2, 0.0005162, 0.5),    # C=O
    ("ir_affn_sadtler_1-butene.jdx", "max", 2974, 0.63171, 1),
    ("ir_affn_sci_notation.jdx", "max", 1697.8, 1.0, 0.5),
    ("ir_difdup_BRUKER2.JCM", "max", 2932, 5.0, 1),
    ("ir_difdup_polyethylene_SPECFILE.DX", "min", 2848, None, 1),   # CH2 stretch
    ("ir_pnnl_nitrocellulose_latin1.jdx", "min", 1690.8, 0.010623585, 0.5),
    ("ir_yfactor_comment_jtpolys.jdx", "min", 698, 0.343, 1),      # polystyrene
    ("raman_xypoints_rod_1000002_noyvalues_end.jdx", "max", 265.676, 4227, 1e-6),
    ("raman_xyxy_tannic_acid.jdx", "max", 419.227, 300.889, 1e-6),
    ("uvvis_difdup_dupinc1.jdx", "max", 445.0, 3.3747, 1e-6),       # holmium oxide
])
def test_corpus_band_positions(name, kind, x, y, tolerance):
    spectrum = one(f"jcamp/{name}")
    found_x, found_y = at_max(spectrum) if kind == "max" else at_min(spectrum)
    assert found_x == pytest.approx(x, abs=tolerance)
    if y is not None:
        assert found_y == pytest.approx(y, rel=1e-3, abs=1e-3 * abs(y) + 5e-4)


def test_corpus_first_and_last_ordinates():
    dupdec2 = one("jcamp/ir_difdup_dupdec2.jdx")
    assert (dupdec2.y[0], dupdec2.y[-1]) == pytest.approx((0.5839, 0.3744))
    tiny = one("jcamp/difdup_tiny_example.jdx")
    assert tiny.y[-1] == pytest.approx(12.8)
    bruker1 = one("jcamp/ir_difdup_BRUKER1.JCM")
    assert (bruker1.y.min(), bruker1.y.max()) == pytest.approx((-0.29, 95.8), abs=0.03)
    rod = one("jcamp/raman_xypoints_rod_1000002_noyvalues_end.jdx")
    assert (rod.y[0], rod.y[-1]) == (67, 46)
    ms2 = one("jcamp/ms_continuous_difdup_ISAS_MS2.DX")
    assert ms2.y.max() == pytest.approx(6.88e8, rel=1e-3)


def test_holmium_jdx_side_of_the_spc_pair():
    """The JDX values of the HOLMIUM.SPC pair: 440 points, with the two transposed digits."""
    spectrum = one("jcamp/uvvis_difdup_dupinc1.jdx")
    assert spectrum.x[0] == 250 and spectrum.y[0] == pytest.approx(1.1663)
    assert np.allclose(np.diff(spectrum.x), 0.5)
    assert spectrum.y[272] == pytest.approx(0.1455)  # HOLMIUM.SPC: 0.1445
    assert spectrum.y[410] == pytest.approx(0.984)  # HOLMIUM.SPC: 0.948


@pytest.mark.parametrize("name, checks, failures", [
    ("ims_difdup_IMSDEMO.DX", 48, 0),
    ("ir_difdup_BRUKER2.JCM", 63, 0),
    ("ir_difdup_dupdec2.jdx", 97, 0),
    ("ir_difdup_polyethylene_SPECFILE.DX", 86, 1),   # 85 pass; the final '31999@' is bogus
])
def test_corpus_y_checks(name, checks, failures):
    spectrum = one(f"jcamp/{name}")
    assert spectrum.metadata["y_checks"] == str(checks)
    assert spectrum.metadata["y_check_failures"] == str(failures)
    assert has_warning(spectrum, r"Y check failed on 1 of 86 lines") == bool(failures)


def test_sqz_dup_file_has_no_y_checks():
    spectrum = one("jcamp/ir_sqz_dup_sqzdupd1.jdx")
    assert "y_checks" not in spectrum.metadata
    assert spectrum.warnings == []


def test_files_without_quirks_carry_no_warnings():
    for name in ("ir_affn_coblentz_benzene.jdx", "ir_affn_sadtler_1-butene.jdx",
                 "ir_difdup_BRUKER1.JCM", "ir_difdup_BRUKER2.JCM", "ir_difdup_dupdec2.jdx",
                 "uvvis_difdup_dupinc1.jdx", "ims_difdup_IMSDEMO.DX",
                 "ir_yfactor_comment_jtpolys.jdx", "raman_xyxy_tannic_acid.jdx"):
        assert one(f"jcamp/{name}").warnings == [], name


def test_duplicate_npoints_is_resolved_by_the_data():
    spectrum = one("jcamp/ir_npoints_mismatch_ethanol2_v2017.jdx")
    assert spectrum.n_points == 1764
    assert np.allclose(np.diff(spectrum.x), 1.92881596, atol=1e-6)
    assert has_warning(spectrum, r"NPOINTS is declared 2 times \(1764, 1970\); the data has "
                                 r"1764 points, matching the first")
    assert spectrum.title == ""  # ##TITLE= holds only a $$ comment


def test_spliced_epr_file_is_flagged_not_trusted():
    spectrum = one("jcamp/epr_corrupted_splice_xyinc2.jdx")
    assert has_warning(spectrum, r"NPOINTS=298 but 350 points were decoded")
    assert has_warning(spectrum, r"X check failed .* worst at line 35: the line starts at X=28 ")
    assert list(spectrum.x[15:18]) == [2810, 28, 32]  # X follows the file's own check values
    assert 733.54 in spectrum.x


def test_latin1_file_records_the_fallback_codec():
    spectrum = one("jcamp/ir_pnnl_nitrocellulose_latin1.jdx")
    assert spectrum.warnings == ["The file is not UTF-8; it was read as cp1252."]
    assert spectrum.metadata["jcamp:ZEROFILLING"] == "4\u00d7"
    assert spectrum.metadata["scans"] == "2048"


def test_corpus_metadata():
    acetone = one("jcamp/ir_affn_pacsign_nist_acetone.jdx")
    assert acetone.metadata["cas"] == "67-64-1"
    assert acetone.metadata["instrument"] == "IFS66V (Bruker)"
    assert acetone.metadata["resolution"] == "0.4820"
    assert acetone.metadata["acquired_at"] == "1998-10-01"
    assert acetone.metadata["owner"].startswith("COPYRIGHT (C) 1998")
    bruker = one("jcamp/ir_difdup_BRUKER1.JCM")
    assert bruker.metadata["acquired_at"] == "1981-01-03T10:40:41"
    assert bruker.metadata["origin"] == "P.LAMPEN"
    specfile = one("jcamp/ir_difdup_polyethylene_SPECFILE.DX")
    assert specfile.metadata["acquired_at"] == "1990-03-30T10:47:11"  # written MM/DD/YY
    ims = one("jcamp/ims_difdup_IMSDEMO.DX")
    assert ims.metadata["acquired_at"] == "2001-02-14T15:15:42+01:00"
    assert ims.metadata["jcamp:.IMS PRESSURE"] == "101"
    assert ims.metadata["peak_assignments"].startswith('20.31: load "pentane.mol"')
    assert ims.peaks is not None and list(ims.peaks[0]) == [20.31, 24.5, 36]
    jtpolys = one("jcamp/ir_yfactor_comment_jtpolys.jdx")
    assert jtpolys.metadata["jcamp:YFACTOR"] == "2.384185791e-09"  # the $$ comment is gone
    rod = one("jcamp/raman_xypoints_rod_1000002_noyvalues_end.jdx")
    assert rod.metadata["formula"] == "F4 Li Y"  # written after the data table
    assert rod.metadata["resolution"] == "2.5"


@pytest.mark.parametrize("name, peaks, first, last, base, title", [
    ("ms_peaktable_ISAS_MS1.DX", 26, 50, 131, 128, "2-Chlorphenol"),
    ("ms_peaktable_TNT_118-96-7.jdx", 116, 15, 228, 210, "Trinitrotoluene"),
])
def test_corpus_peak_tables(name, peaks, first, last, base, title):
    spectrum = one(f"jcamp/{name}")
    assert (spectrum.kind, spectrum.technique, spectrum.x_unit) == ("peaks", "MS", "m/z")
    assert spectrum.n_points == peaks
    assert (spectrum.x[0], spectrum.x[-1]) == (first, last)
    assert at_max(spectrum)[0] == base
    assert spectrum.title == title
    assert spectrum.peaks is not None and np.array_equal(spectrum.peaks[0], spectrum.x)


def test_tnt_metadata():
    spectrum = one("jcamp/ms_peaktable_TNT_118-96-7.jdx")
    assert spectrum.metadata["cas"] == "118-96-7"
    assert spectrum.metadata["formula"] == "C7 H5 N3 O6"
    assert spectrum.metadata["molecular_weight"] == "227"
    assert at_max(spectrum)[1] == 9999
    assert spectrum.y_unit == "relative intensity"


def test_gcms_ntuples_pages():
    spectra = read("jcamp/gcms_ntuples_peaks_ISAS_MS3.DX")
    assert [s.block for s in spectra] == ["page T=272", "page T=301", "page T=333"]
    assert [s.n_points for s in spectra] == [18, 26, 26]
    assert [at_max(s)[0] for s in spectra] == [94, 128, 108]  # phenol, 2-chlorophenol, o-cresol
    assert [s.metadata["retention_time"] for s in spectra] == ["272", "301", "333"]
    for spectrum in spectra:
        assert (spectrum.technique, spectrum.kind, spectrum.x_unit) == ("MS", "peaks", "m/z")
        assert spectrum.y_unit == "relative intensity"
        assert spectrum.metadata["retention_time_unit"] == "s"
        assert spectrum.metadata["instrument"] == "Finnigan MAT Magnum"
        assert spectrum.title == "GC-MS analysis of Phenol, 2-Chlorphenol, and o-Kresol"


def test_nmr_ntuples_real_and_imaginary_pages():
    real, imaginary = read("jcamp/nmr_ntuples_difdup_TESTNTUP.DX")
    assert (real.block, imaginary.block) == ("page N=1", "page N=2")
    assert (real.metadata["variable"], imaginary.metadata["variable"]) == ("SPECTRUM/REAL",
                                                                           "SPECTRUM/IMAG")
    for spectrum in (real, imaginary):
        assert spectrum.n_points == 16384
        assert (spectrum.technique, spectrum.x_unit) == ("NMR", "Hz")
        assert (spectrum.x[0], spectrum.x[-1]) == pytest.approx((24038.5, 0.0))
    assert real.y[0] / 0.2967015003e05 == pytest.approx(76)  # first ordinate before FACTOR
    assert imaginary.y[0] / 0.2104617328e05 == pytest.approx(-331)
    assert real.y.max() == pytest.approx(972201806, rel=1e-6)  # ##MAX= of the real page


def test_link_compound_children():
    spectra = read("jcamp/link_compound_ir_difdup.jdx")
    assert [s.block for s in spectra] == [f"block {n}" for n in range(1, 6)]
    assert [s.n_points for s in spectra] == [1976, 1976, 3951, 1976, 3951]
    # The manifest counts from 0: its "block 3" is the fourth child, BLOCK_ID=4.
    assert spectra[3].title == "trans-[Rh(py)4Cl2]Cl.5H2O"
    assert spectra[2].title == "block 3"
    assert all(s.technique == "IR" and s.warnings == [] for s in spectra)
    assert spectra[0].metadata["owner"] == "public domain"  # inherited from the LINK block


def test_nist_library_entries_without_end():
    spectra = read("jcamp/ms_nist_jca_multi_entry.jca")
    assert [s.title for s in spectra] == [f"Example test entry {n}" for n in range(1, 11)]
    assert [s.block for s in spectra] == [f"entry {n}" for n in range(1, 11)]
    assert (spectra[0].n_points, at_max(spectra[0])) == (8, (26, 9999))
    assert spectra[-1].n_points == 69
    assert all(s.kind == "peaks" and s.x_unit == "m/z" for s in spectra)
    assert spectra[0].metadata["molecular_weight"] == "26.016"


def manifest_facts(row: dict[str, str]) -> dict[str, float]:
    """The facts a generic check can read from a manifest row's known_facts text."""
    text = row["known_facts"]
    facts: dict[str, float] = {}
    decoded = re.search(r"\bdecoded (\d+)\b|\b(\d+) values decode\b", text)
    if decoded:
        facts["points"] = int(decoded.group(1) or decoded.group(2))
    for key in ("FIRSTX", "LASTX"):
        found = re.search(rf"\b{key}=(-?\d+\.?\d*)", text)
        if found:
            facts[key] = float(found.group(1))
    base = re.search(r"base peak m/z (\d+)", text)
    if base:
        facts["base"] = float(base.group(1))
    return facts


@pytest.mark.parametrize("name", JCAMP_ROWS or ["jcamp/(corpus absent)"])
def test_every_corpus_file_parses_with_its_manifest_facts(name):
    spectra = read(name)
    assert spectra
    assert all(s.n_points > 0 for s in spectra)
    if len(spectra) > 1:
        return
    spectrum, facts = spectra[0], manifest_facts(manifest()[name])
    if "points" in facts:
        assert spectrum.n_points == facts["points"]
    if "FIRSTX" in facts:
        assert spectrum.x[0] == pytest.approx(facts["FIRSTX"], abs=1e-6)
    if "LASTX" in facts:
        assert spectrum.x[-1] == pytest.approx(facts["LASTX"], abs=1e-6)
    if "base" in facts:
        assert at_max(spectrum)[0] == facts["base"]


def test_the_corpus_has_the_files_this_suite_knows():
    if not JCAMP_ROWS:
        pytest.skip("corpus manifest not available")
    known = set(CONTINUOUS) | {"gcms_ntuples_peaks_ISAS_MS3.DX", "link_compound_ir_difdup.jdx",
                               "ms_nist_jca_multi_entry.jca", "ms_peaktable_ISAS_MS1.DX",
                               "ms_peaktable_TNT_118-96-7.jdx", "nmr_ntuples_difdup_TESTNTUP.DX"}
    assert known <= {name.split("/", 1)[1] for name in JCAMP_ROWS}


# --- the jcamp package as oracle -----------------------------------------------------------------

ORACLE = ["ims_difdup_IMSDEMO.DX", "ir_affn_coblentz_benzene.jdx",
          "ir_affn_pacsign_nist_acetone.jdx", "ir_affn_sadtler_1-butene.jdx",
          "ir_affn_sci_notation.jdx", "ir_difdup_BRUKER1.JCM", "ir_difdup_dupdec2.jdx",
          "ir_difdup_polyethylene_SPECFILE.DX", "ir_pnnl_nitrocellulose_latin1.jdx",
          "link_compound_ir_difdup.jdx", "ms_peaktable_ISAS_MS1.DX",
          "ms_peaktable_TNT_118-96-7.jdx", "raman_xypoints_rod_1000002_noyvalues_end.jdx",
          "raman_xyxy_tannic_acid.jdx", "uvvis_difdup_dupinc1.jdx"]


def oracle(name: str) -> list[dict]:
    package = pytest.importorskip("jcamp")
    corpus_bytes(f"jcamp/{name}")  # skips when the corpus is absent
    with contextlib.redirect_stdout(io.StringIO()):  # jcamp reports problems with print()
        found = package.readfile(str(CORPUS / "jcamp" / name))
    return found.get("children") or [found]


@pytest.mark.parametrize("name", ORACLE)
def test_identical_values_to_jcamp_where_it_reads_correctly(name):
    theirs, ours = oracle(name), read(f"jcamp/{name}")
    assert len(theirs) == len(ours)
    for expected, spectrum in zip(theirs, ours, strict=True):
        assert np.array_equal(np.asarray(expected["x"], float), spectrum.x)
        assert np.array_equal(np.asarray(expected["y"], float), spectrum.y)


def test_jcamp_gets_ethanol2_x_wrong_but_agrees_on_y():
    """jcamp spaces X by the last NPOINTS (1970); the ordinates are the same."""
    (theirs,), ours = oracle("ir_npoints_mismatch_ethanol2_v2017.jdx"), one(
        "jcamp/ir_npoints_mismatch_ethanol2_v2017.jdx")
    assert len(theirs["x"]) == 1970 and ours.n_points == 1764
    assert np.array_equal(np.asarray(theirs["y"], float), ours.y)


def test_jcamp_loses_points_in_bruker2():
    (theirs,) = oracle("ir_difdup_BRUKER2.JCM")
    ours = one("jcamp/ir_difdup_BRUKER2.JCM")
    assert len(theirs["y"]) == 3710 and ours.n_points == 3735


def test_nmrglue_agrees_on_the_tiny_difdup_file():
    jcampdx = pytest.importorskip("nmrglue.fileio.jcampdx")
    corpus_bytes("jcamp/difdup_tiny_example.jdx")
    _, data = jcampdx.read(str(CORPUS / "jcamp" / "difdup_tiny_example.jdx"))
    assert np.array_equal(np.asarray(data, float), one("jcamp/difdup_tiny_example.jdx").y)


def test_nmrglue_agrees_on_the_ntuples_pages_until_its_dup_bug():
    """nmrglue reads 'h5T' after a Y check as repeating the previous line's DIF (+72)."""
    jcampdx = pytest.importorskip("nmrglue.fileio.jcampdx")
    corpus_bytes("jcamp/nmr_ntuples_difdup_TESTNTUP.DX")
    _, (real, imaginary) = jcampdx.read(str(CORPUS / "jcamp" / "nmr_ntuples_difdup_TESTNTUP.DX"))
    ours_real, ours_imaginary = read("jcamp/nmr_ntuples_difdup_TESTNTUP.DX")
    assert np.array_equal(real, ours_real.y)
    assert np.array_equal(imaginary[:14616], ours_imaginary.y[:14616])
    factor = 0.2104617328e05
    assert np.allclose(imaginary[14616:] - ours_imaginary.y[14616:], 72 * factor)
    assert ours_imaginary.y[-1] == pytest.approx(-7303022, abs=1)  # the page's ##LAST=


# --- the project's own fixtures: one per feature -------------------------------------------------

def test_affn_exponents_and_comments_everywhere():
    spectrum = one("affn_exponents_comments.jdx")
    assert spectrum.title == "Fixture: AFFN with exponents"
    assert spectrum.y.tolist() == [0.1, 0.15, 0.2, 2.5, 0.3, 3.5, 4.0, 4.5, 5.0, 5.5]
    assert spectrum.x.tolist() == list(range(400, 410))
    assert (spectrum.technique, spectrum.x_unit, spectrum.y_unit) == ("UV-Vis", "nm",
                                                                      "absorbance")
    assert spectrum.warnings == []


def test_pac_signs_are_delimiters():
    spectrum = one("pac_sign_delimiters.jdx")
    assert np.allclose(spectrum.y * 1e4, [10, -5, 3, 7, -138264, -105172, 0])
    assert spectrum.x.tolist() == list(range(200, 207))


def test_sqz_with_dup_and_no_dif():
    spectrum = one("sqz_dup.jdx")
    assert np.allclose(spectrum.y * 100, [0, 15, 20, 20, -33, -12, 99])
    assert "y_checks" not in spectrum.metadata


def test_dif_dup_repeats_the_whole_difference_and_drops_y_checks():
    spectrum = one("difdup_checks.jdx")
    # 'J5T' is +15 twice; 'kV' is -2 four times; each line's first value is a Y check.
    assert np.allclose(spectrum.y * 1000,
                       [100, 115, 130, 130, 128, 126, 124, 122, 124, 126, 128, 131])
    assert spectrum.x.tolist() == list(range(1000, 1012))
    assert (spectrum.metadata["y_checks"], spectrum.metadata["y_check_failures"]) == ("3", "0")
    assert spectrum.warnings == []
    assert spectrum.metadata["acquired_at"] == "2025-03-14T09:30:05"
    assert spectrum.metadata["instrument"] == "Bench FTIR 1"
    assert spectrum.metadata["resolution"] == "4"


def test_failed_y_check_is_counted_and_the_value_dropped():
    spectrum = one("difdup_bad_ycheck.jdx")
    assert np.allclose(spectrum.y * 1000,
                       [100, 115, 130, 130, 128, 126, 124, 122, 124, 126, 128, 131])
    assert spectrum.metadata["y_check_failures"] == "1"
    assert spectrum.warnings == ["Y check failed on 1 of 3 lines (first at line 22: the last "
                                 "value 0.128 is repeated as 0.127); the check values were "
                                 "dropped."]


def test_failed_x_check_takes_x_from_the_lines():
    spectrum = one("difdup_bad_xcheck.jdx")
    assert spectrum.x.tolist() == [1000, 1001, 1002, 1003, 1004, 1005, 1006, 1050, 1051, 1052,
                                   1053, 1011]
    assert has_warning(spectrum, r"^X check failed on 2 of 4 lines \(first at line 21, worst at "
                                 r"line 21: the line starts at X=1050 where FIRSTX/LASTX put "
                                 r"1007\); X was taken from the line check values\.$")


def test_missing_values_are_nan():
    affn, asdf = read("missing_values.jdx")
    assert np.array_equal(affn.y, [10, np.nan, 30, np.nan, np.nan, 60], equal_nan=True)
    assert np.array_equal(asdf.y, [10, np.nan, np.nan, 15], equal_nan=True)
    assert (affn.block, asdf.block) == ("entry 1", "entry 2")


def test_xypoints_with_ldrs_after_the_table():
    spectrum = one("xypoints_ldrs_after.jdx")
    assert spectrum.x.tolist() == [100.5, 101.5, 102.5, 103.5, 104.5]
    assert np.array_equal(spectrum.y, [20, 24, -6, 80, np.nan], equal_nan=True)
    assert (spectrum.technique, spectrum.kind, spectrum.y_unit) == ("Raman", "continuous",
                                                                    "intensity")
    assert (spectrum.metadata["resolution"], spectrum.metadata["formula"]) == ("4", "Si")


def test_peak_table_of_a_mass_spectrum():
    spectrum = one("peak_table_ms.jdx")
    assert (spectrum.kind, spectrum.n_points, at_max(spectrum)) == ("peaks", 5, (210, 999))
    assert spectrum.peaks is not None and spectrum.peaks[1].tolist() == [120, 300, 250, 410, 999]
    assert spectrum.metadata["ionization"] == "EI+"


def test_peak_table_with_widths():
    spectrum = one("peak_table_xyw.jdx")
    assert spectrum.x.tolist() == [1.25, 3.5, 7.26]
    assert spectrum.metadata["peak_widths"] == "0.02 0.05 0.01"
    assert (spectrum.technique, spectrum.x_unit) == ("NMR", "ppm")


def test_peak_assignments_attach_to_the_spectrum():
    spectrum = one("peak_assignments.jdx")
    assert spectrum.kind == "continuous" and spectrum.y.tolist() == [1, 100, 3, 2]
    assert spectrum.peaks[0].tolist() == [12.5, 20]
    assert np.isnan(spectrum.peaks[1][1])
    assert spectrum.metadata["peak_assignments"] == "12.5: acetone monomer; 20: acetone dimer"
    assert spectrum.metadata["acquired_at"] == "2024-05-06T07:08:09+02:00"


def test_nested_link_blocks():
    spectra = read("link_nested.jdx")
    assert [(s.block, s.title, s.technique) for s in spectra] == [
        ("block 2, block 3", "Inner IR", "IR"), ("block 2, block 4", "Inner Raman", "Raman"),
        ("block 5", "MS peaks", "MS")]
    assert [s.warnings for s in spectra] == [[], [], []]  # the structure block is not a loss
    assert spectra[2].metadata["jcamp:CROSS REFERENCE"] == "BLOCK_ID=3"


def test_ntuples_gcms_pages_carry_retention_times():
    first, second = read("ntuples_gcms_pages.jdx")
    assert (first.block, second.block) == ("page T=120", "page T=180")
    assert first.x.tolist() == [43, 58, 71] and first.y.tolist() == [100, 20.5, 3.1]
    assert (first.metadata["retention_time"], second.metadata["retention_time"]) == ("120",
                                                                                     "180")
    assert second.kind == "peaks" and second.n_points == 2


def test_ntuples_nmr_pages_with_factors_and_dif():
    real, imaginary = read("ntuples_nmr_pages.jdx")
    assert real.x.tolist() == [400, 300, 200, 100, 0]
    assert real.y.tolist() == [20, 40, 60, 80, 100]
    assert imaginary.y.tolist() == [-10, -20, -30, -40, -50]
    assert real.warnings == [] and imaginary.warnings == []


def test_multi_entry_file_without_end():
    spectra = read("multi_entry_no_end.jca")
    assert [s.title for s in spectra] == ["Fixture entry 1", "Fixture entry 2",
                                          "Fixture entry 3"]
    assert [s.n_points for s in spectra] == [2, 3, 1]
    assert spectra[1].x.tolist() == [43, 58, 15]
    assert all(s.x_unit == "m/z" for s in spectra)
    assert all(not has_warning(s, "END") for s in spectra)


def test_cr_only_line_ends():
    spectrum = one("cr_only_peaks.jdx")
    assert spectrum.x.tolist() == [0, 43, 44, 51]
    assert spectrum.y.tolist() == [0, 260, 533, 220]


def test_latin1_fixture():
    spectrum = one("latin1_header.jdx")
    assert spectrum.metadata["jcamp:TEMPERATURE"] == "25 \u00b0C \u00b1 1"
    assert spectrum.warnings == ["The file is not UTF-8; it was read as cp1252."]


def test_bytes_after_the_last_end_are_ignored():
    spectrum = one("ctrl_z_after_end.jdx")
    assert spectrum.y.tolist() == [0.9, 0.8, 0.7]
    assert spectrum.warnings == []
    noisy = fixture_bytes("jcamp/ctrl_z_after_end.jdx") + b"\x00trailing rubbish\r\n"
    assert jcamp.parse(noisy)[0].y.tolist() == [0.9, 0.8, 0.7]


def test_duplicate_ldrs_are_reported():
    spectrum = one("duplicate_npoints.jdx")
    assert spectrum.n_points == 5 and spectrum.title == ""
    assert spectrum.metadata["origin"] == "customs-lims test suite"
    assert spectrum.warnings == [
        "##ORIGIN= is given 2 times ('customs-lims test suite', 'a second origin'); the first "
        "(line 3) is used.",
        "NPOINTS is declared 2 times (5, 7); the data has 5 points, matching the first."]


def test_line_endings_do_not_change_the_result():
    data = fixture_bytes("jcamp/difdup_checks.jdx")
    reference = jcamp.parse(data)[0]
    for ending in (b"\r\n", b"\r"):
        other = jcamp.parse(data.replace(b"\n", ending))[0]
        assert np.array_equal(other.x, reference.x) and np.array_equal(other.y, reference.y)


def test_npoints_mismatch_and_missing_end_warn():
    text = (b"##TITLE=t\n##JCAMP-DX=4.24\n##DATA TYPE=INFRARED SPECTRUM\n##XUNITS=1/CM\n"
            b"##YUNITS=ABSORBANCE\n##FIRSTX=1\n##LASTX=3\n##NPOINTS=2\n##XYDATA=(X++(Y..Y))\n"
            b"1 5 6 7\n")
    spectrum = jcamp.parse(text)[0]
    assert spectrum.warnings == ["NPOINTS=2 but 3 points were decoded.",
                                 "The file ends without ##END=."]


def small(*ldrs: str, data: str = "##XYDATA=(X++(Y..Y))\n1 5 6 7\n") -> bytes:
    """A minimal block with the given header records and a three-point table."""
    header = "".join(f"##{ldr}\n" for ldr in ldrs)
    return (f"##TITLE=t\n##JCAMP-DX=5.01\n{header}##FIRSTX=1\n##LASTX=3\n{data}"
            "##END=\n").encode()


@pytest.mark.parametrize("data_type, technique", [
    ("INFRARED SPECTRUM", "IR"), ("ftir", "IR"), ("NIR SPECTRUM", "IR"),
    ("RAMAN SPECTRUM", "Raman"), ("UV/VIS SPECTRUM", "UV-Vis"), ("UV-VISIBLE SPECTRUM", "UV-Vis"),
    ("MASS SPECTRUM", "MS"), ("CONTINUOUS MASS SPECTRUM", "MS"), ("NMR SPECTRUM", "NMR"),
    ("NMR FID", "NMR"), ("ION MOBILITY SPECTRUM", "IMS"), ("EPR SPECTRUM", "EPR"),
    ("ESR SPECTRUM", "EPR"), ("GC CHROMATOGRAM", "chromatogram"),
    ("X-RAY FLUORESCENCE SPECTRUM", "XRF"), ("FLUORESCENCE SPECTRUM", "other"), ("", "other"),
])
def test_technique_from_data_type(data_type, technique):
    assert jcamp.parse(small(f"DATA TYPE={data_type}"))[0].technique == technique


@pytest.mark.parametrize("ldrs, acquired", [
    (("LONG DATE=2001/02/14 15:15:42 +0100",), "2001-02-14T15:15:42+01:00"),
    (("LONGDATE=2020/06/16", "TIME=10:11:29"), "2020-06-16"),
    (("LONG DATE=2024/05/06 07:08:09 +3200",), None),  # no such time zone
    (("DATE=98/10/1",), "1998-10-01"),
    (("DATE= 81/ 1/ 3", "TIME= 10:40:41"), "1981-01-03T10:40:41"),
    (("DATE=03/30/90", "TIME=10:47:11"), "1990-03-30T10:47:11"),
    (("DATE=13/2/1997", "TIME=14:55:12"), "1997-02-13T14:55:12"),
    (("DATE=05/04/1997",), None),  # day and month cannot be told apart
    (("DATE=01 Jun 2009 09:15:48",), "2009-06-01T09:15:48"),
    (("DATE=1964",), None), (("DATE=March 2017",), None),
    (("DATE=91/06/18", "TIME= 10:24.56"), "1991-06-18T10:24:56"),
])
def test_acquisition_dates(ldrs, acquired):
    assert jcamp.parse(small(*ldrs))[0].metadata.get("acquired_at") == acquired


def test_writer_that_never_repeats_the_last_value():
    data = "##XYDATA=(X++(Y..Y))\n1A0J\n3A5J\n5A9J\n"
    spectrum = jcamp.parse(small(data=data).replace(b"##LASTX=3", b"##LASTX=6"))[0]
    assert spectrum.y.tolist() == [10, 11, 15, 16, 19, 20]
    assert spectrum.warnings == ["Lines end in DIF form but none of the 2 following lines "
                                 "repeats the last value as a Y check; no value was dropped."]


def test_check_values_written_without_xfactor():
    data = "##XFACTOR=0.5\n##XYDATA=(X++(Y..Y))\n1 5 6\n3 7\n"
    spectrum = jcamp.parse(small(data=data))[0]
    assert spectrum.x.tolist() == [1, 2, 3]
    assert spectrum.warnings == ["The line check values are in X units, not in XFACTOR units; "
                                 "they agree with FIRSTX/LASTX."]


def test_malformed_firsty_is_a_warning_not_an_error():
    spectrum = jcamp.parse(small("FIRSTY=0. 4491087E+01"))[0]
    assert spectrum.y.tolist() == [5, 6, 7]
    assert spectrum.warnings == ["##FIRSTY= '0. 4491087E+01' is not a number. It was not "
                                 "checked."]


def test_ntuples_page_without_a_table_is_reported():
    data = fixture_bytes("jcamp/ntuples_gcms_pages.jdx").replace(
        b"##END NTUPLES", b"##PAGE=T= 240\n##NPOINTS=1\n##END NTUPLES")
    first, second = jcamp.parse(data)
    assert first.warnings == second.warnings == [
        "Page T=240 (line 24) has no ##DATA TABLE=; it was skipped."]


def test_spectrum_level_declarations_are_checked():
    spectrum = jcamp.parse(small("FIRSTY=5", "DELTAX=1", "NPOINTS=3"))[0]
    assert spectrum.warnings == []
    spectrum = jcamp.parse(small("FIRSTY=50"))[0]
    assert spectrum.warnings == ["FIRSTY=50 but the first decoded value is 5."]


def test_max_points_is_enforced(monkeypatch):
    monkeypatch.setattr(core, "MAX_POINTS", 15)
    with pytest.raises(ParseError, match="point limit: the data would expand to 16 points"):
        jcamp.parse(fixture_bytes("jcamp/missing_values.jdx") * 2)  # (6 + 4 points) twice
    with pytest.raises(ParseError, match="point limit: the data would expand to 27 points"):
        jcamp.parse(fixture_bytes("jcamp/difdup_checks.jdx") * 2)  # refused before expanding


# --- malformed files: what is wrong and where ----------------------------------------------------

@pytest.mark.parametrize("name, message, line", [
    ("bad_truncated.jdx", r"^The file ends inside the ##XYDATA= table after 7 of 20 points, "
                          r"without ##END= \(truncated file\?\)\.$", 13),
    ("bad_character.jdx", r"^Unknown character 'x' in the data table\.$", 13),
    ("bad_no_table.jdx", r"^No data table .* in the block titled 'Fixture: header only'\.$", 1),
    ("bad_dup_overflow.jdx", r"^Refused by the point limit: the data would expand to "
                             r"2,000,000,000,001 points, and a file of 245 bytes may hold at "
                             r"most 65,536 \(16 per byte, never more than 20,000,000\)\.$", 13),
    ("bad_number.jdx", r"^Cannot read the number '1\.2\.3' in the data table\.$", 13),
    ("bad_factor.jdx", r"^##YFACTOR= 'one tenth' is not a number\.$", 8),
    ("bad_pairs.jdx", r"^The ##XYPOINTS= table ends with an incomplete group: 5 values are not "
                      r"whole groups of 2 \(truncated file\?\)\.$", 10),
    ("bad_garbage.bin", r"^No ##TITLE= record: this is not a JCAMP-DX file\.$", 1),
])
def test_malformed_files_say_what_and_where(name, message, line):
    with pytest.raises(ParseError) as raised:
        read(name)
    assert re.search(message, raised.value.message), raised.value.message
    assert raised.value.line == line


def test_parse_error_names_the_block():
    broken = fixture_bytes("jcamp/link_nested.jdx").replace(b"500 1 2 3 4", b"500 1 2 x 4")
    with pytest.raises(ParseError) as raised:
        jcamp.parse(broken)
    assert raised.value.block == "block 2, block 3"
    assert str(raised.value) == "Unknown character 'x' in the data table. (block 2, block 3, " \
                                "line 31)"


@pytest.mark.parametrize("data, message", [
    (b"##TITLE=t\n##XYDATA=(X++(Y..Y))\n1J5\n##END=\n", "first ordinate is a difference"),
    (b"##TITLE=t\n##XYDATA=(X++(Y..Y))\nJ1 5\n##END=\n", "must start with its X value"),
    (b"##TITLE=t\n##XYDATA=(X++(Y..Y))\n1 S5\n##END=\n", "DUP count .* does not follow"),
    (b"##TITLE=t\n##XYDATA=(X++(Y..Y))\n1 ?5\n##END=\n", r"'\?' .* followed by digits"),
    (b"##TITLE=t\n##XYDATA=(XYZ)\n1 2\n##END=\n", "Unknown data table form"),
    (b"##TITLE=t\n##XYDATA=(X++(Y..Y))\n##END=\n", "data table is empty"),
    (b"##TITLE=t\n##XUNITS\n", "needs '=' after its label"),
    (b"##TITLE=t\n##PEAK ASSIGNMENTS=(XYA)\n(1, 2, <open\n##END=\n", "never closed"),
    (b"##TITLE=t\n##XYDATA=(X++(Y..Y))\n1 2 3\n##END=\n", "X spacing cannot be determined"),
])
def test_more_malformed_data(data, message):
    with pytest.raises(ParseError, match=message):
        jcamp.parse(data)


# --- detection -----------------------------------------------------------------------------------

@pytest.mark.parametrize("head", [
    b"##TITLE= x\n", b"\xef\xbb\xbf##TITLE=x\n", b"  \r\n\t##title=x\n", b"##JCAMP-DX=5.01\n",
    b"$$ written by a tool\n##TITLE=x\n", b"##Title = x\n",
])
def test_detect_by_magic(head):
    found = jcamp.detect(head + b"##JCAMP-DX=4.24\n", "spectrum.bin")
    assert found is not None and found.confidence >= 0.9


def test_detect_magic_after_other_text_and_by_name():
    assert jcamp.detect(b"some preamble\n##TITLE=x\n", "").confidence == 0.9
    assert jcamp.detect(b"\x00\x01binary", "SAMPLE.JDX").confidence == 0.2
    assert jcamp.detect(b"\x00\x01binary", "sample.spc") is None
    assert jcamp.detect(b"x" * 5000 + b"\n##TITLE=late\n", "") is None  # only the head counts


def test_detect_is_fast_on_a_large_file():
    data = b"##TITLE=x\n" + b"1 2 3 4 5 6 7 8 9\n" * 1_000_000
    started = time.perf_counter()
    assert jcamp.detect(data, "big.jdx").confidence >= 0.9
    assert time.perf_counter() - started < 0.05


@pytest.mark.parametrize("name", ["jcamp/ir_difdup_BRUKER1.JCM",
                                  "jcamp/ms_nist_jca_multi_entry.jca",
                                  "jcamp/nmr_ntuples_difdup_TESTNTUP.DX"])
def test_corpus_files_are_detected(name):
    assert jcamp.detect(corpus_bytes(name), name).confidence >= 0.9


def test_module_contract():
    assert jcamp.NAME == "jcamp" and jcamp.LABEL == "JCAMP-DX"
    assert {".jdx", ".dx", ".jcm", ".jca", ".jcamp"} <= set(jcamp.EXTENSIONS)
    assert {"IR", "Raman", "UV-Vis", "MS", "NMR", "IMS", "EPR"} <= set(jcamp.TECHNIQUES)
    source = (FIXTURES.parent.parent.parent / "instruments" / "jcamp.py").read_text()
    assert not re.search(r"^\s*(from|import) (lims|flask|sqlalchemy)", source, re.M)


# --- fuzzing: nothing but ParseError, and quickly ------------------------------------------------

def only_parse_errors(data: bytes) -> None:
    with contextlib.suppress(ParseError):
        spectra = jcamp.parse(data, "fuzz.jdx")
        assert spectra and all(isinstance(s, Spectrum) for s in spectra)


def edited(data: bytes):
    """Text edits the shared byte mutations miss: JCAMP characters inserted, runs deleted."""
    alphabet = st.sampled_from(list(b"#$=()+-.,;?@AJSZajsz%0123456789 \r\n\x1a\x00\xff"))
    edit = st.tuples(st.integers(0, max(len(data) - 1, 0)), st.integers(0, 3), alphabet)

    @st.composite
    def build(draw):
        out = bytearray(data)
        for position, action, byte in draw(st.lists(edit, max_size=8)):
            position = min(position, len(out))
            if action == 0 and position < len(out):
                out[position] = byte
            elif action == 1:
                out[position:position] = bytes([byte]) * draw(st.integers(1, 40))
            elif action == 2:
                del out[position:position + draw(st.integers(1, 200))]
            else:
                del out[position:]
        return bytes(out)

    return build()


@settings(max_examples=300, deadline=2000)
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_raise_only_parse_errors(data):
    only_parse_errors(data)
    only_parse_errors(b"##TITLE=fuzz\n##XYDATA=(X++(Y..Y))\n" + data)


ASDF_TEXT = st.text(alphabet="0123456789.+-,; ?@ABCDEIJKLMNOPRSTXYZabcdeijkrs%Ee\n\t#$<>()",
                    max_size=600)


@settings(max_examples=300, deadline=2000)
@given(ASDF_TEXT, st.sampled_from(["(X++(Y..Y))", "(XY..XY)", "(XYW..XYW)", "(XYA)",
                                   "(X++(R..R)), XYDATA"]))
def test_arbitrary_data_tables_raise_only_parse_errors(text, form):
    head = (f"##TITLE=fuzz\n##JCAMP-DX=5.01\n##DATA TYPE=INFRARED SPECTRUM\n##FIRSTX=1\n"
            f"##LASTX=50\n##NPOINTS=20\n##XFACTOR=0.5\n##PEAK TABLE={form}\n")
    only_parse_errors((head + text + "\n##END=\n").encode())
    only_parse_errors((head.replace("PEAK TABLE", "XYDATA") + text).encode())


@settings(max_examples=150, deadline=3000, suppress_health_check=[HealthCheck.data_too_large])
@given(st.data())
def test_mutated_fixtures_raise_only_parse_errors(data):
    names = sorted(path.name for path in (FIXTURES / "jcamp").iterdir())
    name = data.draw(st.sampled_from(names))
    original = fixture_bytes(f"jcamp/{name}")
    only_parse_errors(data.draw(st.one_of(edited(original), mutated(original))))


@pytest.mark.parametrize("name", ["jcamp/ir_difdup_BRUKER2.JCM",
                                  "jcamp/ms_nist_jca_multi_entry.jca",
                                  "jcamp/gcms_ntuples_peaks_ISAS_MS3.DX",
                                  "jcamp/link_compound_ir_difdup.jdx",
                                  "jcamp/ir_npoints_mismatch_ethanol2_v2017.jdx",
                                  "jcamp/ims_difdup_IMSDEMO.DX"])
@settings(max_examples=40, deadline=5000, suppress_health_check=[HealthCheck.data_too_large])
@given(change=st.data())
def test_mutated_corpus_files_raise_only_parse_errors(name, change):
    original = corpus_bytes(name)
    only_parse_errors(change.draw(st.one_of(edited(original), mutated(original, hot=2048))))


def test_pathological_inputs_finish_quickly():
    cases = [
        b"##TITLE=x\n##XYDATA=(X++(Y..Y))\n1" + b"S9" * 200_000 + b"\n",
        b"##TITLE=x\n" + b"#" * 1_000_000,
        b"##TITLE=x\n##PEAK ASSIGNMENTS=(XYA)\n" + b"(" * 500_000,
        b"##TITLE=x\n##PEAK ASSIGNMENTS=(XYA)\n" + b"<" * 200_000,
        b"##TITLE=x\n##DATE=" + b"9/" * 100_000 + b"\n##XYPOINTS=(XY..XY)\n1,2\n",
        b"##TITLE=x\n##XYDATA=(X++(Y..Y))\n" + b"1" * 1_000_000 + b"\n",
        b"##TITLE=x\n" * 20_000,
        b"##TITLE=x\n##TITLE=y\n" + b"##DATA TYPE=LINK\n##TITLE=z\n" * 10_000,
        b"##TITLE=x\n##XYDATA=(X++(Y..Y))\n" + b"1 2\n" * 300_000,
        b"##TITLE=x\n" + b"##A=" + b"x\n" * 500_000,
    ]
    for data in cases:
        started = time.perf_counter()
        only_parse_errors(data)
        assert time.perf_counter() - started < 2, data[:40]
