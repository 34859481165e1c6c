"""Renishaw WDF adapter: the real corpus file, files written here (single and map), fuzzing."""

import contextlib
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from instruments import wdf
from instruments.core import ParseError, Spectrum
from tests.instruments.corpus import corpus_bytes, manifest
from tests.instruments.fuzz import mutated

HEADER_FORMAT = "<IIQQ16s12x IIIQQI III24s4H IIQQI f48x32s160s 48x32x32x"
DATA, XLIST, YLIST, ORIGIN, TEXT = (0x41544144, 0x54534C58, 0x54534C59, 0x4E47524F,
                                    0x54584554)
RAMAN_SHIFT, COUNTS, MICRON, SPECTRAL, SPATIAL_X, SPATIAL_Y = 1, 6, 5, 1, 3, 4
PRIMARY = 0x80000000


def block(block_id, payload):
    return struct.pack("<IIQ", block_id, 0, 16 + len(payload)) + payload


def wdf_file(spectra, x, planned=None, kind=1, positions=None, comment="a test spectrum"):
    """A WDF file: 512-byte header, then DATA, XLST, YLST, ORGN and TEXT blocks."""
    spectra = np.asarray(spectra, dtype="<f4")
    collected, points = spectra.shape
    planned = planned or collected
    header = struct.pack(HEADER_FORMAT, 0x31464457, 1, 512, 0, b"\x01" * 16, 0, 0, points,
                         planned, collected, 2, 1, points, 2 if positions else 0,
                         b"WiRE", 5, 3, 0, 1, 1, kind, 133547580000000000, 0, COUNTS,
                         1e7 / 785.0, b"analyst", b"Pill LAB-2024-0042")
    data = np.zeros((planned, points), dtype="<f4")
    data[:collected] = spectra
    blocks = [block(DATA, data.tobytes()),
              block(XLIST, struct.pack("<II", SPECTRAL, RAMAN_SHIFT)
                    + np.asarray(x, "<f4").tobytes()),
              block(YLIST, struct.pack("<II", 0, 16) + struct.pack("<f", 0.0)),
              block(TEXT, comment.encode())]
    if positions:
        origins = struct.pack("<I", 2)
        for label, kind_code, values in (("X", SPATIAL_X, positions[0]),
                                         ("Y", SPATIAL_Y, positions[1])):
            origins += struct.pack("<II16s", kind_code | PRIMARY, MICRON, label.encode())
            padded = np.zeros(planned, "<f8")
            padded[:collected] = list(values)
            origins += padded.tobytes()
        blocks.append(block(ORIGIN, origins))
    return header + b"".join(blocks)


X = [1600.0, 1500.0, 1400.0, 1300.0]


def test_own_single_spectrum():
    (spectrum,) = wdf.parse(wdf_file([[1, 5, 2, 0.5]], X), "pill.wdf")
    np.testing.assert_array_equal(spectrum.x, X)  # descending, as stored
    np.testing.assert_array_equal(spectrum.y, [1, 5, 2, 0.5])
    assert (spectrum.x_unit, spectrum.y_unit, spectrum.technique) == ("cm-1", "counts",
                                                                      "Raman")
    assert spectrum.title == "Pill LAB-2024-0042"
    assert spectrum.metadata["laser_wavelength_nm"] == "785.00"
    assert spectrum.metadata["operator"] == "analyst"
    assert spectrum.metadata["scans"] == "2"
    assert spectrum.metadata["software"] == "WiRE 5.3.0.1"
    assert spectrum.metadata["comments"] == "a test spectrum"
    assert spectrum.metadata["acquired_at"].startswith("2024-03-")
    assert spectrum.warnings == []


def test_own_map_one_spectrum_per_point_with_positions():
    spectra = wdf.parse(wdf_file([[1, 2, 3, 4], [5, 6, 7, 8], [9, 9, 9, 9]], X, planned=4,
                                 kind=3, positions=([0, 10, 20], [5, 5, 5])), "map.wdf")
    assert len(spectra) == 3
    assert [s.title for s in spectra] == ["Pill LAB-2024-0042 #1 (X=0, Y=5)",
                                          "Pill LAB-2024-0042 #2 (X=10, Y=5)",
                                          "Pill LAB-2024-0042 #3 (X=20, Y=5)"]
    np.testing.assert_array_equal(spectra[1].y, [5, 6, 7, 8])
    assert spectra[0].metadata["measurement_type"] == "Map"
    assert spectra[0].warnings == ["3 of the 4 planned spectra were collected (the "
                                   "measurement was stopped early)."]


