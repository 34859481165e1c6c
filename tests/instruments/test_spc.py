"""Galactic SPC reader: the team's fixtures, every corpus fact, spc-io as oracle, fuzzing.

The fixture files under fixtures/spc/ are written by the builders below (byte layout from
docs/FORMATS.md §2); `python -m tests.instruments.test_spc` rewrites them.
"""

import inspect
import io
import logging
import re
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from instruments import core, spc
from instruments.core import ParseError
from tests.instruments.corpus import CORPUS, FIXTURES, corpus_bytes, fixture_bytes, manifest

# --- builders ----------------------------------------------------------------------------------

TSPREC, TMULTI, TALABS, TXYXYS, TXVALS = 0x01, 0x04, 0x20, 0x40, 0x80
FLOAT = -128


def fdate(year, month, day, hour, minute):
    return (year << 20) | (month << 16) | (day << 11) | (hour << 6) | minute


def header(*, flags=0, version=0x4B, exper=0, exp=0, npts=0, first=0.0, last=0.0, nsub=1,
           xtype=0, ytype=0, ztype=0, date=0, res=b"", source=b"", comment=b"", catxt=b"",
           logoff=0, method=b"", order="<"):
    """A 512-byte new-format main header."""
    return struct.pack(order + "BBBbIddIBBBBI9s9sH32s130s30sIIBBHf48sfIfB187s", flags, version,
                       exper, exp, npts, first, last, nsub, xtype, ytype, ztype, 0, date, res,
                       source, 0, b"", comment, catxt, logoff, 0, 0, 1, 1, 0.0, method, 0.0, 0,
                       0.0, 0, b"")


def subheader(*, exp=0, index=0, time=0.0, npts=0, scans=0, order="<"):
    return struct.pack(order + "BbHfffIIf4s", 0, exp, index, time, time, 0.0, npts, scans, 0.0,
                       b"")


def log_block(text, order="<"):
    text = text + b"\0"
    return struct.pack(order + "IIIII44s", 64 + len(text), 4096, 64, 0, 0, b"") + text


def ints(values, exp, bits=32, order="<"):
    """Integers that decode to values * 2**(exp - bits) exactly."""
    return np.asarray(values, dtype=f"{order}i{bits // 8}").tobytes()


def floats(values, order="<"):
    return np.asarray(values, dtype=f"{order}f4").tobytes()


RAW = [0, 1 << 20, -(1 << 21), 3 << 22, 123456789, -7, 2**31 - 1]


def even_int32(order="<", version=0x4B):
    """FT-IR absorbance, evenly spaced, int32 Y with exponent 2, dated, resolution, method."""
    return (header(version=version, exper=4, exp=2, npts=len(RAW), first=4000.0, last=400.0,
                   xtype=1, ytype=2, date=fdate(2024, 5, 17, 9, 41), res=b"4 cm-1",
                   source=b"FTIR-9", comment=b"Cocaine HCl reference\0stale bytes",
                   method=b"ATR.EXP", order=order)
            + subheader(exp=2, scans=32, order=order) + ints(RAW, 2, order=order))


def xy_float():
    """A mass spectrum stored as XY pairs (TXVALS), float Y: a stick spectrum."""
    x, y = [41.0, 58.0, 82.0, 182.0, 303.0], [120.5, 999.0, 310.25, 85.0, 210.0]
    return (header(flags=TXVALS, exper=9, exp=FLOAT, npts=5, first=41.0, last=303.0, xtype=9,
                   ytype=0, comment=b"Cocaine EI")
            + floats(x) + subheader(exp=FLOAT) + floats(y))


LOG_TEXT = (b"[INSTRUMENT]\r\nMODEL=Raman 785\r\nSERIAL = RX-0042\r\nOPERATOR=J. Doe\r\n"
            b"[END INSTRUMENT]\r\nFilter=a=b; c=d\r\nEMPTY=\r\nno equals sign here\r\n")


