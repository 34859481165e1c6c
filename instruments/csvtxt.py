"""CSV and TXT exports: a sniffer for encoding, layout and numbers, plus small vendor profiles.

The sniffer decodes the text (BOM, UTF-8, cp1252 fallback, CR/LF/CRLF), skips preamble lines
until a run of numeric rows starts, reads ``#key=value`` and ``key: value`` headers into metadata,
chooses the delimiter among tab, ``;``, ``,`` and whitespace, accepts a decimal comma when the
delimiter is not a comma, and reads long (one row per point) or wide (row 1 = X) tables.
A vendor profile, when one matches, says what the file does not (technique, units); when neither
the file nor a profile says which technique it is, the spectrum is marked "other" with a warning
so that the user chooses.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field, replace
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

NAME = "csvtxt"
LABEL = "CSV/TXT export"
EXTENSIONS = (".csv", ".txt", ".tsv", ".dat", ".prn", ".asp")
TECHNIQUES = ("IR", "Raman", "UV-Vis", "MS", "chromatogram", "thermal", "other")

SNIFF_BYTES = 65_536  # detect() reads this much of the file
CONFIRM_ROWS = 3  # a table starts where this many consecutive numeric rows agree
WIDE_MIN_COLUMNS = 10  # a table with at least this many columns and fewer rows is transposed
FOOTER_MAX_LINES = 10  # text lines tolerated after the data (for example ">>>End of data<<<")
KEY_MAX = 80  # header keys are short; a separator further in is not a key's end

# --- vendor profiles ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """A vendor's export: how to recognise it and what it implies that the file does not say."""

    name: str
    label: str
    technique: str | None = None
    x_unit: str | None = None
    y_unit: str | None = None
    extensions: tuple[str, ...] = ()
    # Recognised by any of these: two or more of the '#Key=' header keys (lower case) ...
    keys: tuple[str, ...] = ()
    # ... a header row whose cells fullmatch these patterns, one per column ...
    columns: tuple[str, ...] = ()
    # ... preamble lines matching every one of these patterns ...
    markers: tuple[str, ...] = ()
    # ... or a header-less two-column table whose every sampled cell fullmatches this.
    numbers: str = ""
    x_within: tuple[float, float] | None = None
    # Wide tables: metadata columns after the Y values (two present identify the profile).
    wide_columns: dict[str, str] = field(default_factory=dict)
    # Preamble patterns whose named groups become metadata (title, origin, acquired_at...).
    preamble: tuple[str, ...] = ()
    # The file states nothing: technique and units come from the export's style alone.
    inferred: bool = False
    # Rows alternate between two regular time grids (two signals in one column pair).
    interleaved: bool = False
    # A header key whose bracketed unit is the X unit (LabSpec: '#Spectro (cm-¹)=').
    x_unit_key: str = ""


LABSPEC = Profile(
    "labspec", "Horiba LabSpec", technique="Raman", x_unit="cm-1", y_unit="intensity",
    extensions=(".txt",),
    keys=("acq. time", "accumulations", "laser", "grating", "objective", "spectro", "hole",
          "detector", "instrument", "spike filter"),
    x_unit_key="spectro")
SHIMADZU_UV = Profile(
    "shimadzu_uv", "Shimadzu UV CSV", technique="UV-Vis", x_unit="nm",
    extensions=(".csv", ".txt"),
    columns=(r"\.wavelength|wavelength nm\.", r"spc|abs\."))
MASSHUNTER = Profile(
    "masshunter", "Agilent MassHunter CSV", technique="chromatogram", x_unit="min",
    y_unit="counts", extensions=(".csv",), markers=(r"start of data points",),
    preamble=(r"(?P<origin>.+?\.D)\s+(?P<acquired_at>[A-Z][a-z]{2} [A-Z][a-z]{2} +\d{1,2} "
              r"\d\d:\d\d:\d\d \d{4})",),
    interleaved=True)
AGILENT_ASP = Profile(
    "agilent_asp", "Agilent .asp", technique="IR", x_unit="cm-1", extensions=(".asp",))
OMNIC_CSV = Profile(
    "omnic_csv", "Thermo OMNIC CSV", technique="IR", x_unit="cm-1", extensions=(".csv",),
    numbers=r"-?\d\.\d+e[+-]\d{3}", x_within=(100.0, 15000.0), inferred=True)
OPENSPECY = Profile(
    "openspecy", "OpenSpecy CSV", x_unit="cm-1", y_unit="intensity", extensions=(".csv",),
    columns=(r"wavenumber", r"intensity"))
OPENSPECY_WIDE = Profile(
    "openspecy_wide", "OpenSpecy wide CSV", x_unit="cm-1", y_unit="intensity",
    extensions=(".csv",),
    wide_columns={"spectrum_type": "technique", "user_name": "operator",
                  "spectrum_identity": "sample_name", "organization": "origin",
                  "license": "license", "x": "map_x", "y": "map_y", "session_id": "session_id",
                  "file_id": "file_id"})
PROFILES = (LABSPEC, MASSHUNTER, SHIMADZU_UV, OPENSPECY_WIDE, OPENSPECY, OMNIC_CSV)

# --- vocabulary --------------------------------------------------------------------------------

