"""Bruker OPUS adapter: real corpus files, files written here, and fuzzing."""

import contextlib
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from instruments import opus
from instruments.core import ParseError, Spectrum
from tests.instruments.corpus import corpus_bytes, manifest
from tests.instruments.fuzz import mutated

# Directory type codes as six sub-codes (see brukeropus's get_block_type).
AB, AB_STATUS = (3, 3, 0, 4, 0, 0), (3, 3, 1, 4, 0, 0)
TR, TR_STATUS = (3, 3, 0, 5, 0, 0), (3, 3, 1, 5, 0, 0)
SC_SAMPLE, SC_SAMPLE_STATUS = (3, 1, 0, 1, 0, 0), (3, 1, 1, 1, 0, 0)
INSTRUMENT, ACQUISITION, SAMPLE = (0, 0, 2, 0, 0, 0), (0, 0, 3, 0, 0, 0), (0, 0, 10, 0, 0, 0)
SERIES = (3, 3, 0, 4, 0, 2)


def type_code(parts):
    shifts = (0, 2, 4, 10, 17, 19)
    return sum(part << shift for part, shift in zip(parts, shifts, strict=True))


def param_block(values):
    """An OPUS parameter block: KEY\\0, type, size in 2-byte words, value; then END."""
    out = b""
    for key, value in values.items():
        if isinstance(value, int):
            out += key.encode() + b"\0" + struct.pack("<hhi", 0, 2, value)
        elif isinstance(value, float):
            out += key.encode() + b"\0" + struct.pack("<hhd", 1, 4, value)
        else:
            text = value.encode("latin-1") + b"\0"
            text += b"\0" * (len(text) % 2)
            out += key.encode() + b"\0" + struct.pack("<hh", 2, len(text) // 2) + text
    return out + b"END\0" + b"\0" * 4


def status_block(npt, first, last, **extra):
    return param_block({"DPF": 1, "NPT": npt, "FXV": first, "LXV": last, "CSF": 1.0,
                        "MXY": 1.0, "MNY": 0.0, "DAT": "14/03/2024",
                        "TIM": "09:30:15.250 (GMT+1)", "DXU": "WN", **extra})


def opus_file(blocks, max_blocks=None):
    """An OPUS file from (type, payload) pairs: header, directory at 24, then the blocks."""
    max_blocks = max_blocks or len(blocks)
    position = 24 + 12 * max_blocks
    directory, body = b"", b""
    for kind, payload in blocks:
        payload += b"\0" * (-len(payload) % 4)
        directory += struct.pack("<3i", type_code(kind), len(payload) // 4, position)
        body += payload
        position += len(payload)
    directory += b"\0" * (12 * max_blocks - len(directory))
    header = opus.MAGIC + struct.pack("<d3i", 920622.0, 24, max_blocks, len(blocks))
    return header + directory + body


def floats(values):
    return np.asarray(values, dtype="<f4").tobytes()


FILE_PARAMS = [
    (INSTRUMENT, param_block({"INS": "ALPHA II", "SRN": "200123", "LWN": 15798.0})),
    (ACQUISITION, param_block({"RES": 4.0, "NSS": 24})),
    (SAMPLE, param_block({"SNM": "LAB-2024-0042 powder", "SFM": "ATR", "CNM": "chemist"})),
]


def small_file():
    """Single channel stored before an absorbance block padded beyond its NPT."""
    return opus_file([
        *FILE_PARAMS,
        (SC_SAMPLE, floats([5, 6, 7, 8, 9])), (SC_SAMPLE_STATUS, status_block(5, 4000., 400.)),
        (AB, floats([0.1, 0.9, 0.3, 0.2, 99, 99])), (AB_STATUS, status_block(4, 4000., 1000.)),
    ])


def test_own_file_prefers_absorbance_and_uses_npt():
    spectra = opus.parse(small_file(), "sample.0")
    assert [s.block for s in spectra] == ["AB", "ScSm"]
    absorbance = spectra[0]
    assert absorbance.n_points == 4  # NPT, not the 6 values of the padded block
    np.testing.assert_allclose(absorbance.y, [0.1, 0.9, 0.3, 0.2], rtol=1e-6)
    np.testing.assert_allclose(absorbance.x, [4000, 3000, 2000, 1000])
    assert (absorbance.x_unit, absorbance.y_unit, absorbance.technique) == (
        "cm-1", "absorbance", "IR")
    assert absorbance.metadata["instrument"] == "ALPHA II"
    assert absorbance.metadata["serial"] == "200123"
    assert absorbance.metadata["sample_name"] == "LAB-2024-0042 powder"
    assert absorbance.metadata["sample_form"] == "ATR"
    assert absorbance.metadata["operator"] == "chemist"
    assert absorbance.metadata["resolution"] == "4 cm-1"
    assert absorbance.metadata["scans"] == "24"
    assert absorbance.metadata["acquired_at"] == "2024-03-14T09:30:15.250+01:00"
    assert absorbance.metadata["laser_wavenumber"] == "15798.0 cm-1"
    assert "laser_wavelength_nm" not in absorbance.metadata  # the HeNe reference, not Raman
    assert absorbance.title == "LAB-2024-0042 powder: Absorbance"
    assert spectra[1].y_unit == "single beam"
    assert spectra[1].warnings == [] and absorbance.warnings == []


def test_transmittance_scaled_by_csf_and_two_ab_blocks_numbered():
    data = opus_file([
        *FILE_PARAMS,
        (TR, floats([50, 100])), (TR_STATUS, status_block(2, 1.0, 2.0, CSF=0.01, DXU="MI")),
        (AB, floats([1, 2])), (AB_STATUS, status_block(2, 3000., 2000., MXY=2.0, MNY=1.0)),
        (AB, floats([3, 4])), (AB_STATUS, status_block(2, 3000., 2000., MXY=4.0, MNY=3.0)),
    ])
    spectra = opus.parse(data, "two.1")
    assert [s.block for s in spectra] == ["AB", "AB(2)", "TR"]
    assert sorted(spectra[0].y.tolist() + spectra[1].y.tolist()) == [1, 2, 3, 4]
    np.testing.assert_allclose(spectra[2].y, [0.5, 1.0])
    assert spectra[2].x_unit == "um" and spectra[2].y_unit == "transmittance"


def test_damaged_parameter_block_is_skipped_with_a_warning():
    # A negative size would make brukeropus's parameter loop run forever.
    broken = b"RES\0" + struct.pack("<hh", 1, -4) + b"\0" * 16
    data = opus_file([(ACQUISITION, broken), (AB, floats([1, 2])),
                      (AB_STATUS, status_block(2, 2., 1.))])
    spectra = opus.parse(data, "x.0")
    assert spectra[0].n_points == 2
    assert any("damaged" in warning for warning in spectra[0].warnings)


def test_series_block_and_orphan_data_block_are_reported():
    data = opus_file([(SERIES, b"\0" * 64), (AB, floats([1, 2])),
                      (AB_STATUS, status_block(2, 2., 1.)), (TR, floats([1]))])
    spectra = opus.parse(data, "x.0")
    assert len(spectra) == 1
    assert any("3-D data series" in warning for warning in spectra[0].warnings)
    assert any("no data-parameter block" in warning for warning in spectra[0].warnings)


def test_npt_larger_than_block_is_not_read():
    data = opus_file([(AB, floats([1, 2])), (AB_STATUS, status_block(50, 2., 1.))])
    with pytest.raises(ParseError, match="no readable data block"):
        opus.parse(data, "x.0")


@pytest.mark.parametrize("data, message", [
    (b"", "not a Bruker OPUS file"),
    (b"Spectral Data File", "not a Bruker OPUS file"),
    (opus.MAGIC + b"\0" * 10, "header is truncated"),
    (opus.MAGIC + struct.pack("<d3i", 1.0, 10_000, 4, 1), "outside the file"),
    (opus_file([(AB, floats([1]))]), "no readable data block"),
])
def test_malformed_files_raise_parse_error(data, message):
    with pytest.raises(ParseError, match=message):
        opus.parse(data, "bad.0")


def test_detection():
    assert opus.detect(small_file(), "").confidence == 1.0
    assert opus.detect(opus.MAGIC, "").confidence == 0.9
    assert opus.detect(b"Spectral Data File", "file.0").confidence == 0.2
    assert opus.detect(b"Spectral Data File", "file.spa") is None
    assert opus.detect(b"", "") is None


# ---- the real corpus ---------------------------------------------------------------------

def test_corpus_background_has_no_absorbance():
    data = corpus_bytes("opus/background.0")
    assert "no AB block" in manifest()["opus/background.0"]["quirks_or_bug_refs"]
    spectra = opus.parse(data, "background.0")
    assert [s.block for s in spectra] == ["ScRf", "IgRf"]
    single, interferogram = spectra
    assert single.n_points == 4096
    assert single.x[0] == pytest.approx(5264.7, abs=0.05) and single.x[-1] == 0.0
    assert interferogram.n_points == 3177 and interferogram.x_unit == "points"
    assert single.metadata["instrument"] == "VERTEX 80V"
    assert single.metadata["laser_wavenumber"] == "15797.962252 cm-1"
    assert single.metadata["acquired_at"] == "2020-02-06T13:01:55.349+01:00"


def test_corpus_brukeropus_example():
    data = corpus_bytes("opus/brukeropus_example_file.0")
    spectra = opus.parse(data, "file.0")
    absorbance = spectra[0]
    assert absorbance.block == "AB" and absorbance.n_points == 4927  # brukeropusreader: 4928
    assert absorbance.x[0] == pytest.approx(9997.72, abs=0.005)
    assert absorbance.x[-1] == pytest.approx(499.404, abs=0.0005)
    assert absorbance.metadata["sample_name"] == "File Test"
    assert absorbance.metadata["sample_form"] == "Atm-MWIR (All A)"
    assert absorbance.metadata["instrument"] == "VERTEX 80V"
    assert absorbance.metadata["scans"] == "50"
    assert {s.block for s in spectra} == {"AB", "ScSm", "ScRf", "IgSm", "IgRf", "PhSm"}
    assert all(s.warnings == [] for s in spectra)


def test_corpus_openspecy_two_ab_blocks():
    data = corpus_bytes("opus/openspecy_ftir_ps.0")
    spectra = opus.parse(data, "ftir_ps.0")
    absorbance = spectra[0]
    assert absorbance.block == "AB" and absorbance.n_points == 2126  # brukeropusreader: 1124
    assert absorbance.x[0] == pytest.approx(4497.54, abs=0.005)
    assert absorbance.x[-1] == pytest.approx(399.224, abs=0.0005)
    assert absorbance.metadata["sample_name"] == "sample1_PSnew"
    assert absorbance.metadata["instrument"] == "VERTEX 70"
    # The second AB block is "Compound Information" without parameters: reported, not read.
    assert any("Compound Information" in warning for warning in absorbance.warnings)
    # Polystyrene: aromatic C-H and ring bands.
    band = absorbance.x[np.argmax(np.where((absorbance.x > 680) & (absorbance.x < 720),
                                           absorbance.y, -np.inf))]
    assert band == pytest.approx(697, abs=3)


def test_corpus_spa_in_disguise_is_rejected_by_magic():
    data = corpus_bytes("opus/not_opus.spa")
    assert opus.detect(data, "not_opus.spa") is None
    with pytest.raises(ParseError, match="not a Bruker OPUS file"):
        opus.parse(data, "not_opus.spa")


# ---- fuzzing -----------------------------------------------------------------------------





def only_parse_errors(data: bytes):
    with contextlib.suppress(ParseError):
        spectra = opus.parse(data, "fuzz.0")
        assert spectra and all(isinstance(spectrum, Spectrum) for spectrum in spectra)


@settings(max_examples=200, deadline=1000)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_raise_only_parse_errors(data):
    only_parse_errors(data)
    only_parse_errors(opus.MAGIC + data)


@settings(max_examples=200, deadline=1000)
@given(mutated(small_file()))
def test_mutated_own_file_raises_only_parse_errors(data):
    only_parse_errors(data)


@pytest.mark.parametrize("name", ["opus/brukeropus_example_file.0", "opus/background.0"])
@settings(max_examples=60, deadline=2000, suppress_health_check=[HealthCheck.data_too_large])
@given(change=st.data())
def test_mutated_corpus_files_raise_only_parse_errors(name, change):
    data = corpus_bytes(name)
    only_parse_errors(change.draw(mutated(data)))
