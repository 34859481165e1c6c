"""NIST MSP and AMDIS MSL mass-spectral libraries: many records per file, one peak list each.

Layout per docs/FORMATS.md §6. A record is a run of `Key: value` header lines (any order, any
case) followed by its peak lines; records are separated by blank lines, and a header line
straight after peak lines also starts a new record. Peaks are `mz int` (one per line, with an
optional numeric third column or quoted annotation), `mz int; mz int;` (NIST), `mz:int mz:int`
(Golm) or `( mz  int)` groups (AMDIS MSL).

Libraries hold 100,000+ records, so nothing here loops over characters or peak lines in
Python: one regular expression cuts the text into records, the usual one-peak-a-line layout of
the whole file goes through numpy in one call, and the order, duplicate and unit checks run
vectorised over all records. The helpers above the MSP section are shared with the MassBank
and MGF readers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from instruments.core import MAX_POINTS, Detection, ParseError, Spectrum, decode_text

NAME = "msp"
LABEL = "NIST MSP / AMDIS MSL"
EXTENSIONS = (".msp", ".msl")
TECHNIQUES = ("MS",)

# A decimal number exactly as both float() and numpy read it. Possessive quantifiers keep
# every validating expression linear on hostile input.
NUMBER = r"[-+]?+(?:[0-9]++(?:\.[0-9]*+)?+|\.[0-9]++)(?:[eE][-+]?+[0-9]++)?+"
_DECIMAL_COMMA = re.compile(r"[-+]?[0-9]+,[0-9]+")
_RELATIVE_BASES = (1.0, 100.0, 999.0, 1000.0)


# --- shared by the MSP, MassBank and MGF readers -------------------------------------------------

class PeakBlock(NamedTuple):
    """A run of peak lines: where it starts in the text, its text, and its record's label."""

    start: int
    text: str
    label: str


def read_text(data: bytes, label: str) -> tuple[str, list[str]]:
    """The file as text with LF line endings and a final newline, and any encoding warning."""
    if not data.strip():
        raise ParseError(f"The {label} file is empty.", offset=0)
    nul = data.find(b"\x00")
    if nul >= 0:
        raise ParseError(f"This is a binary file, not {label} text (NUL byte).", offset=nul)
    text, codec = decode_text(data)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"
    warnings = [] if codec == "utf-8" else [f"The file is not UTF-8; it was decoded as {codec}."]
    return text, warnings


def line_of(text: str, position: int) -> int:
    """The 1-based line number of a character position."""
    return text.count("\n", 0, position) + 1


@lru_cache(maxsize=8)
def _rows_pattern(columns: int) -> re.Pattern[str]:
    # Spaces and tabs only: numpy's text reader knows no other separator.
    row = rf"[ \t]*+{NUMBER}(?:[ \t]++{NUMBER}){{{columns - 1}}}[ \t]*+\n"
    return re.compile(rf"(?:{row})*+")


def numeric_rows(block: str, columns: int) -> np.ndarray | None:
    """Lines of exactly `columns` numbers as an (n, columns) array; None if any line differs."""
    if not _rows_pattern(columns).fullmatch(block):
        return None
    return np.fromstring(block, sep=" ").reshape(-1, columns)


def read_blocks(text: str, blocks: list[PeakBlock], columns: int,
                layout: Callable[[str, PeakBlock], np.ndarray]) -> list[np.ndarray]:
    """The (n, columns) rows of every block; all plain number columns go through one numpy call.

    A block that is not plain goes to `layout(text, block)`, which reads the format's other
    layouts or raises ParseError naming the bad line.
    """
    plain = _rows_pattern(columns)
    joined = "".join(block.text for block in blocks)
    if plain.fullmatch(joined):
        simple = list(range(len(blocks)))
    else:
        simple = [index for index, block in enumerate(blocks) if plain.fullmatch(block.text)]
        joined = "".join(blocks[index].text for index in simple)
    arrays: list[np.ndarray | None] = [None] * len(blocks)
    flat = np.fromstring(joined, sep=" ").reshape(-1, columns)
    ends = np.cumsum([blocks[index].text.count("\n") for index in simple])
    for index, rows in zip(simple, np.split(flat, ends[:-1]) if simple else [], strict=True):
        arrays[index] = rows
    finite = bool(np.isfinite(flat).all())
    for index, block in enumerate(blocks):
        if arrays[index] is None:
            rows = layout(text, block)
            finite = finite and bool(np.isfinite(rows).all())
            arrays[index] = rows
    if not finite:
        _raise_not_finite(text, blocks, arrays, set(simple))
    return arrays


