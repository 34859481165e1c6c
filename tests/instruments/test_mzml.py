"""mzML / mzXML adapter: real corpus files, files written here, unsafe XML and fuzzing."""

import base64
import contextlib
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from instruments import core, mzml
from instruments.core import ParseError, Spectrum
from tests.instruments.corpus import corpus_bytes, manifest
from tests.instruments.fuzz import mutated


@pytest.fixture(scope="module", autouse=True)
def vocabulary():
    """Load the PSI-MS vocabulary once, so that no timed example pays for it."""
    mzml._psi_ms()


def encoded(values, dtype, compress):
    raw = np.asarray(values, dtype=dtype).tobytes()
    return base64.b64encode(zlib.compress(raw) if compress else raw).decode()


def array(values, dtype="<f8", compress=True, kind="m/z array", compression=None):
    precision = "MS:1000523\" name=\"64-bit float" if dtype == "<f8" else \
        "MS:1000521\" name=\"32-bit float"
    compression = compression or ("MS:1000574\" name=\"zlib compression" if compress else
                                  "MS:1000576\" name=\"no compression")
    accession = "MS:1000514" if kind == "m/z array" else "MS:1000515"
    data = encoded(values, dtype, compress)
    return f"""
      <binaryDataArray encodedLength="{len(data)}">
        <cvParam cvRef="MS" accession="{precision}" value=""/>
        <cvParam cvRef="MS" accession="{compression}" value=""/>
        <cvParam cvRef="MS" accession="{accession}" name="{kind}" value=""/>
        <binary>{data}</binary>
      </binaryDataArray>"""


def spectrum(index, native_id, level, mode, time, unit, mz, intensity, declared=None,
             precursor=None, mz_array=None):
    unit_accession = "UO:0000010" if unit == "second" else "UO:0000031"
    precursor_xml = "" if precursor is None else f"""
      <precursorList count="1"><precursor><selectedIonList count="1"><selectedIon>
        <cvParam cvRef="MS" accession="MS:1000744" name="selected ion m/z" value="{precursor}"
                 unitCvRef="MS" unitAccession="MS:1000040" unitName="m/z"/>
      </selectedIon></selectedIonList></precursor></precursorList>"""
    mode_term = 'MS:1000127" name="centroid spectrum' if mode == "centroid" else \
        'MS:1000128" name="profile spectrum'
    arrays = mz_array or array(mz)
    return f"""
    <spectrum index="{index}" id="{native_id}" defaultArrayLength="{declared or len(mz)}">
      <cvParam cvRef="MS" accession="MS:1000511" name="ms level" value="{level}"/>
      <cvParam cvRef="MS" accession="{mode_term}" value=""/>
      <cvParam cvRef="MS" accession="MS:1000130" name="positive scan" value=""/>
      <scanList count="1"><scan>
        <cvParam cvRef="MS" accession="MS:1000016" name="scan start time" value="{time}"
                 unitCvRef="UO" unitAccession="{unit_accession}" unitName="{unit}"/>
      </scan></scanList>{precursor_xml}
      <binaryDataArrayList count="2">{arrays}{array(intensity, "<f4", False,
                                                       "intensity array")}
      </binaryDataArrayList>
    </spectrum>"""


def mzml_file(spectra, declared=None, prolog=""):
    body = "".join(spectra)
    count = declared if declared is not None else len(spectra)
    return f"""<?xml version="1.0" encoding="utf-8"?>{prolog}
<mzML xmlns="http://psi.hupo.org/ms/mzml" version="1.1.0">
  <instrumentConfigurationList count="1">
    <instrumentConfiguration id="IC1">
      <cvParam cvRef="MS" accession="MS:1000449" name="LTQ Orbitrap" value=""/>
      <cvParam cvRef="MS" accession="MS:1000529" name="instrument serial number" value="SN123"/>
      <componentList count="1"><source order="1">
        <cvParam cvRef="MS" accession="MS:1000073" name="electrospray ionization" value=""/>
      </source></componentList>
    </instrumentConfiguration>
  </instrumentConfigurationList>
  <run id="run1" defaultInstrumentConfigurationRef="IC1" startTimeStamp="2024-03-14T09:30:00Z">
    <spectrumList count="{count}">{body}
    </spectrumList>
  </run>
</mzML>""".encode()


def small_mzml(**kwargs):
    return mzml_file([
        spectrum(0, "scan=1", 1, "profile", 30.0, "second", [100.0, 100.5, 101.0],
                 [10.0, 50.0, 20.0]),
        spectrum(1, "scan=2", 2, "centroid", 0.75, "minute", [57.07, 85.1, 128.0],
                 [300.0, 1000.0, 40.0], declared=5, precursor=445.35),
    ], **kwargs)