# Header keys (lower case, units in brackets removed) the LIMS knows, by metadata key.
_KEY_SYNONYMS = {
    "instrument": ("instrument", "instrument name", "spectrometer", "model"),
    "serial": ("serial", "serial number", "s/n", "instrument serial"),
    "operator": ("operator", "user", "user name", "analyst"),
    "acquired_at": ("date", "acquired", "date/time", "acquisition date", "datetime",
                    "measurement date", "datum"),
    "exposure_time": ("acq. time", "acquisition time", "exposure time", "integration time"),
    "scans": ("accumulations", "scans", "number of scans", "no. of scans"),
    "laser_wavelength_nm": ("laser", "laser wavelength", "excitation wavelength"),
    "sample_name": ("sample", "sample name", "sample id", "probe"),
    "technique": ("technique", "spectrum type"),
    "resolution": ("resolution",),
    "license": ("license", "licence"),
    "comments": ("comment", "comments", "remark"),
}
_KEY_MAP = {synonym: key for key, synonyms in _KEY_SYNONYMS.items() for synonym in synonyms}
_TITLE_KEYS = ("title", "spectrum title", "name", "titel")
# Words a file may use for its technique -> the LIMS technique.
_TECHNIQUE_WORDS = {
    "raman": "Raman", "ftir": "IR", "ir": "IR", "infrared": "IR", "mid-ir": "IR", "nir": "IR",
    "uv": "UV-Vis", "uv-vis": "UV-Vis", "uvvis": "UV-Vis", "uv/vis": "UV-Vis", "ms": "MS",
    "gc": "chromatogram", "hplc": "chromatogram", "lc": "chromatogram", "tga": "thermal",
}
# Column names -> (what the column holds, its unit when the name implies one).
_X_COLUMNS = (
    (r"raman[ -]?(shift|verschiebung)", "raman", "cm-1"),
    (r"wave ?numbers?|wn", "wavenumber", "cm-1"),
    (r"wave ?lengths?|lambda", "wavelength", "nm"),
    (r"m/?z|mass", "mz", "m/z"),
    (r"(retention )?time|rt", "time", None),
    (r"(photon )?energy", "energy", None),
    (r"temp(erature)?", "temperature", "degC"),
)
_Y_COLUMNS = (
    (r"abs(orbance)?|a", "absorbance", "absorbance"),
    (r"%t|% ?transmittance|transmittance ?%|%? ?trans\.?", "transmission", "%T"),
    (r"t|transmittance|transmission", "transmission", "transmittance"),
    (r"%r|% ?reflectance", "reflectance", "%R"),
    (r"r|reflectance", "reflectance", "reflectance"),
    (r"tic|total ion (current|chromatogram)|abundance", "tic", "counts"),
    (r"counts?|cts|cps", "intensity", "counts"),
    (r"(raman )?intensit(y|ät)|int\.?|signal|response", "intensity", "intensity"),
    (r"mass|weight|tg|mass loss", "mass", None),
)
# (X column kind, Y column kind or None for any, X unit or None for any) -> technique.
_TECHNIQUE_RULES = (
    ("raman", None, None, "Raman"),
    ("mz", None, None, "MS"),
    ("wavenumber", "absorbance", None, "IR"),
    ("wavenumber", "transmission", None, "IR"),
    ("wavenumber", "reflectance", None, "IR"),
    ("wavelength", "absorbance", "um", "IR"),
    ("wavelength", "transmission", "um", "IR"),
    ("wavelength", "absorbance", "nm", "UV-Vis"),
    ("wavelength", "transmission", "nm", "UV-Vis"),
    ("time", "tic", None, "chromatogram"),
    ("temperature", "mass", None, "thermal"),
    ("time", "mass", None, "thermal"),
)
UV_VIS_MAX_NM = 1100.0  # beyond this, "wavelength + absorbance" is NIR, not UV-Vis

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_COMMA_NUMBER = re.compile(r"[+-]?\d*,\d+(?:[eE][+-]?\d+)?")
_DELIMITERS = ("\t", ";", ",", " ")  # " " stands for runs of whitespace
_DELIMITER_NAMES = {"\t": "tab", ";": "semicolon", ",": "comma", " ": "whitespace"}
_SUPERSCRIPTS = str.maketrans("⁻¹²³", "-123")
_NAME_UNIT = re.compile(r"(.*?)\s*[(\[]([^()\[\]]*)[)\]]\s*")
_FOREIGN = (
    (re.compile(rb"^[ \t]*##TITLE[ \t]*=", re.I | re.M), "a JCAMP-DX file (##TITLE=)"),
    (re.compile(rb"^[ \t]*#FORMAT[ \t]*:", re.I | re.M), "an EMSA/MSA file (#FORMAT)"),
    (re.compile(rb"^BEGIN IONS\s*$", re.M), "an MGF file (BEGIN IONS)"),
    (re.compile(rb"^PK\$PEAK:", re.M), "a MassBank record (PK$PEAK)"),
)
_MARKUP = re.compile(r"\s*(?:<|\{|\[|netcdf\s)")  # XML, HTML, JSON, netCDF CDL
_MSP_NAME = re.compile(rb"^Name:", re.I | re.M)
_MSP_PEAKS = re.compile(rb"^Num ?Peaks:", re.I | re.M)


# --- rows ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Shape:
    delimiter: str
    columns: int
    decimal_comma: bool = False


def _cells(line: str, delimiter: str) -> list[str]:
    """Cells of a line, stripped of blanks and quotes; a trailing delimiter adds no cell."""
    parts = line.split() if delimiter == " " else line.split(delimiter)
    cells = [part.strip().strip('"').strip() for part in parts]
    if len(cells) > 1 and cells[-1] == "":
        cells.pop()
    return cells


def _number_kind(cell: str, delimiter: str) -> str | None:
    """'.' for a plain number, ',' for one with a decimal comma, None for anything else."""
    if _NUMBER.fullmatch(cell):
        return "."
    if delimiter != "," and _COMMA_NUMBER.fullmatch(cell):
        return ","
    return None


def _finite_floats(cells: list[str]) -> np.ndarray | None:
    """The cells as finite float64 values (numpy converts in C), or None."""
    try:
        values = np.array(cells, dtype=np.float64)
    except ValueError:
        return None
    return values if np.isfinite(values).all() else None


