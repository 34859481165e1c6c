"""The types every adapter shares: Spectrum, ParseError, Detection, and unit normalisation."""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

TECHNIQUES = ("IR", "Raman", "UV-Vis", "MS", "chromatogram", "XRF", "NMR", "IMS", "EPR",
              "thermal", "other")
KINDS = ("continuous", "peaks")
# Metadata keys adapters fill when the file has them (values are strings; times ISO 8601).
METADATA_KEYS = ("instrument", "serial", "operator", "acquired_at", "resolution", "scans",
                 "sample_name", "laser_wavelength_nm", "origin", "owner", "cas", "formula",
                 "molecular_weight", "retention_time", "retention_index", "ms_level",
                 "precursor_mz", "ionization", "license", "comments")
# --- limits: how far a file may expand --------------------------------------------------------
# Measured on the 80 real files of the shared corpus (MANIFEST.tsv, every file through
# registry.parse): the most points in one spectrum is 29,460 (opus/openspecy_ftir_ps.0), in one
# file 198,288 (agilent/yellow.D_data.ms, 1,308 scans in 847 KB); the densest file holds 0.66
# points per byte (jcamp/ir_difdup_BRUKER2.JCM, DIFDUP) and the most decoded array bytes per byte
# of file is 0.65 (mzml/pyteomics_test.mzXML, base64). The caps leave a margin of 33x (points in
# one spectrum), 24x (points per byte) and 49x (decoded bytes per byte), so real files pass while
# a 219-byte DUP line that used to become 20 M points is refused before it is expanded.
# A file of many spectra keeps the per-file cap it had: reference libraries are imported through
# the same readers (the search benchmark imports 10,000 IR spectra, 18 M points), and the corpus
# holds no library to decide a lower one from; points per byte bound what a small file can claim.
MAX_SPECTRUM_POINTS = 1_000_000  # in one spectrum, whatever the file's size
MAX_POINTS = 20_000_000  # per file, all spectra together (320 MB as float64 x and y)
POINTS_PER_BYTE = 16  # per byte of the uploaded file
MIN_POINTS = 65_536  # any file may hold this many, however small (1 MB of float64 x and y)
MAX_DECODED_BYTES = 16 * MAX_POINTS  # inflated or decoded binary arrays of one file together
DECODED_BYTES_PER_BYTE = 32  # zlib rarely packs a real float64 array beyond 4:1
MIN_DECODED_BYTES = 16 * MIN_POINTS


class ParseError(Exception):
    """A file that cannot be read, with where: line, byte offset and/or block."""

    def __init__(self, message: str, *, line: int | None = None, offset: int | None = None,
                 block: str | None = None):
        super().__init__(message)
        self.message = message
        self.line = line
        self.offset = offset
        self.block = block

    def where(self) -> str:
        """'line 12, block 3' style location text ('' when unknown)."""
        parts = []
        if self.block:
            parts.append(self.block)
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.offset is not None:
            parts.append(f"byte {self.offset}")
        return ", ".join(parts)

    def __str__(self) -> str:
        where = self.where()
        return f"{self.message} ({where})" if where else self.message


class Budget:
    """What one file may still expand to (points, decoded bytes), scaled by its size."""

    def __init__(self, size: int):
        self.size = size
        self.max_points = min(MAX_POINTS, max(MIN_POINTS, POINTS_PER_BYTE * size))
        self.max_bytes = min(MAX_DECODED_BYTES, max(MIN_DECODED_BYTES,
                                                    DECODED_BYTES_PER_BYTE * size))
        self.points = 0
        self.decoded = 0

    def check_points(self, count: float, *, line: int | None = None,
                     offset: int | None = None, block: str | None = None) -> None:
        """Refuse, before anything is expanded, when ``count`` more points exceed the file's."""
        if self.points + count > self.max_points:
            raise ParseError(f"Refused by the point limit: the data would expand to "
                             f"{self.points + count:,.0f} points, and a file of {self.size:,} "
                             f"bytes may hold at most {self.max_points:,} ({POINTS_PER_BYTE} "
                             f"per byte, never more than {MAX_POINTS:,}).",
                             line=line, offset=offset, block=block)

    def check_spectrum(self, count: float, *, line: int | None = None,
                       offset: int | None = None, block: str | None = None) -> None:
        """Refuse one spectrum of ``count`` points beyond either limit, before expanding it."""
        self.check_points(count, line=line, offset=offset, block=block)
        if count > MAX_SPECTRUM_POINTS:
            raise ParseError(f"Refused by the spectrum point limit: one spectrum would expand "
                             f"to {count:,.0f} points; the limit is {MAX_SPECTRUM_POINTS:,}.",
                             line=line, offset=offset, block=block)

    def take_spectrum(self, count: int, **where) -> None:
        """Count a spectrum of ``count`` points against the limits (ParseError naming one)."""
        self.check_spectrum(count, **where)
        self.points += count

    def take_bytes(self, count: int, **where) -> None:
        """Count ``count`` decoded bytes against the limit (ParseError naming it when exceeded)."""
        if self.decoded + count > self.max_bytes:
            raise ParseError(f"Refused by the decoded-size limit: the arrays would decode to "
                             f"more than {self.max_bytes:,} bytes, the most a file of "
                             f"{self.size:,} bytes may hold ({DECODED_BYTES_PER_BYTE} per byte, "
                             f"never more than {MAX_DECODED_BYTES:,}); a compression bomb?",
                             **where)
        self.decoded += count

    def inflate(self, raw: bytes, **where) -> bytes:
        """zlib-inflate at most the remaining decoded bytes; a larger stream is refused."""
        inflater = zlib.decompressobj()
        try:
            out = inflater.decompress(raw, self.max_bytes - self.decoded + 1)
        except zlib.error as error:
            raise ParseError(f"A zlib-compressed array is damaged ({error}).", **where) from error
        self.take_bytes(len(out), **where)
        if not inflater.eof:
            raise ParseError("A zlib-compressed array is truncated.", **where)
        return out


