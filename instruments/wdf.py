"""Renishaw WiRE ``.wdf`` Raman files, read with Renishaw's own renishaw-wdf (Apache-2.0).

A single-spectrum file gives one Raman spectrum, X in cm-1 as stored (WiRE stores it
descending), with the laser wavelength, title, operator and acquisition time. A series or map
gives one spectrum per collected point, up to ``MAX_SPECTRA`` (a warning says how many were
left out), each titled with its position.

renishaw-wdf reads the header, X list, data origins (map positions) and comment. It follows the
chain of blocks by their sizes, where a damaged size could make it loop, so the chain is walked
here once first and the file refused when a block does not move forward; the spectra are read
from the DATA block as one float32 array.
"""

from __future__ import annotations

import io
import struct

import numpy as np
from wdf import Wdf, WdfBlockId, WdfDataType, WdfDataUnit, WdfFlags

from instruments.core import MAX_POINTS, Detection, ParseError, Spectrum

NAME = "wdf"
LABEL = "Renishaw WiRE WDF"
EXTENSIONS = (".wdf",)
TECHNIQUES = ("Raman",)

MAGIC = b"WDF1"
MAX_SPECTRA = 1000  # per file: beyond this a map is truncated, with a warning
MAX_BLOCKS = 4096  # real files hold a few dozen; a chain of millions is refused
_BLOCK_HEADER = 16
_FILE_HEADER = 512
_X_UNITS = {WdfDataUnit.RamanShift: "cm-1", WdfDataUnit.Wavenumber: "cm-1",
            WdfDataUnit.Nanometre: "nm", WdfDataUnit.ElectronVolt: "eV",
            WdfDataUnit.Micron: "um", WdfDataUnit.Pixels: "points"}
_Y_UNITS = {WdfDataUnit.Counts: "counts", WdfDataUnit.Electrons: "electrons",
            WdfDataUnit.Intensity: "intensity",
            WdfDataUnit.RelativeIntensity: "relative intensity",
            WdfDataUnit.Arbitrary: "intensity"}
_REQUIRED = (WdfBlockId.DATA, WdfBlockId.XLIST)
_POSITIONS = (("X", WdfDataType.Spatial_X), ("Y", WdfDataType.Spatial_Y),
              ("Z", WdfDataType.Spatial_Z))


def detect(data: bytes, filename: str = "") -> Detection | None:
    """WDF by its WDF1 magic (and a 512-byte header block); else by the .wdf extension."""
    if data[:4] == MAGIC:
        if len(data) >= _BLOCK_HEADER:
            size = struct.unpack_from("<Q", data, 8)[0]
            if size == _FILE_HEADER:
                return Detection(1.0, "WDF1 magic and a 512-byte WiRE file header")
        return Detection(0.9, "WDF1 magic")
    if (filename or "").lower().endswith(EXTENSIONS):
        return Detection(0.2, "the file extension is .wdf")
    return None


def parse(data: bytes, filename: str = "") -> list[Spectrum]:
    """Every collected spectrum of a WDF file (up to MAX_SPECTRA), as stored."""
    if data[:4] != MAGIC:
        raise ParseError("This is not a Renishaw WDF file: it does not start with WDF1.",
                         offset=0)
    warnings: list[str] = []
    blocks = _walk_blocks(data, warnings)
    for required in _REQUIRED:
        if required not in blocks:
            raise ParseError(f"The WDF file has no {required.name} block.",
                             block=required.name)
    reader = Wdf()
    try:
        reader.open_fd(io.BytesIO(data))
        with np.errstate(all="ignore"):  # a signalling NaN in a spectrum is data
            return _spectra(reader, data, blocks, filename, warnings)
    except ParseError:
        raise
    except Exception as error:  # noqa: BLE001 - library failures become ParseErrors
        raise ParseError(f"The WDF file cannot be read ({type(error).__name__}: "
                         f"{error}).") from error


def _walk_blocks(data: bytes, warnings: list[str]) -> dict[int, tuple[int, int]]:
    """Block id -> (offset, size) of its first occurrence; refuse a chain that cannot end."""
    if len(data) < _FILE_HEADER:
        raise ParseError("The WDF header is truncated: it needs 512 bytes.", offset=len(data))
    blocks: dict[int, tuple[int, int]] = {}
    position = 0
    while position + _BLOCK_HEADER <= len(data):
        if len(blocks) >= MAX_BLOCKS:
            raise ParseError(f"The WDF file holds more than {MAX_BLOCKS} blocks.",
                             offset=position)
        block_id, _uid, size = struct.unpack_from("<IIQ", data, position)
        if size < _BLOCK_HEADER:
            raise ParseError(f"The WDF block at byte {position} declares a size of {size} "
                             "bytes, smaller than its own header.", offset=position)
        if position + size > len(data):
            name = struct.pack("<I", block_id).decode("latin-1")
            if block_id in _REQUIRED:
                raise ParseError(f"The WDF file is truncated inside its {name} block.",
                                 offset=position, block=name)
            warnings.append(f"The WDF file is truncated inside its {name!r} block at byte "
                            f"{position}; that block was not read.")
            break
        blocks.setdefault(block_id, (position, size))
        position += size
    return blocks


