"""Thermo OMNIC SPA/SPG reader: the team's fixtures, every corpus fact, fuzzing.

The fixture files under fixtures/omnic/ are written by the builders below (byte layout from
docs/FORMATS.md §4); `python -m tests.instruments.test_omnic` rewrites them.
"""

import re
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from instruments import omnic
from instruments.core import ParseError
from tests.instruments.corpus import CORPUS, FIXTURES, corpus_bytes, fixture_bytes, manifest
from tests.instruments.test_spc import close

# --- builders ----------------------------------------------------------------------------------

EPOCH = datetime(1899, 12, 31, tzinfo=UTC)


def seconds(*when):
    """OMNIC's time stamp: seconds since 1899-12-31 00:00 UTC."""
    return int((datetime(*when, tzinfo=UTC) - EPOCH).total_seconds())


def spectrum_header(npts, *, x_code=1, y_code=0x11, first=4000.0, last=400.0, scans=16,
                    background=16, collection=4327, laser=15798.0):
    """A 140-byte key-2 spectrum header."""
    block = bytearray(140)
    struct.pack_into("<II", block, 0, 3, npts)
    block[8], block[12] = x_code, y_code
    struct.pack_into("<ff", block, 16, first, last)
    struct.pack_into("<I", block, 36, scans)
    struct.pack_into("<I", block, 52, background)
    struct.pack_into("<I", block, 68, collection)
    struct.pack_into("<f", block, 80, laser)
    return bytes(block)


def omnic_file(records, *, title=b"", stamp=0):
    """Header, directory of (key, payload) records closed by key 0, then the payloads."""
    directory = bytearray(16 * (len(records) + 1))
    start, body = 304 + len(directory), b""
    for index, (key, payload) in enumerate(records):
        struct.pack_into("<BxII", directory, 16 * index, key, start + len(body), len(payload))
        body += payload
    head = bytearray(304)
    head[:20] = b"Spectral Data File\r\n"
    head[30:30 + len(title)] = title
    struct.pack_into("<HI", head, 294, len(records), stamp)
    return bytes(head) + bytes(directory) + body


def floats(values):
    return np.asarray(values, dtype="<f4").tobytes()


Y = [0.125, 0.5, 1.75, 0.25, -0.0625]
HISTORY = (b"Collect Sample\r\n\t Final format:\tAbsorbance\r\n\t Resolution:\t 4.000 from 400.0 "
           b"to 4000.0\r\n\t Bench Serial Number:ABC1234567\r\n\r\n\0\0")


def absorbance():
    return omnic_file([(2, spectrum_header(5)), (27, HISTORY),
                       (4, b"Seized tablet, exhibit 7\0"), (3, floats(Y))],
                      title=b"Exhibit 7 ATR", stamp=seconds(2024, 5, 17, 9, 41, 30))


def raman():
    history = "Acquisition échantillon\r\n\t Résolution:\t 2,000 de 100 à 3200\r\n\t Numéro " \
              "Série du banc:RMN0042\r\n".encode("cp1252")
    return omnic_file([(2, spectrum_header(3, x_code=0x20, y_code=0x1F, first=100.0,
                                           last=3200.0, background=0)),
                       (27, history + b"\0"), (3, floats([10.0, 20.0, 15.0]))],
                      title="Cocaïne".encode("cp1252"), stamp=seconds(2023, 1, 2, 3, 4, 5))


def interferogram():
    return omnic_file([(2, spectrum_header(8, x_code=2, y_code=0x16, first=0.0, last=7.0,
                                           background=0)),
                       (3, floats([0.0, 0.1, -0.2, 3.5, -1.0, 0.2, 0.0, 0.1]))],
                      title=b"interferogram")


def title_record(text, stamp):
    return text.ljust(256, b"\0") + struct.pack("<I", stamp) + b"\0" * 4