def xyxy_multi():
    """Three GC-MS scans, each with its own X (TXYXYS), own exponent, directory and log."""
    scans = [([50.0, 51.0], [10, 20], 20), ([60.0, 70.0, 80.0], [1, 2, 3], 25),
             ([90.0], [-5], 30)]
    body, offsets, sizes = b"", [], []
    for index, (x, y, exp) in enumerate(scans):
        record = (subheader(exp=exp, index=index, time=1.5 + index, npts=len(x))
                  + floats(x) + ints(y, exp))
        offsets.append(512 + len(body))
        sizes.append(len(record))
        body += record
    directory = b"".join(struct.pack("<IIf", o, s, 1.5 + i)
                         for i, (o, s) in enumerate(zip(offsets, sizes, strict=True)))
    directory_at = 512 + len(body)
    log_at = directory_at + len(directory)
    return (header(flags=TMULTI | TXVALS | TXYXYS | TALABS, exp=20, npts=directory_at,
                   first=50.0, last=90.0, nsub=3, xtype=9, ytype=4, ztype=5, logoff=log_at,
                   catxt=b"Mass\0Ion count\0Retention\0", comment=b"GC-MS scans")
            + body + directory + log_block(LOG_TEXT))


def int16():
    """16-bit Y (TSPREC): int16 * 2**(exp - 16)."""
    return (header(flags=TSPREC, exper=11, exp=16, npts=4, first=100.0, last=400.0,
                   xtype=13, ytype=4)
            + subheader(exp=16) + ints([-32768, -1, 0, 32767], 16, bits=16))


def multi_even():
    """Two evenly spaced UV-Vis traces sharing X, each with its own exponent (TMULTI)."""
    return (header(flags=TMULTI, exper=7, exp=0, npts=3, first=200.0, last=300.0, nsub=2,
                   xtype=3, ytype=2, ztype=4)
            + subheader(exp=1, index=0, time=0.0) + ints([1, 2, 3], 1)
            + subheader(exp=FLOAT, index=1, time=10.0) + floats([0.5, 0.25, 0.125]))


def old_header(*, flags=0, exp=0, npts=3, first=0.0, last=1.0, xtype=3, ytype=2, year=1996,
               ztype=0, comment=b"", exp1=None):
    first_sub = struct.pack("<BbHfffIIf4s", 0, exp if exp1 is None else exp1, 0, 0.0, 1.0,
                            0.0, 0, 0, 0.0, b"")
    return struct.pack("<BBhfffBBHBBBB8sHH28s130s30s32s", flags, 0x4D, exp, float(npts), first,
                       last, xtype, ytype, year | (ztype << 12), 6, 2, 14, 30, b"2 nm", 0, 16,
                       b"", comment, b"", first_sub)


def swapped(values):
    """Old-format int32: the high 16-bit word first."""
    return b"".join(struct.pack("<HH", (v >> 16) & 0xFFFF, v & 0xFFFF) for v in values)


def old_single():
    return old_header(exp=8, npts=3, first=300.0, last=500.0, comment=b"Old UV") + swapped(
        [1 << 24, -(1 << 23), 70000])


def old_multi():
    """Old-format multifile: the first subheader sits in the main header, no subfile count."""
    second = struct.pack("<BbHfffIIf4s", 0, 4, 1, 1.0, 2.0, 0.0, 0, 0, 0.0, b"")
    return (old_header(flags=TMULTI, exp=0, npts=2, first=1.0, last=2.0, ztype=5, exp1=0)
            + swapped([5, -6]) + second + swapped([1 << 20, 3]) + b"\0" * 5)


def count_mismatch():
    """The subheader's subnpts disagrees with fnpts."""
    return (header(exp=FLOAT, npts=2, first=1.0, last=2.0, ytype=2)
            + subheader(exp=FLOAT, npts=5) + floats([1.0, 2.0]))


BUILDERS = {
    "even_int32.spc": even_int32,
    "even_int32_msb.spc": lambda: even_int32(order=">", version=0x4C),
    "xy_float.spc": xy_float,
    "xyxy_multi.spc": xyxy_multi,
    "int16.spc": int16,
    "multi_even.spc": multi_even,
    "old_single.spc": old_single,
    "old_multi.spc": old_multi,
    "count_mismatch.spc": count_mismatch,
    "truncated_header.spc": lambda: even_int32()[:300],
    "truncated_data.spc": lambda: even_int32()[:-6],
    "wrong_version.spc": lambda: even_int32()[:1] + b"\x4a" + even_int32()[2:],
}


