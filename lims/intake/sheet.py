"""Bulk intake: read samples from a CSV or XLSX sheet and report every problem by row and column."""

import codecs
import csv
import io
import re
import warnings
from collections.abc import Collection
from dataclasses import dataclass, field
from decimal import Decimal

import openpyxl
import pandas as pd

from lims.identifiers import normalize_seal
from lims.units import parse_weight_mg

MAX_ROWS = 5000
# pandas pads every row to the widest one, so a stray cell at XFD1 or A1048576 in a 1.5 KB file
# would become billions of cells. Refused before pandas sees the sheet: more rows than four times
# the sample limit (blank rows included), or rows x widest row beyond 5,000 samples x 50 columns.
MAX_SHEET_ROWS = 4 * MAX_ROWS
MAX_SHEET_CELLS = 250_000

SAMPLE_SHEET_COLUMNS = [
    "description",
    "packaging",
    "unit_count",
    "gross_weight_g",
    "net_weight_g",
    "seal_number",
    "storage_location",
    "notes",
]

# Headers are compared after _header_key(): lower case, punctuation and underscores as spaces.
_ALIASES = {
    "description": ("description", "item description", "sample description", "item", "goods"),
    "packaging": ("packaging", "package", "packing", "packaging type", "package type"),
    "unit_count": (
        "unit count",
        "units",
        "number of units",
        "no of units",
        "pieces",
        "pcs",
        "count",
    ),
    "seal_number": ("seal number", "seal", "seal no", "seal nr", "seal id"),
    "storage_location": ("storage location", "location", "storage", "location code"),
    "notes": ("notes", "note", "remarks", "remark", "comments", "comment"),
}
_COLUMN_BY_KEY = {alias: column for column, aliases in _ALIASES.items() for alias in aliases}
# "Gross weight (g)", "gross_weight_g", "Net mass [kg]", "Gross": the unit applies to bare numbers.
_WEIGHT_HEADER = re.compile(r"(gross|net)(?: weight| mass| wt)?(?: (mg|g|kg))?")
# The widths of the matching database columns, so that a long cell is refused here.
_MAX_LENGTH = {
    "packaging": ("Packaging", 200),
    "seal_number": ("Seal number", 80),
    "storage_location": ("Storage location", 40),
}
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]")


@dataclass(frozen=True)
class SampleRow:
    """One valid sample read from the sheet; weights are in milligrams."""

    row: int
    description: str
    packaging: str
    unit_count: int
    gross_weight_mg: int | None
    net_weight_mg: int | None
    seal_number: str
    storage_location: str
    notes: str


@dataclass(frozen=True)
class SheetError:
    """A problem at a spreadsheet row (header = 1; 0 = whole file) and column header."""

    row: int
    column: str
    message: str


@dataclass
class SheetResult:
    """The rows that passed and every problem found; import only when `errors` is empty."""

    rows: list[SampleRow] = field(default_factory=list)
    errors: list[SheetError] = field(default_factory=list)


@dataclass(frozen=True)
class _Column:
    """Where a known column sits in the sheet and how its header was written."""

    index: int
    header: str
    unit: str = "g"


class _FileProblem(Exception):
    """The file as a whole cannot be read as a sample sheet."""


def parse_sample_sheet(data: bytes, filename: str,
                       locations: Collection[str] | None = None) -> SheetResult:
    """Read samples from CSV or XLSX bytes, returning valid rows and every error found."""
    try:
        table = _read_table(data, filename)
    except _FileProblem as problem:
        return SheetResult(errors=[SheetError(0, "", str(problem))])
    return _parse_table(table, locations)


