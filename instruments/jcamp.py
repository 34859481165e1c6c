"""JCAMP-DX 4.24 and 5.x reader: labelled data records, LINK and NTUPLES blocks, ASDF data.

Rules where a file disagrees with itself (each one comes from a real file):
- X of an (X++(Y..Y)) table is FIRSTX + i*(LASTX-FIRSTX)/(n-1) over the n ordinates actually
  decoded, when every line's X check value agrees with that axis (within half a step or one
  XFACTOR unit). Otherwise each line's check value (times XFACTOR) places its points, spaced by
  DELTAX or by the declared spacing, and a warning says so. NPOINTS never sets the axis: when
  it differs from the decoded count, a warning says both.
- A repeated LDR keeps its first value and a warning names it; a repeated NPOINTS is resolved
  by the data (the value that matches the decoded count wins).
- A line that ends in DIF form makes the first ordinate of the next line a Y check value: it
  is compared with the last ordinate and dropped; failures are counted and reported. When
  every one of two or more checks fails, the writer did not repeat values: none is dropped.
- A new ##TITLE= closes an open block that is not a LINK still waiting for children, so NIST
  library dumps without ##END= read as one entry per title.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache

import numpy as np

from instruments.core import (
    Budget,
    Detection,
    ParseError,
    Spectrum,
    decode_text,
    normalise_x_unit,
    normalise_y_unit,
)

NAME = "jcamp"
LABEL = "JCAMP-DX"
EXTENSIONS = (".jdx", ".dx", ".jcm", ".jca", ".jcamp")
TECHNIQUES = ("IR", "Raman", "UV-Vis", "MS", "NMR", "IMS", "EPR", "chromatogram", "XRF",
              "thermal", "other")

_DETECT_BYTES = 4096
_MAX_DEPTH = 16  # LINK blocks inside LINK blocks
_COMMENT = re.compile(r"\$\$[^\n]*")
_LABEL_DROP = str.maketrans("", "", " \t-/_")
_HEAD = re.compile(r"[ \t]*##([^=\n]*)=")
_MAGIC = re.compile(r"^[ \t]*##[ \t]*(?:title|jcamp[ \t_-]?dx)[ \t]*=", re.I | re.M)
_NOT_MAGIC_PREFIX = re.compile(r"[^\s]")
_TABLES = {"XYDATA", "XYPOINTS", "PEAKTABLE", "PEAKASSIGNMENTS", "PEAKASSIGNMENT", "DATATABLE",
           "RADATA"}
_NTUPLE_LISTS = {"VARNAME", "SYMBOL", "VARTYPE", "VARFORM", "VARDIM", "UNITS", "FIRST", "LAST",
                 "MIN", "MAX", "FACTOR"}
_SECONDARY = {"PEAKTABLE": 1, "PEAKASSIGNMENTS": 2, "PEAKASSIGNMENT": 2}
_NOT_METADATA = {"TITLE", "END", "ENDNTUPLES", "PAGE", ""} | _TABLES | _NTUPLE_LISTS
_XPP_FORM = re.compile(r"\(\s*([A-Z])\s*\+\+\s*\(\s*([A-Z])\s*\.\.\s*\2\s*\)?\s*\)?", re.I)
_GROUP_FORM = re.compile(r"\(\s*([A-Z]{2,4})\s*\.\.\s*\1\s*\)?", re.I)
_ASSIGNMENT_FORM = re.compile(r"\(\s*(XY[WM]{0,2}A)\s*\)?", re.I)
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")

# Byte classes of the data decoder.
_BAD, _SEP, _NL, _DIGIT, _EXP, _SIGN, _SQZ, _DIF, _DUP, _NAN = range(10)
_ABS_T, _DIF_T, _DUP_T, _NAN_T = 0, 1, 2, 3
_SQZ_CHARS = "@ABCDEFGHIabcdefghi"
_DIF_CHARS = "%JKLMNOPQRjklmnopqr"
_DUP_CHARS = "STUVWXYZs"


def _classes(*, asdf: bool, semicolon: bool) -> np.ndarray:
    table = np.full(256, _BAD, np.uint8)
    for char in " \t\x0b\x0c," + (";" if semicolon else ""):
        table[ord(char)] = _SEP
    table[ord("\n")] = _NL
    for char in "0123456789.":
        table[ord(char)] = _DIGIT
    table[ord("+")] = table[ord("-")] = _SIGN
    table[ord("?")] = _NAN
    if asdf:
        for chars, kind in ((_SQZ_CHARS, _SQZ), (_DIF_CHARS, _DIF), (_DUP_CHARS, _DUP)):
            for char in chars:
                table[ord(char)] = kind
    else:
        table[ord("E")] = table[ord("e")] = _EXP
    return table


_CLASSES_ASDF = _classes(asdf=True, semicolon=False)
_CLASSES_AFFN = _classes(asdf=False, semicolon=False)
_CLASSES_PAIRS = _classes(asdf=False, semicolon=True)
_TOKEN_TYPE = np.zeros(256, np.uint8)
_NEGATIVE = np.zeros(256, bool)
for _chars, _kind in ((_DIF_CHARS, _DIF_T), (_DUP_CHARS, _DUP_T), ("?", _NAN_T)):
    for _char in _chars:
        _TOKEN_TYPE[ord(_char)] = _kind
for _char in "abcdefghijklmnopqr":
    _NEGATIVE[ord(_char)] = True
# Each compression character becomes its digit (the sign is applied afterwards); separators
# become blanks. 'E'/'e' stay as exponent markers in AFFN tables.
_DIGITS_ASDF = bytes.maketrans(
    (_SQZ_CHARS + _DIF_CHARS + _DUP_CHARS + "?,;\t\x0b\x0c\n").encode(),
    ("0123456789123456789" * 2 + "12345678" + "9" + "0" + " " * 6).encode())
_DIGITS_AFFN = bytes.maketrans(b"?,;\t\x0b\x0c\n", b"0      ")
_PLAIN = b"0123456789.+-, \t\x0b\x0c\n?"
_ASDF_LETTERS = (_SQZ_CHARS + _DIF_CHARS + _DUP_CHARS).encode()
_POWERS = 10.0 ** np.arange(23)
_MONTHS = {name: number for number, name in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1)}
_METADATA = (  # metadata key, labels (normalised) in order of preference
    ("origin", ("ORIGIN",)),
    ("owner", ("OWNER",)),
    ("instrument", ("SPECTROMETERDATASYSTEM", "INSTRUMENT", "$INSTRUMENT", "SPECTROMETER")),
    ("serial", ("$SERIALNUMBER", "SERIALNUMBER", "$INSTRUMENTSERIALNUMBER", "$SERIAL")),
    ("operator", ("OPERATOR", "$OPERATOR", "$USER")),
    ("resolution", ("RESOLUTION",)),
    ("scans", ("$NUMBEROFSCANS", "NUMBEROFSCANS", "COADDEDSCANS", "$SCANS", "SCANS",
               "$NSCANS")),
    ("sample_name", ("SAMPLENAME", "$SAMPLENAME", "SAMPLEDESCRIPTION")),
    ("cas", ("CASREGISTRYNO", "CASREGISTRYNUMBER", "CAS")),
    ("formula", ("MOLFORM", "MOLECULARFORMULA")),
    ("molecular_weight", ("MW", "MOLECULARWEIGHT")),
    ("ionization", (".IONIZATIONMODE", "$IONIZATIONMODE")),
    ("retention_index", ("$RETENTIONINDEX", "RETENTIONINDEX", ".RETENTIONINDEX")),
    ("retention_time", ("$RETENTIONTIME", "RETENTIONTIME", ".RETENTIONTIME")),
)
# Units repeat across the entries of a library file; normalise each spelling once.
_x_unit = lru_cache(maxsize=256)(normalise_x_unit)
_y_unit = lru_cache(maxsize=256)(normalise_y_unit)
_TECHNIQUE_RULES = tuple((technique, re.compile(pattern)) for technique, pattern in (
    ("NMR", r"NMR|NUCLEAR MAGNETIC"),
    ("Raman", r"RAMAN"),
    ("MS", r"MASS|\bMS\b"),
    ("IMS", r"ION MOBILITY|\bIMS\b"),
    ("EPR", r"\bEPR\b|\bESR\b|PARAMAGNETIC|ELECTRON SPIN"),
    ("IR", r"INFRA-?RED|\bN?IR\b|\bFT-?IR\b|\bMIR\b"),
    ("UV-Vis", r"\bUV|ULTRAVIOLET|VISIBLE|\bVIS\b"),
    ("chromatogram", r"CHROMATOGRAM|\bGC\b|\bHPLC\b|\bLC\b"),
    ("XRF", r"X-?RAY FLUORESCENCE|\bXRF\b"),
    ("thermal", r"THERM|\bDSC\b|\bTGA\b|\bDTA\b"),
))
_LASER = ("$LASERWAVELENGTH", ".LASERWAVELENGTH", "LASERWAVELENGTH", "$EXCITATIONWAVELENGTH")


@dataclass(slots=True)
class _Ldr:
    """One labelled data record: normalised label, label as written, value and where."""

    label: str
    raw: str
    line: int
    start: int  # offset of the value in the document
    end: int
    value: str = ""


@dataclass
class _Page:
    """One ##PAGE= of an NTUPLES block."""

    name: str
    line: int
    ldrs: list[_Ldr] = field(default_factory=list)
    tables: list[_Ldr] = field(default_factory=list)


