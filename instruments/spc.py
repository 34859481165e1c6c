"""Galactic/Thermo GRAMS SPC: new format (LSB 0x4B, MSB 0x4C) and old format (0x4D).

Layout per docs/FORMATS.md §2. A file holds one or more subfiles (TMULTI); X is evenly
spaced from the header, one float32 array for all subfiles (TXVALS), or one per subfile
(TXYXYS). Y is float32 when the exponent is 0x80, else int32 (int16 with TSPREC) scaled by
2**(exponent - 32) (or - 16). Every subfile becomes one Spectrum.
"""

from __future__ import annotations

import re
import struct
from collections import namedtuple
from dataclasses import dataclass
from datetime import datetime

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

NAME = "spc"
LABEL = "Galactic SPC"
EXTENSIONS = (".spc",)
TECHNIQUES = ("IR", "Raman", "UV-Vis", "MS", "chromatogram", "NMR", "other")

LSB, MSB, OLD = 0x4B, 0x4C, 0x4D
TSPREC, TMULTI, TALABS, TXYXYS, TXVALS = 0x01, 0x04, 0x20, 0x40, 0x80
FLOAT_EXPONENT = -128  # 0x80: Y values are IEEE float32
MAX_SUBFILES = 100_000  # beyond this a file is refused rather than tying up the server

_NewHeader = namedtuple("_NewHeader", "ftflgs fversn fexper fexp fnpts ffirst flast fnsub fxtype "
                        "fytype fztype fpost fdate fres fsource fpeakpt fspare fcmnt fcatxt "
                        "flogoff fmods fprocs flevel fsampin ffactor fmethod fzinc fwplanes "
                        "fwinc fwtype freserv")
_NEW_HEADER = "BBBbIddIBBBBI9s9sH32s130s30sIIBBHf48sfIfB187s"  # 512 bytes
_OldHeader = namedtuple("_OldHeader", "oftflgs oversn oexp onpts ofirst olast oxtype oytype oyear "
                        "omonth oday ohour ominute ores opeakpt onscans ospare ocmnt ocatxt "
                        "osubh1")
_OLD_HEADER = struct.Struct("<BBhfffBBHBBBB8sHH28s130s30s32s")  # 256 bytes
_SubHeader = namedtuple("_SubHeader", "subflgs subexp subindx subtime subnext subnois subnpts "
                        "subscan subwlevel subresv")
_SUB_HEADERS = {order: struct.Struct(order + "BbHfffIIf4s") for order in "<>"}  # 32 bytes
_DTYPES = {(order, code): np.dtype(order + code) for order in "<>" for code in ("f4", "i4", "i2")}
_LOG_HEADER = "IIIII44s"  # logsizd logsizm logtxto logbins logdsks spare: 64 bytes

_LINES = re.compile(r"[\r\n]+")
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_IMPOSTORS = {
    0x08: "This is an old Shimadzu .SPC file (version byte 0x08), not a Galactic SPC; export "
          "it as CSV or JCAMP-DX from the Shimadzu software.",
    0x33: "This looks like an EDAX/AMETEK EDS .spc file (version byte 0x33), not a Galactic "
          "SPC; export the spectrum as EMSA/MSA from the EDAX software.",
    0x26: "This looks like a Bruker EPR .spc file (version byte 0x26), not a Galactic SPC; "
          "export it as ASCII or JCAMP-DX from the Bruker EPR software.",
    0x28: "This looks like an FEI TEM .spc file (version byte 0x28), not a Galactic SPC; "
          "export the spectrum as EMSA/MSA from the microscope software.",
}
_OLE2_MESSAGE = ("This is a Shimadzu OLE2 compound file, not a Galactic SPC; export as SPC/CSV "
                 "from UVProbe.")