def parse_fixture(name):
    return spc.parse(fixture_bytes(f"spc/{name}"), name)


# --- the team's fixtures -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_fixture_files_are_what_their_builders_write(name):
    assert fixture_bytes(f"spc/{name}") == BUILDERS[name]()


@pytest.mark.parametrize("name", ["even_int32.spc", "even_int32_msb.spc"])
def test_evenly_spaced_int32_little_and_big_endian(name):
    [spectrum] = parse_fixture(name)
    assert spectrum.y.tolist() == [v * 2.0 ** (2 - 32) for v in RAW]
    assert spectrum.x.tolist() == np.linspace(4000.0, 400.0, len(RAW)).tolist()
    assert (spectrum.x_unit, spectrum.y_unit, spectrum.technique, spectrum.kind) == (
        "cm-1", "absorbance", "IR", "continuous")
    assert spectrum.title == "Cocaine HCl reference"
    assert spectrum.metadata == {
        "comments": "Cocaine HCl reference", "instrument": "FTIR-9", "method": "ATR.EXP",
        "resolution": "4 cm-1", "acquired_at": "2024-05-17T09:41", "scans": "32"}
    assert spectrum.warnings == [] and spectrum.block == ""


def test_detect_new_format_by_version_byte_and_header():
    data = fixture_bytes("spc/even_int32.spc")
    assert spc.detect(data, "sample.spc").confidence == 1.0
    assert spc.detect(data, "sample.bin").confidence >= 0.9
    assert spc.detect(fixture_bytes("spc/even_int32_msb.spc"), "").confidence >= 0.9
    assert spc.detect(fixture_bytes("spc/old_single.spc"), "").confidence >= 0.9


def test_detect_refuses_lookalikes_and_falls_back_to_the_name():
    text = b"SKU,wavenumber,absorbance\n" * 40  # 'K' at byte 1, but no SPC header behind it
    assert spc.detect(text, "export.csv") is None
    truncated = fixture_bytes("spc/truncated_data.spc")
    assert spc.detect(truncated, "") is None
    assert spc.detect(truncated, "x.spc").confidence == 0.5  # parse then says what is missing
    assert spc.detect(b"\0" * 600, "x.spc").confidence == 0.2
    assert spc.detect(b"\0" * 600, "x.txt") is None
    assert spc.detect(b"", "") is None


def test_xy_mass_spectrum_is_a_peak_list():
    [spectrum] = parse_fixture("xy_float.spc")
    assert spectrum.x.tolist() == [41.0, 58.0, 82.0, 182.0, 303.0]
    assert spectrum.y.tolist() == [120.5, 999.0, 310.25, 85.0, 210.0]
    assert (spectrum.technique, spectrum.kind, spectrum.x_unit) == ("MS", "peaks", "m/z")


def test_xyxy_multifile_with_own_x_exponents_and_log():
    spectra = parse_fixture("xyxy_multi.spc")
    assert [s.x.tolist() for s in spectra] == [[50.0, 51.0], [60.0, 70.0, 80.0], [90.0]]
    assert [s.y.tolist() for s in spectra] == [
        [10 * 2.0**-12, 20 * 2.0**-12], [2.0**-7, 2 * 2.0**-7, 3 * 2.0**-7], [-5 * 2.0**-2]]
    assert [s.block for s in spectra] == ["subfile 1 of 3", "subfile 2 of 3", "subfile 3 of 3"]
    assert {(s.technique, s.kind, s.x_unit, s.y_unit) for s in spectra} == {
        ("MS", "peaks", "m/z", "counts")}
    first = spectra[0].metadata
    assert (first["z"], first["z_unit"], first["retention_time"]) == ("1.5", "min", "1.5 min")
    assert spectra[2].metadata["retention_time"] == "3.5 min"
    assert first["Filter"] == "a=b; c=d"  # split on the first '=' only
    assert first["INSTRUMENT/MODEL"] == "Raman 785" and first["EMPTY"] == ""
    assert (first["instrument"], first["serial"], first["operator"]) == (
        "Raman 785", "RX-0042", "J. Doe")
    assert (first["x_label"], first["y_label"], first["z_label"]) == (
        "Mass", "Ion count", "Retention")


