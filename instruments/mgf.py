"""Mascot Generic Format: `BEGIN IONS` ... `END IONS` blocks of `KEY=value` lines and peaks.

Layout per docs/FORMATS.md §6 and Matrix Science's description: global `KEY=value` parameters
may come before the first block and are defaults for every block; each block has `TITLE=`,
`PEPMASS=mz [intensity]`, `CHARGE=2+`, `RTINSECONDS=` and the like, then one peak a line as
`mz intensity [charge]`. Lines starting with `#`, `;`, `!` or `/` are comments.

Our own reader rather than pyteomics.mgf: pyteomics reports no line numbers, returns None for
a block cut short, and silently drops a fourth peak column. Blocks in the usual order
(parameters, then peaks, then END IONS) are cut by one regular expression and their peaks go
through numpy in one call per file; any other arrangement is read line by line.
"""

from __future__ import annotations

import re

import numpy as np

from instruments.core import Detection, ParseError, Spectrum
from instruments.msp import (
    NUMBER,
    PeakBlock,
    PeakList,
    check_total,
    line_of,
    peak_lists,
    read_blocks,
    read_text,
    stack_rows,
)

NAME = "mgf"
LABEL = "Mascot MGF"
EXTENSIONS = (".mgf",)
TECHNIQUES = ("MS",)

_PARAM = r"[^\S\n]*+[A-Za-z][^=\n]*+=[^\n]*+\n"
_PEAK = r"[^\S\n]*+[0-9.+-][^\n]*+\n"
_BEGIN = r"[^\S\n]*+(?i:BEGIN)[^\S\n]++(?i:IONS)[^\S\n]*+\n"
_END = r"[^\S\n]*+(?i:END)[^\S\n]++(?i:IONS)[^\S\n]*+\n"
_CHUNK = re.compile(
    rf"(?P<skip>(?:[^\S\n]*+(?:[#;!/][^\n]*+)?\n)++)"
    rf"|(?P<begin>{_BEGIN})(?P<params>(?:{_PARAM})*+)(?P<peaks>(?:{_PEAK})*+)(?P<end>{_END})?"
    rf"|(?P<param>{_PARAM})"
    rf"|(?P<other>[^\n]*+\n)")
_LINE = re.compile(
    rf"(?P<skip>[^\S\n]*+(?:[#;!/][^\n]*+)?\n)|(?P<begin>{_BEGIN})|(?P<end>{_END})"
    rf"|(?P<param>{_PARAM})|(?P<peak>{_PEAK})|(?P<other>[^\n]*+\n)")
_KEY_VALUE = re.compile(r"[^\S\n]*+([A-Za-z][^=\n]*+)=([^\n]*+)\n")
_PEAK_ROWS = re.compile(rf"^[^\S\n]*+({NUMBER})[^\S\n]++({NUMBER})"
                        r"(?:[^\S\n]++(?:[0-9]++[+-]?+|[+-][0-9]++))?+[^\S\n]*+$", re.M)
_BEGIN_LINE = re.compile(r"^[^\S\n]*BEGIN[^\S\n]+IONS[^\S\n]*$", re.I | re.M)
# MGF parameters renamed to the project's metadata keys (SCANS are scan numbers, not the
# number of co-added scans that "scans" means elsewhere); the others keep their lower-case name.
_FIELDS = {"rtinseconds": "retention_time", "scans": "scan_numbers", "mslevel": "ms_level",
           "seq": "sequence"}


def detect(data: bytes, filename: str = "") -> Detection | None:
    """A 'BEGIN IONS' line (0.9, 0.95 with the extension); the name alone: 0.2."""
    head = data[:65536]
    named = filename.lower().endswith(EXTENSIONS)
    if b"\x00" not in head and _BEGIN_LINE.search(head.decode("latin-1").replace("\r", "\n")):
        return Detection(0.95 if named else 0.9, "a 'BEGIN IONS' line")
    return Detection(0.2, "file name ends in .mgf") if named else None


def parse(data: bytes, filename: str = "") -> list[Spectrum]:
    """Every BEGIN IONS ... END IONS block of an MGF file, one peak-list Spectrum each."""
    text, file_warnings = read_text(data, "MGF")
    defaults: dict[str, str] = {}
    blocks: list[_Block] = []
    position = 0
    while position < len(text):
        chunk = _CHUNK.match(text, position)
        kind = chunk.lastgroup
        if kind == "param":
            _put(defaults, *_KEY_VALUE.fullmatch(chunk.group()).groups())
        elif kind == "other":
            line = chunk.group().strip()
            what = ("END IONS without BEGIN IONS" if line.upper().startswith("END")
                    else "peak or text outside BEGIN IONS ... END IONS")
            raise ParseError(f"Line is a {what}: {line[:60]!r}.",
                             line=line_of(text, chunk.start()))
        elif chunk.group("begin") is not None:
            block = _Block(len(blocks) + 1, defaults)
            blocks.append(block)
            position = block.read(text, chunk)
            continue
        position = chunk.end()
    if not blocks:
        raise ParseError("No BEGIN IONS block in the file.", line=1)
    peak_blocks = [peaks for block in blocks for peaks in block.peaks]
    check_total(sum(peaks.text.count("\n") for peaks in peak_blocks), "MGF")
    arrays = iter(read_blocks(text, peak_blocks, 2, _charged_rows))
    rows = [stack_rows([next(arrays) for _ in block.peaks], 2) for block in blocks]
    return [block.spectrum(peaks, file_warnings)
            for block, peaks in zip(blocks, peak_lists(rows), strict=True)]