# Unit codes (fxtype/fztype, fytype), normalised once at import.
_X_UNITS = {0: "arbitrary", 1: "cm-1", 2: "um", 3: "nm", 4: "s", 5: "min", 6: "Hz", 7: "kHz",
            8: "MHz", 9: "m/z", 10: "ppm", 11: "days", 12: "years", 13: "cm-1", 14: "eV",
            15: "arbitrary", 16: "diode number", 17: "channel", 18: "degrees", 19: "degF",
            20: "degC", 21: "K", 22: "points", 23: "ms", 24: "us", 25: "ns", 26: "GHz",
            27: "cm", 28: "m", 29: "mm", 30: "hours", 255: "points"}
_X_UNITS = {code: normalise_x_unit(text) for code, text in _X_UNITS.items()}
RAMAN_SHIFT = 13
_Y_UNITS = {0: "intensity", 1: "interferogram", 2: "absorbance", 3: "Kubelka-Munk",
            4: "counts", 5: "V", 6: "degrees", 7: "mA", 8: "mm", 9: "mV", 10: "log(1/R)",
            11: "%", 12: "intensity", 13: "relative intensity", 14: "energy", 16: "dB",
            19: "degF", 20: "degC", 21: "K", 22: "refractive index",
            23: "extinction coefficient", 24: "real", 25: "imaginary", 26: "complex",
            128: "%T", 129: "%R", 130: "single beam", 131: "emission", 255: "intensity"}
_Y_UNITS = {code: normalise_y_unit(text) for code, text in _Y_UNITS.items()}
# fexper codes; 8 (X-ray diffraction), 12 (fluorescence) and 13 (atomic) have no technique here.
_EXPERIMENTS = {1: "chromatogram", 2: "chromatogram", 3: "chromatogram", 4: "IR", 5: "IR",
                7: "UV-Vis", 8: "other", 9: "MS", 10: "NMR", 11: "Raman", 12: "other",
                13: "other", 14: "UV-Vis"}
_TECHNIQUE_BY_X_UNIT = {"cm-1": "IR", "um": "IR", "nm": "UV-Vis", "m/z": "MS", "ppm": "NMR"}
# Log-block keys (case-insensitive) that carry a standard metadata field.
_LOG_FIELDS = {"instrument": "instrument", "model": "instrument", "spectrometer": "instrument",
               "serial": "serial", "serial number": "serial", "serialno": "serial",
               "s/n": "serial", "operator": "operator", "user": "operator",
               "analyst": "operator", "scans": "scans", "sample": "sample_name",
               "sample name": "sample_name", "samplename": "sample_name",
               "laser (nm)": "laser_wavelength_nm", "laser wavelength": "laser_wavelength_nm",
               "resolution": "resolution"}


@dataclass
class _File:
    """What every subfile of one file shares."""

    technique: str
    kind: str
    x_unit: str
    y_unit: str
    z_unit: str
    title: str
    metadata: dict[str, str]
    warnings: list[str]


def detect(data: bytes, filename: str = "") -> Detection | None:
    """Version byte 0x4B/0x4C/0x4D and a header whose data fits the file; impostors by name."""
    named = filename.lower().endswith(".spc")
    if data.startswith(_OLE2_MAGIC) or (len(data) > 1 and data[1] in _IMPOSTORS):
        return Detection(0.5, "a .spc file that is not a Galactic SPC (refused with the "
                              "reason)") if named else None
    if len(data) > 1 and data[1] in (LSB, MSB, OLD):
        problem = _header_problem(data)
        if problem is None:
            return Detection(1.0 if named else 0.95,
                             f"SPC version byte 0x{data[1]:02X} and a consistent header")
        if named:
            return Detection(0.5, f"SPC version byte 0x{data[1]:02X}, but {problem}")
        return None
    return Detection(0.2, "file name ends in .spc") if named else None


