"""Bounded parsing: expansion bombs are refused fast and small, real files keep their margin."""

import base64
import re
import time
import tracemalloc
import zlib

import numpy as np
import pytest

from instruments import core, mzml, registry
from instruments.core import ParseError
from tests.instruments.corpus import corpus_bytes, manifest
from tests.instruments.test_agilent import ms_file as agilent_ms_file
from tests.instruments.test_andi import netcdf
from tests.instruments.test_mzml import array, mzml_file, mzxml_file, spectrum

# The file of issue 11: one DIFDUP line, "5" then DUP count S9998999 = 19,998,999 copies.
JCAMP_BOMB = b"""##TITLE=issue 11: bomb
##JCAMP-DX=4.24
##DATA TYPE=INFRARED SPECTRUM
##ORIGIN=anyone
##OWNER=anyone
##XUNITS=1/CM
##YUNITS=ABSORBANCE
##FIRSTX=0
##LASTX=1
##XFACTOR=1
##YFACTOR=1
##XYDATA=(X++(Y..Y))
0 5S9998999
##END=
"""


@pytest.fixture(scope="module", autouse=True)
def vocabulary():
    """Load the PSI-MS vocabulary once, so that no timed example pays for it."""
    mzml._psi_ms()


def refused(data: bytes, filename: str) -> ParseError:
    """Parse as an upload does; assert it is refused in < 2 s with < 50 MB allocated."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(ParseError) as raised:
            registry.parse(data, filename)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < 2.0, f"{elapsed:.2f} s"
    assert peak < 50 * 1024 * 1024, f"{peak / 2**20:.0f} MB"
    return raised.value


def test_the_219_byte_jcamp_dup_bomb_is_refused_before_expanding():
    assert len(JCAMP_BOMB) == 219
    error = refused(JCAMP_BOMB, "bomb.jdx")
    assert error.message == ("Refused by the point limit: the data would expand to 19,998,999 "
                             "points, and a file of 219 bytes may hold at most 65,536 (16 per "
                             "byte, never more than 20,000,000).")
    assert error.line == 13


def test_the_point_limit_grows_with_the_file_up_to_the_absolute_cap():
    assert core.Budget(219).max_points == core.MIN_POINTS
    assert core.Budget(100_000).max_points == 1_600_000
    assert core.Budget(50 * 2**20).max_points == core.MAX_POINTS == 20_000_000
    # DUP count X5536 = 65,536 copies of 5: as many points as a file of any size may hold.
    line = b"0 5X5536"
    assert core.MIN_POINTS == 65_536
    (spectrum,) = registry.parse(JCAMP_BOMB.replace(b"0 5S9998999", line), "fine.jdx").spectra
    assert spectrum.n_points == core.MIN_POINTS
    with pytest.raises(ParseError, match="would expand to 65,537 points"):
        registry.parse(JCAMP_BOMB.replace(b"0 5S9998999", b"0 5X5537"), "over.jdx")


def test_one_spectrum_beyond_the_spectrum_limit_is_refused_whatever_the_file_size():
    padding = b"##$PADDING=" + b"x" * 70_000 + b"\n"  # 16 points a byte would allow 1.1 M
    data = JCAMP_BOMB.replace(b"##XYDATA", padding + b"##XYDATA").replace(b"0 5S9998999",
                                                                          b"0 5S000001")
    error = refused(data, "long.jdx")
    assert error.message == ("Refused by the spectrum point limit: one spectrum would expand "
                             "to 1,000,001 points; the limit is 1,000,000.")
    assert error.line == 14


def test_mzml_zlib_bomb_is_refused_by_the_decoded_size_limit():
    bomb = array(np.zeros(2_000_000))  # 16 MB of zeros in 16 kB of zlib
    data = mzml_file([spectrum(0, "scan=1", 1, "profile", 1.0, "minute", [1.0], [1.0],
                               mz_array=bomb)])
    error = refused(data, "bomb.mzML")
    assert error.message.startswith("Refused by the decoded-size limit: the arrays would decode "
                                    "to more than 1,048,576 bytes")
    assert error.block == "spectrum scan=1"


def test_mzxml_zlib_bomb_is_refused_by_the_decoded_size_limit():
    good = mzxml_file()
    encoded = re.search(rb'compressedLen="0">([^<]+)</peaks>', good).group(1)
    bomb = base64.b64encode(zlib.compress(bytes(16 * 2**20)))
    error = refused(good.replace(encoded, bomb), "bomb.mzXML")
    assert "decoded-size limit" in error.message and error.block == "scan 7"


def test_agilent_ms_scans_binned_beyond_the_point_limit_are_refused_before_rainbow():
    # 2,000 scans of two peaks, m/z 1 and 3000: 72 kB that rainbow bins into 2,000 x 3,001.
    data = agilent_ms_file([(6000 + scan, [(1.0, 100), (3000.0, 100)]) for scan in range(2000)])
    error = refused(data, "data.ms")
    assert error.message.startswith("Refused by the point limit: the data would expand to "
                                    "6,002,000 points")
    assert error.offset == 0x142


def test_andi_scans_that_all_cut_the_whole_mass_array_are_refused(tmp_path):
    scans, points = 3000, 3000  # 12,000 stored masses, 9 million points once every scan is cut
    data = netcdf(tmp_path / "bomb.cdf", {"ms_template_revision": b"1.0.1"},
                  {"scan_number": scans, "point_number": points}, {
        "scan_index": (("scan_number",), np.zeros(scans, "i4"), {}),
        "point_count": (("scan_number",), np.full(scans, points, "i4"), {}),
        "mass_values": (("point_number",), np.arange(points, dtype="f4"), {}),
        "intensity_values": (("point_number",), np.ones(points, "f4"), {}),
    })
    error = refused(data, "bomb.cdf")
    assert error.message.startswith("Refused by the point limit: the data would expand to "
                                    "9,003,000 points")
    assert error.block == "point_count"


@pytest.mark.parametrize("path", sorted(manifest()) or ["(corpus absent)"])
def test_real_files_stay_far_below_the_limits(path):
    """The margins the caps were chosen with (instruments/core.py) hold for every real file."""
    data = corpus_bytes(path)
    try:
        result = registry.parse(data, path)
    except ParseError as error:
        assert "limit" not in error.message, error.message  # refused as not-this-format only
        return
    points = sum(spectrum.n_points for spectrum in result.spectra)
    assert max(spectrum.n_points for spectrum in result.spectra) * 33 <= core.MAX_SPECTRUM_POINTS
    assert points * 100 <= core.MAX_POINTS
    assert points / len(data) * 24 <= core.POINTS_PER_BYTE