def template_csv() -> str:
    """Return a CSV template with the header row and one example sample."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(SAMPLE_SHEET_COLUMNS)
    writer.writerow(
        [
            "White powder in a heat-sealed plastic bag",
            "Plastic bag",
            "1",
            "1250.5",
            "1000.2",
            "BG0071234",
            "VAULT-A-03",
            "Found in the spare tyre",
        ]
    )
    return buffer.getvalue()


def _read_table(data: bytes, filename: str) -> list[list[str]]:
    """Return the cells of the first sheet as trimmed strings, one list per spreadsheet row."""
    if not data.strip():
        raise _FileProblem("The file is empty.")
    if data.startswith(b"PK\x03\x04"):
        frame = _read_xlsx(data, filename)
    elif data.startswith(b"\xd0\xcf\x11\xe0"):
        raise _FileProblem(
            f"{filename} is an old Excel 97-2003 (.xls) workbook; save it as .xlsx or CSV."
        )
    else:
        frame = _read_csv(_decode(data, filename))
    return [["" if pd.isna(cell) else str(cell).strip() for cell in row] for row in frame.values]


def _read_xlsx(data: bytes, filename: str) -> pd.DataFrame:
    """Return the first worksheet of an XLSX workbook as a frame of strings."""
    try:
        # Warnings here are about features of the user's workbook that openpyxl drops.
        with warnings.catch_warnings(action="ignore"):
            _check_xlsx_extent(data)
            return pd.read_excel(
                io.BytesIO(data), engine="openpyxl", header=None, dtype=str, keep_default_na=False
            )
    except _FileProblem:
        raise
    except Exception as exc:  # openpyxl raises many exception types on damaged ZIP contents
        raise _FileProblem(
            f"{filename} could not be opened as an Excel .xlsx workbook; "
            "save it again from your spreadsheet program or export it as CSV."
        ) from exc


def _check_xlsx_extent(data: bytes) -> None:
    """Refuse a first worksheet whose declared or real extent is beyond the row or cell limit."""
    workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheet = workbook.worksheets[0]
        _check_extent(sheet.max_row or 0, sheet.max_column or 0, "the sheet's declared size")
        sheet.reset_dimensions()  # the dimension record can lie: measure while streaming too
        width = 1
        for number, row in enumerate(sheet.iter_rows(values_only=True), 1):
            if row:  # rows missing from the file come as (), one by one: keep those cheap
                width = max(width, next((i for i in range(len(row), 0, -1)
                                         if row[i - 1] not in (None, "")), 0))
            if number > MAX_SHEET_ROWS or number * width > MAX_SHEET_CELLS:
                _check_extent(number, width, "the sheet")
    finally:
        workbook.close()


def _check_extent(rows: int, columns: int, what: str) -> None:
    """Refuse a table longer than MAX_SHEET_ROWS or, padded, larger than MAX_SHEET_CELLS."""
    if rows > MAX_SHEET_ROWS:
        limit = f"row limit: {what} reaches row {rows:,}; the limit is {MAX_SHEET_ROWS:,} rows"
    elif rows * columns > MAX_SHEET_CELLS:
        limit = (f"cell limit: {what} reaches row {rows:,} and column "
                 f"{_column_letter(columns - 1)}, {rows * columns:,} cells once every row is as "
                 f"wide as the widest; the limit is {MAX_SHEET_CELLS:,} cells")
    else:
        return
    raise _FileProblem(f"Refused by the {limit}. Delete stray cells far from the data "
                       "(Ctrl+End shows the last one) or save the sheet as CSV.")


def _decode(data: bytes, filename: str) -> str:
    """Decode CSV bytes as UTF-16 (with BOM), UTF-8 or Windows-1252, refusing binary data."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encodings = {"utf-16": "UTF-16"}
    elif _CONTROL_BYTES.search(data):
        raise _FileProblem(
            f"{filename} is not a CSV or XLSX sheet: it contains binary data. "
            "Upload the sheet saved as .xlsx or CSV."
        )
    else:
        encodings = {"utf-8-sig": "UTF-8", "cp1252": "Windows-1252"}
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as exc:
            error = exc
    raise _FileProblem(
        f"{filename} is not readable as {' or '.join(encodings.values())} text "
        f"(byte 0x{error.object[error.start]:02X} at position {error.start}); "
        "save it from your spreadsheet program as “CSV UTF-8”."
    )


def _read_csv(text: str) -> pd.DataFrame:
    """Parse CSV text with the separator used in its first line, keeping blank rows."""
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    separator = max(",;\t", key=first_line.count)
    try:
        widths = [len(record) for record in csv.reader(io.StringIO(text), delimiter=separator)]
        width = max(widths)
        _check_extent(len(widths), width, "the CSV file")
        return pd.read_csv(
            io.StringIO(text),
            sep=separator,
            header=None,
            names=range(width),
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            engine="python",
        )
    except (csv.Error, pd.errors.ParserError) as exc:
        raise _FileProblem(f"The CSV file could not be read: {exc}.") from exc


def _parse_table(table: list[list[str]], locations: Collection[str] | None) -> SheetResult:
    """Map the header row to columns, then validate every non-blank row below it."""
    filled = [index for index, cells in enumerate(table) if any(cells)]
    if not filled:
        return SheetResult(errors=[SheetError(0, "", "The sheet is empty.")])
    header_index, data_indexes = filled[0], filled[1:]
    if not data_indexes:
        return SheetResult(
            errors=[SheetError(0, "", "The sheet has a header row but no samples below it.")]
        )
    if len(data_indexes) > MAX_ROWS:
        message = (
            f"The sheet has {len(data_indexes):,} samples; the limit is {MAX_ROWS:,} "
            "per upload. Split it into smaller sheets."
        )
        return SheetResult(errors=[SheetError(0, "", message)])
    columns, result = _map_headers(table[header_index], header_index + 1)
    if "description" not in columns:
        result.errors.append(
            SheetError(
                0,
                "",
                "The sheet has no description column, which is required. "
                f"The columns are: {', '.join(SAMPLE_SHEET_COLUMNS)}.",
            )
        )
        return result
    unnamed = [index for index, header in enumerate(table[header_index]) if not header]
    for index in data_indexes:
        _parse_row(table[index], index + 1, columns, unnamed, result, locations)
    return result


