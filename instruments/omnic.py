"""Thermo OMNIC .SPA (one spectrum) and .SPG (a group of spectra).

Layout per docs/FORMATS.md §4: "Spectral Data File" magic, title at 30, acquisition time at
296 (seconds since 1899-12-31 UTC), and from 304 a directory of 16-byte records (key u8,
offset u32 at +2, length u32 at +6). Key 2 is a spectrum header, key 3 its float32 data; an
SPG repeats them, the n-th of each key belonging to the n-th spectrum.
"""

from __future__ import annotations

import re
import struct
from datetime import UTC, datetime, timedelta

import numpy as np

from instruments.core import (
    MAX_POINTS,
    Detection,
    ParseError,
    Spectrum,
    decode_text,
    normalise_x_unit,
    normalise_y_unit,
)

NAME = "omnic"
LABEL = "Thermo OMNIC SPA/SPG"
EXTENSIONS = (".spa", ".spg")
TECHNIQUES = ("IR", "Raman")

MAGIC = b"Spectral Data File"
SERIES_MAGIC = b"Spectral Exte File"
DIRECTORY = 304
HEADER, DATA, USER_TEXT, HISTORY, SPECTRUM_TITLE = 2, 3, 4, 27, 107
SAMPLE_INTERFEROGRAM, BACKGROUND_INTERFEROGRAM = 102, 103
EPOCH = datetime(1899, 12, 31, tzinfo=UTC)

_X_UNITS = {1: "cm-1", 2: "points", 3: "nm", 4: "um", 0x20: "cm-1"}
RAMAN_SHIFT, RAMAN_INTENSITY = 0x20, 0x1F
_Y_UNITS = {0x0B: "%R", 0x0C: "log(1/R)", 0x0F: "single beam", 0x10: "%T",
            0x11: "absorbance", 0x14: "Kubelka-Munk", 0x15: "reflectance", 0x16: "V",
            0x1A: "photoacoustic", RAMAN_INTENSITY: "intensity"}
_RESOLUTION = re.compile(r"R[ée]solution\s*:\s*([0-9]+(?:[.,][0-9]+)?)")
_SERIAL = re.compile(r"(?:Bench Serial Number|Num[ée]ro S[ée]rie du banc)\s*:\s*(\S+)")


def detect(data: bytes, filename: str = "") -> Detection | None:
    """The "Spectral Data File" magic (with a readable directory: 1.0); the name alone: 0.2."""
    if data.startswith(MAGIC):
        try:
            keys = {key for key, _, _ in _directory(data)}
        except ParseError:
            keys = set()
        if {HEADER, DATA} <= keys:
            return Detection(1.0, "OMNIC magic and a directory with spectrum header and data")
        return Detection(0.9, "OMNIC magic \"Spectral Data File\"")
    if data.startswith(SERIES_MAGIC):
        return Detection(0.5, "an OMNIC series (.srs) file (refused with the reason)")
    if filename.lower().endswith(EXTENSIONS):
        return Detection(0.2, "file name ends in .spa or .spg")
    return None


