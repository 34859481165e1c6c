"""The one registry of adapters: detection, forced adapters, and safe parsing."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from instruments.core import Budget, Detection, ParseError, Spectrum

# Every adapter module, in the order ties are broken. Each defines NAME, LABEL, EXTENSIONS,
# TECHNIQUES, detect(data, filename) -> Detection | None and parse(data, filename) -> list.
ADAPTER_MODULES = (
    "instruments.jcamp",
    "instruments.spc",
    "instruments.opus",
    "instruments.omnic",
    "instruments.wdf",
    "instruments.msp",
    "instruments.massbank",
    "instruments.mgf",
    "instruments.mzml",
    "instruments.andi",
    "instruments.agilent",
    "instruments.emsa",
    "instruments.csvtxt",
)
# Files that are not spectra at all, or formats we do not read: named so users learn why.
FOREIGN_SIGNATURES = (
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an OLE2 compound document (for example a Shimadzu "
                                          "UVProbe .spc or an old Microsoft Office file)"),
    (b"PK\x03\x04", "a ZIP archive (for example an XLSX or DOCX file)"),
    (b"%PDF", "a PDF document"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 file (for example netCDF-4)"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x1f\x8b", "a gzip-compressed file (decompress it first)"),
)


@dataclass(frozen=True)
class Adapter:
    """A registered adapter."""

    name: str
    label: str
    extensions: tuple[str, ...]
    techniques: tuple[str, ...]
    detect: Callable[[bytes, str], Detection | None]
    parse: Callable[[bytes, str], list[Spectrum]]
    module: ModuleType


@dataclass(frozen=True)
class ParseResult:
    """What a file held: the adapter that read it, its spectra and file-level warnings."""

    adapter: Adapter
    detection: Detection
    spectra: list[Spectrum]


def _load(path: str) -> Adapter:
    module = importlib.import_module(path)
    return Adapter(name=module.NAME, label=module.LABEL,
                   extensions=tuple(e.lower() for e in module.EXTENSIONS),
                   techniques=tuple(module.TECHNIQUES), detect=module.detect,
                   parse=module.parse, module=module)


ADAPTERS: tuple[Adapter, ...] = tuple(_load(path) for path in ADAPTER_MODULES)
BY_NAME = {adapter.name: adapter for adapter in ADAPTERS}


def get_adapter(name: str) -> Adapter:
    """The adapter of that name, or ParseError listing the known ones."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise ParseError(f"Unknown adapter {name!r}; choose one of "
                         f"{', '.join(sorted(BY_NAME))}.") from None


def candidates(data: bytes, filename: str = "") -> list[tuple[Adapter, Detection]]:
    """Adapters that recognise the file, most confident first."""
    found = []
    for adapter in ADAPTERS:
        try:
            detection = adapter.detect(data, filename)
        except Exception:  # noqa: BLE001 - detection must never break the upload
            detection = None
        if detection is not None and detection.confidence > 0:
            found.append((adapter, detection))
    return sorted(found, key=lambda pair: -pair[1].confidence)


def foreign_kind(data: bytes) -> str | None:
    """Describe a file that is not a spectrum format we read, when its magic says so."""
    for magic, description in FOREIGN_SIGNATURES:
        if data.startswith(magic):
            return description
    return None


def _checked(adapter: Adapter, spectra: list[Spectrum], size: int) -> list[Spectrum]:
    if not spectra:
        raise ParseError(f"The {adapter.label} file holds no spectrum.")
    # Adapters refuse an expansion before making it; this holds every adapter to the same rule.
    budget = Budget(size)
    for spectrum in spectra:
        budget.take_spectrum(spectrum.n_points, block=spectrum.block or None)
    return spectra


def parse(data: bytes, filename: str = "", adapter: str | None = None) -> ParseResult:
    """Detect (or use the forced adapter) and parse; only ParseError ever escapes."""
    if not data:
        raise ParseError("The file is empty.", offset=0)
    found = candidates(data, filename)
    if adapter is not None:
        chosen = get_adapter(adapter)
        detection = next((d for a, d in found if a is chosen), None)
        if detection is None or detection.confidence < 0.5:
            better = next(((a, d) for a, d in found if a is not chosen and d.confidence >= 0.5),
                          None)
            foreign = foreign_kind(data)
            if better is not None:
                raise ParseError(f"This is not a {chosen.label} file; it looks like "
                                 f"{better[0].label} ({better[1].reason}).", offset=0)
            if foreign is not None:
                raise ParseError(f"This is not a {chosen.label} file; it is {foreign}.",
                                 offset=0)
            detection = detection or Detection(0.1, "forced by the user")
    else:
        strong = [(a, d) for a, d in found if d.confidence >= 0.5]
        if not strong:
            foreign = foreign_kind(data)
            if foreign is not None:
                raise ParseError(f"This file is {foreign}, not a spectrum format this "
                                 "laboratory reads.", offset=0)
            if found:
                hints = "; ".join(f"{a.label}: {d.reason}" for a, d in found)
                raise ParseError(f"The content does not match a format this laboratory reads "
                                 f"({hints}). Choose the adapter explicitly if you are sure.",
                                 offset=0)
            raise ParseError("Unrecognised file format: no adapter recognises its content.",
                             offset=0)
        chosen, detection = strong[0]
    try:
        spectra = chosen.parse(data, filename)
    except ParseError:
        raise
    except Exception as error:  # an adapter bug must still answer cleanly, and be reported
        raise ParseError(f"The {chosen.label} reader failed on this file "
                         f"({type(error).__name__}: {error}).") from error
    return ParseResult(adapter=chosen, detection=detection,
                       spectra=_checked(chosen, spectra, len(data)))
