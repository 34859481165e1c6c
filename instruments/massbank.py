"""MassBank records: `TAG: value` lines in CH$/AC$/MS$/PK$ namespaces, each record ended by `//`.

Layout per docs/FORMATS.md §6 and the MassBank record format: `PK$NUM_PEAK: n`, then
`PK$PEAK: m/z int. rel.int.` followed by indented rows of three numbers. Several records may
share a file. The spectrum's y is the `rel.int.` column (normalised to 999 by MassBank), so
its y unit is always "relative intensity"; the `int.` column is not kept.
"""

from __future__ import annotations

import re

import numpy as np

from instruments.core import Detection, ParseError, Spectrum
from instruments.msp import (
    PeakBlock,
    check_total,
    declared_count,
    line_of,
    numeric_rows,
    peak_lists,
    read_blocks,
    read_text,
)

NAME = "massbank"
LABEL = "MassBank record"
EXTENSIONS = (".txt",)
TECHNIQUES = ("MS",)

# One tag line with its indented continuation rows, a `//` terminator, or blank lines.
_ENTRIES = re.compile(
    r"(?P<blank>(?:[^\S\n]*+\n)++)"
    r"|(?P<end>//[^\S\n]*+\n)"
    r"|(?P<tag>[A-Za-z][A-Za-z0-9_$/.-]*+):[^\S\n]?+(?P<value>[^\n]*+)\n"
    r"(?P<rows>(?:[ \t]++\S[^\n]*+\n)*+)"
    r"|(?P<other>[^\n]*+\n)")
_ACCESSION_LINE = re.compile(r"^ACCESSION:", re.M)
_STRUCTURE_LINE = re.compile(r"^(?:PK\$PEAK|CH\$NAME|PK\$NUM_PEAK):", re.M)

_FIELDS = {
    "ACCESSION": "accession", "RECORD_TITLE": "record_title", "DATE": "date",
    "AUTHORS": "authors", "LICENSE": "license", "COPYRIGHT": "copyright",
    "PUBLICATION": "publication", "COMMENT": "comments", "CH$COMPOUND_CLASS": "compound_class",
    "CH$FORMULA": "formula", "CH$EXACT_MASS": "exact_mass", "CH$SMILES": "smiles",
    "CH$IUPAC": "inchi", "AC$INSTRUMENT": "instrument",
    "AC$INSTRUMENT_TYPE": "instrument_type", "PK$SPLASH": "splash",
}
# Tags whose value is "SUBTAG value": subtag -> metadata key.
_SUBTAG_FIELDS = {
    "CH$LINK": {"CAS": "cas", "INCHIKEY": "inchikey"},
    "AC$MASS_SPECTROMETRY": {"ION_MODE": "ion_mode", "IONIZATION": "ionization",
                             "COLLISION_ENERGY": "collision_energy",
                             "IONIZATION_ENERGY": "ionization_energy"},
    "AC$CHROMATOGRAPHY": {"RETENTION_TIME": "retention_time"},
    "MS$FOCUSED_ION": {"PRECURSOR_M/Z": "precursor_mz", "PRECURSOR_TYPE": "precursor_type",
                       "ION_TYPE": "ion_type"},
}
_MS_TYPE = re.compile(r"MS([0-9]*)")


def detect(data: bytes, filename: str = "") -> Detection | None:
    """An ACCESSION line with PK$PEAK / CH$NAME / PK$NUM_PEAK lines: 0.95; ACCESSION alone: 0.5."""
    head = data[:65536]
    if b"\x00" in head:
        return None
    text = head.decode("latin-1").replace("\r", "\n")
    if _ACCESSION_LINE.search(text):
        if _STRUCTURE_LINE.search(text):
            return Detection(0.95, "MassBank ACCESSION and PK$/CH$ tag lines")
        return Detection(0.5, "an ACCESSION line")
    return None


