"""EMSA/MSA spectral data files (ISO 22029), as XRF and EDS software exports them.

A header of ``#KEYWORD-unit : value`` lines (``#FORMAT`` and ``#VERSION`` first), then
``#SPECTRUM``, data lines (``x, y`` pairs for ``#DATATYPE XY``; Y values only for ``Y``, their X
being ``#OFFSET + #XPERCHAN * channel``), and ``#ENDOFDATA``.
"""

from __future__ import annotations

import re
from pathlib import PurePath

import numpy as np

from instruments.core import (
    MAX_POINTS,
    Detection,
    ParseError,
    Spectrum,
    iso_datetime,
    normalise_x_unit,
    normalise_y_unit,
    text_lines,
)

NAME = "emsa"
LABEL = "EMSA/MSA"
EXTENSIONS = (".msa", ".emsa")
TECHNIQUES = ("XRF", "other")

_KEY_NAME = re.compile(r"#?[A-Za-z][A-Za-z0-9_]*")
_FORMAT_LINE = re.compile(rb"^[ \t]*#FORMAT[ \t]*:", re.I | re.M)
_STRUCTURE_LINE = re.compile(rb"^[ \t]*#(SPECTRUM|NPOINTS|XPERCHAN|DATATYPE|ENDOFDATA|NCOLUMNS)"
                             rb"[ \t-]*:", re.M)
_SEPARATORS = re.compile(r"[,\s]+")
# X-ray emission signal types are the LIMS's XRF; the others are different techniques.
_XRAY_SIGNALS = {"EDS", "WDS", "XRF"}
_OTHER_SIGNALS = {"ELS": "electron energy-loss (EELS)", "AES": "Auger electron",
                  "PES": "photoelectron", "CLS": "cathodoluminescence", "GAM": "gamma-ray"}
# Keyword -> (metadata key, the unit the standard gives it).
_METADATA = {
    "OWNER": ("owner", ""), "SIGNALTYPE": ("signal_type", ""), "COMMENT": ("comments", ""),
    "BEAMKV": ("beam_kv", "kV"), "EMISSION": ("emission_ua", "uA"),
    "PROBECUR": ("probe_current_na", "nA"), "BEAMDIAM": ("beam_diameter_nm", "nm"),
    "MAGCAM": ("magnification", ""), "OPERMODE": ("operating_mode", ""),
    "LIVETIME": ("live_time_s", "s"), "REALTIME": ("real_time_s", "s"),
    "ELEVANGLE": ("elevation_angle_deg", "dg"), "AZIMANGLE": ("azimuth_angle_deg", "dg"),
    "SOLIDANGLE": ("solid_angle_sr", "sR"), "FWHMMNKA": ("fwhm_mn_ka_ev", "eV"),
    "EDSDET": ("detector", ""), "ELSDET": ("detector", ""),
    "XTILTSTGE": ("tilt_x_deg", "dg"), "YTILTSTGE": ("tilt_y_deg", "dg"),
    "THICKNESS": ("thickness_nm", "nm"), "DWELLTIME": ("dwell_time_ms", "ms"),
    "INTEGTIME": ("integration_time_ms", "ms"),
    # Not in the standard, but vendors' '##' keywords use these names.
    "INSTRUMENT": ("instrument", ""), "SERIALNUMBER": ("serial", ""), "SERIAL": ("serial", ""),
    "OPERATOR": ("operator", ""),
}


def detect(data: bytes, filename: str = "") -> Detection | None:
    """EMSA/MSA by #FORMAT (1.0 with #SPECTRUM too), by its other keywords (0.7), by name."""
    head = data[:8192]
    if b"\x00" in head:
        return None
    if _FORMAT_LINE.search(head):
        if re.search(rb"^[ \t]*#SPECTRUM", data, re.I | re.M):
            return Detection(1.0, "#FORMAT header and #SPECTRUM data")
        return Detection(0.9, "#FORMAT header")
    keywords = set(_STRUCTURE_LINE.findall(head.upper()))
    if len(keywords) >= 2:
        return Detection(0.7, f"EMSA keywords ({', '.join(sorted(k.decode() for k in keywords))})"
                              " but no #FORMAT line")
    if PurePath(filename or "").suffix.lower() in EXTENSIONS:
        return Detection(0.2, "file name only")
    return None