@dataclass
class _Block:
    """One ##TITLE= ... ##END= block; LINK blocks hold children, NTUPLES blocks pages."""

    title: str
    line: int
    parent: _Block | None
    ldrs: list[_Ldr] = field(default_factory=list)
    tables: list[_Ldr] = field(default_factory=list)
    children: list[_Block] = field(default_factory=list)
    pages: list[_Page] = field(default_factory=list)
    data_type: str = ""
    is_link: bool = False
    declared_blocks: int | None = None
    ntuples: str | None = None
    in_ntuples: bool = False
    ended: bool = False
    at_eof: bool = False

    def accepts_child(self) -> bool:
        """A LINK block still waiting for the children it declared."""
        return self.is_link and (self.declared_blocks is None
                                 or len(self.children) < self.declared_blocks)


@dataclass
class _Context:
    """File-wide state: the document, warnings for every spectrum, the point budget."""

    doc: str
    warnings: list[str]
    budget: Budget
    uses_end: bool = False
    single_block: bool = False


@dataclass
class _Scope:
    """The LDRs a data table sees: its page's, then its block's (first value of each wins)."""

    first: dict[str, _Ldr]
    every: dict[str, list[_Ldr]]
    where: str
    lists: dict[str, list[str]]

    @classmethod
    def of(cls, block: _Block, page: _Page | None, where: str) -> _Scope:
        """Collect the LDRs in scope, page values shadowing block values."""
        first: dict[str, _Ldr] = {}
        every: dict[str, list[_Ldr]] = {}
        for ldr in (page.ldrs if page else []) + block.ldrs:
            first.setdefault(ldr.label, ldr)
        for ldr in block.ldrs:
            every.setdefault(ldr.label, []).append(ldr)
        if page:
            for ldr in page.ldrs:
                every.setdefault("PAGE:" + ldr.label, []).append(ldr)
        lists = {label: [part.strip() for part in first[label].value.split(",")]
                 for label in _NTUPLE_LISTS if label in first and block.ntuples is not None}
        return cls(first, every, where, lists)

    def text(self, label: str) -> str:
        """The value of an LDR ('' when absent)."""
        ldr = self.first.get(label)
        return ldr.value if ldr else ""

    def number(self, label: str) -> float | None:
        """The value of a numeric LDR, or ParseError saying which one is not a number."""
        ldr = self.first.get(label)
        if ldr is None or not ldr.value:
            return None
        return _to_number(ldr.value, f"##{ldr.raw}=", ldr.line, self.where)

    def npoints(self) -> list[tuple[int, int]]:
        """Every NPOINTS value in scope (page ones first) with its line."""
        ldrs = self.every.get("PAGE:NPOINTS") or self.every.get("NPOINTS", [])
        found = []
        for ldr in ldrs:
            value = _to_number(ldr.value, f"##{ldr.raw}=", ldr.line, self.where)
            if value != int(value) or value < 0:
                raise ParseError(f"##{ldr.raw}= {ldr.value!r} is not a point count.",
                                 line=ldr.line, block=self.where or None)
            found.append((int(value), ldr.line))
        return found

    def variable(self, symbol: str, key: str) -> str:
        """One field of an NTUPLES variable list (VAR_NAME, UNITS, FACTOR...) for a symbol."""
        symbols = [s.upper() for s in self.lists.get("SYMBOL", [])]
        if symbol.upper() not in symbols:
            return ""
        values = self.lists.get(key, [])
        index = symbols.index(symbol.upper())
        return values[index] if index < len(values) else ""


@dataclass
class _Axis:
    """Units, factor and declared range of one variable of a table."""

    symbol: str
    unit: str = ""
    factor: float = 1.0
    first: float | None = None
    last: float | None = None
    delta: float | None = None
    name: str = ""
    problems: list[str] = field(default_factory=list)


