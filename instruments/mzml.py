"""mzML 1.1 and mzXML 2.x/3.x mass-spectrometry runs, read with pyteomics (+ psims, lxml).

Each scan becomes one MS spectrum: kind "peaks" for centroid data, "continuous" for profile
data, with its MS level, retention time (minutes), precursor m/z and scan id.

The files are untrusted XML, so before pyteomics sees them a file that declares a DTD or an
entity is refused, and the binary arrays are decoded here rather than by pyteomics: every zlib
stream is inflated with a ceiling, and the arrays of a file together stay within the point and
decoded-size limits of ``core.Budget`` (a zlib bomb is refused, not inflated). The PSI-MS
vocabulary is the copy that ships inside psims, loaded once; nothing is fetched from the network.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import io
import re
from functools import cache
from importlib import resources

import numpy as np
from lxml import etree

from instruments.core import Budget, Detection, ParseError, Spectrum

NAME = "mzml"
LABEL = "mzML / mzXML"
EXTENSIONS = (".mzml", ".mzxml")
TECHNIQUES = ("MS",)

_SNIFF_BYTES = 4096
_ROOTS = {b"<mzML": "mzML", b"<indexedmzML": "mzML", b"<mzXML": "mzXML"}
_INSTRUMENT_MODEL = "MS:1000031"
_SERIAL_NUMBER = "MS:1000529"
_IONIZATION_TYPE = "MS:1000008"
_COMPRESSION_NAMES = re.compile(rb'name="([^"<>]{0,200}compression)"|compressionType="([^"]*)"')
_KNOWN_COMPRESSIONS = {b"zlib compression", b"no compression", b"zlib", b"none"}
_TIME_UNITS = {"second": 1 / 60, "s": 1 / 60, "minute": 1.0, "min": 1.0,
               "millisecond": 1 / 60000, "ms": 1 / 60000}


def detect(data: bytes, filename: str = "") -> Detection | None:
    """Detect mzML or mzXML by the root element near the start; else by the extension."""
    head = data[:_SNIFF_BYTES].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        for marker, kind in _ROOTS.items():
            if marker in head:
                return Detection(0.95, f"an XML document with a <{kind}> root element")
    if (filename or "").lower().endswith(EXTENSIONS):
        return Detection(0.2, "the file extension is .mzML or .mzXML")
    return None


def parse(data: bytes, filename: str = "") -> list[Spectrum]:
    """One MS spectrum per scan of an mzML or mzXML file, declared counts checked."""
    _refuse_unsafe_xml(data)
    _refuse_unknown_compression(data)
    header = _read_header(data)
    budget = Budget(len(data))
    try:
        with np.errstate(all="ignore"):  # a signalling NaN in an array is data, not an error
            if header.root == "mzML":
                spectra = _read_mzml(data, header, budget)
            else:
                spectra = _read_mzxml(data, header, budget)
    except ParseError:
        raise
    except etree.XMLSyntaxError as error:
        raise ParseError(f"The {header.root} XML is malformed: {error.msg}",
                         line=error.position[0]) from error
    except Exception as error:  # noqa: BLE001 - pyteomics failures become ParseErrors
        raise ParseError(f"The {header.root} file cannot be read "
                         f"({type(error).__name__}: {error}).") from error
    if not spectra:
        raise ParseError(f"The {header.root} file holds no spectrum.")
    if header.declared is not None and header.declared != len(spectra):
        spectra[0].warnings.append(
            f"The file declares {header.declared} spectra ({header.declared_by}) but holds "
            f"{len(spectra)}.")
    return spectra


def _refuse_unsafe_xml(data: bytes) -> None:
    """Refuse DTDs, entities and non-ASCII-compatible encodings before any XML parser runs."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in data[:_SNIFF_BYTES]:
        raise ParseError("The XML is UTF-16 or holds NUL bytes; mzML and mzXML are read only "
                         "in UTF-8 or an ASCII-compatible encoding.", offset=0)
    for marker in (b"<!DOCTYPE", b"<!ENTITY"):
        position = data.find(marker)
        if position >= 0:
            raise ParseError(f"The XML declares a DTD or entities ({marker.decode()}), which "
                             "mzML and mzXML never need; the file is refused for safety.",
                             offset=position)