def group():
    """An SPG of two spectra; the n-th record of each key belongs to the n-th spectrum."""
    return omnic_file([
        (2, spectrum_header(3, first=3000.0, last=1000.0)),
        (107, title_record(b"tablet_a.spa, Fri May 17 11:00:00 2024", seconds(2024, 5, 17, 9))),
        (27, b"Collect Sample\r\n\0"), (3, floats([1.0, 2.0, 3.0])),
        (2, spectrum_header(3, first=3000.0, last=1000.0, scans=64)),
        (107, title_record(b"tablet_b.spa", seconds(2024, 5, 17, 10))),
        (3, floats([4.0, 5.0, 6.0])),
        (102, floats([0.0, 1.0, 0.0, -1.0])),
    ], title=b"tablets.spg", stamp=seconds(2024, 5, 17, 12))


def too_many_values():
    return omnic_file([(2, spectrum_header(3, first=3.0, last=1.0)), (3, floats([1, 2, 3, 4]))])


def too_few_values():
    return omnic_file([(2, spectrum_header(5, first=5.0, last=1.0)), (3, floats([1, 2, 3]))])


BUILDERS = {
    "absorbance.spa": absorbance,
    "raman.spa": raman,
    "interferogram.spa": interferogram,
    "group.spg": group,
    "too_many_values.spa": too_many_values,
    "too_few_values.spa": too_few_values,
    "truncated.spa": lambda: absorbance()[:-8],
    "truncated_directory.spa": lambda: absorbance()[:330],
    "truncated_header.spa": lambda: absorbance()[:400],
    "bad_magic.spa": lambda: b"Spectral Dada File" + absorbance()[18:],
    "series.srs": lambda: b"Spectral Exte File" + absorbance()[18:],
    "no_header.spa": lambda: omnic_file([(3, floats(Y))]),
}


def parse_fixture(name):
    return omnic.parse(fixture_bytes(f"omnic/{name}"), name)


# --- the team's fixtures -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_fixture_files_are_what_their_builders_write(name):
    assert fixture_bytes(f"omnic/{name}") == BUILDERS[name]()


def test_absorbance_spectrum_with_history_and_user_text():
    [spectrum] = parse_fixture("absorbance.spa")
    assert spectrum.x.tolist() == np.linspace(4000.0, 400.0, 5).tolist()
    assert spectrum.y.tolist() == Y
    assert (spectrum.x_unit, spectrum.y_unit, spectrum.technique, spectrum.kind) == (
        "cm-1", "absorbance", "IR", "continuous")
    assert spectrum.title == "Exhibit 7 ATR"
    assert spectrum.metadata == {
        "acquired_at": "2024-05-17T09:41:30+00:00", "scans": "16", "background_scans": "16",
        "collection_time_s": "43.27", "laser_frequency": "15798.0 cm-1",
        "history": "Collect Sample\n\t Final format:\tAbsorbance\n\t Resolution:\t 4.000 from "
                   "400.0 to 4000.0\n\t Bench Serial Number:ABC1234567",
        "comments": "Seized tablet, exhibit 7", "resolution": "4.000", "serial": "ABC1234567"}
    assert spectrum.warnings == [] and spectrum.block == ""


def test_detect_by_magic_then_by_name():
    assert omnic.detect(fixture_bytes("omnic/absorbance.spa"), "x.bin").confidence == 1.0
    assert omnic.detect(fixture_bytes("omnic/no_header.spa"), "x.spa").confidence == 0.9
    assert omnic.detect(fixture_bytes("omnic/bad_magic.spa"), "x.spa").confidence == 0.2
    assert omnic.detect(fixture_bytes("omnic/bad_magic.spa"), "x.0") is None
    assert omnic.detect(fixture_bytes("omnic/series.srs"), "x.srs").confidence == 0.5
    assert omnic.detect(b"", "") is None


def test_raman_spectrum_with_a_french_cp1252_history():
    [spectrum] = parse_fixture("raman.spa")
    assert (spectrum.technique, spectrum.x_unit, spectrum.y_unit) == ("Raman", "cm-1", "intensity")
    assert spectrum.title == "Cocaïne"
    assert spectrum.metadata["history"].startswith("Acquisition échantillon")
    assert (spectrum.metadata["resolution"], spectrum.metadata["serial"]) == ("2.000", "RMN0042")
    assert "background_scans" not in spectrum.metadata
    assert spectrum.metadata["acquired_at"] == "2023-01-02T03:04:05+00:00"