def _row_shape(line: str) -> _Shape | None:
    """The delimiter and width under which every cell of the line is a number."""
    if '"' in line:
        line = line.replace('"', "")
    for delimiter in _DELIMITERS:
        if delimiter != " " and delimiter not in line:
            continue
        cells = line.split() if delimiter == " " else line.split(delimiter)
        if len(cells) > 1 and not cells[-1].strip():
            cells.pop()
        if len(cells) < 2:
            continue
        if _finite_floats(cells) is not None:
            return _Shape(delimiter, len(cells))
        if (delimiter != "," and "," in line
                and _finite_floats([cell.replace(",", ".") for cell in cells]) is not None):
            return _Shape(delimiter, len(cells), True)
    return None


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def _find_long_table(lines: list[str]) -> tuple[int, _Shape] | None:
    """Index of the first of CONFIRM_ROWS numeric rows of one shape, and that shape."""
    for index, line in enumerate(lines):
        if not line.strip() or _is_comment(line):
            continue
        shape = _row_shape(line)
        if shape is None:
            continue
        decimal_comma, seen, following = shape.decimal_comma, 0, index + 1
        while seen < CONFIRM_ROWS - 1 and following < len(lines):
            nxt = lines[following]
            following += 1
            if not nxt.strip() or _is_comment(nxt):
                continue
            other = _row_shape(nxt)
            if other is None or (other.delimiter, other.columns) != (shape.delimiter,
                                                                        shape.columns):
                break
            decimal_comma |= other.decimal_comma
            seen += 1
        else:
            return index, _Shape(shape.delimiter, shape.columns, decimal_comma)
    return None


# --- preamble ----------------------------------------------------------------------------------


@dataclass
class _Preamble:
    pairs: list[tuple[str, str]] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)


def _pair(line: str) -> tuple[str, str] | None:
    """(key, value) of a '#key=value', '#Key=<TAB>value', 'key: value' or 'key=value' line."""
    hashed = line.startswith("#")
    body = line.lstrip("#").lstrip() if hashed else line
    cuts = [cut for cut in (body.find("=", 0, KEY_MAX), body.find(":", 0, KEY_MAX)) if cut > 0]
    if not cuts:
        return None
    cut = min(cuts)
    key, value = body[:cut].strip(), body[cut + 1:].strip().strip('"').strip()
    if not hashed and (not key[:1].isalpha() or any(mark in key for mark in ",;\t")
                       or body[cut] == ":" and body[cut + 1:cut + 2] not in ("", " ", "\t")):
        return None  # a header row, a sentence or a path ('C:\\data'), not a key
    return key, value


def _header_names(lines: list[str], start: int, shape: _Shape) -> tuple[int | None, list[str]]:
    """The line just above the data when it names the columns: (its index, the names)."""
    index = start - 1
    while index >= 0 and not lines[index].strip():
        index -= 1
    if index < 0:
        return None, []
    line = lines[index].strip()
    if line.startswith("#"):
        if _pair(line) is not None:
            return None, []
        line = line.lstrip("#")
    if _row_shape(line) is not None:
        return None, []
    candidates = [_cells(line, shape.delimiter)]
    if shape.delimiter == " ":  # names may hold spaces: 'Raman Shift  Intensity', 'X [cm-1] Y'
        candidates.append([cell.strip('"') for cell in re.split(r"\t| {2,}", line)])
        merged: list[str] = []
        for cell in candidates[0]:
            if merged and cell[:1] in "([":
                merged[-1] += " " + cell
            else:
                merged.append(cell)
        candidates.append(merged)
    names = next((cells for cells in candidates if len(cells) == shape.columns), None)
    return (index, names) if names else (None, [])


def _read_preamble(lines: list[str], header: tuple[int | None, list[str]]) -> _Preamble:
    header_index, names = header
    preamble = _Preamble(names=names)
    for index, raw in enumerate(lines):
        line = raw.strip()
        if not line or index == header_index:
            continue
        pair = _pair(line)
        if pair is not None:
            preamble.pairs.append(pair)
        else:
            preamble.texts.append(line.lstrip("#").strip())
    return preamble


def _check_orphan_rows(lines: list[str], start: int, shape: _Shape) -> None:
    """Refuse numeric rows above the table: the data begins there and a bad row follows."""
    for index in range(start):
        line = lines[index]
        if not line.strip() or _is_comment(line):
            continue
        orphan = _row_shape(line)
        if orphan is None or orphan.delimiter != shape.delimiter:
            continue
        if orphan.columns != shape.columns:
            raise ParseError(f"Line {index + 1} has {orphan.columns} columns but the data "
                             f"from line {start + 1} has {shape.columns}.", line=index + 1)
        for later in range(index + 1, start):
            if not lines[later].strip() or _is_comment(lines[later]):
                continue
            other = _row_shape(lines[later])
            if other is None or (other.delimiter, other.columns) != (shape.delimiter,
                                                                        shape.columns):
                _raise_bad_row(lines[later], later + 1, shape)
        return


def _raise_bad_row(line: str, number: int, shape: _Shape) -> None:
    """Say what is wrong with a data row: its width or its first cell that is not a number."""
    cells = _cells(line, shape.delimiter)
    if len(cells) != shape.columns:
        raise ParseError(f"Line {number} has {len(cells)} columns; the data has "
                         f"{shape.columns} ({_DELIMITER_NAMES[shape.delimiter]}-separated).",
                         line=number)
    for column, cell in enumerate(cells, 1):
        if cell == "":
            raise ParseError(f"Line {number}, column {column} is empty.", line=number)
        value = cell.replace(",", ".") if shape.decimal_comma else cell
        try:
            ok = np.isfinite(float(value))
        except ValueError:
            ok = False
        if not ok:
            raise ParseError(f"Line {number}, column {column}: {cell[:40]!r} is not a number.",
                             line=number)
    raise ParseError(f"Line {number} cannot be read as numbers.", line=number)


# --- the table ---------------------------------------------------------------------------------


@dataclass
class _Table:
    values: np.ndarray  # rows x columns
    line_of_row: np.ndarray  # 1-based line number of every row
    warnings: list[str] = field(default_factory=list)


_SKIPPED_LINE = re.compile(r"^[ \t]*(?:#|$)", re.M)  # blank or comment lines inside the data


