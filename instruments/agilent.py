"""Agilent ChemStation ``.ms`` (MSD) and ``.ch`` (FID, ADC/CAD, ELSD, DAD signal) files.

Decoded by rainbow-api (LGPL-3.0, used unmodified as a library), which reads from a path: the
uploaded bytes are written to a private temporary directory that is always removed.

- A ``.ch`` file gives one chromatogram: time in minutes, the detector's unit (pA, mAU...).
- A ``.ms`` file gives the total-ion chromatogram first (what the chemist looks at), then one
  MS spectrum (a peak list) per scan, so any scan can be compared with a library. The m/z
  values are rainbow's nominal-mass bins (1 Da), as ChemStation reports a quadrupole scan.

The header fields rainbow does not surface (operator, MS inlet, sample name) come from
``rainbow.debug.chemstation_header``. Before rainbow runs, the ``.ms`` scan records are walked
once here so that a header that lies about its scan count, a truncated file or a scan table
that would need an oversized matrix is refused with its byte offset instead of exhausting
memory.
"""

from __future__ import annotations

import os
import re
import struct
import tempfile
import warnings
from datetime import datetime

import numpy as np

from instruments.core import Budget, Detection, ParseError, Spectrum, normalise_y_unit

NAME = "agilent"
LABEL = "Agilent ChemStation"
EXTENSIONS = (".ms", ".ch")
TECHNIQUES = ("MS", "chromatogram")

MS_MAGIC = b"\x01\x32\x00\x00"
_MS_TYPES = ("GC / MS Data File", "MSD Spectral File")
_CH_VERSIONS = {b"\x03179": "179", b"\x03181": "181", b"\x03130": "130", b"\x0230": "30"}
_CH_DATA_START = {"179": 0x1800, "181": 0x1800, "130": 0x1800, "30": 0x400}
_MAX_DOUBLE_DELTA_BYTES = 4 * 1024 * 1024  # rainbow decodes version 181 in pure Python
_MS_RECORD_OVERHEAD = 28  # bytes of one scan record besides its m/z-intensity pairs
_MZ_BINS_PER_DALTON = 1.0
_DATE_FORMATS = ("%d %b %y %I:%M %p", "%d-%b-%y, %H:%M:%S", "%d-%b-%y %H:%M:%S",
                 "%d %b %Y %I:%M %p", "%d-%b-%Y, %H:%M:%S", "%m/%d/%Y %I:%M:%S %p")


def detect(data: bytes, filename: str = "") -> Detection | None:
    """ChemStation by the .ms magic 01 32 00 00 or the .ch version string; else by extension."""
    if data[:4] == MS_MAGIC:
        kind = data[5:5 + data[4]].decode("latin-1") if len(data) > 5 else ""
        if kind in _MS_TYPES:
            return Detection(1.0, f"Agilent .ms magic 01 32 00 00 and '{kind}'")
        return Detection(0.9, "Agilent .ms magic 01 32 00 00")
    version = _ch_version(data)
    if version is not None:
        marker = _ch_marker(data, version)
        if "DATA FILE" in marker:
            return Detection(0.95, f"Agilent .ch version {version} and '{marker}'")
        return Detection(0.6, f"Agilent .ch version string {version}")
    if (filename or "").lower().endswith(EXTENSIONS):
        return Detection(0.2, "the file extension is .ms or .ch")
    return None


def parse(data: bytes, filename: str = "") -> list[Spectrum]:
    """The chromatogram of a .ch file, or the TIC and every scan of a .ms file."""
    if data[:4] == MS_MAGIC:
        scans = _check_ms_layout(data)
        datafile, header = _read_with_rainbow(data, "data.ms")
        header.setdefault("notebook", _header_string(data, 0x18, 1))
        return _built(lambda: _ms_spectra(datafile, header, scans))
    version = _ch_version(data)
    if version is None:
        raise ParseError("This is not an Agilent ChemStation file: it has neither the .ms "
                         "magic 01 32 00 00 nor a .ch version string (179, 181, 130, 30).",
                         offset=0)
    _check_ch_layout(data, version)
    datafile, header = _read_with_rainbow(data, "signal.ch")
    return _built(lambda: [_ch_spectrum(datafile, header, version)])


def _ch_version(data: bytes) -> str | None:
    for prefix, version in _CH_VERSIONS.items():
        if data.startswith(prefix):
            return version
    return None