def _put(metadata: dict[str, str], key: str, value: str) -> None:
    key = key.strip().lower()
    metadata[_FIELDS.get(key, key)] = value.strip()


class _Block:
    """One BEGIN IONS block: its parameters (over the file's defaults) and its peak runs."""

    def __init__(self, number: int, defaults: dict[str, str]):
        self.label = f"spectrum {number}"
        self.metadata = dict(defaults)
        self.peaks: list[PeakBlock] = []
        self.warnings: list[str] = []

    def read(self, text: str, chunk: re.Match[str]) -> int:
        """Read the block that `chunk` begins; return where the next chunk starts."""
        if chunk.group("end") is None and chunk.end() < len(text):
            return self._read_lines(text, chunk.end("begin"))
        # The usual arrangement, or a block cut short by the end of the file.
        for key, value in _KEY_VALUE.findall(chunk.group("params")):
            _put(self.metadata, key, value)
        if chunk.group("peaks"):
            self.peaks.append(PeakBlock(chunk.start("peaks"), chunk.group("peaks"), self.label))
        if chunk.group("end") is None:
            self.warnings.append("The block has no END IONS (the file may be truncated).")
        return chunk.end()

    def _read_lines(self, text: str, position: int) -> int:
        """Read an unusually arranged block line by line; return where the next one starts."""
        run_start = None
        while position < len(text):
            line = _LINE.match(text, position)
            kind = line.lastgroup
            if kind == "peak":
                run_start = position if run_start is None else run_start
                position = line.end()
                continue
            self._close_run(text, run_start, position)
            run_start = None
            if kind == "end":
                return line.end()
            if kind == "begin":
                raise ParseError("BEGIN IONS inside a block that has no END IONS.",
                                 line=line_of(text, position), block=self.label)
            if kind == "other":
                raise ParseError(f"Line is neither 'KEY=value' nor a peak: "
                                 f"{line.group().strip()[:60]!r}.",
                                 line=line_of(text, position), block=self.label)
            if kind == "param":
                _put(self.metadata, *_KEY_VALUE.fullmatch(line.group()).groups())
            position = line.end()
        self._close_run(text, run_start, position)
        self.warnings.append("The block has no END IONS (the file may be truncated).")
        return position

    def _close_run(self, text: str, start: int | None, end: int) -> None:
        if start is not None:
            self.peaks.append(PeakBlock(start, text[start:end], self.label))

    def spectrum(self, peaks: PeakList, file_warnings: list[str]) -> Spectrum:
        """The block as a peak-list Spectrum, PEPMASS split into m/z and intensity."""
        metadata, warnings = self.metadata, file_warnings + self.warnings + peaks.warnings
        pepmass = metadata.get("pepmass", "").split()
        if pepmass:
            if all(re.fullmatch(NUMBER, value) for value in pepmass[:2]) and len(pepmass) <= 3:
                metadata["precursor_mz"] = pepmass[0]
                if len(pepmass) > 1:
                    metadata["precursor_intensity"] = pepmass[1]
            else:
                warnings.append(f"PEPMASS {metadata['pepmass'][:40]!r} is not 'm/z "
                                "[intensity]'; no precursor m/z is given.")
        if "retention_time" in metadata:
            metadata["retention_time_unit"] = "s"
        return Spectrum(x=peaks.x, y=peaks.y, x_unit="m/z", y_unit=peaks.y_unit,
                        technique="MS", title=metadata.pop("title", ""), kind="peaks",
                        metadata=metadata, warnings=warnings, block=self.label)


def _charged_rows(text: str, block: PeakBlock) -> np.ndarray:
    """Peaks with a third (charge) column; ParseError naming a line that is not a peak."""
    pairs = _PEAK_ROWS.findall(block.text)
    if len(pairs) != block.text.count("\n"):
        lines = block.text.split("\n")
        index = next(i for i, line in enumerate(lines) if not _PEAK_ROWS.fullmatch(line))
        raise ParseError(f"Peak line is not 'm/z intensity [charge]': "
                         f"{lines[index].strip()[:60]!r}.",
                         line=line_of(text, block.start) + index, block=block.label)
    return np.array(pairs, dtype=np.float64).reshape(-1, 2)