def mzxml_file(scan_count=2, compress=True):
    pairs = np.array([[91.05, 100.0], [119.0, 999.0]], dtype=">f4").ravel().tobytes()
    data = base64.b64encode(zlib.compress(pairs) if compress else pairs).decode()
    compression = ' compressionType="zlib"' if compress else ""
    return f"""<?xml version="1.0" encoding="ISO-8859-1"?>
<mzXML xmlns="http://sashimi.sourceforge.net/schema_revision/mzXML_3.2">
 <msRun scanCount="{scan_count}" startTime="PT0S" endTime="PT600S">
  <msInstrument>
   <msManufacturer category="msManufacturer" value="Thermo"/>
   <msModel category="msModel" value="LCQ"/>
   <msIonisation category="msIonisation" value="ESI"/>
  </msInstrument>
  <dataProcessing centroided="1"/>
  <scan num="7" msLevel="1" peaksCount="2" polarity="-" retentionTime="PT90S">
   <peaks precision="32" byteOrder="network" pairOrder="m/z-int"{compression}
          compressedLen="0">{data}</peaks>
  </scan>
 </msRun>
</mzXML>""".encode()


def test_own_mzml_scans_with_metadata_and_count_warnings():
    spectra = mzml.parse(small_mzml(declared=3), "run.mzML")
    assert len(spectra) == 2
    profile, centroid = spectra
    assert profile.kind == "continuous" and centroid.kind == "peaks"
    np.testing.assert_array_equal(profile.x, [100.0, 100.5, 101.0])
    np.testing.assert_array_equal(centroid.y, [300.0, 1000.0, 40.0])
    assert (profile.x_unit, profile.technique) == ("m/z", "MS")
    assert profile.metadata["retention_time"] == "0.5"  # 30 s
    assert centroid.metadata["retention_time"] == "0.75"
    assert profile.metadata["ms_level"] == "1" and centroid.metadata["ms_level"] == "2"
    assert centroid.metadata["precursor_mz"] == "445.35"
    assert centroid.metadata["scan_id"] == "scan=2"
    assert profile.metadata["instrument"] == "LTQ Orbitrap"
    assert profile.metadata["serial"] == "SN123"
    assert profile.metadata["ionization"] == "electrospray ionization"
    assert profile.metadata["acquired_at"] == "2024-03-14T09:30:00Z"
    assert profile.metadata["polarity"] == "positive"
    assert "declares 3 spectra (spectrumList count) but holds 2" in profile.warnings[0]
    assert centroid.warnings == ["spectrum scan=2 declares defaultArrayLength 5 but holds 3 "
                                 "points."]


def test_own_mzxml_pairs_big_endian():
    for compress in (True, False):
        (scan,) = mzml.parse(mzxml_file(compress=compress), "run.mzXML")
        np.testing.assert_allclose(scan.x, [91.05, 119.0], rtol=1e-6)
        np.testing.assert_array_equal(scan.y, [100.0, 999.0])
        assert scan.kind == "peaks"
        assert scan.metadata["retention_time"] == "1.5"
        assert scan.metadata["instrument"] == "Thermo LCQ"
        assert scan.metadata["polarity"] == "negative"
        assert scan.metadata["scan_id"] == "7"
        assert "declares 2 spectra (msRun scanCount) but holds 1" in scan.warnings[0]


@pytest.mark.parametrize("prolog", [
    '<!DOCTYPE mzML [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>',
    '<!DOCTYPE mzML SYSTEM "http://example.invalid/mzML.dtd">',
])
def test_dtd_and_entities_are_refused(prolog):
    with pytest.raises(ParseError, match="DTD or entities"):
        mzml.parse(small_mzml(prolog=prolog), "evil.mzML")


def test_zlib_bomb_is_refused():
    bomb = array(np.zeros(1_000_000))  # 8 MB of zeros in about 8 kB
    data = mzml_file([spectrum(0, "scan=1", 1, "profile", 1.0, "minute", [1.0], [1.0],
                               mz_array=bomb)])
    with pytest.raises(ParseError, match="decoded-size limit.*compression bomb") as raised:
        mzml.parse(data, "bomb.mzML")
    assert raised.value.block == "spectrum scan=1"


def test_point_ceiling(monkeypatch):
    monkeypatch.setattr(core, "MAX_POINTS", 4)
    with pytest.raises(ParseError, match="point limit: .* at most 4 "):
        mzml.parse(small_mzml(), "big.mzML")