def _field_counts(block: str, rows: int, delimiter: str) -> np.ndarray:
    """Cells per row of the block, counted with numpy rather than row by row."""
    raw = np.frombuffer(block.encode("utf-8", "replace"), dtype=np.uint8)
    newlines = np.flatnonzero(raw == 10)
    if delimiter == " ":
        boundary = (raw == 32) | (raw == 9) | (raw == 10)
        marks = np.flatnonzero(~boundary & np.concatenate(([True], boundary[:-1])))
        extra = 0
    else:
        marks = np.flatnonzero(raw == ord(delimiter))
        extra = 1
    return np.bincount(np.searchsorted(newlines, marks), minlength=rows)[:rows] + extra


def _read_long(lines: list[str], start: int, shape: _Shape) -> _Table:
    """Every row from the start of the table as float64, checked for width and numbers."""
    end = len(lines)
    while end > start and not lines[end - 1].strip():
        end -= 1
    rows, warnings = lines[start:end], []
    line_of_row = np.arange(start + 1, end + 1)
    if _SKIPPED_LINE.search("\n".join(rows)):
        keep = [index for index, row in enumerate(rows) if row.strip() and not _is_comment(row)]
        comments = sum(1 for row in rows if _is_comment(row))
        if comments:
            warnings.append(f"{comments} comment lines inside the data were skipped.")
        rows, line_of_row = [rows[index] for index in keep], line_of_row[keep]
    if len(rows) * shape.columns > MAX_POINTS:
        raise ParseError(f"The table holds more than {MAX_POINTS} values.", line=start + 1)
    block = "\n".join(rows)
    if '"' in block:
        block = block.replace('"', "")
    if shape.delimiter != " ":  # one delimiter closing a row adds no column
        block = re.sub(rf"{re.escape(shape.delimiter)} *$", "", block, flags=re.M)
    bad = np.flatnonzero(_field_counts(block, len(rows), shape.delimiter) != shape.columns)
    if bad.size:
        rows, line_of_row = _cut_footer(rows, line_of_row, int(bad[0]), shape, warnings)
        block = "\n".join(rows)
        if shape.delimiter != " ":
            block = re.sub(rf"{re.escape(shape.delimiter)} *$", "", block.replace('"', ""),
                           flags=re.M)
    values = _block_floats(block, rows, line_of_row, shape)
    return _Table(values.reshape(len(rows), shape.columns), line_of_row, warnings)


def _cut_footer(rows: list[str], line_of_row: np.ndarray, first_bad: int, shape: _Shape,
                warnings: list[str]) -> tuple[list[str], np.ndarray]:
    """Drop a few trailing text lines (an end-of-data note); any other bad row is an error."""
    tail = rows[first_bad:]
    textual = all(_number_kind(_cells(row, shape.delimiter)[0], shape.delimiter) is None
                  for row in tail)
    if first_bad > 0 and len(tail) <= FOOTER_MAX_LINES and textual:
        warnings.append(f"{len(tail)} text lines after the data (from line "
                        f"{line_of_row[first_bad]}) were ignored: {tail[0].strip()[:60]!r}.")
        return rows[:first_bad], line_of_row[:first_bad]
    _raise_bad_row(rows[first_bad], int(line_of_row[first_bad]), shape)
    raise AssertionError("unreachable")  # pragma: no cover


def _block_floats(block: str, rows: list[str], line_of_row: np.ndarray, shape: _Shape
                  ) -> np.ndarray:
    """All cells of the block as float64; on failure, the row and column that is wrong."""
    delimiter = shape.delimiter
    if shape.decimal_comma:
        block = block.replace(",", ".")
    tokens = block.split() if delimiter == " " else block.replace("\n", delimiter).split(
        delimiter)
    values = None
    if len(tokens) == len(rows) * shape.columns:
        values = _finite_floats(tokens)
    if values is not None:
        return values
    # The slow way, row by row: it names the bad row (str.split may see more whitespace).
    values = np.empty((len(rows), shape.columns))
    for index, (row, number) in enumerate(zip(rows, line_of_row, strict=True)):
        cells = _cells(row, delimiter)
        if shape.decimal_comma:
            cells = [cell.replace(",", ".") for cell in cells]
        parsed = _finite_floats(cells) if len(cells) == shape.columns else None
        if parsed is None:
            _raise_bad_row(row, int(number), shape)
        values[index] = parsed
    return values.ravel()


def _finite(cell: str, shape: _Shape) -> bool:
    return _finite_floats([cell.replace(",", ".") if shape.decimal_comma else cell]) is not None


@dataclass
class _Wide:
    x: np.ndarray
    ys: list[np.ndarray]
    labels: list[str]  # the label cell of each row ('' when the rows have none)
    metadata: list[dict[str, str]]  # metadata columns of each Y row
    names: list[str]  # names of the metadata columns
    start: int
    x_label: str = ""  # the label cell of the X row, when the rows have labels


def _wide_split(line: str, delimiter: str, number: int) -> list[str]:
    if delimiter == " ":
        return line.split()
    try:
        return [cell.strip() for cell in next(csv.reader([line], delimiter=delimiter))]
    except csv.Error as error:  # for example a quoted cell longer than csv allows
        raise ParseError(f"Line {number} cannot be split into cells: {error}.",
                         line=number) from None


def _find_wide(lines: list[str]) -> _Wide | None:
    """A transposed table: a row of X values (maybe labelled, maybe followed by names)."""
    for index, line in enumerate(lines[:200]):
        if not line.strip() or _is_comment(line):
            continue
        for delimiter in (",", ";", "\t", " "):
            head = line.split(None, WIDE_MIN_COLUMNS + 1) if delimiter == " " else line.split(
                delimiter, WIDE_MIN_COLUMNS + 1)
            head = [cell.strip().strip('"') for cell in head[:WIDE_MIN_COLUMNS + 1]]
            offset = 0 if head and _number_kind(head[0], delimiter) else 1
            numbers = head[offset:offset + WIDE_MIN_COLUMNS]
            if len(numbers) == WIDE_MIN_COLUMNS and all(_number_kind(cell, delimiter)
                                                        for cell in numbers):
                return _read_wide(lines, index, delimiter, offset)
    return None