def _raise_not_finite(text: str, blocks: list[PeakBlock], arrays: list[np.ndarray],
                      simple: set[int]) -> None:
    for index, (block, rows) in enumerate(zip(blocks, arrays, strict=True)):
        bad = np.flatnonzero(~np.isfinite(rows).all(axis=1))
        if bad.size:
            # Plain blocks hold one row a line; elsewhere only the block's first line is known.
            line = line_of(text, block.start) + (int(bad[0]) if index in simple else 0)
            raise ParseError("A peak value is too large to be a number.", line=line,
                             block=block.label)


class PeakList(NamedTuple):
    """One record's checked peaks."""

    x: np.ndarray
    y: np.ndarray
    y_unit: str
    warnings: list[str]


def peak_lists(rows: list[np.ndarray], y_column: int = 1) -> list[PeakList]:
    """Each record's m/z and intensity columns, order and duplicate checks, and y unit."""
    if not rows:
        return []
    counts = np.array([r.shape[0] for r in rows])
    ends = np.cumsum(counts)
    starts = ends - counts
    table = np.concatenate(rows) if len(rows) > 1 else rows[0]
    x, y = np.ascontiguousarray(table[:, 0]), np.ascontiguousarray(table[:, y_column])
    # A step that does not increase inside one record marks it for a closer look.
    flagged = set()
    if x.size > 1:
        suspect = np.flatnonzero(x[1:] <= x[:-1])
        if suspect.size:
            owner = np.searchsorted(ends, suspect, side="right")
            inside = suspect + 1 < ends[owner]
            flagged = set(owner[inside].tolist())
    relative = np.zeros(len(rows), dtype=bool)
    filled = counts > 0
    if filled.any():
        bases = np.maximum.reduceat(y, starts[filled])
        relative[filled] = np.any([np.abs(bases - scale) <= scale * 1e-3
                                   for scale in _RELATIVE_BASES], axis=0)
    result = []
    for index, (start, end) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        xs, ys = x[start:end], y[start:end]
        result.append(PeakList(xs, ys, "relative intensity" if relative[index] else "intensity",
                               peak_order_warnings(xs) if index in flagged else []))
    return result


def peak_order_warnings(x: np.ndarray) -> list[str]:
    """Warnings for a peak list kept as given: m/z out of order, m/z repeated."""
    warnings = []
    if (x[1:] < x[:-1]).any():
        warnings.append("The peaks are not in ascending m/z order; they are kept in file order.")
    values, counts = np.unique(x, return_counts=True)
    repeated = values[counts > 1]
    if repeated.size:
        shown = ", ".join(f"{value:g}" for value in repeated[:5])
        warnings.append(f"{int((counts[counts > 1] - 1).sum())} peak(s) repeat an m/z already "
                        f"listed ({shown}); all are kept.")
    return warnings


def declared_count(value: str) -> int | None:
    """A declared peak count ('75'), or None when the text is not a plausible whole number."""
    if value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    return None


def stack_rows(arrays: list[np.ndarray], columns: int) -> np.ndarray:
    """The rows of one record's peak runs as one array (usually there is a single run)."""
    if len(arrays) == 1:
        return arrays[0]
    return np.concatenate(arrays) if arrays else np.empty((0, columns))


def check_total(spectra_peaks: int, label: str) -> None:
    """ParseError when a library holds more peaks than a file may."""
    if spectra_peaks > MAX_POINTS:
        raise ParseError(f"The {label} file holds {spectra_peaks} peaks, more than the "
                         f"{MAX_POINTS} allowed.")


# --- MSP / MSL ---------------------------------------------------------------------------------