def _ch_marker(data: bytes, version: str) -> str:
    """The technique banner ('GC DATA FILE', 'LC DATA FILE') of a .ch header."""
    offset, gap = (0x4, 1) if version == "30" else (0x15B, 2)
    return _header_string(data, offset, gap)


def _header_string(data: bytes, offset: int, gap: int) -> str:
    """A length-prefixed header string (one byte per character, or UTF-16LE)."""
    if offset >= len(data):
        return ""
    raw = data[offset + 1:offset + 1 + data[offset] * gap]
    text = raw.decode("utf-16-le", "replace") if gap == 2 else raw.decode("latin-1")
    return text.strip("\x00 ").strip()


def _check_ms_layout(data: bytes) -> int:
    """Walk the .ms scan records; return the scan count or refuse a lying or huge file."""
    if len(data) < 0x144:
        raise ParseError("The Agilent .ms header is truncated.", offset=len(data))
    kind = _header_string(data, 0x4, 1)
    if kind == "MSD Spectral File":
        declared = struct.unpack_from(">I", data, 0x116)[0]
    else:
        declared = struct.unpack_from("<H", data, 0x142)[0]
    position = struct.unpack_from(">H", data, 0x10A)[0] * 2 - 2
    if not 0 < position <= len(data):
        raise ParseError(f"The Agilent .ms data start ({position}) lies outside the file.",
                         offset=0x10A)
    if declared * _MS_RECORD_OVERHEAD > len(data) - position:
        raise ParseError(f"The Agilent .ms header declares {declared} scans, more than the "
                         f"{len(data)}-byte file can hold.", offset=0x142)
    lowest, highest, total = 65535, 0, 0
    for scan in range(declared):
        if position + 18 > len(data):
            raise ParseError(f"The Agilent .ms file ends inside scan {scan + 1} of {declared}.",
                             offset=position)
        pairs = struct.unpack_from(">H", data, position + 12)[0]
        start = position + 18
        position = start + 4 * pairs + 10
        if position > len(data):
            raise ParseError(f"The Agilent .ms file ends inside scan {scan + 1} of {declared}.",
                             offset=start)
        if pairs:
            masses = np.frombuffer(data, ">u2", count=pairs * 2, offset=start)[::2]
            lowest, highest = min(lowest, int(masses.min())), max(highest, int(masses.max()))
            total += pairs
    columns = min(total, int((highest - lowest) / 20 / _MZ_BINS_PER_DALTON) + 2) if total else 0
    # rainbow bins every scan into one scans x m/z matrix: refuse it before it is allocated.
    Budget(len(data)).check_points(declared * columns, offset=0x142)
    return declared


def _check_ch_layout(data: bytes, version: str) -> None:
    """Refuse a .ch header whose time range or size would make rainbow misbehave."""
    start_of_data = _CH_DATA_START[version]
    if len(data) < start_of_data + 8:
        raise ParseError(f"The Agilent .ch file (version {version}) is truncated before its "
                         f"data at byte {start_of_data}.", offset=len(data))
    if version in ("179", "181"):
        first, last = struct.unpack_from(">ff", data, 0x11A)
    else:
        first, last = struct.unpack_from(">ii", data, 0x11A)
    if not (np.isfinite(first) and np.isfinite(last)) or last - first < 1:
        raise ParseError(f"The Agilent .ch time range ({first}..{last} ms) is empty or "
                         "invalid.", offset=0x11A)
    if version == "181" and len(data) - start_of_data > _MAX_DOUBLE_DELTA_BYTES:
        raise ParseError(f"The Agilent .ch file (version 181) holds more than "
                         f"{_MAX_DOUBLE_DELTA_BYTES} bytes of signal; it is refused.",
                         offset=start_of_data)


def _read_with_rainbow(data: bytes, name: str):
    """Write the bytes to a private temporary directory; rainbow's DataFile and header."""
    from rainbow.agilent import chemstation
    from rainbow.debug import chemstation_header

    failure = None
    with tempfile.TemporaryDirectory(prefix="lims-agilent-") as directory, \
            warnings.catch_warnings(), np.errstate(all="ignore"):
        # rainbow leaves its file open when it gives up on a damaged file; dropping the
        # traceback that holds the handle closes it here instead of warning later.
        warnings.simplefilter("ignore", ResourceWarning)
        path = os.path.join(directory, name)
        with open(path, "wb") as handle:
            handle.write(data)
        try:
            datafile = chemstation.parse_file(path)
            header = chemstation_header.parse(path).get("fields", {})
        except Exception as error:  # noqa: BLE001 - rainbow failures become ParseErrors
            error.__traceback__ = None
            failure = error
    if failure is not None:
        raise ParseError(f"The Agilent file cannot be decoded ({type(failure).__name__}: "
                         f"{failure}).") from failure
    if datafile is None:
        raise ParseError("rainbow does not recognise this Agilent file's layout.", offset=0)
    return datafile, dict(header)