def _refuse_unknown_compression(data: bytes) -> None:
    """Refuse compressions other than zlib/none: pyteomics would read them as raw values."""
    for match in _COMPRESSION_NAMES.finditer(data):
        name = match.group(1) or match.group(2)
        if name not in _KNOWN_COMPRESSIONS:
            raise ParseError(f"The array compression '{name.decode('latin-1')}' is not "
                             "supported (only zlib or none).", offset=match.start())


class _Header:
    """What the run header says before the first scan: root, instrument, declared count."""

    def __init__(self, root: str):
        self.root = root
        self.declared: int | None = None
        self.declared_by = ""
        self.metadata: dict[str, str] = {}
        self.centroided: bool | None = None


def _safe_parser_events(data: bytes, events: tuple[str, ...]):
    """An lxml iterparse that resolves no entity, loads no DTD and touches no network."""
    return etree.iterparse(io.BytesIO(data), events=events, resolve_entities=False,
                           load_dtd=False, no_network=True, huge_tree=False,
                           remove_comments=True)


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _read_header(data: bytes) -> _Header:
    """Walk the XML up to the first scan for the root, instrument and declared counts."""
    header: _Header | None = None
    groups: dict[str, list] = {}
    try:
        for event, element in _safe_parser_events(data, ("start", "end")):
            name = _local(element.tag)
            if header is None:
                if name not in ("mzML", "indexedmzML", "mzXML"):
                    raise ParseError(f"This is not mzML or mzXML: the root element is <{name}>.",
                                     line=element.sourceline)
                header = _Header("mzXML" if name == "mzXML" else "mzML")
            if name in ("spectrum", "scan", "chromatogram"):
                break
            if event == "start":
                _header_start(header, name, element)
            else:
                _header_end(header, name, element, groups)
    except etree.XMLSyntaxError as error:
        raise ParseError(f"The XML is malformed: {error.msg}", line=error.position[0]) from error
    if header is None:
        raise ParseError("The XML holds no element.", offset=0)
    return header


def _header_start(header: _Header, name: str, element) -> None:
    """Attributes read on an opening tag (counts, run time stamp, mzXML instrument)."""
    attributes = element.attrib
    if name == "spectrumList" and attributes.get("count", "").isdigit():
        header.declared, header.declared_by = int(attributes["count"]), "spectrumList count"
    elif name == "msRun" and attributes.get("scanCount", "").isdigit():
        header.declared, header.declared_by = int(attributes["scanCount"]), "msRun scanCount"
    elif name == "run" and attributes.get("startTimeStamp"):
        header.metadata["acquired_at"] = attributes["startTimeStamp"]
    elif name in ("msManufacturer", "msModel") and attributes.get("value"):
        model = header.metadata.get("instrument", "")
        header.metadata["instrument"] = f"{model} {attributes['value']}".strip()
    elif name == "msIonisation" and attributes.get("value"):
        header.metadata["ionization"] = attributes["value"]
    elif name == "dataProcessing" and attributes.get("centroided") in ("0", "1"):
        header.centroided = attributes["centroided"] == "1"


def _header_end(header: _Header, name: str, element, groups: dict[str, list]) -> None:
    """The mzML instrument model, serial number and ion source from the CV terms."""
    if name == "referenceableParamGroup":
        groups[element.get("id", "")] = _cv_params(element)
    elif name == "instrumentConfiguration" and "instrument" not in header.metadata:
        terms = _cv_params(element)
        for child in element:
            if _local(child.tag) == "referenceableParamGroupRef":
                terms += groups.get(child.get("ref", ""), [])
        for accession, term_name, value in terms:
            if accession == _SERIAL_NUMBER and value:
                header.metadata["serial"] = value
            elif _is_a(accession, _INSTRUMENT_MODEL):
                header.metadata["instrument"] = value or term_name
        for source in element.iter("{*}source"):
            for accession, term_name, _value in _cv_params(source):
                if _is_a(accession, _IONIZATION_TYPE):
                    header.metadata["ionization"] = term_name