# Every line is blank, a header line (first visible character a letter) or a peak line.
_CHUNKS = re.compile(
    r"(?P<blank>(?:[^\S\n]*+\n)++)"
    r"|(?P<head>(?:[^\S\n]*+[A-Za-z][^\n]*+\n)++)(?P<peaks>(?:[^\S\n]*+[^\sA-Za-z][^\n]*+\n)*+)"
    r"|(?P<orphan>(?:[^\S\n]*+[^\sA-Za-z][^\n]*+\n)++)")
_KEY_VALUE = re.compile(r"^[^\S\n]*+([A-Za-z][^:\n]*+):([^\n]*+)$", re.M)
_NESTED = re.compile(r"([A-Za-z][^:]*+):\s*+(.*)")
_QUOTED = re.compile(r"\"[^\"\n]*\"|'[^'\n]*'")
_PAIR_LAYOUT = re.compile(r"[;:(]")
_PAIR = re.compile(rf"\(?+[^\S\n]*+({NUMBER})(?:[^\S\n]*+[:,][^\S\n]*+|[^\S\n]++)({NUMBER})"
                   r"[^\S\n]*+\)?+")
_PAIR_JUNK = re.compile(r"[^\s;,]")
# The same pair layouts when written plainly: checked in one pass, then read by numpy.
_PAIR_ROWS = re.compile(rf"(?:[ \t]*+(?:\(?+[ \t]*+{NUMBER}(?:[ \t]*+:[ \t]*+|[ \t]++){NUMBER}"
                        r"[ \t]*+\)?+[ \t]*+;?+)++[ \t]*+\n)*+")
_PAIR_SEPARATORS = str.maketrans(";:()", "    ")
_COLUMNS = re.compile(rf"^[^\S\n]*+({NUMBER})(?:[^\S\n]*+,[^\S\n]*+|[^\S\n]++)({NUMBER})"
                      rf"(?:[^\S\n]++{NUMBER})?+[^\S\n]*+$", re.M)
# The few fields worth lifting out of a MoNA Comments line ("key=value" "key=value" ...).
_COMMENT_FIELD = re.compile(r'"(licen[cs]e|ionization(?: mode)?)=([^"]*)"', re.I | re.A)
_COMMENT_FIELDS = {"license": "license", "licence": "license", "ionization": "ionization",
                   "ionization mode": "ion_mode"}
_NAME_LINE = re.compile(r"^[^\S\n]*name[^\S\n]*:", re.I | re.M)
_NUM_PEAKS_LINE = re.compile(r"^[^\S\n]*num[ _]?peaks[^\S\n]*:", re.I | re.M)

# Canonical header key (lower case without spaces, underscores, hyphens) -> metadata key.
_FIELDS = {
    "formula": "formula", "molecularformula": "formula",
    "mw": "molecular_weight", "molecularweight": "molecular_weight",
    "exactmass": "exact_mass",
    "cas#": "cas", "casno": "cas", "cas": "cas", "casnumber": "cas",
    "nist#": "nist_id", "nistno": "nist_id", "db#": "db_id", "dbno": "db_id", "id": "id",
    "inchikey": "inchikey", "inchi": "inchi", "smiles": "smiles",
    "precursormz": "precursor_mz", "precursortype": "precursor_type",
    "ionmode": "ion_mode", "ionization": "ionization",
    "collisionenergy": "collision_energy",
    "comments": "comments", "comment": "comments",
    "license": "license", "licence": "license",
    "ri": "retention_index", "retentionindex": "retention_index",
    "rt": "retention_time", "retentiontime": "retention_time",
    "spectrumtype": "spectrum_type", "instrument": "instrument",
    "instrumenttype": "instrument_type",
}
_NUMERIC_FIELDS = {"molecular_weight", "exact_mass", "precursor_mz", "retention_index",
                   "retention_time"}


_TITLE, _NUM_PEAKS, _SYNONYM = "\0name", "\0num peaks", "\0synonym"
_SPECIAL = {"name": _TITLE, "numpeaks": _NUM_PEAKS, "synon": _SYNONYM, "synonym": _SYNONYM,
            "synonyms": _SYNONYM}
_MS_LEVEL = re.compile(r"MS([0-9]+)", re.I | re.A)
_field_cache: dict[str, str] = {}