def _built(build) -> list[Spectrum]:
    """Spectra from rainbow's arrays; inconsistent arrays become a ParseError."""
    try:
        with np.errstate(all="ignore"):
            return build()
    except ParseError:
        raise
    except Exception as error:  # noqa: BLE001 - inconsistent arrays from a damaged file
        raise ParseError(f"The Agilent file's decoded data are inconsistent "
                         f"({type(error).__name__}: {error}).") from error


def _metadata(datafile, header: dict) -> dict[str, str]:
    """Method, date, sample, operator, instrument and detector as metadata strings."""
    fields = {**header, **datafile.metadata}
    metadata = {}
    for source, key in (("method", "method"), ("operator", "operator"),
                        ("notebook", "sample_name"), ("signal", "signal"),
                        ("inlet", "instrument"), ("instrument", "instrument"),
                        ("date", "date")):
        value = str(fields.get(source, "") or "").strip()
        if value and key not in metadata:
            metadata[key] = value
    if datafile.detector:
        metadata["detector"] = str(datafile.detector)
    acquired = _acquired_at(metadata.get("date", ""))
    if acquired:
        metadata["acquired_at"] = acquired
    return metadata


def _acquired_at(text: str) -> str | None:
    """ChemStation dates ('17 Dec 19  10:04 am', '27-Feb-18, 10:11:50') as ISO 8601."""
    cleaned = re.sub(r"\s+", " ", text).strip()
    for pattern in _DATE_FORMATS:
        try:
            return datetime.strptime(cleaned, pattern).isoformat()
        except ValueError:
            continue
    return None


def _ch_spectrum(datafile, header: dict, version: str) -> Spectrum:
    """One detector signal against time in minutes."""
    times = np.asarray(datafile.xlabels, dtype=np.float64)
    values = np.asarray(datafile.data, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != 1 or times.size != values.shape[0]:
        raise ParseError(f"The .ch time axis has {times.size} points but the signal "
                         f"{values.shape[0] if values.ndim else 0}.")
    metadata = _metadata(datafile, header)
    unit = str(datafile.metadata.get("unit") or header.get("unit") or "")
    metadata["format_version"] = version
    label = metadata.get("signal") or metadata.get("detector", "signal")
    title = " - ".join(part for part in (metadata.get("sample_name"), label) if part)
    return Spectrum(x=times, y=values[:, 0], x_unit="min",
                    y_unit=normalise_y_unit(unit) if unit else "arbitrary",
                    technique="chromatogram", title=title, metadata=metadata, block="signal")


def _ms_spectra(datafile, header: dict, declared: int) -> list[Spectrum]:
    """The total-ion chromatogram, then every scan as a nominal-mass peak list."""
    times = np.asarray(datafile.xlabels, dtype=np.float64)
    matrix = np.asarray(datafile.data)
    masses = np.asarray(datafile.ylabels, dtype=np.float64)
    if matrix.shape != (times.size, masses.size):
        raise ParseError(f"The .ms scan matrix is {matrix.shape}, not {times.size} scans by "
                         f"{masses.size} m/z values.")
    metadata = _metadata(datafile, header)
    name = metadata.get("sample_name") or metadata.get("method") or "Agilent GC-MS"
    tic = Spectrum(x=times, y=matrix.sum(axis=1, dtype=np.float64), x_unit="min",
                   y_unit="counts", technique="chromatogram",
                   title=f"{name}: total ion chromatogram", metadata=dict(metadata), block="TIC")
    spectra = [tic]
    for scan in range(times.size):
        row = matrix[scan]
        present = np.flatnonzero(row)
        scan_metadata = {**metadata, "retention_time": f"{times[scan]:.6g}",
                         "scan_number": str(scan + 1), "ms_level": "1"}
        spectra.append(Spectrum(x=masses[present], y=row[present], x_unit="m/z",
                                y_unit="counts", technique="MS", kind="peaks",
                                title=f"{name}: scan {scan + 1} at {times[scan]:.4f} min",
                                metadata=scan_metadata, block=f"scan {scan + 1}"))
    if declared != times.size:
        tic.warnings.append(f"The header declares {declared} scans but {times.size} were "
                            "read.")
    return spectra