def parse(data: bytes, filename: str = "") -> list[Spectrum]:
    """Every subfile of a Galactic SPC file, one Spectrum each."""
    if data.startswith(_OLE2_MAGIC):
        raise ParseError(_OLE2_MESSAGE, offset=0)
    if len(data) < 2:
        raise ParseError("The file is too short to be a Galactic SPC file (no version byte).",
                         offset=len(data))
    version = data[1]
    if version in _IMPOSTORS:
        raise ParseError(_IMPOSTORS[version], offset=1)
    # A signalling NaN among the float32 values would raise FE_INVALID when widened: keep it.
    with np.errstate(invalid="ignore"):
        if version in (LSB, MSB):
            return _parse_new(data, "<" if version == LSB else ">")
        if version == OLD:
            return _parse_old(data)
    raise ParseError(f"This is not a Galactic SPC file: the version byte is 0x{version:02X}, "
                     "expected 0x4B, 0x4C or 0x4D.", offset=1)


def _need(data: bytes, offset: int, size: int, what: str, block: str = "") -> None:
    """Refuse a truncated file, saying what was expected where."""
    if offset + size > len(data):
        raise ParseError(f"The SPC file is truncated: expected {what} ({size} bytes) at "
                         f"byte {offset}, but the file ends at byte {len(data)}.",
                         offset=offset, block=block or None)


def _y_item_size(flags: int, exponent: int) -> int:
    return 2 if flags & TSPREC and exponent != FLOAT_EXPONENT else 4


def _floats(data: bytes, order: str, count: int, offset: int) -> np.ndarray:
    return np.frombuffer(data, _DTYPES[order, "f4"], count, offset).astype(np.float64)


def _y_values(data: bytes, offset: int, count: int, exponent: int, flags: int, order: str,
              *, swapped_words: bool = False) -> np.ndarray:
    """Y as float64: float32 as stored, or scaled integers (old format: 16-bit halves swapped)."""
    if exponent == FLOAT_EXPONENT:
        return _floats(data, order, count, offset)
    if flags & TSPREC:
        return np.frombuffer(data, _DTYPES[order, "i2"], count, offset) * 2.0 ** (exponent - 16)
    if swapped_words:
        words = np.frombuffer(data, "<u2", 2 * count, offset).reshape(count, 2)[:, ::-1]
        raw = np.ascontiguousarray(words).view("<i4").ravel()
    else:
        raw = np.frombuffer(data, _DTYPES[order, "i4"], count, offset)
    return raw * 2.0 ** (exponent - 32)


def _even_x(first: float, last: float, count: int, offset: int) -> np.ndarray:
    if not (np.isfinite(first) and np.isfinite(last) and abs(first) < 1e300
            and abs(last) < 1e300):
        raise ParseError(f"The header's first and last X ({first}, {last}) are not usable "
                         "numbers.", offset=offset)
    return np.linspace(first, last, count)


def _text(raw: bytes) -> str:
    return decode_text(raw.split(b"\0", 1)[0])[0].strip()


def _labels(flags: int, catxt: bytes) -> list[str]:
    """The X, Y and Z axis labels of fcatxt (used when TALABS is set)."""
    if not flags & TALABS:
        return ["", "", ""]
    parts = [decode_text(p)[0].strip() for p in catxt.split(b"\0")]
    return (parts + ["", "", ""])[:3]


def _unit(code: int, label: str, codes: dict[int, str], normalise, axis: str,
          warnings: list[str]) -> str:
    """The unit from the axis label when it names one, else from the code."""
    if label and (named := normalise(label)) != label.strip():
        return named
    if code not in codes:
        warnings.append(f"Unknown {axis} unit code {code}; the unit is reported as arbitrary.")
        return label or "arbitrary"
    unit = codes[code]
    return label if unit == "arbitrary" and label else unit


def _technique(experiment: int | None, x_code: int, x_unit: str) -> str:
    # FT-Raman files carry fexper 4 (FT-IR, FT-NIR or FT-Raman): the Raman-shift axis decides.
    if x_code == RAMAN_SHIFT:
        return "Raman"
    if experiment in _EXPERIMENTS:
        return _EXPERIMENTS[experiment]
    return _TECHNIQUE_BY_X_UNIT.get(x_unit, "other")