def _spectra(reader: Wdf, data: bytes, blocks: dict[int, tuple[int, int]], filename: str,
             warnings: list[str]) -> list[Spectrum]:
    """The collected spectra against the X list, with the file's metadata."""
    header = reader.hdr
    points, collected = header.npoints, header.ncollected
    if header.flags & WdfFlags.Multitrack:
        raise ParseError("Multitrack WDF files (one X list per spectrum) are not supported.",
                         block="XLST")
    x_list = reader.xlist()
    if len(x_list) != points or points == 0:
        raise ParseError(f"The WDF header declares {points} points per spectrum but the X "
                         f"list holds {len(x_list)}.", block="XLST")
    data_offset, data_size = blocks[WdfBlockId.DATA]
    available = (data_size - _BLOCK_HEADER) // (4 * points)
    if collected > header.nspectra:
        raise ParseError(f"The WDF header says {collected} spectra were collected out of "
                         f"{header.nspectra} planned.", offset=0)
    if collected > available:
        raise ParseError(f"The WDF header declares {collected} spectra of {points} points but "
                         f"the DATA block holds only {available}.", block="DATA")
    if collected < header.nspectra:
        warnings.append(f"{collected} of the {header.nspectra} planned spectra were "
                        "collected (the measurement was stopped early).")
    limit = min(collected, MAX_SPECTRA, max(1, MAX_POINTS // points))
    if limit < collected:
        warnings.append(f"The file holds {collected} spectra; only the first {limit} were "
                        "read.")
    x = np.asarray(x_list, dtype=np.float64)
    x_unit = _X_UNITS.get(x_list.units, x_list.units.name)
    y_unit = _enum_text(lambda: _Y_UNITS.get(header.units, header.units.name), "arbitrary")
    metadata = _metadata(reader)
    positions = _positions(reader, limit, warnings) if collected > 1 else [""] * limit
    title = _text(header.title_) or filename or "WDF spectrum"
    # The DATA block is npoints float32 per spectrum, in collection order (as Wdf.spectrum
    # reads it); one array read replaces a block search and an unpack per spectrum.
    values = np.frombuffer(data, "<f4", count=limit * points,
                           offset=data_offset + _BLOCK_HEADER).reshape(limit, points)
    spectra = []
    for index in range(limit):
        point_title = f"{title} {positions[index]}".strip() if collected > 1 else title
        spectra.append(Spectrum(x=x, y=values[index].astype(np.float64),
                                x_unit=x_unit, y_unit=y_unit, technique="Raman",
                                title=point_title, metadata=dict(metadata),
                                block=f"spectrum {index + 1}"))
    if not spectra:
        raise ParseError("The WDF file holds no collected spectrum.", block="DATA")
    spectra[0].warnings.extend(warnings)
    return spectra


def _metadata(reader: Wdf) -> dict[str, str]:
    """Laser wavelength, operator, acquisition time, accumulations, software, comment."""
    header = reader.hdr
    metadata = {}
    if header.laser_wavenumber > 0:
        metadata["laser_wavelength_nm"] = f"{1e7 / header.laser_wavenumber:.2f}"
    if _text(header.user_):
        metadata["operator"] = _text(header.user_)
    if header.time_start_:
        acquired = _enum_text(lambda: header.time_start.isoformat(), "")
        if acquired:
            metadata["acquired_at"] = acquired
    if header.naccum:
        metadata["scans"] = str(header.naccum)
    if _text(header.appname_):
        metadata["software"] = f"{_text(header.appname_)} {header.appversion}"
    try:
        comment = reader.comment()
    except (EOFError, UnicodeDecodeError, UnboundLocalError):
        comment = ""
    if comment:
        metadata["comments"] = comment
    measurement = _enum_text(lambda: header.type.name, "")
    if measurement:
        metadata["measurement_type"] = measurement
    return metadata


def _text(raw: bytes) -> str:
    """A NUL-terminated UTF-8 header field (undecodable bytes replaced)."""
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace").strip()


def _enum_text(read, default: str) -> str:
    """A header value the library converts (enum, timestamp), or the default when invalid."""
    try:
        return read()
    except (ValueError, OverflowError):
        return default


def _positions(reader: Wdf, count: int, warnings: list[str]) -> list[str]:
    """'(X=.., Y=..)' per spectrum from the spatial data origins, when the file has them."""
    try:
        origins = reader.origins
        columns = [(label, origins[kind][0:count]) for label, kind in _POSITIONS
                   if kind in origins]
    except Exception:  # noqa: BLE001 - positions are a label, not the data
        warnings.append("The WDF data origins (map positions) could not be read.")
        return [f"#{index + 1}" for index in range(count)]
    return [f"#{index + 1}" + (" (" + ", ".join(f"{label}={values[index]:g}"
                                                 for label, values in columns) + ")"
                               if columns else "")
            for index in range(count)]
