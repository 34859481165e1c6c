"""Bruker OPUS binary files (FTIR, FT-Raman), decoded with brukeropus.

Every data block that has its data-parameter block becomes one spectrum: absorbance (AB) or
transmittance (TR) first, then the other results, then single channels (ScSm, ScRf),
interferograms (IgSm, IgRf) and phases (PhSm, PhRf). The number of points is the block's NPT,
never the block length (blocks are often padded).

brukeropus decodes the header, directory, parameter and data blocks. Before it runs, the
directory and every parameter block are walked here once, because a damaged file can otherwise
make the library loop forever (a negative parameter size) or copy the file once per directory
entry; report and 3-D series blocks, which the spectra never need, are not parsed at all.
"""

from __future__ import annotations

import re
import struct
from datetime import datetime, timedelta, timezone
from pathlib import PurePath

import numpy as np
from brukeropus.file.block import FileBlock, pair_data_and_status_blocks
from brukeropus.file.parse import get_block_type, parse_header

from instruments.core import Detection, ParseError, Spectrum

NAME = "opus"
LABEL = "Bruker OPUS"
EXTENSIONS = (".0", ".1", ".2", ".3", ".4", ".5", ".6", ".7", ".8", ".9")
TECHNIQUES = ("IR", "Raman")

MAGIC = b"\x0a\x0a\xfe\xfe"
_HEADER_SIZE = 24
_ENTRY_SIZE = 12
_NUMBERED_NAME = re.compile(r"\.\d+$")

# Block type code 3 (what the data is) -> OPUS's short block name and the Y unit.
_RESULT_BLOCKS = {
    4: ("AB", "absorbance"), 5: ("TR", "transmittance"), 6: ("KM", "Kubelka-Munk"),
    7: ("TRC", "intensity"), 8: ("GCIG", "intensity"), 9: ("GCSC", "single beam"),
    10: ("RAM", "intensity"), 11: ("EMI", "intensity"), 12: ("REFL", "reflectance"),
    14: ("PW", "intensity"), 15: ("LRF", "log reflectance"), 16: ("ATR", "absorbance"),
    17: ("PAS", "intensity"),
}
# Raw measurement blocks, named Sc/Ig/Ph + Sm (sample) or Rf (reference).
_RAW_BLOCKS = {1: ("Sc", "single beam"), 2: ("Ig", "arbitrary"), 3: ("Ph", "rad")}
_CHANNEL = {1: "Sm", 2: "Rf"}
_X_UNITS = {"WN": "cm-1", "MI": "um", "LGW": "ln(cm-1)", "MIN": "min", "SEC": "s",
            "PNT": "points", "NM": "nm"}
_RAMAN_CODE = 10
# File parameters copied into metadata (METADATA_KEYS names where one fits).
_TEXT_PARAMS = {"ins": "instrument", "srn": "serial", "cnm": "operator", "snm": "sample_name",
                "sfm": "sample_form", "exp": "experiment", "bms": "beamsplitter",
                "src": "source", "dtc": "detector", "apt": "aperture"}


def detect(data: bytes, filename: str = "") -> Detection | None:
    """OPUS by its magic 0A 0A FE FE (and a directory inside the file); else by a .N name."""
    if data[:4] == MAGIC:
        if len(data) >= _HEADER_SIZE:
            directory = struct.unpack_from("<i", data, 12)[0]
            if _HEADER_SIZE <= directory < len(data):
                return Detection(1.0, f"OPUS magic 0A 0A FE FE and a directory at byte "
                                      f"{directory}")
        return Detection(0.9, "OPUS magic 0A 0A FE FE")
    if _NUMBERED_NAME.search(filename or ""):
        return Detection(0.2, "the file name ends in a number, as OPUS files do")
    return None


def parse(data: bytes, filename: str = "") -> list[Spectrum]:
    """Every OPUS data block as a spectrum, AB/TR first, with the file's parameters."""
    if data[:4] != MAGIC:
        raise ParseError("This is not a Bruker OPUS file: it does not start with the OPUS "
                         "magic bytes 0A 0A FE FE.", offset=0)
    warnings: list[str] = []
    blocks = _read_blocks(data, warnings)
    try:
        pairs = pair_data_and_status_blocks(blocks)
    except Exception as error:  # noqa: BLE001 - a library failure must become a ParseError
        raise ParseError(f"The OPUS data blocks cannot be matched to their parameter blocks "
                         f"({type(error).__name__}: {error}).") from error
    paired = {id(block) for pair in pairs for block in pair}
    for block in blocks:
        if block.is_data() and id(block) not in paired:
            warnings.append(f"The data block '{block.get_label()}' at byte {block.start} has no "
                            "data-parameter block (NPT, FXV, LXV) and was not read.")
    sample_params = _merged_params(b for b in blocks if b.is_sm_param())
    reference_params = _merged_params(b for b in blocks if b.is_rf_param())
    raman = any(data_block.type[3] % 32 == _RAMAN_CODE for data_block, _ in pairs)
    spectra = []
    for data_block, status_block in pairs:
        try:
            with np.errstate(all="ignore"):  # NaN, inf and overflow in a block are its data
                spectra.append(_spectrum(data_block, status_block, sample_params,
                                         reference_params, raman, filename))
        except ParseError as error:
            warnings.append(str(error))
    if not spectra:
        detail = f" {' '.join(warnings)}" if warnings else ""
        raise ParseError(f"The OPUS file holds no readable data block.{detail}")
    spectra.sort(key=_preference)
    _name_duplicates(spectra)
    spectra[0].warnings.extend(warnings)
    return spectra


