"""Agilent ChemStation adapter: real corpus files and rainbow's oracle, own files, fuzzing."""

import contextlib
import json
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from instruments import agilent
from instruments.core import ParseError, Spectrum
from tests.instruments.corpus import corpus_bytes, manifest
from tests.instruments.fuzz import mutated


def put_string(buffer: bytearray, offset: int, text: str, gap: int) -> None:
    """A length-prefixed ChemStation header string (gap 1: bytes, gap 2: UTF-16LE)."""
    raw = text.encode("latin-1") if gap == 1 else text.encode("utf-16-le")
    buffer[offset] = len(text)
    buffer[offset + 1:offset + 1 + len(raw)] = raw


def ms_file(scans, declared=None, kind="GC / MS Data File"):
    """A ChemStation .ms file: scans are (time in ms, [(m/z, abundance), ...])."""
    start = 0x300
    header = bytearray(start)
    header[0:4] = agilent.MS_MAGIC
    put_string(header, 0x04, kind, 1)
    put_string(header, 0x18, "LAB-2024-0042", 1)
    put_string(header, 0x94, "analyst", 1)
    put_string(header, 0xB2, "14 Mar 24  9:30 am", 1)
    put_string(header, 0xD0, "5977B GCM", 1)
    put_string(header, 0xE4, "FAST.M", 1)
    struct.pack_into(">H", header, 0x10A, (start + 2) // 2)
    struct.pack_into("<H", header, 0x142, len(scans) if declared is None else declared)
    body = b""
    for time, pairs in scans:
        body += struct.pack(">HI6xH4x", 0, time, len(pairs))
        for mz, abundance in pairs:
            exponent = 0
            while abundance >= 1 << 14:
                abundance //= 8
                exponent += 1
            body += struct.pack(">HH", round(mz * 20), exponent << 14 | abundance)
        body += b"\0" * 10
    return bytes(header) + body


def ch_file(values, first=6.0, last=None, scale=0.5, version="179"):
    """A ChemStation .ch (179 layout): float times in ms, scaled little-endian doubles."""
    last = last if last is not None else first + 600.0 * (len(values) - 1)
    header = bytearray(0x1800)
    header[0:4] = b"\x03" + version.encode()
    put_string(header, 0x15B, "GC DATA FILE", 2)
    put_string(header, 0x35A, "LAB-2024-0042", 2)
    put_string(header, 0x957, "14 Mar 24  9:30 am", 2)
    put_string(header, 0xA0E, "FID.M", 2)
    put_string(header, 0xC11, "Lab ChemStation", 2)
    put_string(header, 0x104C, "pA", 2)
    put_string(header, 0x1075, "Front Signal", 2)
    struct.pack_into(">ff", header, 0x11A, first, last)
    struct.pack_into(">d", header, 0x127C, scale)
    return bytes(header) + np.asarray(values, dtype="<f8").tobytes()


SCANS = [(6000, [(41.0, 100), (43.05, 50), (58.0, 300)]),
         (6600, [(91.0, 20000), (92.0, 7000)])]


def test_own_ms_file_tic_then_scans():
    tic, first, second = agilent.parse(ms_file(SCANS), "data.ms")
    assert tic.technique == "chromatogram" and tic.x_unit == "min" and tic.y_unit == "counts"
    np.testing.assert_allclose(tic.x, [0.1, 0.11])
    np.testing.assert_array_equal(tic.y, [450, 27000])  # 20000 stored as 2500 x 8
    assert first.kind == "peaks" and first.technique == "MS" and first.x_unit == "m/z"
    np.testing.assert_array_equal(first.x, [41, 43, 58])  # nominal-mass bins
    np.testing.assert_array_equal(first.y, [100, 50, 300])
    np.testing.assert_array_equal(second.x, [91, 92])
    assert second.metadata["retention_time"] == "0.11"
    assert second.metadata["scan_number"] == "2"
    assert tic.metadata["method"] == "FAST.M"
    assert tic.metadata["sample_name"] == "LAB-2024-0042"
    assert tic.metadata["instrument"] == "5977B GCM"
    assert tic.metadata["acquired_at"] == "2024-03-14T09:30:00"
    assert tic.warnings == []


def test_own_ch_file_scaled_signal():
    (signal,) = agilent.parse(ch_file([2.0, 4.0, 10.0]), "FID1A.ch")
    np.testing.assert_allclose(signal.x, [0.0001, 0.0101, 0.0201])
    np.testing.assert_array_equal(signal.y, [1.0, 2.0, 5.0])
    assert (signal.x_unit, signal.y_unit, signal.technique) == ("min", "pA", "chromatogram")
    assert signal.metadata["detector"] == "FID"
    assert signal.metadata["sample_name"] == "LAB-2024-0042"
    assert signal.metadata["method"] == "FID.M"
    assert signal.metadata["instrument"] == "Lab ChemStation"
    assert signal.metadata["acquired_at"] == "2024-03-14T09:30:00"
    assert signal.title == "LAB-2024-0042 - Front Signal"


@pytest.mark.parametrize("data, message", [
    (ms_file(SCANS, declared=5), "declares 5 scans|ends inside scan 3"),
    (ms_file(SCANS)[:-20], "ends inside scan 2"),
    (ms_file(SCANS, declared=60000), "more than the"),
    (agilent.MS_MAGIC + b"\0" * 100, "header is truncated"),
    (ch_file([1.0, 2.0], first=5.0, last=5.0), "time range"),
    (ch_file([1.0])[:0x1000], "truncated before its data"),
    (b"\x03181" + b"\0" * 0x1800 + b"\0" * (agilent._MAX_DOUBLE_DELTA_BYTES + 8), "time range"),
    (b"Spectral Data File", "not an Agilent ChemStation file"),
    (b"", "not an Agilent ChemStation file"),
])
def test_malformed_files_raise_parse_error(data, message):
    with pytest.raises(ParseError, match=message):
        agilent.parse(data, "bad.ms")


def test_oversized_double_delta_signal_is_refused():
    data = bytearray(ch_file([1.0, 2.0], version="181"))
    data += b"\0" * agilent._MAX_DOUBLE_DELTA_BYTES
    with pytest.raises(ParseError, match="version 181"):
        agilent.parse(bytes(data), "big.ch")


def test_detection():
    assert agilent.detect(ms_file(SCANS), "").confidence == 1.0
    assert agilent.detect(ch_file([1.0, 2.0]), "").confidence == 0.95
    assert agilent.detect(b"\x03130" + b"\0" * 10, "").confidence == 0.6
    assert agilent.detect(b"junk", "x.MS").confidence == 0.2
    assert agilent.detect(b"junk", "x.txt") is None


# ---- the real corpus, against rainbow's own expected outputs ---------------------------

def info():
    return json.loads(corpus_bytes("agilent/yellow.D_info.json"))


def test_corpus_yellow_data_ms_matches_oracle():
    spectra = agilent.parse(corpus_bytes("agilent/yellow.D_data.ms"), "data.ms")
    tic, scans = spectra[0], spectra[1:]
    oracle = info()["datafiles"]["data.ms"]
    assert [tic.n_points, len({m for s in scans for m in s.x})] == oracle["shape"]  # 1307x199
    assert len(scans) == 1307
    assert tic.x[0] == pytest.approx(0.09555, abs=5e-6)
    assert tic.x[-1] == pytest.approx(8.49383, abs=5e-6)
    assert tic.y.max() == 700220
    assert tic.x[np.argmax(tic.y)] == pytest.approx(2.6871, abs=5e-5)
    assert min(s.x.min() for s in scans) == 100 and max(s.x.max() for s in scans) == 299
    assert tic.metadata["method"] == oracle["metadata"]["method"]
    assert tic.metadata["date"] == oracle["metadata"]["date"]
    assert tic.metadata["acquired_at"] == "2019-12-17T10:04:00"
    assert tic.metadata["instrument"] == "5977B GCM"
    np.testing.assert_allclose([s.y.sum() for s in scans], tic.y)


def test_corpus_yellow_tic_agrees_with_masshunter_csv_export():
    tic = agilent.parse(corpus_bytes("agilent/yellow.D_data.ms"), "data.ms")[0]
    text = corpus_bytes("csvtxt/agilent_masshunter_tic_front.csv").decode("utf-8-sig")
    rows = np.array([line.split(",") for line in text.splitlines()[2:] if line.strip()],
                    dtype=float)
    nearest = np.abs(rows[:, 0][None, :] - tic.x[:, None]).argmin(axis=1)
    assert np.abs(rows[nearest, 0] - tic.x).max() < 1e-5  # every scan time is in the export
    np.testing.assert_allclose(rows[nearest, 1], tic.y, rtol=5e-4)
    assert rows[:, 1].max() == 700250 and rows[np.argmax(rows[:, 1]), 0] == 2.68707


def test_corpus_yellow_fid_matches_oracle():
    (signal,) = agilent.parse(corpus_bytes("agilent/yellow.D_FID1A.ch"), "FID1A.ch")
    oracle = info()["datafiles"]["FID1A.ch"]
    assert [signal.n_points, 1] == oracle["shape"]
    assert signal.metadata["detector"] == oracle["detector"] == "FID"
    for key in ("date", "method", "signal"):
        assert signal.metadata[key] == oracle["metadata"][key]
    assert signal.metadata["instrument"] == oracle["metadata"]["instrument"]
    assert signal.y_unit == oracle["metadata"]["unit"] == "pA"
    assert signal.x[0] == pytest.approx(0.00083, abs=5e-6)
    assert signal.x[-1] == pytest.approx(8.49749, abs=5e-6)
    assert signal.y.max() == pytest.approx(81617.7, abs=0.05)
    assert signal.x[np.argmax(signal.y)] == pytest.approx(2.0025, abs=5e-5)


def test_corpus_red_adc():
    (signal,) = agilent.parse(corpus_bytes("agilent/red.D_ADC1A.CH"), "ADC1A.CH")
    facts = manifest()["agilent/red.D_ADC1A.CH"]["known_facts"]
    assert "4200 points" in facts
    assert signal.n_points == 4200
    assert signal.x[0] == pytest.approx(0.00078, abs=5e-6)
    assert signal.x[-1] == pytest.approx(13.99745, abs=5e-6)
    assert signal.y.max() == pytest.approx(4583.08, abs=0.005)
    assert signal.x[np.argmax(signal.y)] == pytest.approx(12.2174, abs=5e-5)
    assert signal.metadata["method"] == "column2_gradient14min.M"
    assert signal.metadata["date"].startswith("27-Feb-18")
    assert signal.metadata["acquired_at"] == "2018-02-27T10:11:50"
    assert signal.metadata["detector"] == "CAD" and signal.y_unit == "mAU"


def test_corpus_oracle_json_is_not_a_chemstation_file():
    data = corpus_bytes("agilent/yellow.D_info.json")
    assert agilent.detect(data, "info.json") is None
    with pytest.raises(ParseError, match="not an Agilent ChemStation file"):
        agilent.parse(data, "info.json")


# ---- fuzzing -----------------------------------------------------------------------------





def only_parse_errors(data: bytes):
    with contextlib.suppress(ParseError):
        spectra = agilent.parse(data, "fuzz.ms")
        assert spectra and all(isinstance(spectrum, Spectrum) for spectrum in spectra)


@settings(max_examples=200, deadline=1000)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_raise_only_parse_errors(data):
    only_parse_errors(data)
    only_parse_errors(agilent.MS_MAGIC + data)
    only_parse_errors(b"\x03179" + data)


@settings(max_examples=200, deadline=2000)
@given(st.one_of(mutated(ms_file(SCANS), hot=0x400), mutated(ch_file([1.0, 2.0, 3.0]),
                                                              hot=0x1810)))
def test_mutated_own_files_raise_only_parse_errors(data):
    only_parse_errors(data)


@pytest.mark.parametrize("name", ["agilent/yellow.D_data.ms", "agilent/yellow.D_FID1A.ch",
                                  "agilent/red.D_ADC1A.CH"])
@settings(max_examples=40, deadline=3000, suppress_health_check=[HealthCheck.data_too_large])
@given(change=st.data())
def test_mutated_corpus_files_raise_only_parse_errors(name, change):
    only_parse_errors(change.draw(mutated(corpus_bytes(name), hot=0x1900)))