def _date(year: int, month: int, day: int, hour: int, minute: int,
          warnings: list[str]) -> str | None:
    """ISO local date-time of collection (SPC stores no time zone), or None."""
    if not any((year, month, day, hour, minute)):
        return None
    try:
        if year < 1900:
            raise ValueError
        return datetime(year, month, day, hour, minute).isoformat(timespec="minutes")
    except ValueError:
        warnings.append(f"The header date (year {year}, month {month}, day {day}, "
                        f"{hour:02d}:{minute:02d}) is not a valid date; no acquisition time "
                        "was taken from it.")
        return None


def _log_entries(text: str) -> dict[str, str]:
    """key=value lines of the log text, split on the first '=' only; SECTION/key in [SECTION]."""
    entries: dict[str, str] = {}
    section = ""
    for line in _LINES.split(text):
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            name = stripped[1:-1].strip()
            section = "" if name.upper().startswith("END") else name
            continue
        key, equals, value = stripped.partition("=")
        key = key.strip()
        if equals and key:
            entries[f"{section}/{key}" if section else key] = value.strip()
    return entries


def _read_log(data: bytes, order: str, offset: int, warnings: list[str]) -> dict[str, str]:
    """The log block's key=value text; a damaged log is a warning, the spectra stand."""
    if offset + 64 > len(data):
        warnings.append(f"The log block at byte {offset} lies beyond the end of the file "
                        f"({len(data)} bytes); its text was not read.")
        return {}
    size, _, text_offset, _, _, _ = struct.unpack_from(order + _LOG_HEADER, data, offset)
    start, end = offset + text_offset, offset + size
    if end > len(data) or start > end:
        warnings.append(f"The log block at byte {offset} declares {size} bytes but the file "
                        f"ends at byte {len(data)}; its text was read up to the end of the "
                        "file.")
        end = len(data)
    return _log_entries(decode_text(data[start:end].split(b"\0", 1)[0])[0])


def _metadata(comment: str, source: str, method: str, resolution: str, labels: list[str],
              log: dict[str, str], acquired_at: str | None) -> dict[str, str]:
    metadata = dict(log)
    standard = {"comments": comment, "instrument": source, "method": method,
                "resolution": resolution, "acquired_at": acquired_at or "",
                "x_label": labels[0], "y_label": labels[1], "z_label": labels[2]}
    metadata.update({key: value for key, value in standard.items() if value})
    for key, value in log.items():
        name = _LOG_FIELDS.get(key.rpartition("/")[2].lower())
        if name and value and name not in metadata:
            metadata[name] = value
    return metadata


def _spectrum(file: _File, x: np.ndarray, y: np.ndarray, sub: _SubHeader, index: int,
              count: int, warnings: list[str]) -> Spectrum:
    metadata = dict(file.metadata)
    if sub.subscan:
        metadata["scans"] = str(sub.subscan)
    if count > 1:
        z = str(np.float32(sub.subtime))
        metadata.update(subfile_index=str(index), z=z, z_unit=file.z_unit)
        if file.technique == "MS" and file.z_unit in ("min", "s"):
            metadata["retention_time"] = f"{z} {file.z_unit}"
    return Spectrum(x=x, y=y, x_unit=file.x_unit, y_unit=file.y_unit, technique=file.technique,
                    title=file.title, kind=file.kind, metadata=metadata,
                    warnings=file.warnings + warnings,
                    block=f"subfile {index + 1} of {count}" if count > 1 else "")


def _check_total(total: int, block: str) -> None:
    if total > MAX_POINTS:
        raise ParseError(f"The file holds more than the {MAX_POINTS} points allowed.",
                         block=block)