def test_16_bit_y():
    [spectrum] = parse_fixture("int16.spc")
    assert spectrum.y.tolist() == [-32768.0, -1.0, 0.0, 32767.0]
    assert (spectrum.technique, spectrum.x_unit, spectrum.y_unit) == ("Raman", "cm-1", "counts")


def test_multifile_shares_x_and_uses_each_subfile_exponent():
    first, second = parse_fixture("multi_even.spc")
    assert first.x.tolist() == second.x.tolist() == [200.0, 250.0, 300.0]
    assert first.y.tolist() == [2.0**-31, 2 * 2.0**-31, 3 * 2.0**-31]
    assert second.y.tolist() == [0.5, 0.25, 0.125]  # this subfile's exponent is 0x80: float
    assert (first.technique, first.metadata["z"], second.metadata["z"]) == ("UV-Vis", "0.0", "10.0")
    assert "retention_time" not in first.metadata  # only for MS scans


def test_old_format_single_with_swapped_words():
    [spectrum] = parse_fixture("old_single.spc")
    assert spectrum.y.tolist() == [v * 2.0 ** (8 - 32) for v in (1 << 24, -(1 << 23), 70000)]
    assert spectrum.x.tolist() == [300.0, 400.0, 500.0]
    assert (spectrum.technique, spectrum.x_unit, spectrum.y_unit) == ("UV-Vis", "nm", "absorbance")
    assert spectrum.metadata == {"comments": "Old UV", "resolution": "2 nm",
                                 "acquired_at": "1996-06-02T14:30", "scans": "16"}


def test_old_format_multifile_runs_to_the_end_of_the_file():
    first, second = parse_fixture("old_multi.spc")
    assert first.y.tolist() == [5 * 2.0**-32, -6 * 2.0**-32]
    assert second.y.tolist() == [(1 << 20) * 2.0**-28, 3 * 2.0**-28]
    assert (second.metadata["z"], second.metadata["z_unit"]) == ("1.0", "min")
    assert second.warnings == ["5 bytes after the last whole subfile (byte 304) were ignored."]


def test_declared_count_mismatch_is_a_warning():
    [spectrum] = parse_fixture("count_mismatch.spc")
    assert spectrum.y.tolist() == [1.0, 2.0]
    assert spectrum.warnings == ["Subfile 1 declares 5 points but the main header declares 2; "
                                 "2 were read."]


@pytest.mark.parametrize(("name", "message", "offset"), [
    ("truncated_header.spc", "truncated: expected the main header (512 bytes) at byte 0, but "
                             "the file ends at byte 300", 0),
    ("truncated_data.spc", "truncated: expected the 7 Y values (28 bytes) at byte 544, but "
                           "the file ends at byte 566", 544),
    ("wrong_version.spc", "not a Galactic SPC file: the version byte is 0x4A", 1),
])
def test_malformed_files_say_what_and_where(name, message, offset):
    with pytest.raises(ParseError, match=re.escape(message)) as raised:
        parse_fixture(name)
    assert raised.value.offset == offset


def test_a_damaged_log_block_is_a_warning_not_a_refusal():
    data = bytearray(fixture_bytes("spc/even_int32.spc"))
    struct.pack_into("<I", data, 248, len(data) + 10)  # flogoff beyond the end
    [spectrum] = spc.parse(bytes(data))
    assert spectrum.n_points == len(RAW)
    assert "log block at byte 582 lies beyond the end of the file" in spectrum.warnings[0]


def test_impossible_date_is_a_warning():
    data = header(exp=FLOAT, npts=1, date=fdate(115, 1, 25, 13, 48)) + subheader() + floats([1])
    [spectrum] = spc.parse(data)
    assert "acquired_at" not in spectrum.metadata
    assert spectrum.warnings == ["The header date (year 115, month 1, day 25, 13:48) is not a "
                                 "valid date; no acquisition time was taken from it."]