def _field_of(key: str) -> str:
    """The metadata key of a header key (or a marker for Name, Num Peaks, Synon); memoised."""
    field = _field_cache.get(key)
    if field is None:
        canonical = re.sub(r"[\s_\-]+", "", key.lower())
        field = (_SPECIAL.get(canonical) or _FIELDS.get(canonical)
                 or re.sub(r"\s+", "_", key.strip().lower()))
        if len(_field_cache) < 10_000:  # hostile files must not grow it without bound
            _field_cache[key] = field
    return field


def dot_decimal(value: str) -> str:
    """'959,45' -> '959.45' (a Golm decimal comma); any other text unchanged."""
    if "," in value and _DECIMAL_COMMA.fullmatch(value):
        return value.replace(",", ".")
    return value


def detect(data: bytes, filename: str = "") -> Detection | None:
    """'Name:' and 'Num Peaks:' header lines (0.8, 0.9 with the extension); the name: 0.2."""
    head = data[:65536]
    named = filename.lower().endswith(EXTENSIONS)
    if b"\x00" not in head:
        text = head.decode("latin-1")
        if _NUM_PEAKS_LINE.search(text):
            if _NAME_LINE.search(text):
                return Detection(0.9 if named else 0.8, "'Name:' and 'Num Peaks:' header lines")
            return Detection(0.6, "a 'Num Peaks:' header line")
    return Detection(0.2, "file name ends in .msp or .msl") if named else None


def parse(data: bytes, filename: str = "") -> list[Spectrum]:
    """Every record of an MSP or MSL library, one peak-list Spectrum each."""
    text, file_warnings = read_text(data, "MSP")
    records: list[_Record] = []
    for chunk in _CHUNKS.finditer(text):
        kind = chunk.lastgroup
        if kind == "blank":
            continue
        if kind == "orphan":
            # Peaks after a blank line belong to the record above if it declared a count.
            if not records or records[-1].declared is None:
                raise ParseError("Peak lines with no record header ('Name:', 'Num Peaks:') "
                                 "above them.", line=line_of(text, chunk.start()),
                                 block=records[-1].label if records else None)
            records[-1].blocks.append(PeakBlock(chunk.start(), chunk.group(), records[-1].label))
            continue
        record = _Record(len(records) + 1, text, chunk.start(), chunk.group("head"))
        if chunk.group("peaks"):
            record.blocks.append(PeakBlock(chunk.start("peaks"), chunk.group("peaks"),
                                           record.label))
        records.append(record)
    if not records:
        raise ParseError("No MSP record in the file (no 'Name:' or 'Num Peaks:' line).", line=1)
    for record in records:
        if not record.blocks and record.declared is None:
            raise ParseError("The record has no peaks and no 'Num Peaks:' line.",
                             line=line_of(text, record.start), block=record.label)
    blocks = [block for record in records for block in record.blocks]
    check_total(sum(block.text.count("\n") for block in blocks), "MSP")
    arrays = iter(read_blocks(text, blocks, 2, _layout_rows))
    rows = [stack_rows([next(arrays) for _ in record.blocks], 2) for record in records]
    check_total(sum(r.shape[0] for r in rows), "MSP")
    spectra = []
    for record, peaks in zip(records, peak_lists(rows), strict=True):
        warnings = file_warnings + record.warnings
        if record.declared is not None and record.declared != peaks.x.size:
            warnings.append(f"'Num Peaks' declares {record.declared} peaks but "
                            f"{peaks.x.size} were read.")
        spectra.append(Spectrum(x=peaks.x, y=peaks.y, x_unit="m/z", y_unit=peaks.y_unit,
                                technique="MS", title=record.title, kind="peaks",
                                metadata=record.metadata, warnings=warnings + peaks.warnings,
                                block=record.label))
    return spectra