class _Header:
    """The #KEYWORD lines: value, unit and line number of each keyword, first one kept."""

    def __init__(self):
        self.entries: dict[str, tuple[str, str, int]] = {}

    def add(self, key: str, unit: str, value: str, number: int, warnings: list[str]) -> None:
        if key in self.entries:
            old_value, old_unit, old_number = self.entries[key]
            if key in ("TITLE", "COMMENT"):  # the standard lets these run over several lines
                self.entries[key] = (f"{old_value} {value}".strip(), old_unit, old_number)
            elif value != old_value:
                warnings.append(f"#{key} is given twice: line {old_number} says {old_value!r}, "
                                f"line {number} says {value!r}; the first was kept.")
            return
        self.entries[key] = (value, unit, number)

    def text(self, key: str) -> str:
        return self.entries[key][0] if key in self.entries else ""

    def number(self, key: str) -> float | None:
        """The keyword's value as a number (None when absent); ParseError if it is not one."""
        if key not in self.entries:
            return None
        value, _, line = self.entries[key]
        try:
            number = float(value.replace(" ", ""))
        except ValueError:
            raise ParseError(f"#{key} must be a number, not {value[:40]!r}.",
                             line=line) from None
        if not np.isfinite(number):
            raise ParseError(f"#{key} must be a finite number, not {value[:40]!r}.", line=line)
        return number


def _keyword(line: str) -> tuple[str, str, str] | None:
    """(KEYWORD, unit, value) of a '#KEYWORD-unit : value' line; None for any other line."""
    if not line.startswith("#"):
        return None
    field, _, value = line[1:].partition(":")
    name, _, unit = field.partition("-")
    name = name.strip()
    if not _KEY_NAME.fullmatch(name):
        return None
    return name.upper(), unit.strip(), value.strip().strip('"').strip()


def _read_header(lines: list[str], warnings: list[str]) -> tuple[_Header, int]:
    """The header and the index of the first line after #SPECTRUM."""
    header = _Header()
    for index, raw in enumerate(lines):
        line = raw.strip()
        if not line:
            continue
        keyword = _keyword(line)
        if keyword is None:
            raise ParseError(f"Line {index + 1} is not a '#KEYWORD : value' line and comes "
                             f"before #SPECTRUM: {line[:40]!r}.", line=index + 1)
        key, unit, value = keyword
        if key == "SPECTRUM":
            return header, index + 1
        header.add(key, unit, value, index + 1, warnings)
    raise ParseError("No #SPECTRUM line: the file has a header but no data.", line=len(lines))


def _read_values(lines: list[str], start: int, warnings: list[str]
                 ) -> tuple[np.ndarray, list[int], list[int]]:
    """All numbers from #SPECTRUM to #ENDOFDATA, with the count and line of each data line."""
    tokens: list[str] = []
    counts: list[int] = []
    numbers: list[int] = []
    ended = False
    for index in range(start, len(lines)):
        line = lines[index].replace('"', "").strip()
        if not line:
            continue
        if line.startswith("#"):
            keyword = _keyword(line)
            if keyword is not None and keyword[0] == "ENDOFDATA":
                ended = True
                break
            warnings.append(f"Line {index + 1} ({line[:30]!r}) inside the data was ignored.")
            continue
        cells = [cell for cell in _SEPARATORS.split(line) if cell]
        tokens.extend(cells)
        counts.append(len(cells))
        numbers.append(index + 1)
        if len(tokens) > MAX_POINTS:
            raise ParseError(f"The file holds more than {MAX_POINTS} values.", line=index + 1)
    if not ended:
        warnings.append("No #ENDOFDATA line: the file may be truncated.")
    try:
        values = np.array(tokens, dtype=np.float64)
    except ValueError:
        values = None
    if values is None or not np.isfinite(values).all():
        _raise_bad_value(tokens, counts, numbers)
    return values, counts, numbers


def _raise_bad_value(tokens: list[str], counts: list[int], numbers: list[int]) -> None:
    position = 0
    for count, number in zip(counts, numbers, strict=True):
        for column, token in enumerate(tokens[position:position + count], 1):
            try:
                ok = np.isfinite(float(token))
            except ValueError:
                ok = False
            if not ok:
                raise ParseError(f"Line {number}, value {column}: {token[:40]!r} is not a "
                                 "number.", line=number)
        position += count
    raise ParseError("The data cannot be read as numbers.")  # pragma: no cover


def _unit(text: str) -> str:
    """The unit in 'Energy Loss (eV)' or 'keV'."""
    match = re.search(r"[(\[]([^()\[\]]+)[)\]]\s*$", text)
    return match[1] if match else text