@pytest.mark.parametrize(("first_bytes", "words"), [
    (b"\x00\x08\x02\x00", "old Shimadzu .SPC file (version byte 0x08)"),
    (b"\x00\x33\x00\x00", "EDAX/AMETEK EDS"),
    (b"\x00\x26\x00\x00", "Bruker EPR"),
    (b"\x00\x28\x00\x00", "FEI TEM"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "Shimadzu OLE2 compound file, not a Galactic SPC"),
])
def test_files_that_only_share_the_extension_are_named(first_bytes, words):
    data = first_bytes + b"\0" * 1000
    with pytest.raises(ParseError, match=re.escape(words)):
        spc.parse(data, "x.spc")
    assert spc.detect(data, "x.spc").confidence == 0.5  # so the user gets this message
    assert spc.detect(data, "x.dat") is None


def test_declared_sizes_beyond_the_file_are_refused_before_allocating():
    huge = header(exp=FLOAT, npts=2**32 - 1, first=0.0, last=1.0) + subheader()
    with pytest.raises(ParseError, match=f"more than the {core.MAX_POINTS} points allowed"):
        spc.parse(huge)
    many = header(flags=TMULTI, exp=FLOAT, npts=1, nsub=2**32 - 1) + subheader()
    with pytest.raises(ParseError, match="subfiles, more than the 100000 allowed"):
        spc.parse(many)
    with pytest.raises(ParseError, match="first and last X"):
        spc.parse(header(exp=FLOAT, npts=1, first=float("inf")) + subheader() + floats([1]))


def test_no_spc_io_at_run_time():
    assert "spc_io" not in inspect.getsource(spc)


# --- the corpus --------------------------------------------------------------------------------

# Facts from MANIFEST.tsv: the numbers are written as there, and compared to their last digit.
FACTS = {
    "spc/BENZENE.SPC": dict(points=1842, first="449.43", last="4000.5", peak=("1.5", "673.18"),
                            units=("cm-1", "absorbance"), technique="IR",
                            cites=("1842 pts", "449.43..4000.5", "max A=1.5 at 673.18 cm-1")),
    "spc/HENE25_oldformat.SPC": dict(points=51, first="15820", last="15815",
                                     peak=("87372", "15816.8"), units=("cm-1", "intensity"),
                                     technique="IR",
                                     cites=("51 pts", "15820..15815", "max 87372 at 15816.8")),
    "spc/HOLMIUM.SPC": dict(points=901, first="250", last="700", peak=("3.3747", "445"),
                            y={0: "1.1663"}, units=("nm", "absorbance"), technique="UV-Vis",
                            title="Holmium Oxide Glass, the UV standard",
                            cites=("901 pts", "250..700 nm", "max A=3.3747 at 445 nm",
                                   "y[0]=1.1663")),
    "spc/KKSAM.SPC": dict(points=751, first="3600", last="600", peak=("8.31", "1140"),
                          units=("cm-1", "%T"), technique="IR",
                          cites=("751 pts", "3600..600 cm-1", "max 8.31 at 1140 cm-1")),
    "spc/LabRam-2.spc": dict(points=1911, first="400.621", last="3799.82",
                             peak=("3439", "2932.15"), y={68: "1849", 252: "2563"},
                             units=("cm-1", "counts"), technique="Raman",
                             cites=("1911 pts", "400.621..3799.82", "y[68]=1849",
                                    "y[252]=2563", "max 3439 at 2932.15 cm-1")),
    "spc/RAMAN.SPC": dict(points=3632, first="3996.82", last="-3005.96",
                          peak=("137.453", "2853.16"), units=("cm-1", "intensity"),
                          technique="Raman", title="FT Raman Spectrum Example",
                          cites=("3632 pts", "3996.82..-3005.96", "max 137.453 at 2853.16")),
    "spc/TriVista-linear.spc": dict(points=1149, first="91.0661", last="3556.72",
                                    y={0: "65535"}, units=("cm-1", "intensity"),
                                    technique="Raman",
                                    cites=("1149 pts", "91.0661..3556.72", "y[0]=65535")),
    "spc/ms.spc": dict(points=128, first="42", last="413", peak=("9999", "254"),
                       units=("m/z", "intensity"), technique="MS", kind="peaks",
                       title="Single Mass Spectrum Example",
                       cites=("128 pts", "m/z 42..413", "base peak m/z 254 (9999)")),
}