@pytest.mark.parametrize("data, message", [
    (small_mzml()[:700], "malformed"),
    (b"<html><body>hello</body></html>", "not mzML or mzXML"),
    (b"\xff\xfe<\0m\0z\0M\0L\0", "UTF-16"),
    (b"", "malformed|no element"),
    (mzml_file([spectrum(0, "s", 1, "profile", 1.0, "minute", [1.0], [1.0], mz_array=array(
        [1.0], compression='MS:1002312" name="MS-Numpress linear prediction compression'))]),
     "not supported"),
    (mzml_file([spectrum(0, "s", 1, "profile", 1.0, "minute", [1.0, 2.0], [1.0])]),
     "m/z array has 2 values but the intensity array 1"),
    (mzml_file([]), "holds no spectrum"),
])
def test_malformed_files_raise_parse_error(data, message):
    with pytest.raises(ParseError, match=message):
        mzml.parse(data, "bad.mzML")


def test_detection():
    assert mzml.detect(small_mzml(), "").confidence == 0.95
    assert mzml.detect(mzxml_file(), "").confidence == 0.95
    assert mzml.detect(b"\xef\xbb\xbf<?xml?><indexedmzML>", "").confidence == 0.95
    assert mzml.detect(b"garbage", "run.mzXML").confidence == 0.2
    assert mzml.detect(b"<html/>", "page.html") is None


# ---- the real corpus ---------------------------------------------------------------------

def test_corpus_matchms_mzml():
    spectra = mzml.parse(corpus_bytes("mzml/matchms_testdata.mzml"), "testdata.mzml")
    assert "12 spectra" in manifest()["mzml/matchms_testdata.mzml"]["known_facts"]
    assert len(spectra) == 12
    assert spectra[0].metadata["scan_id"] == "controllerType=0 controllerNumber=1 scan=1"
    assert spectra[0].n_points == 1111
    assert sum(s.n_points for s in spectra) == 3779
    assert {s.metadata["ms_level"] for s in spectra} == {"1", "2"}
    assert spectra[0].metadata["instrument"] == "Exactive"
    assert spectra[0].metadata["retention_time"] == f"{0.121088 / 60:.6g}"  # seconds
    assert spectra[1].metadata["precursor_mz"].startswith("207.1592")
    assert "declares 8761 spectra" in spectra[0].warnings[0]


def test_corpus_matchms_mzxml():
    spectra = mzml.parse(corpus_bytes("mzml/matchms_testdata.mzXML"), "testdata.mzXML")
    assert len(spectra) == 5
    assert [s.metadata["ms_level"] for s in spectra][:3] == ["1", "2", "3"]
    assert {s.metadata["ms_level"] for s in spectra} == {"1", "2", "3"}
    assert spectra[0].metadata["scan_id"] == "217" and spectra[0].n_points == 1148
    assert float(spectra[0].metadata["retention_time"]) == pytest.approx(5.8024, abs=5e-5)
    assert spectra[0].metadata["instrument"] == "ThermoFinnigan LTQ Orbitrap XL"


def test_corpus_pyteomics_mzxml_scan_count_lies():
    spectra = mzml.parse(corpus_bytes("mzml/pyteomics_test.mzXML"), "test.mzXML")
    assert "scanCount" in manifest()["mzml/pyteomics_test.mzXML"]["quirks_or_bug_refs"]
    assert [s.metadata["scan_id"] for s in spectra] == ["19", "20"]
    assert [s.n_points for s in spectra] == [1313, 43]
    assert [s.metadata["ms_level"] for s in spectra] == ["1", "2"]
    assert float(spectra[0].metadata["retention_time"]) == pytest.approx(5.8905)
    assert spectra[1].metadata["precursor_mz"] == "445.35"
    assert spectra[0].warnings == ["The file declares 3113 spectra (msRun scanCount) but holds "
                                   "2."]


# ---- fuzzing -----------------------------------------------------------------------------





def only_parse_errors(data: bytes):
    with contextlib.suppress(ParseError):
        spectra = mzml.parse(data, "fuzz.mzML")
        assert spectra and all(isinstance(spectrum, Spectrum) for spectrum in spectra)


@settings(max_examples=150, deadline=1000)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_raise_only_parse_errors(data):
    only_parse_errors(data)
    only_parse_errors(b'<?xml version="1.0"?><mzML>' + data)


@settings(max_examples=150, deadline=1000)
@given(st.one_of(mutated(small_mzml()), mutated(mzxml_file())))
def test_mutated_own_files_raise_only_parse_errors(data):
    only_parse_errors(data)


@pytest.mark.parametrize("name", ["mzml/matchms_testdata.mzml", "mzml/pyteomics_test.mzXML"])
@settings(max_examples=60, deadline=2000, suppress_health_check=[HealthCheck.data_too_large])
@given(change=st.data())
def test_mutated_corpus_files_raise_only_parse_errors(name, change):
    only_parse_errors(change.draw(mutated(corpus_bytes(name))))