@dataclass(frozen=True)
class Detection:
    """How sure an adapter is that it can read a file, and why."""

    confidence: float  # 1.0 magic bytes and structure; ~0.9 magic; ~0.5 content sniff; 0.2 name
    reason: str


@dataclass
class Spectrum:
    """One spectrum, chromatogram or peak list read from a file, exactly as recorded."""

    x: np.ndarray
    y: np.ndarray
    x_unit: str
    y_unit: str
    technique: str
    title: str = ""
    kind: str = "continuous"
    metadata: dict[str, str] = field(default_factory=dict)
    peaks: tuple[np.ndarray, np.ndarray] | None = None
    warnings: list[str] = field(default_factory=list)
    block: str = ""

    def __post_init__(self):
        """Store float64 arrays and refuse inconsistent values (a bug in an adapter)."""
        with np.errstate(invalid="ignore"):  # float32 signalling NaNs stay NaN, silently
            self.x = np.ascontiguousarray(self.x, dtype=np.float64)
            self.y = np.ascontiguousarray(self.y, dtype=np.float64)
        if self.x.ndim != 1 or self.x.shape != self.y.shape:
            raise ValueError(f"x and y must be 1-D of equal length, got {self.x.shape} and "
                             f"{self.y.shape}")
        if self.technique not in TECHNIQUES:
            raise ValueError(f"unknown technique {self.technique!r}")
        if self.kind not in KINDS:
            raise ValueError(f"unknown kind {self.kind!r}")
        if self.peaks is not None:
            px, py = (np.ascontiguousarray(a, dtype=np.float64) for a in self.peaks)
            if px.shape != py.shape or px.ndim != 1:
                raise ValueError("peak x and y must be 1-D of equal length")
            self.peaks = (px, py)

    @property
    def n_points(self) -> int:
        """Number of points (of peaks, for a peak list)."""
        return int(self.x.size)


_X_UNITS = [
    (r"^(1/cm|cm-?1|cm\^-1|cm⁻¹|wavenumbers?.*|raman shift.*|1/centimeters?)$", "cm-1"),
    (r"^(nm|nanometers?|wavelength.*nm.*)$", "nm"),
    (r"^(um|µm|μm|micrometers?|microns?)$", "um"),
    (r"^(m/z|mz|mass.*|daltons?|da|amu|thomson)$", "m/z"),
    (r"^(min|mins|minutes?)$", "min"),
    (r"^(s|sec|seconds?)$", "s"),
    (r"^(ms|milliseconds?)$", "ms"),
    (r"^(kev|kiloelectronvolts?)$", "keV"),
    (r"^(ev|electronvolts?)$", "eV"),
    (r"^(points?|data points?|channels?|index)$", "points"),
    (r"^(ppm)$", "ppm"),
    (r"^(hz|hertz)$", "Hz"),
    (r"^(g|gauss)$", "G"),
    (r"^(mt|millitesla)$", "mT"),
    (r"^(°c|c|deg c|degc|celsius)$", "degC"),
]
_Y_UNITS = [
    (r"^(absorbance|abs|a|au|absorbance units?|log\(1/t\)|log\(1/r\))$", "absorbance"),
    (r"^(transmittance|t)$", "transmittance"),
    (r"^(%t|% ?transmittance|percent transmittance)$", "%T"),
    (r"^(reflectance|r)$", "reflectance"),
    (r"^(%r|% ?reflectance|percent reflectance)$", "%R"),
    (r"^(kubelka-?munk|km)$", "Kubelka-Munk"),
    (r"^(counts?|cts|counts/s|cps)$", "counts"),
    (r"^(relative (intensity|abundance)|rel\.? ?int.*)$", "relative intensity"),
    (r"^(intensity|abundance|raman intensity|arbitrary|arbitrary (intensity )?units?|a\.?u\.?|"
     r"arb\.? ?units?)$",
     "intensity"),
    (r"^(single ?beam)$", "single beam"),
    (r"^(v|volts?)$", "V"),
    (r"^(mv|millivolts?)$", "mV"),
    (r"^(pa|picoamperes?)$", "pA"),
    (r"^(mau|milli ?absorbance units?)$", "mAU"),
]