def close(actual, written):
    """actual equals the manifest's number to the last digit written."""
    decimals = len(written.partition(".")[2])
    assert actual == pytest.approx(float(written), abs=0.5 * 10.0**-decimals + 1e-9)


def test_every_spc_manifest_row_is_covered():
    rows = {path for path in manifest() if path.startswith("spc/")}
    assert rows <= set(FACTS) | set(MULTIFILE) | set(REFUSED) | {"spc/DEMO_3D.SPC"}


@pytest.mark.parametrize("path", sorted(FACTS))
def test_corpus_single_spectrum_facts(path):
    facts, data = FACTS[path], corpus_bytes(path)
    known = manifest()[path]["known_facts"]
    for cited in facts["cites"]:
        assert cited in known, f"the manifest no longer says {cited!r}"
    assert spc.detect(data, Path(path).name).confidence == 1.0
    [spectrum] = spc.parse(data, Path(path).name)
    assert spectrum.n_points == facts["points"]
    close(spectrum.x[0], facts["first"])
    close(spectrum.x[-1], facts["last"])
    if "peak" in facts:
        top = int(np.argmax(spectrum.y))
        close(spectrum.y[top], facts["peak"][0])
        close(spectrum.x[top], facts["peak"][1])
    for index, value in facts.get("y", {}).items():
        close(spectrum.y[index], value)
    assert (spectrum.x_unit, spectrum.y_unit) == facts["units"]
    assert spectrum.technique == facts["technique"]
    assert spectrum.kind == facts.get("kind", "continuous")
    if "title" in facts:
        assert spectrum.title == facts["title"]


def test_hene25_is_new_format_despite_its_name():
    data = corpus_bytes("spc/HENE25_oldformat.SPC")
    assert "header is 0x4B" in manifest()["spc/HENE25_oldformat.SPC"]["quirks_or_bug_refs"]
    assert data[1] == 0x4B
    [spectrum] = spc.parse(data)
    assert spectrum.metadata["x_label"] == "Wavenumber (cm-1)"
    assert spectrum.metadata["acquired_at"] == "2014-07-10T13:58"


def test_log_blocks_with_equals_in_values_are_read():
    """spc-io crashes on these logs (FORMATS.md §2.1); we split on the first '=' only."""
    [kksam] = spc.parse(corpus_bytes("spc/KKSAM.SPC"))
    assert kksam.metadata["FILEINFO/1999/08/18 12:42  W"] == (
        "Modified Date/Time (FILEINFO.AB) User=Jon")
    drug = spc.parse(corpus_bytes("spc/DRUG_SAMPLE_PEAKS.SPC"))
    assert drug[0].metadata["GC-MS/Original File"] == "drug sample.spc"


def test_labram_log_gives_instrument_and_laser_and_the_bad_date_is_a_warning():
    [spectrum] = spc.parse(corpus_bytes("spc/LabRam-2.spc"))
    assert spectrum.metadata["instrument"] == "LABRAM HR EVOL"
    assert spectrum.metadata["laser_wavelength_nm"] == "660"
    assert spectrum.metadata["DATE"] == "23.02.2015 13:17"
    assert "acquired_at" not in spectrum.metadata
    assert spectrum.warnings == ["The header date (year 115, month 1, day 25, 13:48) is not a "
                                 "valid date; no acquisition time was taken from it."]


def test_raman_log_gives_instrument_and_scans():
    [spectrum] = spc.parse(corpus_bytes("spc/RAMAN.SPC"))
    assert (spectrum.metadata["instrument"], spectrum.metadata["scans"]) == ("Nicolet", "50")
    assert spectrum.metadata["acquired_at"] == "1994-08-26T16:45"


