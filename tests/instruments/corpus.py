"""Access to the shared corpus of real spectrometer files and its manifest of facts."""

import csv
import os
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("LIMS_CORPUS_DIR", ROOT.parent / "shared" / "corpus"))
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def corpus_bytes(relative: str) -> bytes:
    """The bytes of a corpus file; skip (fail under CI) when the corpus is absent."""
    path = CORPUS / relative
    if not path.exists():
        message = f"corpus file {path} is not available (set LIMS_CORPUS_DIR)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path.read_bytes()


def fixture_bytes(relative: str) -> bytes:
    """The bytes of one of the project's own small fixture files."""
    return (FIXTURES / relative).read_bytes()


@cache
def manifest() -> dict[str, dict[str, str]]:
    """MANIFEST.tsv rows by local_path ({} when the corpus is absent)."""
    path = CORPUS / "MANIFEST.tsv"
    if not path.exists():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["local_path"]: row for row in csv.DictReader(handle, delimiter="\t")}