class _Record:
    """One record's header: title, declared peak count, metadata, and its peak blocks."""

    def __init__(self, number: int, text: str, start: int, head: str):
        self.label = f"record {number}"
        self.start = start
        self.title = ""
        self.declared: int | None = None
        self.metadata: dict[str, str] = {}
        self.warnings: list[str] = []
        self.blocks: list[PeakBlock] = []
        pairs = _KEY_VALUE.findall(head)
        if len(pairs) != head.count("\n"):
            lines = head.split("\n")
            index = next(i for i, line in enumerate(lines) if not _KEY_VALUE.fullmatch(line))
            raise ParseError(f"Line is neither 'Key: value' nor a peak: "
                             f"{lines[index].strip()[:60]!r}.",
                             line=line_of(text, start) + index, block=self.label)
        self._read_header(text, pairs)

    def _read_header(self, text: str, pairs: list[tuple[str, str]]) -> None:
        synonyms: list[str] = []
        metadata = self.metadata
        known = _field_cache
        for index, (raw_key, raw_value) in enumerate(pairs):
            field, value = known.get(raw_key) or _field_of(raw_key), raw_value.strip()
            if field == _TITLE:
                self.title = self.title or value
            elif field == _NUM_PEAKS:
                self.declared = declared_count(value)
                if self.declared is None:
                    # One pair a line, so pair n is on line n of the record.
                    raise ParseError(f"'Num Peaks' is not a whole number: {value[:40]!r}.",
                                     line=line_of(text, self.start) + index, block=self.label)
            elif field == _SYNONYM:
                synonyms.append(value)
            elif value:
                if field in _NUMERIC_FIELDS:
                    value = dot_decimal(value)
                elif field == "cas" and ";" in value:
                    value = self._split_nist_line(value)
                previous = metadata.get(field)
                metadata[field] = value if previous in (None, value) else f"{previous}; {value}"
        if synonyms:
            metadata["synonyms"] = "; ".join(synonyms)
            # Golm keeps its retention index in a nested "Synon: RI: 986,12".
            nested_ri = next((s[3:].strip() for s in synonyms if s.startswith("RI:")), "")
            if nested_ri:
                metadata.setdefault("retention_index", dot_decimal(nested_ri))
        if '"' in metadata.get("comments", ""):
            for key, value in _COMMENT_FIELD.findall(metadata["comments"]):
                metadata.setdefault(_COMMENT_FIELDS[key.lower()], value.strip())
        if "spectrum_type" in metadata:
            level = _MS_LEVEL.fullmatch(metadata["spectrum_type"])
            if level:
                metadata["ms_level"] = level.group(1)
        if not self.title:
            self.warnings.append("The record has no 'Name:' line.")

    def _split_nist_line(self, value: str) -> str:
        # NIST writes "CAS#: 50-00-0;  NIST#: 1234" on one line.
        cas, _, rest = value.partition(";")
        nested = _NESTED.fullmatch(rest.strip())
        if nested is None:
            return value
        field = _field_of(nested.group(1).strip())
        if field.startswith("\0"):
            return value
        self.metadata[field] = nested.group(2)
        return cas.strip()


def _layout_rows(text: str, block: PeakBlock) -> np.ndarray:
    """Peaks in the NIST, Golm, MSL or annotated layouts; ParseError naming the bad line."""
    source = block.text
    cleaned = _QUOTED.sub(" ", source) if ('"' in source or "'" in source) else source
    pair_layout = _PAIR_LAYOUT.search(cleaned) is not None
    if pair_layout and _PAIR_ROWS.fullmatch(cleaned):
        return np.fromstring(cleaned.translate(_PAIR_SEPARATORS), sep=" ").reshape(-1, 2)
    if pair_layout:
        pairs = _PAIR.findall(cleaned)
        good = not _PAIR_JUNK.search(_PAIR.sub(" ", cleaned))
    else:
        pairs = _COLUMNS.findall(cleaned)
        good = len(pairs) == cleaned.count("\n")
    if not good:
        for index, line in enumerate(cleaned.split("\n")):
            if (_PAIR_JUNK.search(_PAIR.sub(" ", line)) if pair_layout
                    else line.strip() and not _COLUMNS.fullmatch(line)):
                shown = source.split("\n")[index].strip()
                raise ParseError(f"Peak line does not read as 'm/z intensity': {shown[:60]!r}.",
                                 line=line_of(text, block.start) + index, block=block.label)
        raise ParseError("Peak lines do not read as 'm/z intensity'.",
                         line=line_of(text, block.start), block=block.label)
    return np.array(pairs, dtype=np.float64).reshape(-1, 2)