def _parse_new(data: bytes, order: str) -> list[Spectrum]:
    """New format, little- or big-endian."""
    _need(data, 0, 512, "the main header")
    head = _NewHeader._make(struct.unpack_from(order + _NEW_HEADER, data))
    flags, warnings = head.ftflgs, []
    multi, xyxy = bool(flags & TMULTI), bool(flags & TXYXYS)
    count = head.fnsub or 1
    if head.fnsub == 0 and multi:
        warnings.append("The multifile header declares 0 subfiles; one was read.")
    if count > MAX_SUBFILES:
        raise ParseError(f"The file declares {count} subfiles, more than the {MAX_SUBFILES} "
                         "allowed.", offset=20)
    _need(data, 512, 32 * count, f"{count} subfile headers")
    labels = _labels(flags, head.fcatxt)
    x_unit = _unit(head.fxtype, labels[0], _X_UNITS, normalise_x_unit, "X", warnings)
    y_unit = _unit(head.fytype, labels[1], _Y_UNITS, normalise_y_unit, "Y", warnings)
    z_unit = _unit(head.fztype, labels[2], _X_UNITS, normalise_x_unit, "Z",
                   warnings if multi else [])
    technique = _technique(head.fexper, head.fxtype, x_unit)
    kind = "peaks" if technique == "MS" and flags & TXVALS else "continuous"
    date = head.fdate
    acquired_at = _date(date >> 20, (date >> 16) & 0x0F, (date >> 11) & 0x1F,
                        (date >> 6) & 0x1F, date & 0x3F, warnings)
    log = _read_log(data, order, head.flogoff, warnings) if head.flogoff else {}
    comment = _text(head.fcmnt)
    file = _File(technique, kind, x_unit, y_unit, z_unit, comment,
                 _metadata(comment, _text(head.fsource), _text(head.fmethod),
                           _text(head.fres), labels, log, acquired_at), warnings)

    offset, shared_x = 512, None
    if not xyxy:
        if head.fnpts == 0:
            raise ParseError("The SPC header declares 0 points.", offset=4)
        _check_total(head.fnpts * count, "")
        if flags & TXVALS:
            _need(data, offset, 4 * head.fnpts, f"the {head.fnpts} X values")
            shared_x = _floats(data, order, head.fnpts, offset)
            offset += 4 * head.fnpts
    spectra, total = [], 0
    for index in range(count):
        block = f"subfile {index + 1} of {count}" if count > 1 else ""
        _need(data, offset, 32, "the subfile header", block)
        sub = _SubHeader._make(_SUB_HEADERS[order].unpack_from(data, offset))
        offset += 32
        exponent = sub.subexp if multi else head.fexp
        if head.fexp == FLOAT_EXPONENT:
            exponent = FLOAT_EXPONENT
        sub_warnings = []
        if xyxy:
            points = sub.subnpts
            total += points
            _check_total(total, block)
            _need(data, offset, 4 * points, f"the {points} X values", block)
            x = _floats(data, order, points, offset)
            offset += 4 * points
            if points == 0:
                sub_warnings.append(f"Subfile {index + 1} holds no points.")
        else:
            points, x = head.fnpts, shared_x
            if sub.subnpts not in (0, points):
                sub_warnings.append(f"Subfile {index + 1} declares {sub.subnpts} points but the "
                                    f"main header declares {points}; {points} were read.")
        size = points * _y_item_size(flags, exponent)
        _need(data, offset, size, f"the {points} Y values", block)
        y = _y_values(data, offset, points, exponent, flags, order)
        offset += size
        if x is None:  # evenly spaced: made once the data has shown the count is real
            x = shared_x = _even_x(head.ffirst, head.flast, points, 8)
        spectra.append(_spectrum(file, x, y, sub, index, count, sub_warnings))
    return spectra


def _old_points(head: _OldHeader) -> int | None:
    """The old format's point count (stored as a float32), or None when it is not a count."""
    declared = head.onpts
    if np.isfinite(declared) and declared == int(declared) and declared >= 1:
        return int(declared)
    return None