def test_large_map_is_cut_at_the_limit_with_a_warning(monkeypatch):
    monkeypatch.setattr(wdf, "MAX_SPECTRA", 2)
    spectra = wdf.parse(wdf_file(np.ones((5, 4)), X, kind=3,
                                 positions=(range(5), range(5))), "map.wdf")
    assert len(spectra) == 2
    assert "holds 5 spectra; only the first 2 were read" in spectra[0].warnings[0]


@pytest.mark.parametrize("data, message", [
    (b"", "does not start with WDF1"),
    (b"Spectral Data File", "does not start with WDF1"),
    (b"WDF1" + b"\0" * 100, "header is truncated"),
    (wdf_file([[1, 2, 3, 4]], X)[:560], "truncated inside its XLST block"),
    (wdf_file([[1, 2, 3, 4]], X).replace(struct.pack("<IIQ", XLIST, 0, 40),
                                         struct.pack("<IIQ", XLIST, 0, 0)),
     "smaller than its own header"),
])
def test_malformed_files_raise_parse_error(data, message):
    with pytest.raises(ParseError, match=message):
        wdf.parse(data, "bad.wdf")


def test_truncated_optional_block_is_reported():
    (spectrum,) = wdf.parse(wdf_file([[1, 2, 3, 4]], X)[:600], "cut.wdf")
    assert spectrum.warnings == ["The WDF file is truncated inside its 'YLST' block at byte "
                                 "584; that block was not read."]


def test_header_that_lies_about_the_spectrum_count():
    data = bytearray(wdf_file([[1, 2, 3, 4]], X))
    struct.pack_into("<QQ", data, 64, 50, 50)  # nspectra, ncollected
    with pytest.raises(ParseError, match="declares 50 spectra of 4 points but the DATA block "
                                         "holds only 1"):
        wdf.parse(bytes(data), "lie.wdf")


def test_detection():
    assert wdf.detect(wdf_file([[1, 2, 3, 4]], X), "").confidence == 1.0
    assert wdf.detect(b"WDF1", "").confidence == 0.9
    assert wdf.detect(b"junk", "x.WDF").confidence == 0.2
    assert wdf.detect(b"junk", "x.spc") is None


# ---- the real corpus ---------------------------------------------------------------------

def test_corpus_renishaw_single_spectrum():
    (spectrum,) = wdf.parse(corpus_bytes("raman_wdf/renishaw_sp.wdf"), "sp.wdf")
    assert "1015 pts" in manifest()["raman_wdf/renishaw_sp.wdf"]["known_facts"]
    assert spectrum.n_points == 1015
    assert spectrum.x[0] == pytest.approx(2787.51, abs=0.005)
    assert spectrum.x[-1] == pytest.approx(1226.28, abs=0.005)
    assert np.all(np.diff(spectrum.x) < 0)  # descending as stored
    assert spectrum.metadata["laser_wavelength_nm"] == "532.25"
    assert spectrum.title == "Single scan measurement 1"
    assert spectrum.y.max() == pytest.approx(1863.26, abs=0.005)
    assert spectrum.x[np.argmax(spectrum.y)] == pytest.approx(2671.99, abs=0.005)
    assert spectrum.x_unit == "cm-1" and spectrum.technique == "Raman"


# ---- fuzzing -----------------------------------------------------------------------------





def only_parse_errors(data: bytes):
    with contextlib.suppress(ParseError):
        spectra = wdf.parse(data, "fuzz.wdf")
        assert spectra and all(isinstance(spectrum, Spectrum) for spectrum in spectra)


@settings(max_examples=200, deadline=1000)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_raise_only_parse_errors(data):
    only_parse_errors(data)
    only_parse_errors(b"WDF1" + data)


@settings(max_examples=200, deadline=1000)
@given(st.one_of(mutated(wdf_file([[1, 2, 3, 4]], X)),
                 mutated(wdf_file(np.ones((3, 4)), X, kind=3, positions=([0, 1, 2], [0, 0, 0])))))
def test_mutated_own_files_raise_only_parse_errors(data):
    only_parse_errors(data)


@settings(max_examples=80, deadline=2000, suppress_health_check=[HealthCheck.data_too_large])
@given(change=st.data())
def test_mutated_corpus_file_raises_only_parse_errors(change):
    only_parse_errors(change.draw(mutated(corpus_bytes("raman_wdf/renishaw_sp.wdf"))))
