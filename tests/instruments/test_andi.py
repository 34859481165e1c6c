"""ANDI/AIA netCDF adapter: real corpus files, files written here with scipy, and fuzzing."""

import contextlib
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.io import netcdf_file

from instruments import andi
from instruments.core import ParseError, Spectrum
from tests.instruments.corpus import corpus_bytes, manifest
from tests.instruments.fuzz import mutated


def netcdf(path, attributes, dimensions, variables):
    """Write a netCDF-3 classic file: variables are name -> (dims, values, attributes)."""
    with netcdf_file(path, "w", version=1) as nc:
        for name, value in attributes.items():
            setattr(nc, name, value)
        for name, size in dimensions.items():
            nc.createDimension(name, size)
        for name, (dims, values, attrs) in variables.items():
            values = np.asarray(values)
            kind = "c" if values.dtype.kind == "S" else values.dtype
            variable = nc.createVariable(name, kind, dims)
            if dims and dims[0] in dimensions and dimensions[dims[0]] is None:
                variable[:len(values)] = values
            else:
                variable[...] = values
            for key, value in attrs.items():
                setattr(variable, key, value)
    return path.read_bytes()


def chars(texts, width):
    return np.array([[bytes([c]) for c in text.encode().ljust(width, b"\0")] for text in texts],
                    dtype="S1")


def chromatogram_file(path, **overrides):
    attributes = {"aia_template_revision": b"1.0", "dataset_completeness": b"C1+C2",
                  "detector_unit": b"pA", "retention_unit": b"seconds",
                  "sample_name": b"LAB-2024-0042", "operator_name": b"analyst",
                  "injection_date_time_stamp": b"20240314093000+0100",
                  "experiment_title": b"FID run 12", **overrides}
    return netcdf(path, attributes, {"point_number": 5, "peak_number": 2,
                                     "_32_byte_string": 32}, {
        "actual_sampling_interval": ((), np.float32(6.0), {}),
        "actual_delay_time": ((), np.float32(60.0), {}),
        "ordinate_values": (("point_number",), np.array([1, 5, 2, 8, 3], "f4"), {}),
        "peak_retention_time": (("peak_number",), np.array([66.0, -9999.0], "f4"), {}),
        "peak_area": (("peak_number",), np.array([12.5, 3.0], "f4"), {}),
        "peak_height": (("peak_number",), np.array([5.0, 8.0], "f4"), {}),
        "peak_name": (("peak_number", "_32_byte_string"), chars(["toluene", "?"], 32), {}),
    })


def ms_file(path, library=False, scan_index=(0, 3), **overrides):
    attributes = {"ms_template_revision": b"1.0.1",
                  "experiment_type": (b"Library Mass Spectrum" if library else
                                      b"Centroided Mass Spectrum"),
                  "experiment_title": b"GC-MS run", "test_ionization_mode": b"Electron Impact",
                  "experiment_date_time_stamp": b"20240314093000-0500", **overrides}
    variables = {
        "scan_index": (("scan_number",), np.array(scan_index, "i4"), {}),
        "point_count": (("scan_number",), np.array([3, 2], "i4"), {}),
        "scan_acquisition_time": (("scan_number",), np.array(
            [-9999.0, -9999.0] if library else [120.0, 121.5]), {}),
        "total_intensity": (("scan_number",), np.array([60.0, 30.0]), {}),
        "actual_scan_number": (("scan_number",), np.array([1, 2], "i4"), {}),
        "mass_values": (("point_number",), np.array([410, 430, 500, 910, 1280], "i2"),
                        {"scale_factor": 0.1, "units": b"M/Z"}),
        "intensity_values": (("point_number",), np.array([10, 20, 30, 10, 20], "i4"),
                             {"scale_factor": 1.0, "units": b"Arbitrary Intensity Units"}),
        "instrument_name": (("instrument_number", "_32_byte_string"), chars(["GCMS-7"], 32),
                            {}),
        "instrument_serial_no": (("instrument_number", "_32_byte_string"),
                                 chars(["US123"], 32), {}),
    }
    if library:
        variables["entry_name"] = (("scan_number", "_32_byte_string"),
                                   chars(["Acetone", "Toluene"], 32), {})
        variables["CAS_number"] = (("scan_number",), np.array([67641, 108883], "i4"), {})
        variables["chemical_formula"] = (("scan_number", "_32_byte_string"),
                                         chars(["C3H6O", "C7H8"], 32), {})
    return netcdf(path, attributes, {"point_number": None, "scan_number": 2,
                                     "instrument_number": 1, "_32_byte_string": 32}, variables)