def _cv_params(element) -> list[tuple[str, str, str]]:
    return [(child.get("accession", ""), child.get("name", ""), child.get("value", ""))
            for child in element if _local(child.tag) == "cvParam"]


def _is_a(accession: str, parent: str) -> bool:
    """True when the PSI-MS term is the parent or one of its descendants."""
    try:
        return accession == parent or _psi_ms()[accession].is_of_type(parent)
    except (KeyError, AttributeError):
        return False


@cache
def _psi_ms():
    """The PSI-MS controlled vocabulary shipped inside psims (never downloaded)."""
    from psims.controlled_vocabulary.controlled_vocabulary import ControlledVocabulary

    vocabulary = resources.files("psims.controlled_vocabulary.vendor") / "psi-ms.obo.gz"
    with vocabulary.open("rb") as raw, gzip.GzipFile(fileobj=raw) as obo:
        return ControlledVocabulary.from_obo(obo)


def _decode(record, budget: Budget, where: str) -> np.ndarray:
    """A pyteomics binary_array_record decoded with the budget's limits."""
    text = record.data or ""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=False)
    except (binascii.Error, UnicodeEncodeError, ValueError) as error:
        raise ParseError(f"A binary array is not valid base64 ({error}).",
                         block=where) from error
    compression = record.compression or "no compression"
    if compression == "zlib compression":
        raw = budget.inflate(raw, block=where) if raw else raw
    elif compression == "no compression":
        budget.take_bytes(len(raw), block=where)
    else:
        raise ParseError(f"The array compression '{compression}' is not supported.",
                         block=where)
    dtype = np.dtype(record.dtype)
    if len(raw) % dtype.itemsize:
        raise ParseError(f"A binary array of {len(raw)} bytes is not a whole number of "
                         f"{dtype.itemsize}-byte values.", block=where)
    return np.frombuffer(raw, dtype=dtype)


def _read_mzml(data: bytes, header: _Header, budget: Budget) -> list[Spectrum]:
    """Each mzML <spectrum> through pyteomics, binary arrays left encoded for _decode."""
    from pyteomics import mzml

    spectra, skipped = [], []
    with mzml.MzML(io.BytesIO(data), use_index=False, decode_binary=False,
                   cv=_psi_ms()) as reader:
        for scan in reader:
            where = f"spectrum {scan.get('id', scan.get('index', len(spectra)))}"
            if "m/z array" not in scan or "intensity array" not in scan:
                skipped.append(where)
                continue
            mz = _decode(scan["m/z array"], budget, where)
            intensity = _decode(scan["intensity array"], budget, where)
            budget.take_spectrum(mz.size, block=where)
            spectra.append(_mzml_spectrum(scan, mz, intensity, header, where))
    if spectra and skipped:
        spectra[0].warnings.append(f"{len(skipped)} spectra have no m/z and intensity arrays "
                                   f"and were not read (first: {skipped[0]}).")
    return spectra