def _read_wide(lines: list[str], start: int, delimiter: str, offset: int) -> _Wide:
    first = _wide_split(lines[start], delimiter, start + 1)
    width = len(first)
    if width > MAX_POINTS:
        raise ParseError(f"The table holds more than {MAX_POINTS} values.", line=start + 1)
    count = width - offset  # the names of metadata columns close the row
    while count > 0 and _number_kind(first[offset + count - 1], delimiter) is None:
        count -= 1
    names = first[offset + count:]
    decimal = delimiter != "," and any("," in cell for cell in first[offset:offset + count])
    shape = _Shape(delimiter, width, decimal)
    x = _row_floats(first[offset:offset + count], start + 1, offset, shape)
    ys, labels, metadata = [], [], []
    for index in range(start + 1, len(lines)):
        line = lines[index]
        if not line.strip() or _is_comment(line):
            continue
        cells = _wide_split(line, delimiter, index + 1)
        if len(cells) != width:
            raise ParseError(f"Line {index + 1} has {len(cells)} columns; line {start + 1} "
                             f"has {width}.", line=index + 1)
        ys.append(_row_floats(cells[offset:offset + count], index + 1, offset, shape))
        labels.append(cells[0] if offset else "")
        metadata.append(dict(zip(names, cells[offset + count:], strict=True)))
    if not ys:
        raise ParseError(f"Line {start + 1} holds a row of X values but no row of Y values "
                         "follows.", line=start + 1)
    return _Wide(x, ys, labels, metadata, names, start, first[0] if offset else "")


def _row_floats(cells: list[str], number: int, offset: int, shape: _Shape) -> np.ndarray:
    values = _finite_floats([cell.replace(",", ".") for cell in cells] if shape.decimal_comma
                            else cells)
    if values is None:
        for column, cell in enumerate(cells, offset + 1):
            if not _finite(cell, shape):
                raise ParseError(f"Line {number}, column {column}: {cell[:40]!r} is not a "
                                 "number.", line=number)
    return values


# --- Agilent .asp (positional) -----------------------------------------------------------------


def _asp_header(lines: list[str]) -> tuple[int, float, float] | None:
    """(points, first X, last X) when the lines follow the .asp layout."""
    head = [line.strip() for line in lines[:6]]
    if len(head) < 6 or not all(_NUMBER.fullmatch(cell) for cell in head):
        return None
    if not all(re.fullmatch(r"\d+", cell) for cell in (head[0], *head[3:6])):
        return None
    points = int(head[0])
    if points < 2:
        return None
    return points, float(head[1]), float(head[2])


def _parse_asp(lines: list[str], title: str, warnings: list[str]) -> list[Spectrum]:
    end = len(lines)
    while end > 6 and not lines[end - 1].strip():
        end -= 1
    header = _asp_header(lines)
    if header is None:
        raise ParseError("Not an Agilent .asp file: the first six lines must be the point "
                         "count, first X, last X and three integers.", line=1)
    points, first, last = header
    rows = lines[6:end]
    for index, row in enumerate(rows):
        if not _NUMBER.fullmatch(row.strip()):
            raise ParseError(f"Line {index + 7}: {row.strip()[:40]!r} is not a number.",
                             line=index + 7)
    if len(rows) > MAX_POINTS:
        raise ParseError(f"The file holds more than {MAX_POINTS} values.", line=7)
    y = np.array(rows, dtype=np.float64)
    if not np.isfinite(y).all() or not (np.isfinite(first) and np.isfinite(last)):
        raise ParseError("The file holds a number too large for float64.", line=1)
    if y.size < 2:
        raise ParseError("The file holds fewer than 2 points.", line=7)
    if y.size != points:
        warnings.append(f"The header declares {points} points but the file holds {y.size}; "
                        "the data was kept and X spread evenly from the first to the last X.")
    with np.errstate(all="ignore"):
        x = np.linspace(first, last, y.size)
    metadata = {"export_profile": AGILENT_ASP.label, "asp_flags": " ".join(
        line.strip() for line in lines[3:6])}
    metadata.update(_x_order(x, None, warnings))
    return [Spectrum(x=x, y=y, x_unit=AGILENT_ASP.x_unit, y_unit="arbitrary",
                     technique=AGILENT_ASP.technique, title=title, metadata=metadata,
                     warnings=warnings)]


# --- metadata, profiles and units --------------------------------------------------------------


def _key_and_unit(key: str) -> tuple[str, str]:
    key = key[:200]  # names are short; a longer one is not worth a slow match
    match = _NAME_UNIT.fullmatch(key)
    if match:
        return match[1].strip().lower(), match[2].strip()
    return key.strip().lower(), ""


def _map_pairs(pairs: list[tuple[str, str]], warnings: list[str]) -> tuple[dict[str, str], str]:
    """Metadata from header pairs: known keys under the LIMS names, others as written."""
    metadata: dict[str, str] = {}
    title = ""
    for key, value in pairs:
        if not value:
            continue
        name, unit = _key_and_unit(key)
        if name in _TITLE_KEYS and not title:
            title = value
            continue
        known = _KEY_MAP.get(name)
        mapped = None if known is None or known in metadata else _known_value(known, value,
                                                                              unit)
        if mapped is None:
            if known == "acquired_at" and known not in metadata:
                warnings.append(f"The {key} {value[:40]!r} could not be read as a date.")
            _keep(metadata, key, value)
            continue
        metadata[known] = mapped
        if mapped != value:
            _keep(metadata, key, value)  # the value as written, when it was converted
    return metadata, title


def _keep(metadata: dict[str, str], key: str, value: str) -> None:
    """Store a value under its own key; a repeated key with another value gets a number."""
    number, name = 1, key
    while name in metadata and metadata[name] != value:
        number += 1
        name = f"{key} ({number})"
    metadata[name] = value


def _known_value(known: str, value: str, unit: str) -> str | None:
    """The value in the LIMS's form, or None when it cannot be converted."""
    if known == "acquired_at":
        return iso_datetime(value)
    if known == "laser_wavelength_nm":
        match = re.match(r"\D{0,20}?(\d+(?:[.,]\d+)?)\s*(?:nm)?(?![\d.,])", value)
        return match[1].replace(",", ".") if match else None
    if known == "exposure_time" and unit:
        return f"{value} {unit}"
    return value