def _normalise(text: str, table) -> str:
    key = re.sub(r"\s+", " ", (text or "").strip().lower())
    if key[:1] + key[-1:] in ("()", "[]"):  # a unit written as "(nm)" or "[cm-1]"
        key = key[1:-1].strip()
    for pattern, unit in table:
        if re.match(pattern, key):
            return unit
    return text.strip() or "arbitrary"


def normalise_x_unit(text: str) -> str:
    """Canonical X unit ('cm-1', 'nm', 'm/z', 'min', 'keV'...); unknown text is kept."""
    return _normalise(text, _X_UNITS)


def normalise_y_unit(text: str) -> str:
    """Canonical Y unit ('absorbance', '%T', 'counts', 'relative intensity'...)."""
    return _normalise(text, _Y_UNITS)


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode text as UTF-8 (BOM stripped), else cp1252, else Latin-1; return (text, codec)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for codec in ("utf-8", "cp1252"):
        try:
            return data.decode(codec), codec
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1"


# --- dates -------------------------------------------------------------------------------------

_MONTHS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_DATE_FORMS = (
    ("dmy", re.compile(r"\b(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})\b")),
    ("ymd", re.compile(r"\b(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})(?!\d)")),
    ("slash", re.compile(r"\b(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?P<y>\d{4})\b")),
    ("dmony", re.compile(r"\b(?P<d>\d{1,2})[- ](?P<mon>[A-Za-z]{3})[a-z]*\.?[- ,](?P<y>\d{4}|"
                         r"\d{2})\b")),
    ("mondy", re.compile(r"\b(?P<mon>[A-Za-z]{3})[a-z]*\.? +(?P<d>\d{1,2})\b,?"
                         r"(?: +\d{1,2}:\d\d(?::\d\d)?)? +(?P<y>\d{4})\b")),
)
_TIME = re.compile(r"(?<![\d.])(?P<H>\d{1,2}):(?P<M>\d\d)(?::(?P<S>\d\d))?(?:\.\d+)?"
                   r"\s*(?P<ampm>[AaPp]\.?[Mm]\.?)?(?![\d:])")


def iso_datetime(text: str, time_text: str = "") -> str | None:
    """ISO 8601 text ('2019-12-16T09:57') of a date as instruments write it, None if unclear.

    Understands dd.mm.yyyy, yyyy-mm-dd, dd-MMM-yyyy, 'Tue Dec 17 10:13:57 2019' and dd/mm/yyyy
    or mm/dd/yyyy when one part is above 12; a time in ``text`` or ``time_text`` is added.
    """
    text = text[:200]
    for form, pattern in _DATE_FORMS:
        match = pattern.search(text)
        if match is None:
            continue
        parts = match.groupdict()
        if form == "slash":
            first, second = int(parts["a"]), int(parts["b"])
            if first > 12 >= second:
                day, month = first, second
            elif second > 12 >= first:
                day, month = second, first
            else:
                return None  # 03/04/2020: April or March? Do not guess.
        elif "mon" in parts:
            month = _MONTHS.get(parts["mon"].lower()[:3])
            day = int(parts["d"])
            if month is None:
                continue
        else:
            day, month = int(parts["d"]), int(parts["m"])
        year = int(parts["y"])
        if year < 100:
            year += 2000 if year < 70 else 1900
        rest = text[:match.start()] + " " + text[match.end():] + " " + time_text[:50]
        if form == "mondy":
            rest = match.group(0) + " " + rest
        return _with_time(year, month, day, _TIME.search(rest))
    return None


def _with_time(year: int, month: int, day: int, time: re.Match | None) -> str | None:
    hour = minute = second = 0
    if time is not None:
        hour, minute = int(time["H"]), int(time["M"])
        second = int(time["S"] or 0)
        ampm = (time["ampm"] or "").lower().replace(".", "")
        if ampm and not 1 <= hour <= 12:
            return None
        if ampm == "pm" and hour != 12:
            hour += 12
        elif ampm == "am" and hour == 12:
            hour = 0
    try:
        moment = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    if time is None:
        return moment.date().isoformat()
    return moment.isoformat(timespec="seconds" if time["S"] else "minutes")


# --- text ----------------------------------------------------------------------------------


def text_lines(data: bytes) -> tuple[list[str], list[str]]:
    """The lines of a text file (CR, LF or CRLF) and warnings about its encoding."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text, codec = data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as error:
            raise ParseError("The file starts with a UTF-16 mark but is not UTF-16 text.",
                             offset=error.start) from None
    else:
        nul = data.find(b"\x00")
        if nul >= 0:
            raise ParseError("This is a binary file, not a text export (it contains NUL "
                             "bytes).", offset=nul)
        text, codec = decode_text(data)
    warnings = [] if codec == "utf-8" else [f"The file is not UTF-8; it was read as {codec}."]
    text = text.rstrip("\x1a")  # a DOS end-of-file mark
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), warnings