@dataclass
class _Decoded:
    """What a data table held, before it becomes a Spectrum."""

    x: np.ndarray
    y: np.ndarray
    warnings: list[str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    extra: np.ndarray | None = None  # widths of an (XYW..XYW) peak table
    assignments: list[str] | None = None


def detect(data: bytes, filename: str = "") -> Detection | None:
    """##TITLE= or ##JCAMP-DX= as the first record (0.95) or near the start (0.9); name 0.2."""
    head = data[:_DETECT_BYTES]
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    text = head.decode("latin-1")
    found = _MAGIC.search(text)
    if found:
        before = _COMMENT.sub("", text[:found.start()])
        if not _NOT_MAGIC_PREFIX.search(before):
            return Detection(0.95, "starts with a ##TITLE= or ##JCAMP-DX= record")
        return Detection(0.9, "a ##TITLE= or ##JCAMP-DX= record near the start")
    if filename.lower().endswith(EXTENSIONS):
        return Detection(0.2, "the file name has a JCAMP-DX extension")
    return None


def parse(data: bytes, filename: str = "") -> list[Spectrum]:
    """Every data table of a JCAMP-DX file, one Spectrum per block, page or entry."""
    with np.errstate(all="ignore"):  # overflow is checked where it matters, not warned
        return _parse(data)


def _parse(data: bytes) -> list[Spectrum]:
    text, codec = decode_text(data)
    warnings = [] if codec == "utf-8" else [f"The file is not UTF-8; it was read as {codec}."]
    doc = text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\x1a\x00 \t\n")
    if "$$" in doc:
        doc = _COMMENT.sub("", doc)
    context = _Context(doc, warnings, Budget(len(data)))
    blocks = _read_blocks(context)
    if not blocks:
        raise ParseError("No ##TITLE= record: this is not a JCAMP-DX file.", line=1, offset=0)
    context.single_block = len(blocks) == 1
    spectra: list[Spectrum] = []
    empty: list[tuple[_Block, str]] = []
    for block, where in _leaves(blocks):
        found = _block_spectra(context, block, where)
        if not found:
            empty.append((block, where))
        spectra.extend(found)
    if not spectra:
        block, where = empty[0]
        ending = " (the file ends before it: truncated?)" if block.at_eof else ""
        if block.is_link and not block.children:
            raise ParseError(f"The LINK block titled {block.title!r} holds no blocks{ending}.",
                             line=block.line, block=where or None)
        raise ParseError(f"No data table (##XYDATA=, ##XYPOINTS=, ##PEAK TABLE= or "
                         f"##DATA TABLE=) in the block titled {block.title!r}{ending}.",
                         line=block.line, block=where or None)
    for block, where in empty:
        structure = any(ldr.label == "JCAMPCS" for ldr in block.ldrs)
        if not structure and block.data_type.upper().strip() not in ("", "LINK", "STRUCTURE"):
            for spectrum in spectra:
                spectrum.warnings.append(f"{where or 'A block'} ({block.title!r}, line "
                                         f"{block.line}) has no data table; it was skipped.")
    return spectra


def _ldr_starts(doc: str) -> list[int]:
    """Offsets of the lines that start (after blanks) with '##'."""
    starts = []
    find, rfind = doc.find, doc.rfind
    position = find("##")
    while position >= 0:
        if position == 0 or doc[position - 1] == "\n":
            starts.append(position)
        else:
            line_start = rfind("\n", 0, position) + 1
            if not doc[line_start:position].strip(" \t"):
                starts.append(line_start)
        line_end = find("\n", position)
        if line_end < 0:
            break
        position = find("##", line_end)
    return starts


@lru_cache(maxsize=1024)
def _label(raw: str) -> str:
    """Label matching ignores case, blanks, '-', '/' and '_'."""
    return raw.translate(_LABEL_DROP).upper()


def _ldrs(doc: str):
    """Yield the labelled data records of the document in order."""
    starts = _ldr_starts(doc)
    starts.append(len(doc))
    line = 1 + doc.count("\n", 0, starts[0])
    for start, end in zip(starts, starts[1:], strict=False):
        head = _HEAD.match(doc, start, end)
        if head is None:
            shown = doc[start:end].split("\n", 1)[0].strip()[:60]
            raise ParseError(f"Malformed label line {shown!r}: a ## record needs '=' after its "
                             "label.", line=line)
        raw = head.group(1).strip()
        label = _label(raw)
        ldr = _Ldr(label, raw, line, head.end(), end)
        if label not in _TABLES:
            value = doc[head.end():end].strip()
            if "\n" in value:
                value = "\n".join(part.strip() for part in value.split("\n"))
            ldr.value = value
        yield ldr
        line += doc.count("\n", start, end)


def _read_blocks(context: _Context) -> list[_Block]:
    """Build the block tree: LINK children nested, NTUPLES pages attached, END optional."""
    top: list[_Block] = []
    stack: list[_Block] = []
    page: _Page | None = None
    for ldr in _ldrs(context.doc):
        label = ldr.label
        if label == "TITLE" or (not stack and not top and label):
            while stack and not stack[-1].accepts_child():
                stack.pop()
            if len(stack) >= _MAX_DEPTH:
                raise ParseError(f"LINK blocks are nested more than {_MAX_DEPTH} deep.",
                                 line=ldr.line)
            title = " ".join(ldr.value.split()) if label == "TITLE" else ""
            block = _Block(title=title, line=ldr.line, parent=stack[-1] if stack else None)
            (stack[-1].children if stack else top).append(block)
            stack.append(block)
            page = None
            if label == "TITLE":
                continue
            context.warnings.append("The file does not start with ##TITLE=.")
        if not stack:
            continue  # text between blocks or after the last ##END=
        block = stack[-1]
        if label == "END":
            context.uses_end = True
            block.ended = True
            stack.pop()
            page = None
            continue
        if label == "ENDNTUPLES":
            block.in_ntuples = False
            page = None
            continue
        if label == "DATATYPE":
            block.data_type = ldr.value
            block.is_link = ldr.value.strip().upper().startswith("LINK")
        elif label == "BLOCKS":
            number = _NUMBER.match(ldr.value)
            block.declared_blocks = int(float(number.group())) if number else None
        elif label == "NTUPLES":
            block.ntuples = ldr.value
            block.in_ntuples = True
        elif label == "PAGE" and block.in_ntuples:
            page = _Page(name=re.sub(r"\s*=\s*", "=", " ".join(ldr.value.split())),
                         line=ldr.line)
            block.pages.append(page)
            continue
        if label in _TABLES:
            (page.tables if page else block.tables).append(ldr)
        else:
            (page.ldrs if page else block.ldrs).append(ldr)
    for block in stack:
        block.at_eof = True
    return top


def _leaves(blocks: list[_Block], prefix: str = "", child_names: bool = False):
    """Yield (block, label) for every block that is not a LINK, depth first."""
    for ordinal, block in enumerate(blocks, 1):
        if child_names:
            block_id = next((ldr.value for ldr in block.ldrs if ldr.label == "BLOCKID"), "")
            name = f"block {block_id or ordinal}"
        else:
            name = f"entry {ordinal}" if len(blocks) > 1 else ""
        where = ", ".join(part for part in (prefix, name) if part)
        if block.is_link or block.children:
            if block.tables or block.pages or not block.children:
                yield block, where
            yield from _leaves(block.children, where, child_names=True)
        else:
            yield block, where


def _block_spectra(context: _Context, block: _Block, where: str) -> list[Spectrum]:
    """The spectra of one block: its tables, or one per NTUPLES page table."""
    spectra: list[Spectrum] = []
    if block.ntuples is not None:
        for page in block.pages:
            page_where = ", ".join(p for p in (where, f"page {page.name}") if p)
            for ldr in page.tables:
                scope = _Scope.of(block, page, page_where)
                spectra.extend(_table_spectra(context, block, scope, [ldr], page))
        for page in block.pages:
            if not page.tables:
                for spectrum in spectra:
                    spectrum.warnings.append(f"Page {page.name} (line {page.line}) has no "
                                             "##DATA TABLE=; it was skipped.")
        return spectra
    if block.tables:
        scope = _Scope.of(block, None, where)
        spectra = _table_spectra(context, block, scope, block.tables, None)
    return spectra


def _table_spectra(context: _Context, block: _Block, scope: _Scope, tables: list[_Ldr],
                   page: _Page | None) -> list[Spectrum]:
    """Decode the tables of one scope; peak tables and assignments attach to a spectrum."""
    data_type = block.data_type or block.ntuples or ""
    metadata = _metadata(block, scope)
    common = list(context.warnings) + _duplicate_warnings(scope)
    spectra: list[Spectrum] = []
    for ldr in sorted(tables, key=lambda table: _SECONDARY.get(table.label, 0)):
        decoded, kind, x_axis, y_axis = _decode_table(context, block, scope, ldr)
        if block.at_eof and not block.ended and kind != "assignments":
            declared = [value for value, _ in scope.npoints()]
            if declared and decoded.y.size not in declared and decoded.y.size < declared[0]:
                raise ParseError(f"The file ends inside the ##{ldr.raw}= table after "
                                 f"{decoded.y.size} of {declared[0]} points, without ##END= "
                                 "(truncated file?).",
                                 line=ldr.line + context.doc.count("\n", ldr.start, ldr.end),
                                 block=scope.where or None)
        if ldr.label in _SECONDARY and spectra:
            target = next((s for s in spectra if s.kind == "continuous" and s.peaks is None),
                          None)
            if target is not None or kind == "assignments":
                if target is not None:
                    target.peaks = (decoded.x, decoded.y)
                _attach_extras(target or spectra[0], decoded)
                continue
            # A peak table beside another peak list becomes a spectrum of its own.
        x_unit = _x_unit(x_axis.unit)
        technique = _technique(data_type, x_unit)
        warnings = common + y_axis.problems + decoded.warnings
        if technique == "MS" and not x_axis.unit.strip():
            x_unit = "m/z"
            warnings.append(f"No {x_axis.symbol}UNITS: m/z is assumed for a mass spectrum.")
        info = dict(metadata) | decoded.metadata
        if page is not None:
            _page_metadata(page, scope, info)
        if y_axis.name:
            info["variable"] = y_axis.name
        peaks = kind != "continuous"
        spectrum = Spectrum(
            x=decoded.x, y=decoded.y, x_unit=x_unit, y_unit=_y_unit(y_axis.unit),
            technique=technique, title=block.title, kind="peaks" if peaks else "continuous",
            metadata=info, peaks=(decoded.x, decoded.y) if peaks else None,
            warnings=warnings, block=scope.where)
        _attach_extras(spectrum, decoded)
        spectra.append(spectrum)
    if block.at_eof and not block.ended and (context.uses_end or context.single_block):
        for spectrum in spectra:
            spectrum.warnings.append("The file ends without ##END=.")
    return spectra


def _attach_extras(spectrum: Spectrum, decoded: _Decoded) -> None:
    if decoded.extra is not None:
        spectrum.metadata["peak_widths"] = " ".join(f"{w:.10g}" for w in decoded.extra)
    if decoded.assignments:
        spectrum.metadata["peak_assignments"] = "; ".join(decoded.assignments)


def _page_metadata(page: _Page, scope: _Scope, info: dict[str, str]) -> None:
    """A GC-MS page names its retention time: '##PAGE= T= 272' with T in SECONDS."""
    symbol, _, value = page.name.partition("=")
    info["page"] = page.name
    name = scope.variable(symbol, "VARNAME").upper()
    unit = _x_unit(scope.variable(symbol, "UNITS"))
    if value and ("RETENTION" in name or (symbol.upper() == "T" and unit in ("s", "min"))):
        info["retention_time"] = value.strip()
        if unit in ("s", "min", "ms"):
            info["retention_time_unit"] = unit


def _decode_table(context: _Context, block: _Block, scope: _Scope, ldr: _Ldr):
    """Decode one table LDR: (decoded, kind, x axis, y axis)."""
    doc = context.doc
    value_end = doc.find("\n", ldr.start, ldr.end)
    value_end = ldr.end if value_end < 0 else value_end
    form = doc[ldr.start:value_end].strip()
    data_start, data_line = value_end + 1, ldr.line + 1
    if not form:  # the variable list on its own line
        next_end = doc.find("\n", data_start, ldr.end)
        next_end = ldr.end if next_end < 0 else next_end
        form = doc[data_start:next_end].strip()
        data_start, data_line = next_end + 1, ldr.line + 2
    data = doc[data_start:ldr.end] if data_start < ldr.end else ""
    where = scope.where or None
    if ldr.label in ("PEAKASSIGNMENTS", "PEAKASSIGNMENT"):
        match = _ASSIGNMENT_FORM.match(form)
        if not match:
            raise ParseError(f"Unknown peak assignment form {form[:40]!r} in ##{ldr.raw}=.",
                             line=ldr.line, block=where)
        decoded = _decode_assignments(data, data_line, where)
        return decoded, "assignments", _axis(scope, "X"), _axis(scope, "Y", ordinate=True)
    xpp = _XPP_FORM.match(form)
    group = None if xpp else _GROUP_FORM.match(form)
    if not xpp and not group:
        raise ParseError(f"Unknown data table form {form[:40]!r} in ##{ldr.raw}= (expected "
                         "(X++(Y..Y)), (XY..XY) or (XYW..XYW)).", line=ldr.line, block=where)
    tail = form[(xpp or group).end():].strip(" ,").upper()
    symbols = xpp.group(1, 2) if xpp else tuple(group.group(1).upper())
    x_axis, y_axis = _axis(scope, symbols[0]), _axis(scope, symbols[1], ordinate=True)
    if xpp:
        decoded = _decode_xpp(context, data, data_line, x_axis, y_axis, scope)
        kind = "peak table" if ldr.label == "PEAKTABLE" else "continuous"
    else:
        decoded = _decode_groups(context, data, data_line, len(symbols), x_axis, y_axis, scope,
                                 ldr)
        upper_type = (block.data_type or block.ntuples or "").upper()
        class_ = scope.text("DATACLASS").upper().replace(" ", "")
        if (ldr.label == "PEAKTABLE" or "PEAK" in tail or class_ == "PEAKTABLE"
                or ("MASS" in upper_type and "CONTINUOUS" not in upper_type
                    and ldr.label != "XYPOINTS")):
            kind = "peak table"
        else:
            kind = "continuous"
            decoded.warnings.extend(_range_warnings(decoded.x, x_axis))
    return decoded, kind, x_axis, y_axis


def _axis(scope: _Scope, symbol: str, *, ordinate: bool = False) -> _Axis:
    """Units, factor and range of a variable, from NTUPLES lists or classic LDRs.

    The range of an ordinate (FIRSTY) only serves a check, so a malformed one is reported
    as a warning rather than refusing the file.
    """
    symbol = symbol.upper()
    axis = _Axis(symbol)
    sources: dict[str, tuple[str, str, int]] = {}  # attribute -> (text, what, line)
    for key, attr in (("FACTOR", "factor"), ("FIRST", "first"), ("LAST", "last")):
        text = scope.variable(symbol, key) if scope.lists else ""
        if text:
            sources[attr] = (text, f"##{key}= for {symbol}", scope.first[key].line)
        else:
            label = f"{symbol}FACTOR" if key == "FACTOR" else f"{key}{symbol}"
            ldr = scope.first.get(label)
            if ldr is not None and ldr.value:
                sources[attr] = (ldr.value, f"##{ldr.raw}=", ldr.line)
    for attr, (text, what, line) in sources.items():
        try:
            setattr(axis, attr, _to_number(text, what, line, scope.where))
        except ParseError as error:
            if not (ordinate and attr != "factor"):
                raise
            axis.problems.append(f"{error.message} It was not checked.")
    if scope.lists:
        axis.name = scope.variable(symbol, "VARNAME")
        axis.unit = scope.variable(symbol, "UNITS")
    axis.unit = axis.unit or scope.text(f"{symbol}UNITS")
    axis.delta = scope.number(f"DELTA{symbol}")
    if axis.factor == 0:
        raise ParseError(f"{symbol}FACTOR is 0: the data cannot be scaled.",
                         line=sources["factor"][2], block=scope.where or None)
    return axis


def _tokenise(data: str, line: int, pairs: bool, where: str | None):
    """Split data text into (types, values, line offsets), all in bulk numpy operations.

    An (X++(Y..Y)) table is ASDF when it holds a compression character, or an 'E' that
    cannot be an exponent (after neither a digit nor a point); otherwise 'E' is an exponent.
    """
    try:
        raw = data.encode("ascii")
    except UnicodeEncodeError as error:
        raise ParseError(f"Unknown character {data[error.start]!r} in the data table.",
                         line=line + data.count("\n", 0, error.start), block=where) from None
    codes = np.frombuffer(raw, np.uint8)
    if not codes.size:
        return codes, np.empty(0), codes.astype(np.int32)
    letters = raw.translate(None, _PLAIN)
    asdf = False
    if pairs:
        classes, allowed = _CLASSES_PAIRS, b";Ee"
    elif letters.translate(None, b"Ee"):
        classes, allowed, asdf = _CLASSES_ASDF, _ASDF_LETTERS, True
    else:
        classes, allowed = _CLASSES_AFFN, b"Ee"
        if letters:
            after = ((codes == 69) | (codes == 101)).nonzero()[0]
            before = codes[np.maximum(after - 1, 0)]
            if ((after == 0) | ~(((before >= 48) & (before <= 57)) | (before == 46))).any():
                classes, allowed, asdf = _CLASSES_ASDF, _ASDF_LETTERS, True
    kinds = classes[codes]
    if letters.translate(None, allowed):
        position = int(np.argmax(kinds == _BAD))
        raise ParseError(f"Unknown character {data[position]!r} in the data table.",
                         line=line + data.count("\n", 0, position), block=where)
    after_blank = np.empty(kinds.size, bool)
    after_blank[0] = True
    np.less_equal(kinds[:-1], _NL, out=after_blank[1:])
    starts_mask = (kinds >= _SIGN) | ((kinds == _DIGIT) & after_blank)
    if not asdf:
        starts_mask[1:] &= ~((kinds[1:] == _SIGN) & (kinds[:-1] == _EXP))
    starts = starts_mask.nonzero()[0]
    lines = (kinds == _NL).cumsum(dtype=np.int32)[starts]
    if not starts.size:
        return starts.astype(np.uint8), np.empty(0), lines
    digits = np.frombuffer(raw.translate(_DIGITS_ASDF if asdf else _DIGITS_AFFN), np.uint8)
    plain = asdf or (b"E" not in letters and b"e" not in letters)
    values = _integers_and_decimals(digits, starts) if plain else None
    if values is None:
        values = _numbers_by_numpy(digits, starts, starts_mask)
    if values is None:
        index = _first_bad_token(digits, starts)
        end = starts[index + 1] if index + 1 < starts.size else codes.size
        shown = data[starts[index]:end].strip(" \t\n,;")
        raise ParseError(f"Cannot read the number {shown!r} in the data table.",
                         line=line + int(lines[index]), block=where)
    leads = codes[starts]
    types = _TOKEN_TYPE[leads]
    negative = _NEGATIVE[leads]
    values[negative] = -values[negative]
    nan = types == _NAN_T
    if nan.any():
        following = starts[nan] + 1
        inside = following < codes.size
        glued = np.zeros(following.size, bool)
        glued[inside] = ~starts_mask[following[inside]] & (kinds[following[inside]] > _NL)
        if glued.any():
            index = int(np.flatnonzero(nan)[np.argmax(glued)])
            raise ParseError("A '?' (missing value) is followed by digits in the data table.",
                             line=line + int(lines[index]), block=where)
        values[nan] = np.nan
    return types, values, lines


def _integers_and_decimals(digits, starts) -> np.ndarray | None:
    """Exact values of tokens made of a sign, digits and at most one point, vectorised.

    Each token's digits form an integer below 10**15 (exact in float64); dividing by a power
    of ten once gives the correctly rounded value, the same as float() of the text. None for
    a token with more than 15 digits (numpy reads those), or without digits or with two
    points (an error, found and reported by the caller).
    """
    is_digit = (digits - np.uint8(48)) < 10
    seen = is_digit.cumsum(dtype=np.int64)  # digits up to and including each byte
    bounds = np.empty(starts.size + 1, np.int64)
    bounds[:-1] = seen[starts] - is_digit[starts]
    bounds[-1] = seen[-1]
    first, per_token = bounds[:-1], bounds[1:] - bounds[:-1]
    if per_token.min() == 0 or per_token.max() > 15:
        return None
    digit_values = digits[is_digit].astype(np.float64)
    digit_values -= 48.0
    exponent = (first + per_token - 1).repeat(per_token)
    exponent -= np.arange(exponent.size)
    digit_values *= _POWERS[exponent]
    del exponent
    values = np.add.reduceat(digit_values, first)
    points = (digits == 46).nonzero()[0]
    if points.size:
        owner = starts.searchsorted(points, side="right") - 1
        if (owner[1:] == owner[:-1]).any():
            return None
        values[owner] /= _POWERS[(first + per_token)[owner] - seen[points]]
    values[digits[starts] == 45] *= -1
    return values


def _numbers_by_numpy(digits, starts, starts_mask) -> np.ndarray | None:
    """Tokens with exponents or long digit strings: numpy's own text-to-float reader."""
    shift = np.cumsum(starts_mask, dtype=np.intp)
    spaced = np.empty(digits.size + starts.size, np.uint8)
    spaced[np.arange(digits.size) + shift] = digits
    spaced[starts + shift[starts] - 1] = 32
    try:
        values = np.fromstring(spaced.tobytes(), dtype=np.float64, sep=" ")
    except ValueError:
        return None
    return values if values.size == starts.size else None


def _first_bad_token(digits, starts) -> int:
    """Index of the first token that is not a number (the slow path, for the message)."""
    bounds = list(starts) + [digits.size]
    for index in range(starts.size):
        token = digits[bounds[index]:bounds[index + 1]].tobytes().strip()
        try:
            float(token)
        except ValueError:
            return index
    return 0


def _decode_xpp(context: _Context, data: str, line: int, x_axis: _Axis, y_axis: _Axis,
                scope: _Scope) -> _Decoded:
    """(X++(Y..Y)): AFFN, PAC, SQZ, DIF, DUP and '?' with X and Y checks."""
    where = scope.where or None
    types, values, lines = _tokenise(data, line, False, where)
    if not types.size:
        raise ParseError("The data table is empty.", line=line, block=where)
    is_x = np.ones(types.size, bool)
    is_x[1:] = lines[1:] != lines[:-1]
    x_types = types[is_x]
    if (x_types != _ABS_T).any():
        index = int(np.flatnonzero(is_x)[np.argmax(x_types != _ABS_T)])
        raise ParseError("A data line must start with its X value.",
                         line=line + int(lines[index]), block=where)
    x_values, x_lines = values[is_x], lines[is_x]
    y_types, y_values, y_lines = types[~is_x], values[~is_x], lines[~is_x]
    del types, values, lines, is_x  # large: free them before DUP expansion
    if not y_values.size:
        raise ParseError("The data table has X values but no Y values.", line=line,
                         block=where)
    # Exactness only matters for DIF sums and the Y checks that follow DIF lines.
    exact = _integral(y_values, y_types) if (y_types == _DIF_T).any() else True
    y_types, y_values, rows = _expand_dup(context, y_types, y_values, y_lines, line, where)
    y = _accumulate(y_types, y_values, exact, line, rows, where)
    del y_values
    firsts, lasts, row_lines = rows
    warnings: list[str] = []
    metadata: dict[str, str] = {}
    starts_with_check = _y_checks(y, y_types[lasts] == _DIF_T, rows, exact, line, y_axis,
                                  warnings, metadata)
    dropped = firsts[starts_with_check]
    if dropped.size:
        point_of_line = firsts - dropped.searchsorted(firsts) - starts_with_check
        keep = np.ones(y.size, bool)
        keep[dropped] = False
        y = y[keep]
    else:
        point_of_line = firsts - starts_with_check
    y *= y_axis.factor
    checks_x = x_values[x_lines.searchsorted(row_lines)] * x_axis.factor
    x = _x_axis(y.size, point_of_line, starts_with_check, checks_x, line + row_lines, x_axis,
                scope, warnings)
    _finite(x, y, x_axis, y_axis, line, where)
    warnings.extend(_count_warnings(scope, y.size))
    _budget(context, y.size, line, where)
    first_y = y_axis.first
    if first_y is not None and np.isfinite(y[0]):
        tolerance = max(2 * abs(y_axis.factor), 0.01 * abs(first_y))
        if abs(y[0] - first_y) > tolerance:
            warnings.append(f"FIRST{y_axis.symbol}={first_y:.10g} but the first decoded value "
                            f"is {y[0]:.10g}.")
    return _Decoded(x, y, warnings, metadata)


def _y_checks(y, ends_dif, rows, exact: bool, line: int, y_axis: _Axis, warnings: list[str],
              metadata: dict[str, str]) -> np.ndarray:
    """Compare each Y check value with the value it repeats; mark the rows that start so."""
    firsts, lasts, row_lines = rows
    follows = ends_dif[:-1]
    starts_with_check = np.zeros(firsts.size, bool)
    checks, previous = firsts[1:][follows], lasts[:-1][follows]
    if not checks.size:
        return starts_with_check
    same = (y[checks] == y[previous]) | (np.isnan(y[checks]) & np.isnan(y[previous]))
    if not exact:
        same |= np.isclose(y[checks], y[previous], rtol=1e-9, atol=0)
    failed = int(np.count_nonzero(~same))
    if checks.size >= 2 and failed == checks.size:
        warnings.append(f"Lines end in DIF form but none of the {checks.size} following lines "
                        "repeats the last value as a Y check; no value was dropped.")
        metadata.update(y_checks="0", y_check_failures="0")
        return starts_with_check
    metadata.update(y_checks=str(checks.size), y_check_failures=str(failed))
    if failed:
        bad = int(np.argmax(~same))
        warnings.append(
            f"Y check failed on {failed} of {checks.size} lines (first at line "
            f"{line + int(row_lines[1:][follows][bad])}: the last value "
            f"{y[previous[bad]] * y_axis.factor:.10g} is repeated as "
            f"{y[checks[bad]] * y_axis.factor:.10g}); the check values were dropped.")
    starts_with_check[1:] = follows
    return starts_with_check


def _finite(x, y, x_axis: _Axis, y_axis: _Axis, line: int, where: str | None) -> None:
    """Infinite values (numbers beyond float64, scaled or not) are refused, not stored."""
    for values, axis in ((x, x_axis), (y, y_axis)):
        infinite = np.isinf(values)
        if infinite.any():
            raise ParseError(f"A {axis.symbol} value is beyond the float64 range (after "
                             f"{axis.symbol}FACTOR={axis.factor:g}), at point "
                             f"{int(np.argmax(infinite))}.", line=line, block=where)


def _expand_dup(context: _Context, types, values, lines, line: int, where: str | None):
    """Replace each DUP count by copies of the whole token before it (value or difference).

    Returns the expanded types and values, and the rows (first and last ordinate index and
    line offset of each data line), found before expanding so no per-point line is stored.
    """
    dup = types == _DUP_T
    repeats = None
    if dup.any():
        positions = dup.nonzero()[0]
        before = positions - 1
        safe = np.maximum(before, 0)
        orphan = (before < 0) | (lines[safe] != lines[positions]) | (types[safe] == _DUP_T)
        if orphan.any():
            index = int(positions[np.argmax(orphan)])
            raise ParseError("A DUP count (S-Z, s) does not follow a value on its line.",
                             line=line + int(lines[index]), block=where)
        counts = values[positions]
        invalid = ~np.isfinite(counts) | (counts < 1) | (counts != np.floor(counts))
        if invalid.any():
            index = int(positions[np.argmax(invalid)])
            raise ParseError(f"Invalid DUP count {counts[np.argmax(invalid)]:g}.",
                             line=line + int(lines[index]), block=where)
        total = float(types.size - positions.size) + float(np.sum(counts - 1))
        context.budget.check_spectrum(total, line=line + int(lines[positions[np.argmax(counts)]]),
                                    block=where)
        repeats = np.ones(types.size, np.int64)
        repeats[before] = counts.astype(np.int64)
        keep = ~dup
        types, values, lines, repeats = types[keep], values[keep], lines[keep], repeats[keep]
    change = (lines[1:] != lines[:-1]).nonzero()[0] + 1
    firsts = np.empty(change.size + 1, change.dtype)
    firsts[0] = 0
    firsts[1:] = change
    lasts = np.empty(change.size + 1, change.dtype)
    lasts[:-1] = change - 1
    lasts[-1] = types.size - 1
    row_lines = lines[firsts]
    if repeats is not None:
        ends = repeats.cumsum()
        firsts, lasts = ends[firsts] - repeats[firsts], ends[lasts] - 1
        types, values = types.repeat(repeats), values.repeat(repeats)
    return types, values, (firsts, lasts, row_lines)


def _integral(values: np.ndarray, types: np.ndarray) -> bool:
    """Whether sums of these tokens, DUP counts applied, are exact in float64."""
    dup = types == _DUP_T
    counts = values[dup]
    values = values[~dup]
    finite = values[np.isfinite(values)]
    repeat = float(counts.max()) if counts.size else 1.0
    return (bool((finite == np.floor(finite)).all())
            and float(np.abs(finite).sum()) * repeat < 2.0**52)


def _accumulate(types, values, exact: bool, line: int, rows, where: str | None) -> np.ndarray:
    """Ordinates from absolute values and differences, added in file order.

    Integer data (the usual ASDF case) is summed in one pass, exactly; other data is added
    value by value within each run, as a sequential reader would.
    """
    dif = types == _DIF_T
    if not dif.any():
        return values.copy()
    if dif[0]:
        raise ParseError("The first ordinate is a difference (DIF) with nothing before it.",
                         line=line + int(rows[2][0]), block=where)
    starts = (~dif).nonzero()[0]
    stops = np.append(starts[1:], values.size)
    if exact:
        sums = np.where(dif, values, 0.0)
        np.cumsum(sums, out=sums)
        sums += (values[starts] - sums[starts]).repeat(stops - starts)
        return sums
    result = values.copy()
    longer = stops - starts > 1
    for start, stop in zip(starts[longer].tolist(), stops[longer].tolist(), strict=True):
        result[start:stop] = np.cumsum(values[start:stop])
    return result


def _x_axis(n: int, point_of_line, starts_with_check, checks_x, check_lines, x_axis: _Axis,
            scope: _Scope, warnings: list[str]) -> np.ndarray:
    """X from FIRSTX/LASTX when the line checks agree, else from the check values.

    A line that starts with a Y check value may give the X of that value (the standard) or
    of the first new point after it (SPECFILE.DX's writer): either agrees.
    """
    first, last = x_axis.first, x_axis.last
    symbol = x_axis.symbol
    if first is not None and last is not None:
        if n == 1:
            axis = np.array([first])
            step = 0.0
        else:
            axis = np.linspace(first, last, n)
            step = (last - first) / (n - 1)
        tolerance = (max(0.5 * abs(step), abs(x_axis.factor))
                     + 1e-7 * max(abs(first), abs(last), 1.0))
        expected = axis[point_of_line]
        following = first + (point_of_line + starts_with_check) * step

        def disagree(checks):
            return np.minimum(np.abs(expected - checks), np.abs(following - checks)) > tolerance

        off = disagree(checks_x)
        if not off.any():
            return axis
        if x_axis.factor != 1 and not disagree(checks_x / x_axis.factor).any():
            warnings.append(f"The line check values are in {symbol} units, not in "
                            f"{symbol}FACTOR units; they agree with FIRST{symbol}/LAST{symbol}.")
            return axis
        first_bad = int(np.argmax(off))
        worst = int(np.argmax(np.abs(expected - checks_x)))
        warnings.append(
            f"X check failed on {int(np.count_nonzero(off))} of {off.size} lines (first at "
            f"line {int(check_lines[first_bad])}, worst at line {int(check_lines[worst])}: the "
            f"line starts at {symbol}={checks_x[worst]:.10g} where FIRST{symbol}/LAST{symbol} "
            f"put {expected[worst]:.10g}); X was taken from the line check values.")
    delta = x_axis.delta
    if delta is None:
        declared = scope.npoints()
        if first is not None and last is not None and declared and declared[0][0] > 1:
            delta = (last - first) / (declared[0][0] - 1)
        elif point_of_line.size > 1 and point_of_line[-1] > point_of_line[0]:
            delta = (checks_x[-1] - checks_x[0]) / (point_of_line[-1] - point_of_line[0])
        elif n == 1:
            delta = 0.0
        else:
            raise ParseError(f"The X spacing cannot be determined: no FIRST{symbol}/"
                             f"LAST{symbol} or DELTA{symbol}.", line=int(check_lines[0]),
                             block=scope.where or None)
    indices = np.arange(n)
    row = np.searchsorted(point_of_line, indices, side="right") - 1
    row = np.maximum(row, 0)
    axis = checks_x[row] + (indices - point_of_line[row]) * delta
    warnings.extend(_range_warnings(axis, x_axis))
    return axis


def _range_warnings(x: np.ndarray, x_axis: _Axis) -> list[str]:
    found = []
    for name, declared, actual in (("FIRST", x_axis.first, x[:1]), ("LAST", x_axis.last,
                                                                       x[-1:])):
        if declared is None or not actual.size or not np.isfinite(actual[0]):
            continue
        tolerance = 1e-6 * max(abs(declared), 1.0) + 0.5 * abs(x_axis.delta or 0.0)
        if abs(actual[0] - declared) > tolerance:
            found.append(f"{name}{x_axis.symbol}={declared:.10g} but the data "
                         f"{'starts' if name == 'FIRST' else 'ends'} at {actual[0]:.10g}.")
    return found


def _count_warnings(scope: _Scope, decoded: int) -> list[str]:
    """NPOINTS against the data: a mismatch or an ambiguous repeat is reported."""
    declared = scope.npoints()
    values = [value for value, _ in declared]
    if not values:
        return []
    if len(set(values)) > 1:
        listed = ", ".join(str(v) for v in values)
        if decoded in values:
            order = "first" if values[0] == decoded else "a later one"
            return [f"NPOINTS is declared {len(values)} times ({listed}); the data has "
                    f"{decoded} points, matching the {order}."]
        return [f"NPOINTS is declared {len(values)} times ({listed}) but {decoded} points "
                "were decoded."]
    if values[0] != decoded:
        return [f"NPOINTS={values[0]} but {decoded} points were decoded."]
    return []


def _budget(context: _Context, points: int, line: int, where: str | None) -> None:
    context.budget.take_spectrum(points, line=line, block=where)


def _decode_groups(context: _Context, data: str, line: int, size: int, x_axis: _Axis,
                   y_axis: _Axis, scope: _Scope, ldr: _Ldr) -> _Decoded:
    """(XY..XY) and (XYW..XYW): explicit pairs or triples separated by blanks, ',' or ';'."""
    where = scope.where or None
    _, values, lines = _tokenise(data, line, True, where)
    if values.size % size:
        raise ParseError(f"The ##{ldr.raw}= table ends with an incomplete group: "
                         f"{values.size} values are not whole groups of {size} (truncated "
                         "file?).", line=line + int(lines[-1]), block=where)
    if not values.size:
        raise ParseError(f"The ##{ldr.raw}= table is empty.", line=ldr.line, block=where)
    rows = values.reshape(-1, size)
    x = rows[:, 0] * x_axis.factor
    y = rows[:, 1] * y_axis.factor
    _finite(x, y, x_axis, y_axis, line, where)
    _budget(context, x.size, line, where)
    decoded = _Decoded(x, y, _count_warnings(scope, x.size))
    if size > 2:
        decoded.extra = rows[:, 2].copy()
    return decoded


def _decode_assignments(data: str, line: int, where: str | None) -> _Decoded:
    """(XYA), (XYWA), (XYMA): '(x, y, w, <text>)' entries, possibly over several lines."""
    xs, ys, texts = [], [], []
    position = 0
    while True:
        opening = data.find("<", position)
        head_end = len(data) if opening < 0 else opening
        head = data[position:head_end].replace("(", " ").replace(")", " ")
        fields = [part.strip() for part in head.split(",")]
        while fields and not fields[-1]:
            fields.pop()
        while fields and not fields[0]:
            fields.pop(0)
        if opening < 0 and not fields:
            break
        entry_line = line + data.count("\n", 0, position)
        if not fields:
            raise ParseError("A peak assignment has no X value.", line=entry_line, block=where)
        numbers = []
        for text in fields[:2]:
            if not text:
                numbers.append(np.nan)
                continue
            if not _NUMBER.fullmatch(text):
                raise ParseError(f"Cannot read the number {text[:30]!r} in the peak "
                                 "assignments.", line=entry_line, block=where)
            numbers.append(float(text))
        xs.append(numbers[0])
        ys.append(numbers[1] if len(numbers) > 1 else np.nan)
        if opening < 0:
            texts.append(f"{numbers[0]:g}")
            break
        closing = data.find(">", opening)
        if closing < 0:
            raise ParseError("A peak assignment '<' is never closed by '>'.",
                             line=line + data.count("\n", 0, opening), block=where)
        texts.append(f"{numbers[0]:g}: {' '.join(data[opening + 1:closing].split())}")
        position = closing + 1
    if not xs:
        raise ParseError("The peak assignment table is empty.", line=line, block=where)
    return _Decoded(np.array(xs), np.array(ys), assignments=texts)


def _to_number(text: str, what: str, line: int, where: str | None) -> float:
    value = text.strip()
    if "," in value and "." not in value and value.count(",") == 1:
        value = value.replace(",", ".")  # a decimal comma
    if not _NUMBER.fullmatch(value):
        raise ParseError(f"{what} {text.strip()[:40]!r} is not a number.", line=line,
                         block=where or None)
    number = float(value)
    if not np.isfinite(number):
        raise ParseError(f"{what} {text.strip()[:40]!r} is out of range.", line=line,
                         block=where or None)
    return number


def _duplicate_warnings(scope: _Scope) -> list[str]:
    """LDRs given twice in one block with different values (NPOINTS is judged by the data)."""
    found = []
    for label, ldrs in scope.every.items():
        if label in ("NPOINTS", "PAGE:NPOINTS") or len(ldrs) < 2 or label in _NOT_METADATA:
            continue
        values = list(dict.fromkeys(ldr.value for ldr in ldrs))
        if len(values) > 1:
            shown = ", ".join(repr(v[:30]) for v in values)
            found.append(f"##{ldrs[0].raw}= is given {len(ldrs)} times ({shown}); the first "
                         f"(line {ldrs[0].line}) is used.")
    return found


def _technique(data_type: str, x_unit: str) -> str:
    """Technique from ##DATA TYPE= (INFRARED SPECTRUM -> IR, MASS SPECTRUM -> MS...)."""
    text = data_type.upper()
    for technique, pattern in _TECHNIQUE_RULES:
        if pattern.search(text):
            return technique
    if not text.strip() and x_unit == "m/z":
        return "MS"
    return "other"


def _metadata(block: _Block, scope: _Scope) -> dict[str, str]:
    """Standard metadata keys, then every other LDR as 'jcamp:<label as written>'."""
    chain = [scope.first]
    parent = block.parent
    while parent is not None:
        chain.append({ldr.label: ldr for ldr in reversed(parent.ldrs)})
        parent = parent.parent
    info: dict[str, str] = {}
    for key, labels in _METADATA:
        for found in chain:
            value = next((found[label].value for label in labels
                          if label in found and found[label].value), "")
            if value:
                info[key] = " ".join(value.split())
                break
    laser = next((scope.first[label].value for label in _LASER if label in scope.first), "")
    number = _NUMBER.match(laser.strip())
    if number:
        info["laser_wavelength_nm"] = number.group()
    acquired = _acquired_at(scope)
    if acquired:
        info["acquired_at"] = acquired
    for label, ldr in scope.first.items():
        if label not in _NOT_METADATA and ldr.value:
            info.setdefault(f"jcamp:{ldr.raw}", ldr.value)
    return info


def _acquired_at(scope: _Scope) -> str | None:
    """ISO 8601 from ##LONG DATE=, or ##DATE= and ##TIME= (None when not a full date)."""
    long_date = scope.text("LONGDATE")[:100]
    match = re.match(r"\s*(\d{4})[/-](\d{1,2})[/-](\d{1,2})(?:[ T]+(\d{1,2}):(\d{2})"
                     r"(?::(\d{2})(?:\.\d+)?)?)?\s*(?:([+-])(\d{2}):?(\d{2})|(UTC|GMT|Z))?",
                     long_date, re.I)
    if match:
        year, month, day, hour, minute, second, sign, zh, zm, utc = match.groups()
        zone = None
        if sign:
            offset = timedelta(hours=int(zh), minutes=int(zm))
            if offset >= timedelta(hours=24):
                return None
            zone = timezone(-offset if sign == "-" else offset)
        elif utc:
            zone = UTC
        return _iso(int(year), int(month), int(day), hour, minute, second, zone)
    date = " ".join(scope.text("DATE").split())[:60]
    time = re.match(r"\s*(\d{1,2})[:.](\d{2})(?:[:.](\d{2}))?", scope.text("TIME")[:40])
    hour, minute, second = time.groups() if time else (None, None, None)
    numeric = re.fullmatch(r"(\d{1,4}) ?[/.-] ?(\d{1,2}) ?[/.-] ?(\d{1,4})"
                           r"(?: (\d{1,2}):(\d{2})(?::(\d{2}))?)?", date)
    if numeric:
        a, b, c = (int(part) for part in numeric.groups()[:3])
        if numeric.group(4):
            hour, minute, second = numeric.group(4, 5, 6)
        if len(numeric.group(1)) == 4:
            candidates = [(a, b, c)]
        elif len(numeric.group(3)) == 4:  # DD/MM/YYYY or MM/DD/YYYY: only when unambiguous
            candidates = [(c, b, a)] if a > 12 else [(c, a, b)] if b > 12 else []
        else:  # JCAMP-DX 4.24 says YY/MM/DD; some writers put MM/DD/YY
            candidates = [(_century(a), b, c), (_century(c), a, b)]
        for year, month, day in candidates:
            iso = _iso(year, month, day, hour, minute, second, None)
            if iso:
                return iso
        return None
    named = re.fullmatch(r"(\d{1,2})[ -]([A-Za-z]{3})[a-z]*[ -](\d{4})"
                         r"(?: (\d{1,2}):(\d{2})(?::(\d{2}))?)?", date)
    if named and named.group(2).upper() in _MONTHS:
        if named.group(4):
            hour, minute, second = named.group(4, 5, 6)
        return _iso(int(named.group(3)), _MONTHS[named.group(2).upper()], int(named.group(1)),
                    hour, minute, second, None)
    return None


def _century(year: int) -> int:
    return year + (1900 if year >= 50 else 2000) if year < 100 else year


def _iso(year, month, day, hour, minute, second, zone) -> str | None:
    try:
        moment = datetime(year, month, day, int(hour or 0), int(minute or 0), int(second or 0),
                          tzinfo=zone)
    except ValueError:
        return None
    return moment.isoformat() if hour is not None else moment.date().isoformat()