def test_interferogram_has_a_points_axis_and_volts():
    [spectrum] = parse_fixture("interferogram.spa")
    assert spectrum.x.tolist() == [float(i) for i in range(8)]
    assert (spectrum.x_unit, spectrum.y_unit, spectrum.technique) == ("points", "V", "IR")
    assert "acquired_at" not in spectrum.metadata  # a zero time stamp is unknown, not 1899


def test_group_pairs_the_nth_header_with_the_nth_data_block():
    first, second = parse_fixture("group.spg")
    assert (first.y.tolist(), second.y.tolist()) == ([1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    assert first.x.tolist() == [3000.0, 2000.0, 1000.0]
    assert (first.title, second.title) == ("tablet_a.spa, Fri May 17 11:00:00 2024",
                                           "tablet_b.spa")
    assert (first.metadata["acquired_at"], second.metadata["acquired_at"]) == (
        "2024-05-17T09:00:00+00:00", "2024-05-17T10:00:00+00:00")
    assert (first.block, second.block) == ("spectrum 1 of 2", "spectrum 2 of 2")
    assert first.metadata["group_title"] == "tablets.spg"
    assert (first.metadata["scans"], second.metadata["scans"]) == ("16", "64")
    assert first.metadata["history"] == "Collect Sample" and "history" not in second.metadata
    assert first.metadata["interferograms_not_imported"] == "sample (4 points)"
    assert "interferograms_not_imported" not in second.metadata


def test_declared_counts_that_disagree_with_the_data_are_warnings():
    [longer] = parse_fixture("too_many_values.spa")
    assert longer.y.tolist() == [1.0, 2.0, 3.0] and longer.x.tolist() == [3.0, 2.0, 1.0]
    assert longer.warnings == ["The data block holds 4 values but the header declares 3; the "
                               "first 3 were read."]
    [shorter] = parse_fixture("too_few_values.spa")
    assert shorter.y.tolist() == [1.0, 2.0, 3.0] and shorter.x.tolist() == [5.0, 4.0, 3.0]
    assert shorter.warnings == ["The data block holds only 3 of the 5 values the header "
                                "declares; the spectrum is incomplete."]


@pytest.mark.parametrize(("name", "message", "offset"), [
    ("truncated.spa", "truncated: expected the key-3 intensities (20 bytes) at byte ", None),
    ("truncated_directory.spa", "truncated: expected a directory record (16 bytes) at byte "
                                "320, but the file ends at byte 330", 320),
    ("truncated_header.spa", "truncated: expected the key-2 spectrum header (140 bytes) at "
                             "byte 384, but the file ends at byte 400", 384),
    ("bad_magic.spa", 'not a Thermo OMNIC file: it does not start with "Spectral Data File"', 0),
    ("series.srs", "OMNIC series (.srs) file, which this laboratory does not read", 0),
    ("no_header.spa", "no spectrum header (directory key 2)", 304),
])
def test_malformed_files_say_what_and_where(name, message, offset):
    with pytest.raises(ParseError, match=re.escape(message)) as raised:
        parse_fixture(name)
    assert raised.value.offset is not None
    if offset is not None:
        assert raised.value.offset == offset


def test_truncation_names_the_offset_of_the_missing_block():
    data = fixture_bytes("omnic/truncated.spa")
    with pytest.raises(ParseError) as raised:
        omnic.parse(data)
    assert raised.value.offset == len(data) + 8 - 20  # the data block ran to the end
    assert f"the file ends at byte {len(data)}" in raised.value.message


def test_headers_declaring_absurd_counts_allocate_nothing():
    data = omnic_file([(2, spectrum_header(2**32 - 1)), (3, floats(Y))])
    [spectrum] = omnic.parse(data)
    assert spectrum.n_points == 5
    assert spectrum.x[1] == pytest.approx(4000.0 - 3600.0 / (2**32 - 2))
    with pytest.raises(ParseError, match="first and last X"):
        omnic.parse(omnic_file([(2, spectrum_header(5, first=float("nan"))), (3, floats(Y))]))


# --- the corpus --------------------------------------------------------------------------------

OMNIC_FACTS = {
    "omnic/7_CZ0-100_Pd_101.SPA": dict(
        spectra=1, title="7_CZ0-100 Pd_101", acquired_at="2018-11-30T07:10:57+00:00",
        points=5549, first="5999.713", last="649.921", units=("cm-1", "absorbance"),
        scans="64", cites=('title="7_CZ0-100 Pd_101"', "acq 2018-11-30 07:10:57",
                           "5549 pts 5999.713..649.921 cm-1", "absorbance", "nscans 64")),
    "omnic/interfero.SPA": dict(
        spectra=1, title="interferogramme", points=4160, units=("points", "V"), scans="32",
        cites=('title="interferogramme"', "4160 pts", "x-unit code 2 = data points",
               "y-unit Volts", "nscans 32")),
    "omnic/openspecy_ftir_pe_reflectance.spa": dict(
        spectra=1, title="Parafilm Test", acquired_at="2018-06-02T19:42:58+00:00", points=1738,
        first="3999.81", last="649.92", units=("cm-1", "%R"), peak=("102.88", "2360.5"),
        cites=('title="Parafilm Test"', "acq 2018-06-02 19:42:58", "1738 pts 3999.81..649.92",
               "%R (unit code 0x0B)", "max 102.88 at 2360.5")),
    "omnic/wodger.spg": dict(
        spectra=2, points=5549, first="5999.56", last="649.904", units=("cm-1", "absorbance"),
        cites=("2 x 5549 pts", "5999.56..649.904 cm-1", "absorbance")),
}


def test_every_omnic_manifest_row_is_covered():
    rows = {path for path in manifest() if path.startswith("omnic/")}
    assert rows <= set(OMNIC_FACTS)


@pytest.mark.parametrize("path", sorted(OMNIC_FACTS))
def test_corpus_facts(path):
    facts, data = OMNIC_FACTS[path], corpus_bytes(path)
    for cited in facts["cites"]:
        assert cited in manifest()[path]["known_facts"], f"the manifest no longer says {cited!r}"
    assert omnic.detect(data, Path(path).name).confidence == 1.0
    spectra = omnic.parse(data, Path(path).name)
    assert len(spectra) == facts["spectra"]
    for spectrum in spectra:
        assert spectrum.n_points == facts["points"]
        assert (spectrum.x_unit, spectrum.y_unit) == facts["units"]
        assert spectrum.technique == "IR" and spectrum.warnings == []
        if "first" in facts:
            close(spectrum.x[0], facts["first"])
            close(spectrum.x[-1], facts["last"])
        if "title" in facts:
            assert spectrum.title == facts["title"]
        if "acquired_at" in facts:
            assert spectrum.metadata["acquired_at"] == facts["acquired_at"]
        if "scans" in facts:
            assert spectrum.metadata["scans"] == facts["scans"]
        if "peak" in facts:
            top = int(np.argmax(spectrum.y))
            close(spectrum.y[top], facts["peak"][0])
            close(spectrum.x[top], facts["peak"][1])


def test_interferogram_axis_is_data_points():
    [spectrum] = omnic.parse(corpus_bytes("omnic/interfero.SPA"))
    assert (spectrum.x[0], spectrum.x[-1]) == (0.0, 4159.0)
    assert "reader must handle non-spectral x axis" in manifest()["omnic/interfero.SPA"][
        "quirks_or_bug_refs"]


def test_embedded_interferograms_are_reported_not_imported():
    path = "omnic/openspecy_ftir_pe_reflectance.spa"
    assert "background/interferogram keys 100-103" in manifest()[path]["quirks_or_bug_refs"]
    [spectrum] = omnic.parse(corpus_bytes(path))
    assert spectrum.metadata["interferograms_not_imported"] == (
        "sample (16384 points), background (16384 points)")
    assert spectrum.metadata["serial"] == "AKX1502022"
    assert spectrum.metadata["resolution"] == "4.000"


def test_french_history_gives_resolution_and_serial():
    [spectrum] = omnic.parse(corpus_bytes("omnic/7_CZ0-100_Pd_101.SPA"))
    assert spectrum.metadata["history"].startswith("Acquisition échantillon")
    assert (spectrum.metadata["resolution"], spectrum.metadata["serial"]) == ("4.000",
                                                                              "ALK1100494")
    assert spectrum.metadata["laser_frequency"] == "15798.666 cm-1"
    assert spectrum.metadata["background_scans"] == "64"


def test_wodger_group_titles_and_times_agree_with_each_other():
    """Each SPG spectrum's time stamp is its collection's end: the title's local start time
    (GMT+02:00) plus at most the collection time."""
    spectra = omnic.parse(corpus_bytes("omnic/wodger.spg"), "wodger.spg")
    assert [s.title.split(",")[0] for s in spectra] == ["vz0470.spa", "vz0468.spa"]
    for spectrum in spectra:
        started = datetime.strptime(spectrum.title.split(", ", 1)[1],
                                    "%a %b %d %H:%M:%S %Y (GMT+02:00)")
        started = started.replace(tzinfo=UTC) - timedelta(hours=2)
        stamped = datetime.fromisoformat(spectrum.metadata["acquired_at"])
        collection = float(spectrum.metadata["collection_time_s"])
        assert timedelta(0) <= stamped - started <= timedelta(seconds=collection + 5)
        assert spectrum.metadata["group_title"] == "wodger.spg"


def test_spa_filed_under_opus_is_read_as_omnic():
    """opus/not_opus.spa is byte-identical to omnic/7_CZ0-100_Pd_101.SPA."""
    data = corpus_bytes("opus/not_opus.spa")
    row = manifest()["opus/not_opus.spa"]
    assert 'magic "Spectral Data File"' in row["known_facts"]
    assert row["sha256"] == manifest()["omnic/7_CZ0-100_Pd_101.SPA"]["sha256"]
    assert omnic.detect(data, "not_opus.spa").confidence == 1.0
    [spectrum] = omnic.parse(data, "not_opus.spa")
    [twin] = omnic.parse(corpus_bytes("omnic/7_CZ0-100_Pd_101.SPA"))
    assert np.array_equal(spectrum.x, twin.x) and np.array_equal(spectrum.y, twin.y)
    assert spectrum.title == "7_CZ0-100 Pd_101" and spectrum.metadata == twin.metadata


# --- fuzzing -----------------------------------------------------------------------------------

SEED_BYTES = {name: build() for name, build in BUILDERS.items()}
if CORPUS.is_dir():
    SEED_BYTES.update((path.name, path.read_bytes()) for path in (CORPUS / "omnic").glob("*"))
FUZZ = settings(max_examples=300, deadline=1000, suppress_health_check=[HealthCheck.too_slow])


def only_parse_errors(data):
    try:
        spectra = omnic.parse(data, "fuzz.spa")
    except ParseError:
        return
    for spectrum in spectra:
        assert spectrum.x.shape == spectrum.y.shape
    omnic.detect(data, "fuzz.spa")


@FUZZ
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_raise_only_parse_error(data):
    only_parse_errors(data)
    only_parse_errors(b"Spectral Data File" + data)


@FUZZ
@given(name=st.sampled_from(sorted(SEED_BYTES)),
       edits=st.lists(st.tuples(st.integers(0, 1023), st.integers(0, 255)), max_size=12),
       keep=st.one_of(st.none(), st.integers(0, 2**18)))
def test_mutated_files_raise_only_parse_error(name, edits, keep):
    data = bytearray(SEED_BYTES[name])
    for position, value in edits:  # header, directory and key-2 headers are in the first KB
        data[position % len(data)] = value
    only_parse_errors(bytes(data if keep is None else data[:keep]))


def write_fixtures():
    """Rewrite fixtures/omnic/ from the builders."""
    folder = FIXTURES / "omnic"
    folder.mkdir(parents=True, exist_ok=True)
    for name, build in BUILDERS.items():
        (folder / name).write_bytes(build())


if __name__ == "__main__":
    write_fixtures()