MULTIFILE = {
    "spc/DRUG_SAMPLE_PEAKS.SPC": dict(subfiles=6, points=[80, 141, 124], cites=(
        "6 subfiles", "npts 80,141,124", "xunit Mass (M/z)")),
    "spc/m_xyxy.spc": dict(subfiles=512, points=[8], first="43.9", last="25.85", cites=(
        "512 subfiles", "first subfile 8 pts", "X 43.9..25.85")),
}


@pytest.mark.parametrize("path", sorted(MULTIFILE))
def test_corpus_multifile_mass_spectra(path):
    facts, data = MULTIFILE[path], corpus_bytes(path)
    for cited in facts["cites"]:
        assert cited in manifest()[path]["known_facts"]
    spectra = spc.parse(data, Path(path).name)
    assert len(spectra) == facts["subfiles"]
    assert [s.n_points for s in spectra[:len(facts["points"])]] == facts["points"]
    assert {(s.technique, s.kind, s.x_unit) for s in spectra} == {("MS", "peaks", "m/z")}
    if "first" in facts:
        close(spectra[0].x[0], facts["first"])
        close(spectra[0].x[-1], facts["last"])
    times = [float(s.metadata["z"]) for s in spectra]
    assert times == sorted(times) and spectra[0].metadata["z_unit"] == "min"


def test_demo_3d_old_format_multifile_is_read():
    """The manifest expects an 'unsupported' error (spc-io, spc-spectra and hySpc fail);
    the brief asks for old multifiles to be read, and they are."""
    spectra = spc.parse(corpus_bytes("spc/DEMO_3D.SPC"), "DEMO_3D.SPC")
    assert len(spectra) == 32
    assert {s.n_points for s in spectra} == {171}
    assert (spectra[0].x[0], spectra[0].x[-1]) == (200.0, 800.0)
    assert {(s.technique, s.x_unit, s.y_unit) for s in spectra} == {("UV-Vis", "nm", "absorbance")}
    assert [float(s.metadata["z"]) for s in spectra] == [0.5 * i for i in range(32)]
    assert spectra[0].title == "UV-Visible Diode Array Data."
    assert spectra[0].metadata["acquired_at"] == "1997-03-09T09:14"
    for spectrum in spectra:  # the word order is right: the spectra are smooth, not noise
        variation = np.abs(np.diff(spectrum.y)).sum()
        assert variation < 10 * np.ptp(spectrum.y)  # the other word order gives about 58


REFUSED = {
    "spc/Shimadzu_UV-2600_labeled_DNA.spc": ("This is a Shimadzu OLE2 compound file, not a "
                                             "Galactic SPC; export as SPC/CSV from UVProbe."),
    "spc/Shimadzu_F80A20-1.SPC": ("This is an old Shimadzu .SPC file (version byte 0x08), not a "
                                  "Galactic SPC"),
}


@pytest.mark.parametrize("path", sorted(REFUSED))
def test_corpus_shimadzu_files_are_refused_by_name(path):
    data = corpus_bytes(path)
    assert "Galactic" in manifest()[path]["quirks_or_bug_refs"]
    with pytest.raises(ParseError) as raised:
        spc.parse(data, Path(path).name)
    assert raised.value.message.startswith(REFUSED[path])
    assert spc.detect(data, Path(path).name).confidence == 0.5


def test_holmium_agrees_with_its_jcamp_twin():
    """FORMATS.md §12: the first 440 points match except idx 272 and 410 (a JDX typo)."""
    jcamp = pytest.importorskip("instruments.jcamp")
    [ours] = spc.parse(corpus_bytes("spc/HOLMIUM.SPC"), "HOLMIUM.SPC")
    [twin] = jcamp.parse(corpus_bytes("jcamp/uvvis_difdup_dupinc1.jdx"),
                         "uvvis_difdup_dupinc1.jdx")
    assert twin.n_points == 440
    np.testing.assert_allclose(twin.x, ours.x[:440], rtol=0, atol=1e-9)
    differ = np.flatnonzero(np.abs(twin.y - ours.y[:440]) > 1e-5)
    assert differ.tolist() == [272, 410]
    close(ours.y[272], "0.1445")
    close(twin.y[272], "0.1455")
    close(ours.y[410], "0.948")
    close(twin.y[410], "0.984")