def parse(data: bytes, filename: str = "") -> list[Spectrum]:
    """Every spectrum of an SPA or SPG file."""
    if data.startswith(SERIES_MAGIC):
        raise ParseError("This is an OMNIC series (.srs) file, which this laboratory does not "
                         "read; export the spectra as SPA, SPG or CSV from OMNIC.", offset=0)
    if not data.startswith(MAGIC):
        raise ParseError("This is not a Thermo OMNIC file: it does not start with "
                         "\"Spectral Data File\".", offset=0)
    _need(data, 0, DIRECTORY, "the file header")
    file_title = _text(data, 30, 256)
    file_time = _timestamp(struct.unpack_from("<I", data, 296)[0])
    records: dict[int, list[tuple[int, int]]] = {}
    for key, offset, length in _directory(data):
        records.setdefault(key, []).append((offset, length))
    headers, blocks = records.get(HEADER, []), records.get(DATA, [])
    if not headers:
        raise ParseError("The OMNIC file has no spectrum header (directory key 2).",
                         offset=DIRECTORY)
    if len(blocks) != len(headers):
        raise ParseError(f"The OMNIC file has {len(headers)} spectrum headers but "
                         f"{len(blocks)} data blocks.", offset=DIRECTORY)
    spectra, total = [], 0
    for index, (header, block) in enumerate(zip(headers, blocks, strict=True)):
        where = f"spectrum {index + 1} of {len(headers)}" if len(headers) > 1 else ""
        spectrum = _spectrum(data, header, block, where)
        total += spectrum.n_points
        if total > MAX_POINTS:
            raise ParseError(f"The file holds more than the {MAX_POINTS} points allowed.",
                             block=where or None)
        _describe(spectrum, data, records, index, file_title, file_time)
        if len(headers) > 1:
            spectrum.metadata["group_title"] = file_title
        spectra.append(spectrum)
    return spectra


def _describe(spectrum: Spectrum, data: bytes, records: dict[int, list[tuple[int, int]]],
              index: int, file_title: str, file_time: str | None) -> None:
    """Title, time and texts of the index-th spectrum: the index-th record of each key."""
    def nth(key: int) -> tuple[int, int] | None:
        found = records.get(key, [])
        return found[index] if index < len(found) else None

    title, acquired_at = file_title, file_time
    if titled := nth(SPECTRUM_TITLE):
        title, acquired_at = _spectrum_title(data, *titled)
    spectrum.title = title
    if acquired_at:
        spectrum.metadata["acquired_at"] = acquired_at
    for key, name in ((HISTORY, "history"), (USER_TEXT, "comments")):
        if (record := nth(key)) and (text := _block_text(data, *record)):
            spectrum.metadata[name] = text
    _history_fields(spectrum.metadata)
    interferograms = [f"{label} ({record[1] // 4} points)"
                      for key, label in ((SAMPLE_INTERFEROGRAM, "sample"),
                                         (BACKGROUND_INTERFEROGRAM, "background"))
                      if (record := nth(key))]
    if interferograms:
        spectrum.metadata["interferograms_not_imported"] = ", ".join(interferograms)


def _need(data: bytes, offset: int, size: int, what: str, block: str = "") -> None:
    """Refuse a truncated file, saying what was expected where."""
    if offset + size > len(data):
        raise ParseError(f"The OMNIC file is truncated: expected {what} ({size} bytes) at "
                         f"byte {offset}, but the file ends at byte {len(data)}.",
                         offset=offset, block=block or None)


def _directory(data: bytes) -> list[tuple[int, int, int]]:
    """(key, offset, length) records from byte 304 up to the closing key 0 or 1."""
    _need(data, 0, DIRECTORY, "the file header")
    declared = struct.unpack_from("<H", data, 294)[0]
    limit = declared or (len(data) - DIRECTORY) // 16
    records, position = [], DIRECTORY
    for _ in range(limit):
        if position + 16 > len(data):
            if declared:
                _need(data, position, 16, "a directory record")
            break
        key = data[position]
        if key in (0, 1):
            break
        offset, length = struct.unpack_from("<II", data, position + 2)
        records.append((key, offset, length))
        position += 16
    return records


