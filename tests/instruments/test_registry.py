"""The one registry: every adapter registers, stays pure, and every corpus file is handled."""

import contextlib
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from instruments import core, registry
from instruments.core import ParseError
from tests.instruments.corpus import CORPUS, corpus_bytes, fixture_bytes, manifest
from tests.tools import imported_names

INSTRUMENTS = Path(registry.__file__).parent
# Corpus directory -> adapter expected to read its files; exceptions listed below.
EXPECTED_ADAPTER = {"jcamp": "jcamp", "spc": "spc", "opus": "opus", "omnic": "omnic",
                    "csvtxt": "csvtxt", "emsa_msa": "emsa", "msp": "msp", "massbank": "massbank",
                    "mzml": "mzml", "andi": "andi", "agilent": "agilent", "raman_wdf": "wdf"}
SPECIAL = {
    "opus/not_opus.spa": "omnic",
    "msp/pyteomics_test.mgf": "mgf",
}
# Files that are not what their name says, or not spectra: a clear refusal is the right answer.
REFUSED = {
    "spc/Shimadzu_UV-2600_labeled_DNA.spc": "Shimadzu",
    "spc/Shimadzu_F80A20-1.SPC": "Shimadzu",
    "andi/sciformats_non_andi.cdf": "not ANDI",
    "andi/sciformats_andi_ms_centroid.cdl": "",
    "agilent/yellow.D_info.json": "",
}


def test_every_adapter_registers_once_with_its_contract():
    names = [adapter.name for adapter in registry.ADAPTERS]
    assert len(names) == len(set(names)) == len(registry.ADAPTER_MODULES)
    modules = {p.stem for p in INSTRUMENTS.glob("*.py")} - {"__init__", "core", "registry"}
    registered = {path.rsplit(".", 1)[1] for path in registry.ADAPTER_MODULES}
    assert modules == registered, "every adapter module is listed in the registry"
    for adapter in registry.ADAPTERS:
        assert adapter.label and adapter.extensions
        assert set(adapter.techniques) <= set(core.TECHNIQUES), adapter.name
        assert all(ext.startswith(".") for ext in adapter.extensions)


def test_no_adapter_imports_the_application():
    forbidden = ("lims", "flask", "sqlalchemy", "werkzeug")
    for path in INSTRUMENTS.glob("*.py"):
        for name in imported_names(path):
            assert name.split(".")[0] not in forbidden, f"{path.name} imports {name}"
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, instruments.registry; print(' '.join(sys.modules))"],
        capture_output=True, text=True, check=True).stdout.split()
    assert not [m for m in loaded if m.split(".")[0] in forbidden]


def _corpus_files() -> list[str]:
    return sorted(manifest()) or ["(corpus absent)"]


@pytest.mark.parametrize("relative", _corpus_files())
def test_every_corpus_file_is_read_by_the_right_adapter_or_clearly_refused(relative):
    data = corpus_bytes(relative) if relative != "(corpus absent)" else pytest.skip(
        f"corpus not found at {CORPUS}")
    name = Path(relative).name
    if relative in REFUSED:
        with pytest.raises(ParseError) as error:
            registry.parse(data, name)
        assert REFUSED[relative] in str(error.value)
        return
    result = registry.parse(data, name)
    expected = SPECIAL.get(relative) or EXPECTED_ADAPTER[relative.split("/")[0]]
    assert result.adapter.name == expected
    for spectrum in result.spectra:
        assert spectrum.x.dtype == spectrum.y.dtype == "float64"
        assert spectrum.technique in core.TECHNIQUES


def test_forcing_the_wrong_adapter_names_what_the_file_is():
    data = fixture_bytes("omnic/" + sorted(p.name for p in (
        Path(__file__).parent / "fixtures" / "omnic").glob("*.spa"))[0])
    with pytest.raises(ParseError, match="not a Bruker OPUS file; it looks like Thermo OMNIC"):
        registry.parse(data, "x.0", adapter="opus")
    with pytest.raises(ParseError, match="Unknown adapter 'nope'"):
        registry.parse(data, "x.spa", adapter="nope")


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"PK\x03\x04" + b"\x00" * 100, "ZIP archive"),
    (b"%PDF-1.7\n" + b"x" * 100, "PDF document"),
    (bytes(range(256)) * 8, "no adapter recognises"),
])
def test_junk_is_refused_clearly(data, message):
    with pytest.raises(ParseError, match=message):
        registry.parse(data, "upload.bin")


@settings(max_examples=300, deadline=2000)
@given(st.binary(max_size=4096), st.sampled_from(["", "a.jdx", "a.spc", "a.0", "a.spa",
                                                  "a.csv", "a.msp", "a.mzML", "a.cdf",
                                                  "a.ms", "a.wdf", "a.msa", "a.mgf"]))
def test_registry_lets_only_parse_errors_escape(data, filename):
    with contextlib.suppress(ParseError):
        registry.parse(data, filename)