def test_holmium_facts_of_the_jcamp_pair():
    """The half of the cross-format pair that needs no JCAMP reader."""
    [ours] = spc.parse(corpus_bytes("spc/HOLMIUM.SPC"))
    assert "same spectrum as spc/HOLMIUM.SPC" in manifest()["jcamp/uvvis_difdup_dupinc1.jdx"][
        "quirks_or_bug_refs"]
    assert ours.x[439] == 469.5 and ours.x[1] - ours.x[0] == 0.5
    close(ours.y[0], "1.1663")
    close(ours.y[272], "0.1445")
    close(ours.y[410], "0.948")


# --- spc-io as oracle --------------------------------------------------------------------------

ORACLE = ["spc/BENZENE.SPC", "spc/HENE25_oldformat.SPC", "spc/HOLMIUM.SPC", "spc/LabRam-2.spc",
          "spc/RAMAN.SPC", "spc/TriVista-linear.spc", "spc/m_xyxy.spc", "spc/ms.spc"]
# spc-io crashes on these log blocks; without the log it reads the data.
ORACLE_WITHOUT_LOG = ["spc/KKSAM.SPC", "spc/DRUG_SAMPLE_PEAKS.SPC"]


def oracle_read(data):
    spc_io = pytest.importorskip("spc_io")
    logging.getLogger("spc_io").setLevel(logging.CRITICAL)
    return spc_io.SPC.from_bytes_io(io.BytesIO(data))


@pytest.mark.parametrize("path", ORACLE + ORACLE_WITHOUT_LOG)
def test_values_equal_spc_io_exactly(path):
    data = corpus_bytes(path)
    reference = bytearray(data)
    if path in ORACLE_WITHOUT_LOG:
        struct.pack_into("<I", reference, 248, 0)
    theirs = list(oracle_read(bytes(reference)))
    ours = spc.parse(data, Path(path).name)
    assert len(ours) == len(theirs)
    for mine, other in zip(ours, theirs, strict=True):
        assert np.array_equal(mine.x, np.asarray(other.xarray, dtype=np.float64))
        assert np.array_equal(mine.y, np.asarray(other.yarray, dtype=np.float64))


# --- fuzzing -----------------------------------------------------------------------------------

SEED_BYTES = {name: build() for name, build in BUILDERS.items()}
if CORPUS.is_dir():
    SEED_BYTES.update((path.name, path.read_bytes()) for path in (CORPUS / "spc").glob("*"))
FUZZ = settings(max_examples=300, deadline=1000, suppress_health_check=[HealthCheck.too_slow])


def only_parse_errors(data):
    try:
        spectra = spc.parse(data, "fuzz.spc")
    except ParseError:
        return
    for spectrum in spectra:
        assert spectrum.x.shape == spectrum.y.shape
    spc.detect(data, "fuzz.spc")


@FUZZ
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_raise_only_parse_error(data):
    only_parse_errors(data)
    only_parse_errors(b"\0K" + data)
    only_parse_errors(b"\0M" + data)


@FUZZ
@given(name=st.sampled_from(sorted(SEED_BYTES)),
       edits=st.lists(st.tuples(st.integers(0, 1023), st.integers(0, 255)), max_size=12),
       keep=st.one_of(st.none(), st.integers(0, 2**16)))
def test_mutated_files_raise_only_parse_error(name, edits, keep):
    data = bytearray(SEED_BYTES[name])
    for position, value in edits:  # headers live in the first kilobyte
        data[position % len(data)] = value
    only_parse_errors(bytes(data if keep is None else data[:keep]))


def write_fixtures():
    """Rewrite fixtures/spc/ from the builders."""
    folder = FIXTURES / "spc"
    folder.mkdir(parents=True, exist_ok=True)
    for name, build in BUILDERS.items():
        (folder / name).write_bytes(build())


if __name__ == "__main__":
    write_fixtures()