def test_own_chromatogram_with_peak_table(tmp_path):
    (spectrum,) = andi.parse(chromatogram_file(tmp_path / "c.cdf"), "c.cdf")
    np.testing.assert_allclose(spectrum.x, [1.0, 1.1, 1.2, 1.3, 1.4])  # (60 + 6 i) s in min
    np.testing.assert_array_equal(spectrum.y, [1, 5, 2, 8, 3])
    assert (spectrum.x_unit, spectrum.y_unit, spectrum.technique) == ("min", "pA",
                                                                      "chromatogram")
    retention, heights = spectrum.peaks
    assert retention[0] == pytest.approx(1.1) and np.isnan(retention[1])  # -9999 is null
    np.testing.assert_array_equal(heights, [5, 8])
    assert spectrum.metadata["peak_table"].splitlines() == [
        "retention_time_min\tpeak_area\tpeak_height\tpeak_name", "1.1\t12.5\t5\ttoluene",
        "nan\t3\t8\t?"]
    assert spectrum.metadata["sample_name"] == "LAB-2024-0042"
    assert spectrum.metadata["operator"] == "analyst"
    assert spectrum.metadata["acquired_at"] == "2024-03-14T09:30:00+01:00"
    assert spectrum.title == "FID run 12"


def test_own_ms_run_tic_then_scans_with_scale_factor(tmp_path):
    tic, first, second = andi.parse(ms_file(tmp_path / "m.cdf"), "m.cdf")
    assert tic.technique == "chromatogram" and tic.x_unit == "min"
    np.testing.assert_allclose(tic.x, [2.0, 2.025])
    np.testing.assert_array_equal(tic.y, [60, 30])
    np.testing.assert_allclose(first.x, [41.0, 43.0, 50.0])
    np.testing.assert_array_equal(first.y, [10, 20, 30])
    np.testing.assert_allclose(second.x, [91.0, 128.0])
    assert first.kind == "peaks" and first.x_unit == "m/z" and first.y_unit == "intensity"
    assert first.metadata["retention_time"] == "2"
    assert second.metadata["scan_number"] == "2"
    assert first.metadata["instrument"] == "GCMS-7" and first.metadata["serial"] == "US123"
    assert first.metadata["ionization"] == "Electron Impact"
    assert first.metadata["acquired_at"] == "2024-03-14T09:30:00-05:00"


def test_own_library_entries_named_with_cas_and_no_tic(tmp_path):
    acetone, toluene = andi.parse(ms_file(tmp_path / "l.cdf", library=True), "l.cdf")
    assert acetone.title == "Acetone" and toluene.title == "Toluene"
    assert acetone.metadata["cas"] == "67-64-1" and toluene.metadata["cas"] == "108-88-3"
    assert toluene.metadata["formula"] == "C7H8"
    assert "retention_time" not in acetone.metadata  # -9999: no time


def test_non_andi_netcdf_is_named_as_such(tmp_path):
    data = netcdf(tmp_path / "n.cdf", {"title": b"weather"}, {"x": 3},
                  {"t": (("x",), np.array([1.0, 2.0, 3.0]), {})})
    detection = andi.detect(data, "n.cdf")
    assert detection.confidence < 0.5 and "not ANDI" in detection.reason
    with pytest.raises(ParseError) as error:
        andi.parse(data, "n.cdf")
    assert str(error.value) == ("This is a netCDF file but not ANDI/AIA: no "
                                "aia_template_revision or ms_template_revision attribute")