def _map_headers(headers: list[str], row: int) -> tuple[dict[str, _Column], SheetResult]:
    """Return the known columns by canonical name and a result holding any header errors."""
    columns: dict[str, _Column] = {}
    result = SheetResult()
    for index, header in enumerate(headers):
        if not header:
            continue
        key = _header_key(header)
        weight = _WEIGHT_HEADER.fullmatch(key)
        if weight:
            name = f"{weight[1]}_weight_g"
            column = _Column(index, header, weight[2] or "g")
        elif key in _COLUMN_BY_KEY:
            name = _COLUMN_BY_KEY[key]
            column = _Column(index, header)
        else:
            result.errors.append(
                SheetError(
                    row,
                    header,
                    f"Unknown column “{header}”. "
                    f"The columns are: {', '.join(SAMPLE_SHEET_COLUMNS)}.",
                )
            )
            continue
        if name in columns:
            result.errors.append(
                SheetError(
                    row,
                    header,
                    f"“{header}” and “{columns[name].header}” are both the {name} column; "
                    "keep one.",
                )
            )
            continue
        columns[name] = column
    return columns, result


def _header_key(header: str) -> str:
    """Return a header in the form the alias table uses: lower case, words split by spaces."""
    return " ".join(re.sub(r"[\s_\-()\[\].,:/#]+", " ", header.lower()).split())


def _parse_row(
    cells: list[str],
    row: int,
    columns: dict[str, _Column],
    unnamed: list[int],
    result: SheetResult,
    locations: Collection[str] | None = None,
) -> None:
    """Validate one spreadsheet row, adding a SampleRow or its errors to `result`."""
    errors = result.errors
    count_before = len(errors)

    def text(name: str) -> str:
        column = columns.get(name)
        return cells[column.index] if column else ""

    def check(name: str, parse, *args):
        try:
            return parse(text(name), *args)
        except ValueError as exc:
            errors.append(SheetError(row, columns[name].header, str(exc)))
            return None

    for index in unnamed:
        if cells[index]:
            errors.append(
                SheetError(
                    row,
                    "",
                    f"This row has “{cells[index]}” in column {_column_letter(index)}, "
                    "which has no header.",
                )
            )
    description = check("description", _required_text)
    unit_count = check("unit_count", _unit_count)
    gross_mg = check("gross_weight_g", _weight_mg, "Gross weight", _unit(columns, "gross"))
    net_mg = check("net_weight_g", _weight_mg, "Net weight", _unit(columns, "net"))
    if gross_mg is not None and net_mg is not None and net_mg > gross_mg:
        errors.append(
            SheetError(
                row,
                columns["net_weight_g"].header,
                f"Net weight ({_grams(net_mg)}) is more than gross weight ({_grams(gross_mg)}).",
            )
        )
    seal = check("seal_number", _seal)
    location = text("storage_location").strip().upper()
    if location and locations is not None and location not in locations:
        errors.append(SheetError(row, columns["storage_location"].header,
                                 f"Unknown storage location “{location}”."))
    for name, (label, limit) in _MAX_LENGTH.items():
        if len(text(name)) > limit:
            errors.append(
                SheetError(row, columns[name].header, f"{label} is longer than {limit} characters.")
            )
    if len(errors) == count_before:
        result.rows.append(
            SampleRow(
                row=row,
                description=description,
                packaging=text("packaging"),
                unit_count=unit_count,
                gross_weight_mg=gross_mg,
                net_weight_mg=net_mg,
                seal_number=seal,
                storage_location=location,
                notes=text("notes"),
            )
        )


def _unit(columns: dict[str, _Column], kind: str) -> str:
    """Return the unit named in the header of the gross or net weight column, grams by default."""
    column = columns.get(f"{kind}_weight_g")
    return column.unit if column else "g"


def _column_letter(index: int) -> str:
    """Return the spreadsheet letter of a zero-based column index (0 → A, 26 → AA)."""
    letters = ""
    index += 1
    while index:
        index, remainder = divmod(index - 1, 26)
        letters = chr(ord("A") + remainder) + letters
    return letters


def _required_text(value: str) -> str:
    """Return the description, which must not be blank."""
    if not value:
        raise ValueError("Enter a description of the sample.")
    return value


def _unit_count(value: str) -> int:
    """Return the number of units, 1 when the cell is blank."""
    if not value:
        return 1
    if not re.fullmatch(r"[0-9]+", value) or int(value) == 0:
        raise ValueError(f"Unit count should be a whole number of 1 or more, not “{value}”.")
    return int(value)


def _weight_mg(value: str, label: str, default_unit: str) -> int | None:
    """Return a weight in whole milligrams, None when the cell is blank."""
    return parse_weight_mg(value, default_unit, label)


def _grams(milligrams: int) -> str:
    """Return a weight in milligrams written in grams, e.g. 1500 → "1.5 g"."""
    return f"{Decimal(milligrams) / 1000:f} g"


def _seal(value: str) -> str:
    """Return the normalised seal number, or "" when the cell is blank."""
    return normalize_seal(value) if value else ""