def _matches(patterns: tuple[str, ...], cells: list[str]) -> bool:
    return len(patterns) == len(cells) and all(
        re.fullmatch(pattern, cell.strip().lower()) for pattern, cell in zip(patterns, cells,
                                                                             strict=True))


def _match_profile(preamble: _Preamble, wide: _Wide | None, sample: np.ndarray | None,
                   sample_cells: list[str]) -> Profile | None:
    """The first profile the file fits, judged by its headers, column names or numbers."""
    keys = {_key_and_unit(key)[0] for key, _ in preamble.pairs}
    texts = [text.lower() for text in preamble.texts]
    for profile in PROFILES:
        if profile.keys and len(keys.intersection(profile.keys)) >= 2:
            return profile
        if profile.columns and _matches(profile.columns, preamble.names):
            return profile
        if profile.markers and all(any(re.fullmatch(marker, text[:500]) for text in texts)
                                   for marker in profile.markers):
            return profile
        if profile.wide_columns and wide is not None and len(
                set(wide.names).intersection(profile.wide_columns)) >= 2:
            return profile
        if (profile.numbers and wide is None and not preamble.names and sample is not None
                and sample_cells
                and all(re.fullmatch(profile.numbers, cell) for cell in sample_cells)
                and profile.x_within[0] <= sample[:, 0].min()
                and sample[:, 0].max() <= profile.x_within[1]):
            return profile
    return None


def _column_kind(cell: str, table: tuple) -> tuple[str | None, str | None]:
    """(what the column holds, its unit) from its header cell; None for what it does not say."""
    name, unit = _key_and_unit(cell.strip().lstrip("."))
    name = name.rstrip(".").strip()
    for pattern, kind, implied in table:
        if re.fullmatch(pattern, name):
            return kind, unit or implied
    return None, unit or None


def _technique_from_columns(x_kind: str | None, y_kind: str | None, x_unit: str | None,
                            x: np.ndarray) -> str | None:
    for rule_x, rule_y, rule_unit, technique in _TECHNIQUE_RULES:
        if rule_x == x_kind and rule_y in (None, y_kind) and rule_unit in (None, x_unit):
            if technique == "UV-Vis" and np.nanmax(x) > UV_VIS_MAX_NM:
                continue
            return technique
    return None


def _technique_word(text: str) -> str | None:
    return _TECHNIQUE_WORDS.get(text.strip().lower())


def _x_order(x: np.ndarray, line_of_row: np.ndarray | None, warnings: list[str]
             ) -> dict[str, str]:
    """Record whether X ascends or descends; warn, with the line, when it does neither."""
    rising, falling = x[1:] > x[:-1], x[1:] < x[:-1]
    if rising.all():
        return {"x_order": "ascending"}
    if falling.all():
        return {"x_order": "descending"}
    steps = rising.astype(np.int8) - falling.astype(np.int8)  # +1, -1, or 0 for a repeat
    reversal = 1 if steps[0] == 0 else int(np.flatnonzero(steps != steps[0])[0]) + 1
    where = (f"line {int(line_of_row[reversal])}" if line_of_row is not None
             else f"point {reversal + 1}")
    warnings.append(f"X is not monotonic: it repeats or turns back at {where}.")
    return {"x_order": "unordered"}