def test_scan_outside_the_mass_array_is_refused(tmp_path):
    with pytest.raises(ParseError, match="Scan 2 points outside the mass array"):
        andi.parse(ms_file(tmp_path / "m.cdf", scan_index=(0, 4)), "m.cdf")


def test_chromatogram_without_time_axis_is_refused(tmp_path):
    data = netcdf(tmp_path / "c.cdf", {"aia_template_revision": b"1.0"}, {"point_number": 2},
                  {"ordinate_values": (("point_number",), np.array([1.0, 2.0]), {})})
    with pytest.raises(ParseError, match="neither raw_data_retention"):
        andi.parse(data, "c.cdf")


@pytest.mark.parametrize("data, message", [
    (b"", "not a netCDF-3"),
    (b"netcdf x {\n dimensions: ...", "not a netCDF-3"),
    (b"CDF\x01" + b"\xff" * 40, "damaged"),
])
def test_malformed_files_raise_parse_error(data, message):
    with pytest.raises(ParseError, match=message):
        andi.parse(data, "bad.cdf")


def test_truncated_file_raises_parse_error(tmp_path):
    data = chromatogram_file(tmp_path / "c.cdf")
    with pytest.raises(ParseError):
        andi.parse(data[:len(data) // 2], "c.cdf")


def test_detection(tmp_path):
    assert andi.detect(chromatogram_file(tmp_path / "c.cdf"), "").confidence == 1.0
    assert andi.detect(ms_file(tmp_path / "m.cdf"), "").confidence == 1.0
    assert andi.detect(b"CDF\x05" + b"\0" * 20, "").confidence < 0.5
    assert andi.detect(b"netcdf x {", "x.cdl") is None
    assert andi.detect(b"junk", "x.cdf").confidence == 0.2


# ---- the real corpus ---------------------------------------------------------------------

def test_corpus_agilent_gcms_tic_is_chromatography_template():
    (tic,) = andi.parse(corpus_bytes("andi/agilent-gcms-tic.cdf"), "agilent-gcms-tic.cdf")
    assert "1645 ordinate points" in manifest()["andi/agilent-gcms-tic.cdf"]["known_facts"]
    assert tic.technique == "chromatogram" and tic.n_points == 1645
    assert tic.y_unit == "counts"
    assert int(np.argmax(tic.y)) == 1200
    assert tic.y.max() == pytest.approx(649750, rel=1e-5)  # 649746 in the file
    assert tic.x[0] == pytest.approx(3.381 / 60)  # actual_delay_time, seconds
    assert len(tic.peaks[0]) == 43
    assert tic.metadata["sample_name"] == "rmsimone_RSD10-005_CC1"


def test_corpus_agilent_hplc():
    (signal,) = andi.parse(corpus_bytes("andi/agilent-hplc.cdf"), "agilent-hplc.cdf")
    assert signal.n_points == 4651 and len(signal.peaks[0]) == 8
    assert np.diff(signal.x * 60) == pytest.approx(0.4, abs=1e-4)  # 0.4 s interval
    assert signal.y_unit == "mAU"
    assert int(np.argmax(signal.y)) == 2944
    assert signal.y.max() == pytest.approx(119.02, abs=0.005)


def test_corpus_sciformats_chrom_quirks():
    (signal,) = andi.parse(corpus_bytes("andi/sciformats_andi_chrom_quirks.cdf"), "q.cdf")
    assert signal.n_points == 10 and len(signal.peaks[0]) == 3
    assert np.diff(signal.x * 60) == pytest.approx(10)  # sampling interval 10 s
    assert signal.metadata["peak_table"].splitlines()[1].endswith("ref")
    assert signal.metadata["peak_amount_unit"] == "ppm"
    assert signal.y_unit == "absorbance"  # from the misspelt detector_units attribute


def test_corpus_sciformats_non_andi():
    data = corpus_bytes("andi/sciformats_non_andi.cdf")
    assert andi.detect(data, "non_andi.cdf").confidence < 0.5
    with pytest.raises(ParseError, match="netCDF file but not ANDI/AIA"):
        andi.parse(data, "non_andi.cdf")


def test_corpus_cdl_text_is_not_read():
    assert andi.detect(corpus_bytes("andi/sciformats_andi_ms_centroid.cdl"), "x.cdl") is None


def cdl_values(text: str) -> dict[str, list]:
    """The data section of ncdump output: variable -> numbers or strings."""
    data = text.split("\ndata:", 1)[1]
    values = {}
    for name, body in re.findall(r"(\w+) =\s*(.*?)\s*;", data, flags=re.S):
        strings = re.findall(r'"([^"]*)"', body)
        values[name] = strings or [float(v) for v in re.split(r"[,\s]+", body) if v]
    return values


def test_corpus_ms_centroid_agrees_with_its_cdl():
    tic, *scans = andi.parse(corpus_bytes("andi/sciformats_andi_ms_centroid.cdf"), "c.cdf")
    cdl = cdl_values(corpus_bytes("andi/sciformats_andi_ms_centroid.cdl").decode())
    assert len(scans) == 2
    np.testing.assert_allclose(tic.x * 60, cdl["scan_acquisition_time"])  # 456, 457 s
    np.testing.assert_allclose(tic.y, cdl["total_intensity"])
    assert tic.y.max() == 60
    for scan, start, count in zip(scans, cdl["scan_index"], cdl["point_count"], strict=True):
        used = slice(int(start), int(start + count))
        np.testing.assert_allclose(scan.x, cdl["mass_values"][used])
        np.testing.assert_allclose(scan.y, cdl["intensity_values"][used])
    assert sum(s.n_points for s in scans) == 7 == sum(cdl["point_count"])
    assert len(cdl["mass_values"]) == 12 and min(cdl["mass_values"]) == 0  # unused slots
    assert [s.metadata["scan_number"] for s in scans] == ["99", "100"]
    assert scans[0].metadata["instrument"] == cdl["instrument_name"][0]
    assert scans[0].metadata["serial"] == cdl["instrument_serial_no"][0]
    assert max(max(s.x) for s in scans) == pytest.approx(399.99)


# ---- fuzzing -----------------------------------------------------------------------------





def only_parse_errors(data: bytes):
    with contextlib.suppress(ParseError):
        spectra = andi.parse(data, "fuzz.cdf")
        assert spectra and all(isinstance(spectrum, Spectrum) for spectrum in spectra)


@settings(max_examples=200, deadline=1000)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_raise_only_parse_errors(data):
    only_parse_errors(data)
    only_parse_errors(b"CDF\x01" + data)


@pytest.mark.parametrize("name", ["andi/sciformats_andi_ms_centroid.cdf",
                                  "andi/agilent-gcms-tic.cdf",
                                  "andi/sciformats_andi_chrom_quirks.cdf"])
@settings(max_examples=80, deadline=2000, suppress_health_check=[HealthCheck.data_too_large])
@given(change=st.data())
def test_mutated_corpus_files_raise_only_parse_errors(name, change):
    only_parse_errors(change.draw(mutated(corpus_bytes(name))))


@pytest.fixture(scope="module")
def own_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("andi")
    return [chromatogram_file(folder / "c.cdf"), ms_file(folder / "m.cdf"),
            ms_file(folder / "l.cdf", library=True)]


@settings(max_examples=150, deadline=1000,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(change=st.data())
def test_mutated_own_files_raise_only_parse_errors(own_files, change):
    for data in own_files:
        only_parse_errors(change.draw(mutated(data)))