def _technique(header: _Header, warnings: list[str]) -> str:
    signal = header.text("SIGNALTYPE").upper()
    if signal in _XRAY_SIGNALS:
        return "XRF"
    if not signal:
        warnings.append("The file does not state #SIGNALTYPE; it was taken as an X-ray "
                        "(XRF/EDS) spectrum.")
        return "XRF"
    kind = _OTHER_SIGNALS.get(signal, "a signal type this laboratory does not know")
    warnings.append(f"#SIGNALTYPE {signal[:20]} ({kind}) is not an X-ray emission spectrum; "
                    "the technique is set to 'other' for the user to choose.")
    return "other"


def _metadata(header: _Header) -> dict[str, str]:
    """Every keyword but the title: known ones under the LIMS names, others as written."""
    metadata: dict[str, str] = {}
    acquired = iso_datetime(header.text("DATE"), header.text("TIME"))
    if acquired:
        metadata["acquired_at"] = acquired
    for key, (value, unit, _) in header.entries.items():
        if not value or key == "TITLE":
            continue
        name, standard_unit = _METADATA.get(key.lstrip("#"), (key.lstrip("#"), ""))
        if unit and unit.lower() != standard_unit.lower():
            name = f"{key.lstrip('#')} ({unit})"
        metadata.setdefault(name, value)
    return metadata


def parse(data: bytes, filename: str = "") -> list[Spectrum]:
    """The one spectrum of an EMSA/MSA file."""
    if not data.strip():
        raise ParseError("The file is empty.", offset=0)
    lines, warnings = text_lines(data)
    header, start = _read_header(lines, warnings)
    for required in ("FORMAT", "VERSION"):
        if required not in header.entries:
            raise ParseError(f"Not an EMSA/MSA file: the #{required} keyword is missing.",
                             line=1)
    datatype = header.text("DATATYPE").upper()
    if datatype not in ("XY", "Y"):
        where = header.entries.get("DATATYPE", ("", "", 1))[2]
        raise ParseError(f"#DATATYPE must be XY or Y, not {header.text('DATATYPE')[:20]!r}.",
                         line=where)
    values, counts, numbers = _read_values(lines, start, warnings)
    if datatype == "XY":
        odd = next((n for c, n in zip(counts, numbers, strict=True) if c % 2), None)
        if odd is not None:
            raise ParseError(f"Line {odd} holds an odd number of values; #DATATYPE XY needs "
                             "x, y pairs.", line=odd)
        x, y = values[0::2], values[1::2]
    else:
        y = values
        x = _channel_axis(header, y.size, warnings)
    if y.size < 2:
        raise ParseError(f"The data holds {y.size} points; a spectrum needs at least 2.",
                         line=numbers[0] if numbers else start)
    declared = header.number("NPOINTS")
    if declared is not None and declared != y.size:
        warnings.append(f"#NPOINTS declares {declared:g} points (line "
                        f"{header.entries['NPOINTS'][2]}) but the data holds {y.size}; all "
                        f"{y.size} were kept.")
    x_text = header.text("XUNITS")
    if not x_text:
        warnings.append("The file has no #XUNITS.")
    y_text = header.text("YUNITS") or header.text("YLABEL")
    technique = _technique(header, warnings)
    return [Spectrum(x=x, y=y, x_unit=normalise_x_unit(_unit(x_text)),
                     y_unit=normalise_y_unit(_unit(y_text)), technique=technique,
                     title=header.text("TITLE") or PurePath(filename or "").stem,
                     metadata=_metadata(header), warnings=warnings)]


def _channel_axis(header: _Header, size: int, warnings: list[str]) -> np.ndarray:
    """X of Y-only data: #OFFSET + #XPERCHAN * channel."""
    step = header.number("XPERCHAN")
    if step is None:
        raise ParseError("#DATATYPE Y needs #XPERCHAN to place the channels on the X axis.",
                         line=header.entries["DATATYPE"][2])
    offset = header.number("OFFSET")
    if offset is None:
        warnings.append("The file has no #OFFSET; the first channel was placed at 0.")
        offset = 0.0
    with np.errstate(all="ignore"):
        x = offset + step * np.arange(size)
    if not np.isfinite(x).all():
        raise ParseError("#OFFSET and #XPERCHAN give X values beyond float64.",
                         line=header.entries["XPERCHAN"][2])
    return x