def _split_interleaved(x: np.ndarray) -> list[np.ndarray] | None:
    """Row indices of two signals recorded alternately, when the time steps show it.

    The steps must alternate between two sizes (short, long), or be their sum where one signal
    skipped a point; short steps always lead from series 1 to series 2.
    """
    if x.size < 8:
        return None
    with np.errstate(all="ignore"):
        steps = np.diff(x)
        if not (steps > 0).all():
            return None
        even, odd = float(np.median(steps[0::2])), float(np.median(steps[1::2]))
        short, long = min(even, odd), max(even, odd)
        if not (np.isfinite(long) and long > 1.5 * short > 0):
            return None
        tolerance = 0.2 * short
        kinds = np.full(steps.size, -1)
        kinds[np.abs(steps - short) <= tolerance] = 0
        kinds[np.abs(steps - long) <= tolerance] = 1
        kinds[np.abs(steps - short - long) <= tolerance] = 2
    if (kinds < 0).any() or (kinds == 2).sum() > max(2, steps.size // 100):
        return None
    # A short or long step changes series, a skipped point (their sum) does not.
    series = np.concatenate(([0 if kinds[0] == 0 else 1], np.zeros(steps.size, dtype=int)))
    series[1:] = (series[0] + np.cumsum(kinds != 2)) % 2
    leaving = series[:-1]
    if (leaving[kinds == 0] != 0).any() or (leaving[kinds == 1] != 1).any():
        return None
    return [np.flatnonzero(series == 0), np.flatnonzero(series == 1)]


# --- detect and parse --------------------------------------------------------------------------


def _foreign(head: bytes) -> str | None:
    """Name the format of a file that another adapter reads."""
    for pattern, description in _FOREIGN:
        if pattern.search(head):
            return description
    if _MSP_NAME.search(head) and _MSP_PEAKS.search(head):
        return "an MSP mass-spectral library (Name: ... Num Peaks:)"
    return None


def _extension(filename: str) -> str:
    return PurePath(filename or "").suffix.lower()


@dataclass
class _Sniff:
    """What the sniffer found in the lines: table position, shape, preamble and profile."""

    start: int | None
    shape: _Shape | None
    wide: _Wide | None
    preamble: _Preamble
    profile: Profile | None


def _sniff(lines: list[str]) -> _Sniff:
    found = _find_long_table(lines)
    wide = None
    if found is not None:
        start, shape = found
        _check_orphan_rows(lines, start, shape)
        preamble = _read_preamble(lines[:start], _header_names(lines, start, shape))
    else:
        start, shape = None, None
        wide = _find_wide(lines)
        preamble = _read_preamble(lines[:wide.start] if wide else lines, (None, []))
    sample, cells = None, []
    if shape is not None and shape.columns == 2:  # header-less profiles are two columns
        rows = [line for line in lines[start:start + 50]
                if line.strip() and not _is_comment(line)]
        cells = [cell for row in rows for cell in _cells(row, shape.delimiter)]
        values = _finite_floats([cell.replace(",", ".") for cell in cells])
        if values is not None and values.size % 2 == 0:
            sample = values.reshape(-1, 2)
    profile = _match_profile(preamble, wide, sample, cells)
    return _Sniff(start, shape, wide, preamble, profile)


def detect(data: bytes, filename: str = "") -> Detection | None:
    """A text table of numbers (0.5-0.6), or one a vendor profile knows (0.8-0.9)."""
    head = data[:SNIFF_BYTES]
    if not head.startswith((b"\xff\xfe", b"\xfe\xff")) and b"\x00" in head:
        return None
    if _foreign(head) is not None:
        return None
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # cut UTF-16 between characters
        head = head[:len(head) // 2 * 2]
        order = "little" if head.startswith(b"\xff\xfe") else "big"
        if 0xD800 <= int.from_bytes(head[-2:], order) < 0xDC00:
            head = head[:-2]
    try:
        lines, _ = text_lines(head)
    except ParseError:
        return None
    if len(data) > SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut in the middle
    extension = _extension(filename)
    if _asp_header(lines) is not None:
        whole = data.count(b"\n") or data.count(b"\r")
        points = int(lines[0].strip())
        if abs(whole - (points + 6)) <= 1 or extension == ".asp":
            return Detection(0.9 if extension == ".asp" else 0.8,
                             f"{AGILENT_ASP.label} layout: {points} points after 6 header lines")
    if _MARKUP.match(next((line for line in lines if line.strip()), "")):
        return None
    try:
        sniff = _sniff(lines)
    except ParseError:
        return Detection(0.5 if extension in EXTENSIONS else 0.3,
                         "text with rows of numbers that do not form a clean table")
    if sniff.shape is None and sniff.wide is None:
        return Detection(0.2, "file name only") if extension in EXTENSIONS else None
    if sniff.profile is not None:
        bonus = 0.1 if extension in sniff.profile.extensions else 0.0
        return Detection(0.8 + bonus, f"{sniff.profile.label} export")
    reason = ("a wide table of numbers (row 1 = X)" if sniff.wide is not None else
              f"a {_DELIMITER_NAMES[sniff.shape.delimiter]}-separated table of numbers")
    return Detection(0.55 if extension in EXTENSIONS else 0.5, reason)


def parse(data: bytes, filename: str = "") -> list[Spectrum]:
    """Every spectrum of a CSV/TXT export: one per Y column (long) or Y row (wide)."""
    if not data.strip():
        raise ParseError("The file is empty.", offset=0)
    if not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        foreign = _foreign(data[:SNIFF_BYTES])
        if foreign is not None:
            raise ParseError(f"This is {foreign}, not a CSV/TXT export.", offset=0)
    lines, warnings = text_lines(data)
    if _asp_header(lines) is not None and (_extension(filename) == ".asp"
                                           or _row_shape(lines[0]) is None):
        return _parse_asp(lines, PurePath(filename or "").stem, warnings)
    sniff = _sniff(lines)
    if sniff.shape is None and sniff.wide is None:
        raise ParseError("No numeric data: no run of rows of two or more numbers was found.",
                         line=len(lines))
    profile = sniff.profile
    metadata, title = _map_pairs(sniff.preamble.pairs, warnings)
    texts = sniff.preamble.texts
    if profile is not None:
        metadata["export_profile"] = profile.label
        profile = _with_stated_x_unit(profile, sniff.preamble.pairs)
        texts, profile_title = _apply_preamble(profile, texts, metadata, warnings)
        title = title or profile_title
    if texts:
        metadata.setdefault("comments", "\n".join(texts)[:2000])
    stem = PurePath(filename or "").stem
    if sniff.wide is not None:
        return _wide_spectra(sniff.wide, profile, metadata, title or stem, warnings)
    table = _read_long(lines, sniff.start, sniff.shape)
    if sniff.shape.decimal_comma:
        warnings.append("Numbers use a decimal comma.")
    rows, columns = table.values.shape
    if columns >= WIDE_MIN_COLUMNS and rows < columns and not sniff.preamble.names:
        return _transposed(table, profile, metadata, title or stem, warnings)
    if rows < 2:
        raise ParseError(f"The table holds fewer than 2 points (1 row, at line "
                         f"{int(table.line_of_row[0])}).", line=int(table.line_of_row[0]))
    title = title or metadata.get("sample_name", "") or stem
    return _long_spectra(table, sniff.preamble.names, profile, metadata, title, warnings)


def _apply_preamble(profile: Profile, texts: list[str], metadata: dict[str, str],
                    warnings: list[str]) -> tuple[list[str], str]:
    """Metadata from a profile's preamble patterns: (lines left unexplained, title or '')."""
    left, title = [], ""
    for text in texts:
        if any(re.fullmatch(marker, text[:500].lower()) for marker in profile.markers):
            continue
        match = next(filter(None, (re.fullmatch(p, text[:500]) for p in profile.preamble)),
                     None)
        if match is None:
            left.append(text)
            continue
        for key, value in match.groupdict().items():
            if key == "acquired_at":
                iso = iso_datetime(value)
                if iso is None:
                    warnings.append(f"The date {value!r} could not be read.")
                    continue
                metadata.setdefault(key, iso)
            else:
                metadata.setdefault(key, value)
        if match.groupdict().get("origin"):
            title = PurePath(match["origin"].replace("\\", "/")).name
    return left, title


def _unit_text(unit: str) -> str:
    """Unit text with superscripts spelt out ('cm-¹' -> 'cm-1')."""
    return unit.translate(_SUPERSCRIPTS)


def _with_stated_x_unit(profile: Profile, pairs: list[tuple[str, str]]) -> Profile:
    """The profile with the X unit its x_unit_key header states, when the file has one."""
    for key, _ in pairs if profile.x_unit_key else ():
        name, unit = _key_and_unit(key)
        if name == profile.x_unit_key and unit:
            return replace(profile, x_unit=normalise_x_unit(_unit_text(unit)))
    return profile


def _resolve(profile: Profile | None, x_cell: str, y_cell: str, stated: str | None,
             x: np.ndarray, warnings: list[str]) -> tuple[str, str, str]:
    """(technique, x unit, y unit): what the file states, else the profile, else unknown."""
    x_kind, x_unit = _column_kind(x_cell, _X_COLUMNS)
    y_kind, y_unit = _column_kind(y_cell, _Y_COLUMNS)
    x_unit = normalise_x_unit(_unit_text(x_unit)) if x_unit else (
        profile.x_unit if profile else None)
    y_unit = normalise_y_unit(_unit_text(y_unit)) if y_unit else (
        profile.y_unit if profile else None)
    technique = stated or _technique_from_columns(x_kind, y_kind, x_unit, x)
    if technique is None and profile is not None and profile.technique:
        technique = profile.technique
        if profile.inferred:
            warnings.append(f"The file has no header: technique {technique} and X unit "
                            f"{profile.x_unit} are assumed from the {profile.label} layout.")
    if technique is None:
        technique = "other"
        warnings.append("The file does not say which technique measured it; choose the "
                        "technique when accepting the spectrum.")
    if x_unit is None:
        x_unit = "arbitrary"
        warnings.append("The file does not say the X unit.")
    return technique, x_unit, y_unit or "arbitrary"


def _long_spectra(table: _Table, names: list[str], profile: Profile | None,
                  metadata: dict[str, str], title: str, warnings: list[str]) -> list[Spectrum]:
    warnings = warnings + table.warnings
    x, ys = table.values[:, 0], table.values[:, 1:].T
    series = None
    if profile is not None and profile.interleaved and len(ys) == 1:
        series = _split_interleaved(x)
    x_cell = names[0] if names else ""
    spectra = []
    for column, y in enumerate(ys, 1):
        y_cell = names[column] if names else ""
        own = list(warnings)
        technique, x_unit, y_unit = _resolve(profile, x_cell, y_cell,
                                             _technique_word(metadata.get("technique", "")),
                                             x, own)
        name = y_cell or (f"column {column + 1}" if len(ys) > 1 else "")
        label = f"{title}: {name}" if title and name and len(ys) > 1 else (title or name)
        parts = [np.arange(x.size)] if series is None else series
        for number, rows in enumerate(parts, 1):
            meta, notes = dict(metadata), list(own)
            if series is not None:
                notes.append(_interleaved_note(x, series, x_unit))
                meta["rows"] = (f"series {number} of 2: file lines "
                                f"{', '.join(str(n) for n in table.line_of_row[rows[:3]])}, ...")
            meta.update(_x_order(x[rows], table.line_of_row[rows], notes))
            block = name if len(ys) > 1 else ""
            if series is not None:
                block = f"series {number}"
            spectra.append(Spectrum(
                x=x[rows], y=y[rows], x_unit=x_unit, y_unit=y_unit, technique=technique,
                title=label if series is None else f"{label} (series {number} of 2)",
                metadata=meta, warnings=notes, block=block))
    return spectra


def _interleaved_note(x: np.ndarray, series: list[np.ndarray], x_unit: str) -> str:
    steps = np.diff(x)
    short, long = sorted((float(np.median(steps[0::2])), float(np.median(steps[1::2]))))
    return (f"The {x.size} rows alternate between two time grids (steps {short:.4g} and "
            f"{long:.4g} {x_unit}): two signals recorded in turn, as in a SIM/scan run. The "
            f"file does not name them; they were split by that pattern into {series[0].size} "
            f"+ {series[1].size} points.")


def _transposed(table: _Table, profile: Profile | None, metadata: dict[str, str], title: str,
                warnings: list[str]) -> list[Spectrum]:
    """A numeric table with more columns than rows: row 1 is X, each further row a Y."""
    values = table.values
    if len(values) < 2:
        raise ParseError(f"Line {int(table.line_of_row[0])} holds a row of X values but no "
                         "row of Y values follows.", line=int(table.line_of_row[0]))
    wide = _Wide(values[0], list(values[1:]), [""] * (len(values) - 1),
                 [{} for _ in values[1:]], [], int(table.line_of_row[0]) - 1)
    warnings = [*warnings, *table.warnings, "Read as a wide table: row 1 holds the X values, "
                "each further row one spectrum."]
    return _wide_spectra(wide, profile, metadata, title, warnings)


def _wide_spectra(wide: _Wide, profile: Profile | None, metadata: dict[str, str], title: str,
                  warnings: list[str]) -> list[Spectrum]:
    if wide.x.size < 2:
        raise ParseError("The table holds fewer than 2 points.", line=wide.start + 1)
    columns = profile.wide_columns if profile is not None else {}
    spectra = []
    for number, (y, label, extra) in enumerate(zip(wide.ys, wide.labels, wide.metadata,
                                                   strict=True), 1):
        own = list(warnings)
        meta = dict(metadata)
        for name, value in extra.items():
            if value:
                meta[columns.get(name, name)] = value
        stated = _technique_word(meta.get("technique", ""))
        technique, x_unit, y_unit = _resolve(profile, wide.x_label, "", stated, wide.x, own)
        meta.update(_x_order(wide.x, None, own))
        name = label or meta.get("sample_name", "") or title  # the row's own name first
        if len(wide.ys) > 1 and not label:
            name = f"{name} (row {number + 1})"
        spectra.append(Spectrum(x=wide.x, y=y, x_unit=x_unit, y_unit=y_unit,
                                technique=technique, title=name or title, metadata=meta,
                                warnings=own, block=f"row {number + 1}" if len(wide.ys) > 1
                                else ""))
    return spectra