def parse(data: bytes, filename: str = "") -> list[Spectrum]:
    """Every record of a MassBank file, one peak-list Spectrum each (y = rel.int.)."""
    text, file_warnings = read_text(data, "MassBank")
    records: list[_Record] = []
    current: _Record | None = None
    for entry in _ENTRIES.finditer(text):
        kind = entry.lastgroup
        if kind == "blank":
            continue
        if kind == "other":
            raise ParseError(f"Line is neither 'TAG: value' nor an indented row: "
                             f"{entry.group().strip()[:60]!r}.", line=line_of(text, entry.start()),
                             block=current.label if current else None)
        if kind == "end":
            if current is None:
                raise ParseError("'//' with no record before it.",
                                 line=line_of(text, entry.start()))
            records.append(current)
            current = None
            continue
        if current is None:
            current = _Record(len(records) + 1, entry.start())
        current.add(text, entry)
    if current is not None:
        current.warnings.append("The record is not ended by '//' (the file may be truncated).")
        records.append(current)
    if not records:
        raise ParseError("No MassBank record in the file.", line=1)
    for record in records:
        record.check(text)
    blocks = [record.peaks for record in records if record.peaks is not None]
    check_total(sum(block.text.count("\n") for block in blocks), "MassBank")
    arrays = iter(read_blocks(text, blocks, 3, _bad_row))
    rows = [next(arrays) if record.peaks is not None else np.empty((0, 3))
            for record in records]
    spectra = []
    for record, peaks in zip(records, peak_lists(rows, y_column=2), strict=True):
        warnings = file_warnings + record.warnings
        if record.declared is not None and record.declared != peaks.x.size:
            warnings.append(f"PK$NUM_PEAK declares {record.declared} peaks but {peaks.x.size} "
                            "were read.")
        spectra.append(Spectrum(x=peaks.x, y=peaks.y, x_unit="m/z",
                                y_unit="relative intensity", technique="MS",
                                title=record.names[0] if record.names else "", kind="peaks",
                                metadata=record.metadata, warnings=warnings + peaks.warnings,
                                block=record.label))
    return spectra


class _Record:
    """One MassBank record while it is read."""

    def __init__(self, number: int, start: int):
        self.label = f"record {number}"
        self.start = start
        self.names: list[str] = []
        self.declared: int | None = None
        self.declared_line = 0
        self.peaks: PeakBlock | None = None
        self.metadata: dict[str, str] = {}
        self.warnings: list[str] = []

    def add(self, text: str, entry: re.Match[str]) -> None:
        """Take one tag line (and its indented rows) into the record."""
        tag, value = entry.group("tag").upper(), entry.group("value").strip()
        if tag == "CH$NAME":
            self.names.append(value)
        elif tag == "PK$NUM_PEAK":
            self.declared = declared_count(value)
            if self.declared is None:
                raise ParseError(f"PK$NUM_PEAK is not a whole number: {value[:40]!r}.",
                                 line=line_of(text, entry.start()), block=self.label)
        elif tag == "PK$PEAK":
            if len(value.split()) != 3:
                raise ParseError(f"PK$PEAK names the columns {value[:60]!r}; expected "
                                 "'m/z int. rel.int.'.", line=line_of(text, entry.start()),
                                 block=self.label)
            self.peaks = PeakBlock(entry.start("rows"), entry.group("rows"), self.label)
        elif tag in _SUBTAG_FIELDS:
            subtag, _, rest = value.partition(" ")
            if tag == "AC$MASS_SPECTROMETRY" and subtag == "MS_TYPE":
                level = _MS_TYPE.fullmatch(rest.strip())
                if level:
                    self.metadata["ms_level"] = level.group(1) or "1"
            key = _SUBTAG_FIELDS[tag].get(subtag) or _plain_key(f"{tag}_{subtag}")
            self._put(key, rest.strip())
        elif tag != "PK$ANNOTATION":  # annotation rows are not peaks
            self._put(_FIELDS.get(tag) or _plain_key(tag), value)

    def _put(self, key: str, value: str) -> None:
        if value:
            previous = self.metadata.get(key)
            self.metadata[key] = value if previous in (None, value) else f"{previous}; {value}"

    def check(self, text: str) -> None:
        """ParseError for a record without any peak table; the names become synonyms."""
        if self.peaks is None and self.declared is None:
            raise ParseError("The record has no PK$PEAK table and no PK$NUM_PEAK line.",
                             line=line_of(text, self.start), block=self.label)
        if len(self.names) > 1:
            self.metadata["synonyms"] = "; ".join(self.names[1:])
        if not self.names:
            self.warnings.append("The record has no CH$NAME line.")


def _plain_key(tag: str) -> str:
    return re.sub(r"[$/]+", "_", tag.lower())


def _bad_row(text: str, block: PeakBlock) -> np.ndarray:
    """Name the first PK$PEAK row that is not three numbers."""
    lines = block.text.split("\n")
    index = next((i for i, line in enumerate(lines[:-1]) if numeric_rows(line + "\n", 3) is None),
                 0)
    shown = lines[index].strip()
    raise ParseError(f"PK$PEAK row is not 'm/z int. rel.int.': {shown[:60]!r}.",
                     line=line_of(text, block.start) + index, block=block.label)