def _mzml_spectrum(scan: dict, mz, intensity, header: _Header, where: str) -> Spectrum:
    """One mzML spectrum with its CV-term metadata."""
    _same_length(mz, intensity, where)
    metadata = dict(header.metadata)
    metadata["scan_id"] = str(scan.get("id", ""))
    level = scan.get("ms level")
    if level is not None:
        metadata["ms_level"] = str(level)
    scan_info = (scan.get("scanList") or {}).get("scan") or [{}]
    start = scan_info[0].get("scan start time")
    if start is not None:
        unit = str(getattr(start, "unit_info", None) or "minute")
        metadata["retention_time"] = _minutes(float(start), unit, where)
    precursor = _first(scan, "precursorList", "precursor")
    ion = _first(precursor or {}, "selectedIonList", "selectedIon")
    if ion and ion.get("selected ion m/z") is not None:
        metadata["precursor_mz"] = str(float(ion["selected ion m/z"]))
    if "positive scan" in scan or "negative scan" in scan:
        metadata["polarity"] = "positive" if "positive scan" in scan else "negative"
    warnings = []
    declared = scan.get("defaultArrayLength")
    if declared is not None and int(declared) != mz.size:
        warnings.append(f"{where} declares defaultArrayLength {declared} but holds "
                        f"{mz.size} points.")
    kind = "peaks" if "centroid spectrum" in scan else "continuous"
    title = scan.get("spectrum title") or f"MS{level or ''} {metadata['scan_id']}".strip()
    return Spectrum(x=mz, y=intensity, x_unit="m/z", y_unit="intensity", technique="MS",
                    title=str(title), kind=kind, metadata=metadata, warnings=warnings,
                    block=where)


def _read_mzxml(data: bytes, header: _Header, budget: Budget) -> list[Spectrum]:
    """Each mzXML <scan>: the interleaved m/z-intensity pairs are decoded once."""
    from pyteomics import mzxml

    spectra = []
    with mzxml.MzXML(io.BytesIO(data), use_index=False, decode_binary=False) as reader:
        for scan in reader:
            where = f"scan {scan.get('num', len(spectra) + 1)}"
            record = scan.get("m/z array")
            if record is None:
                continue
            pairs = _decode(record, budget, where)
            mz, intensity = pairs["m/z array"], pairs["intensity array"]
            budget.take_spectrum(mz.size, block=where)
            spectra.append(_mzxml_spectrum(scan, mz, intensity, header, where))
    return spectra


def _mzxml_spectrum(scan: dict, mz, intensity, header: _Header, where: str) -> Spectrum:
    """One mzXML scan with its attributes as metadata."""
    _same_length(mz, intensity, where)
    metadata = dict(header.metadata)
    metadata["scan_id"] = str(scan.get("num", ""))
    if scan.get("msLevel") is not None:
        metadata["ms_level"] = str(scan["msLevel"])
    if scan.get("retentionTime") is not None:
        metadata["retention_time"] = _minutes(float(scan["retentionTime"]), "minute", where)
    precursors = scan.get("precursorMz") or []
    if precursors and precursors[0].get("precursorMz") is not None:
        metadata["precursor_mz"] = str(float(precursors[0]["precursorMz"]))
    polarity = {"+": "positive", "-": "negative"}.get(str(scan.get("polarity", "")))
    if polarity:
        metadata["polarity"] = polarity
    warnings = []
    declared = scan.get("peaksCount")
    if declared is not None and int(declared) != mz.size:
        warnings.append(f"{where} declares peaksCount {declared} but holds {mz.size} peaks.")
    centroided = scan.get("centroided")
    centroid = str(centroided) in ("1", "True") if centroided is not None else header.centroided
    title = f"MS{scan.get('msLevel', '')} scan {metadata['scan_id']}"
    return Spectrum(x=mz, y=intensity, x_unit="m/z", y_unit="intensity", technique="MS",
                    title=title, kind="peaks" if centroid else "continuous",
                    metadata=metadata, warnings=warnings, block=where)


def _same_length(mz: np.ndarray, intensity: np.ndarray, where: str) -> None:
    if mz.size != intensity.size:
        raise ParseError(f"The m/z array has {mz.size} values but the intensity array "
                         f"{intensity.size}.", block=where)


def _first(container: dict, list_key: str, item_key: str) -> dict | None:
    items = (container.get(list_key) or {}).get(item_key) or []
    return items[0] if items else None


def _minutes(value: float, unit: str, where: str) -> str:
    """A retention time in minutes, as text, from seconds, minutes or milliseconds."""
    key = unit.strip().lower()
    factor = _TIME_UNITS.get(key) or _TIME_UNITS.get(key.rstrip("s"))
    if factor is None:
        raise ParseError(f"The retention time unit '{unit}' is not known.", block=where)
    return f"{value * factor:.6g}"