def _spectrum(data: bytes, header: tuple[int, int], block: tuple[int, int],
              where: str) -> Spectrum:
    """One spectrum from its key-2 header and key-3 float32 data."""
    offset, length = header
    _need(data, offset, max(length, 24), "the key-2 spectrum header", where)
    points, x_code, y_code = struct.unpack_from("<IBxxxB", data, offset + 4)
    first, last = (float(v) for v in struct.unpack_from("<ff", data, offset + 16))
    data_offset, data_length = block
    _need(data, data_offset, data_length, "the key-3 intensities", where)
    values = data_length // 4
    warnings = []
    if data_length % 4:
        warnings.append(f"The data block is {data_length} bytes, not a whole number of "
                        "float32 values; the last bytes were ignored.")
    if values > points:
        warnings.append(f"The data block holds {values} values but the header declares "
                        f"{points}; the first {points} were read.")
        values = points
    elif values < points:
        warnings.append(f"The data block holds only {values} of the {points} values the "
                        "header declares; the spectrum is incomplete.")
    if points == 0:
        raise ParseError("The spectrum header declares 0 points.", offset=offset + 4,
                         block=where or None)
    if not (np.isfinite(first) and np.isfinite(last)):
        raise ParseError(f"The spectrum header's first and last X ({first}, {last}) are not "
                         "numbers.", offset=offset + 16, block=where or None)
    if values == points:
        x = np.linspace(first, last, points)
    else:  # linspace's values for the points present, without allocating the declared count
        x = np.arange(values) * ((last - first) / max(points - 1, 1)) + first
    with np.errstate(invalid="ignore"):  # a signalling NaN must not raise FE_INVALID
        y = np.frombuffer(data, "<f4", values, data_offset).astype(np.float64)
    if x_code not in _X_UNITS:
        warnings.append(f"Unknown X unit code {x_code}; the unit is reported as arbitrary.")
    if y_code not in _Y_UNITS:
        warnings.append(f"Unknown Y unit code {y_code}; the unit is reported as arbitrary.")
    raman = x_code == RAMAN_SHIFT or y_code == RAMAN_INTENSITY
    return Spectrum(x=x, y=y, x_unit=normalise_x_unit(_X_UNITS.get(x_code, "arbitrary")),
                    y_unit=normalise_y_unit(_Y_UNITS.get(y_code, "arbitrary")),
                    technique="Raman" if raman else "IR",
                    metadata=_header_fields(data, offset, length), warnings=warnings,
                    block=where)


def _header_fields(data: bytes, offset: int, length: int) -> dict[str, str]:
    """Scans, background scans, collection time and laser frequency, where the header has them."""
    if length < 84:
        return {}
    scans, background = struct.unpack_from("<I12xI", data, offset + 36)
    collection = struct.unpack_from("<I", data, offset + 68)[0]
    laser = struct.unpack_from("<f", data, offset + 80)[0]
    fields = {"scans": str(scans) if scans else "",
              "background_scans": str(background) if background else "",
              "collection_time_s": f"{collection / 100:g}" if collection else "",
              "laser_frequency": f"{np.float32(laser)!s} cm-1" if laser > 0 else ""}
    return {key: value for key, value in fields.items() if value}


def _history_fields(metadata: dict[str, str]) -> None:
    """Resolution and bench serial number from OMNIC's history text (English or French)."""
    history = metadata.get("history", "")
    if found := _RESOLUTION.search(history):
        metadata["resolution"] = found.group(1).replace(",", ".")
    if found := _SERIAL.search(history):
        metadata["serial"] = found.group(1)


def _text(data: bytes, offset: int, size: int) -> str:
    return decode_text(data[offset:offset + size].split(b"\0", 1)[0])[0].strip()


def _block_text(data: bytes, offset: int, length: int) -> str:
    """A text block, clipped to the file (a truncated text is not worth refusing a spectrum)."""
    return _text(data, offset, length).replace("\r\n", "\n")


def _spectrum_title(data: bytes, offset: int, length: int) -> tuple[str, str | None]:
    """An SPG spectrum's title (key 107) and the acquisition time that follows it at +256."""
    title = _text(data, offset, min(length, 256))
    stamp = None
    if length >= 260 and offset + 260 <= len(data):
        stamp = _timestamp(struct.unpack_from("<I", data, offset + 256)[0])
    return title, stamp


def _timestamp(seconds: int) -> str | None:
    """ISO UTC time of seconds since 1899-12-31 00:00 UTC (0: unknown)."""
    return (EPOCH + timedelta(seconds=seconds)).isoformat() if seconds else None