def _read_blocks(data: bytes, warnings: list[str]) -> list[FileBlock]:
    """Walk the directory and parse the data, data-parameter and parameter blocks."""
    if len(data) < _HEADER_SIZE:
        raise ParseError("The OPUS header is truncated: it needs 24 bytes.", offset=len(data))
    _version, start, max_blocks, _count = parse_header(data)
    if not _HEADER_SIZE <= start < len(data) or max_blocks <= 0:
        raise ParseError(f"The OPUS header points to a directory at byte {start} with "
                         f"{max_blocks} entries, outside the file.", offset=12)
    entries = min(max_blocks, (len(data) - start) // _ENTRY_SIZE)
    blocks, seen, copied = [], set(), 0
    for number in range(entries):
        type_code, words, offset = struct.unpack_from("<3i", data, start + number * _ENTRY_SIZE)
        if offset <= 0:
            break
        size = words * 4
        if offset in seen:
            continue
        seen.add(offset)
        where = f"directory entry {number + 1}"
        if size < 0 or offset + size > len(data):
            warnings.append(f"The OPUS {where} points past the end of the file (byte "
                            f"{offset}, {size} bytes); that block was not read.")
            continue
        block = FileBlock(filebytes=b"", block_type=get_block_type(type_code & 0xFFFFFFFF),
                          size=size, start=offset)
        if not _wanted(block, warnings):
            continue
        copied += size
        if copied > 2 * len(data):
            raise ParseError("The OPUS directory lists overlapping blocks that add up to more "
                             "than the file twice over.", offset=start + number * _ENTRY_SIZE)
        block.bytes = data[offset:offset + size]
        if block.is_param() and not _params_well_formed(block.bytes):
            warnings.append(f"The OPUS parameter block '{block.get_label()}' at byte {offset} "
                            "is damaged and was not read.")
            continue
        block.parse()
        if block.parse_error:
            warnings.append(f"The OPUS block '{block.get_label()}' at byte {offset} could not "
                            f"be decoded ({block.parse_error}).")
            continue
        if block.is_data_status() and not _status_complete(block.data):
            warnings.append(f"The OPUS data-parameter block '{block.get_label()}' at byte "
                            f"{offset} lacks NPT, FXV or LXV and was not used.")
            continue
        blocks.append(block)
    return blocks


def _wanted(block: FileBlock, warnings: list[str]) -> bool:
    """Data, data-parameter and parameter blocks are read; 3-D series are reported, not read."""
    if block.is_data_series():
        warnings.append(f"The OPUS file holds a 3-D data series '{block.get_label()}' at byte "
                        f"{block.start}; series are not read.")
        return False
    return block.is_data() or block.is_param()


def _params_well_formed(raw: bytes) -> bool:
    """True when a parameter block's entries chain to END or its end, always moving forward."""
    position = 0
    while position < len(raw):
        if raw[position:position + 3] == b"END":
            return True
        if position + 8 > len(raw):
            return False
        type_code, half_words = struct.unpack_from("<2h", raw, position + 4)
        if half_words < 0 or type_code < 0:
            return False
        position += 8 + 2 * half_words
    return True


def _status_complete(values: dict) -> bool:
    """A data-parameter block has an integer NPT and numeric FXV and LXV."""
    return (isinstance(values.get("npt"), int) and isinstance(values.get("fxv"), int | float)
            and isinstance(values.get("lxv"), int | float)
            and isinstance(values.get("csf", 1.0), int | float))


def _merged_params(blocks) -> dict:
    """One dict of the decoded parameters of several blocks, later blocks winning."""
    merged: dict = {}
    for block in blocks:
        merged.update(block.data)
    return merged


def _block_name(block_type: tuple[int, ...]) -> tuple[str, str]:
    """OPUS's short name (AB, ScSm, IgRf...) and the Y unit of a data block type."""
    channels, code = divmod(block_type[3], 32)
    channel = _CHANNEL.get(block_type[1], "")
    if code in _RAW_BLOCKS:
        prefix, y_unit = _RAW_BLOCKS[code]
        name = prefix + channel
    elif code in _RESULT_BLOCKS:
        name, y_unit = _RESULT_BLOCKS[code]
        if channel == "Rf":
            name += "Rf"
    else:
        name, y_unit = f"type{code}{channel}", "arbitrary"
    if channels:
        name += f"/{channels + 1}ch"
    return name, y_unit


def _spectrum(data_block: FileBlock, status_block: FileBlock, sample_params: dict,
              reference_params: dict, raman: bool, filename: str) -> Spectrum:
    """One data block scaled by CSF, NPT points from FXV to LXV."""
    name, y_unit = _block_name(data_block.type)
    label = data_block.get_label()
    status = status_block.data
    npt = status["npt"]
    raw = np.asarray(data_block.data)
    if status.get("dpf") == 2:
        raw = raw.view(np.int32)
    if not 0 < npt <= raw.size:
        raise ParseError(f"The OPUS block {name} declares NPT={npt} but holds {raw.size} "
                         "values; it was not read.", block=name, offset=data_block.start)
    values = raw[-npt:] if data_block.is_compact_data() else raw[:npt]
    first, last = float(status["fxv"]), float(status["lxv"])
    if not (np.isfinite(first) and np.isfinite(last)):
        raise ParseError(f"The OPUS block {name} has a non-finite X range ({first}, {last}).",
                         block=name, offset=status_block.start)
    scale = float(status.get("csf", 1.0))
    units = str(status.get("dxu", "")).upper()
    reference = data_block.type[1] == 2
    params = {**sample_params, **reference_params} if reference else sample_params
    metadata = _metadata(params, status, raman, reference)
    metadata["block_label"] = label
    title = metadata.get("sample_name") or PurePath(filename).stem or "OPUS"
    return Spectrum(x=np.linspace(first, last, npt), y=values.astype(np.float64) * scale,
                    x_unit=_X_UNITS.get(units, units or "arbitrary"), y_unit=y_unit,
                    technique="Raman" if raman else "IR", title=f"{title}: {label}",
                    metadata=metadata, block=name)


def _metadata(params: dict, status: dict, raman: bool, reference: bool) -> dict[str, str]:
    """The file's and the block's parameters as metadata strings."""
    metadata = {key: str(params[code]).strip() for code, key in _TEXT_PARAMS.items()
                if str(params.get(code, "")).strip()}
    if isinstance(params.get("res"), int | float):
        metadata["resolution"] = f"{params['res']:g} cm-1"
    scans = params.get("nsr" if reference else "nss", params.get("nss"))
    if isinstance(scans, int):
        metadata["scans"] = str(scans)
    laser = params.get("lwn")
    if isinstance(laser, int | float) and laser > 0:
        metadata["laser_wavenumber"] = f"{laser} cm-1"
        if raman:
            metadata["laser_wavelength_nm"] = f"{1e7 / laser:.2f}"
    acquired = _acquired_at(status.get("dat"), status.get("tim"))
    if acquired:
        metadata["acquired_at"] = acquired
    return metadata


def _acquired_at(date: object, time: object) -> str | None:
    """DAT '06/02/2020' (or 2020/02/06) and TIM '13:01:55.349 (GMT+1)' as ISO 8601."""
    if not isinstance(date, str) or not isinstance(time, str):
        return None
    match = re.match(r"\s*(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?\s*(?:\(GMT([+-]\d{1,2})"
                     r"(?::?(\d{2}))?\))?", time)
    day = re.match(r"\s*(\d{1,4})/(\d{1,2})/(\d{1,4})", date)
    if not match or not day:
        return None
    first, month, last = (int(part) for part in day.groups())
    year, day_of_month = (first, last) if first > 31 else (last, first)
    hour, minute, second = (int(match.group(i)) for i in (1, 2, 3))
    micro = int((match.group(4) or "0")[:6].ljust(6, "0"))
    zone = None
    if match.group(5):
        hours = int(match.group(5))
        minutes = int(match.group(6) or 0) * (1 if hours >= 0 else -1)
        zone = timezone(timedelta(hours=hours, minutes=minutes))
    try:
        stamp = datetime(year, month, day_of_month, hour, minute, second, micro, tzinfo=zone)
    except ValueError:
        return None
    return stamp.isoformat(timespec="milliseconds")


def _preference(spectrum: Spectrum) -> tuple[int, int]:
    """AB, then TR, then other results, then single channels, interferograms, phases."""
    name = spectrum.block
    order = ("AB", "TR")
    if name.split("/")[0] in order:
        return order.index(name.split("/")[0]), 0
    for rank, prefix in enumerate(("Sc", "Ig", "Ph"), start=3):
        if name.startswith(prefix):
            return rank, 0 if name[2:4] == "Sm" else 1
    return 2, 0


def _name_duplicates(spectra: list[Spectrum]) -> None:
    """Number repeated block names (two AB blocks become AB and AB(2))."""
    counts: dict[str, int] = {}
    for spectrum in spectra:
        counts[spectrum.block] = counts.get(spectrum.block, 0) + 1
        if counts[spectrum.block] > 1:
            spectrum.block = f"{spectrum.block}({counts[spectrum.block]})"