def _parse_old(data: bytes) -> list[Spectrum]:
    """Old format (0x4D).

    A 256-byte header holds the first subfile's header; there is no subfile count, so a
    multifile runs to the end of the file.
    """
    _need(data, 0, _OLD_HEADER.size, "the old-format main header")
    head = _OldHeader._make(_OLD_HEADER.unpack_from(data))
    flags, warnings = head.oftflgs, []
    points, multi = _old_points(head), bool(flags & TMULTI)
    if points is None:
        raise ParseError(f"The old-format header declares {head.onpts} points.", offset=4)
    if not -128 <= head.oexp <= 127:
        raise ParseError(f"The old-format Y exponent {head.oexp} is out of range.", offset=2)
    labels = _labels(flags, head.ocatxt)
    x_unit = _unit(head.oxtype, labels[0], _X_UNITS, normalise_x_unit, "X", warnings)
    y_unit = _unit(head.oytype, labels[1], _Y_UNITS, normalise_y_unit, "Y", warnings)
    z_unit = _unit(head.oyear >> 12, labels[2], _X_UNITS, normalise_x_unit, "Z",
                   warnings if multi else [])
    technique = _technique(None, head.oxtype, x_unit)
    acquired_at = _date(head.oyear & 0x0FFF, head.omonth, head.oday, head.ohour, head.ominute,
                        warnings)
    comment = _text(head.ocmnt)
    file = _File(technique, "continuous", x_unit, y_unit, z_unit, comment,
                 _metadata(comment, "", "", _text(head.ores), labels, {}, acquired_at),
                 warnings)
    if head.onscans:
        file.metadata["scans"] = str(head.onscans)
    size = points * _y_item_size(flags, head.oexp)
    _need(data, _OLD_HEADER.size, size, f"the {points} Y values")
    x = _even_x(head.ofirst, head.olast, points, 8)
    subs = [(_SubHeader._make(_SUB_HEADERS["<"].unpack(head.osubh1)), 256)]
    offset = 256 + size
    while multi and offset + 32 + size <= len(data):
        subs.append((_SubHeader._make(_SUB_HEADERS["<"].unpack_from(data, offset)),
                     offset + 32))
        offset += 32 + size
        if len(subs) > MAX_SUBFILES:
            raise ParseError(f"The file holds more than the {MAX_SUBFILES} subfiles allowed.",
                             offset=offset)
        _check_total(points * len(subs), f"subfile {len(subs)}")
    if multi and offset < len(data):
        warnings.append(f"{len(data) - offset} bytes after the last whole subfile (byte "
                        f"{offset}) were ignored.")
    spectra = []
    for index, (sub, start) in enumerate(subs):
        exponent = sub.subexp if multi else head.oexp
        y = _y_values(data, start, points, exponent, flags, "<", swapped_words=True)
        spectra.append(_spectrum(file, x, y, sub, index, len(subs), []))
    return spectra


def _header_problem(data: bytes) -> str | None:
    """Why the header cannot describe this file, or None when its first subfile fits."""
    if data[1] == OLD:
        if len(data) < _OLD_HEADER.size:
            return "the file is shorter than the old-format header"
        head = _OldHeader._make(_OLD_HEADER.unpack_from(data))
        points = _old_points(head)
        if points is None:
            return "the declared point count is not a whole number"
        need = 256 + points * _y_item_size(head.oftflgs, head.oexp)
        codes = (head.oxtype, head.oytype)
    else:
        if len(data) < 544:
            return "the file is shorter than its headers"
        order = "<" if data[1] == LSB else ">"
        head = _NewHeader._make(struct.unpack_from(order + _NEW_HEADER, data))
        if head.ftflgs & TXYXYS:
            points = struct.unpack_from(order + "I", data, 528)[0]
            need = 544 + 4 * points
        else:
            points = head.fnpts
            need = 544 + (4 * points if head.ftflgs & TXVALS else 0)
            if points == 0:
                return "the header declares 0 points"
        need += points * _y_item_size(head.ftflgs, head.fexp)
        codes = (head.fxtype, head.fytype)
    if codes[0] not in _X_UNITS or codes[1] not in _Y_UNITS:
        return f"the unit codes {codes} are unknown"
    if need > len(data):
        return f"the first subfile needs {need} bytes and the file has {len(data)}"
    return None
