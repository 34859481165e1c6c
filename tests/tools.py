"""Helpers for tests: independent command-line readers, and the imports of a source file."""

import ast
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

# dmtxread searches exhaustively for more symbols than it was told to expect: on a 300 dpi
# A4 page that takes minutes, so callers say how many to expect and failures stop here.
DMTX_TIMEOUT_MS = 15_000


def require_tool(name: str) -> str:
    """Path of the executable name; skip the test without it, but fail when CI is set."""
    path = shutil.which(name)
    if path is None:
        reason = f"{name} is not installed (see README: Debian packages used by the tests)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must not skip tests")
        pytest.skip(reason)
    return path


def zbar_decode(png_path: Path, symbology: str = "code128") -> list[str]:
    """Texts of every symbol of one symbology zbarimg finds in the image, in its order."""
    zbarimg = require_tool("zbarimg")
    result = subprocess.run(
        [zbarimg, "--raw", "-q", "-Sdisable", f"-S{symbology}.enable", str(png_path)],
        capture_output=True,
        check=False,
    )
    # Exit status 4 means no symbol found; stderr carries a harmless D-Bus warning.
    assert result.returncode in (0, 4), result.stderr.decode(errors="replace")
    return result.stdout.decode("ascii").splitlines()


def dmtx_decode(png_path: Path, count: int = 1) -> list[str]:
    """Texts of the first count DataMatrix symbols dmtxread finds in the image."""
    dmtxread = require_tool("dmtxread")
    result = subprocess.run(
        [
            dmtxread,
            "--newline",
            f"--stop-after={count}",
            f"--milliseconds={DMTX_TIMEOUT_MS}",
            str(png_path),
        ],
        capture_output=True,
        check=False,
    )
    # Exit status 1 means nothing found.
    assert result.returncode in (0, 1), result.stderr.decode(errors="replace")
    return result.stdout.decode("ascii").splitlines()


def pdf_to_pngs(pdf_bytes: bytes, tmp_path: Path, dpi: int = 300) -> list[Path]:
    """Rasterise every page of a PDF with pdftoppm; one PNG per page, in page order."""
    pdftoppm = require_tool("pdftoppm")
    # A fresh directory per call, so pages of two documents in one test never mix.
    directory = Path(tempfile.mkdtemp(prefix="pdf-", dir=tmp_path))
    pdf_path = directory / "document.pdf"
    pdf_path.write_bytes(pdf_bytes)
    subprocess.run(
        [pdftoppm, "-r", str(dpi), "-png", str(pdf_path), str(directory / "page")],
        check=True,
        capture_output=True,
    )
    # pdftoppm pads page numbers to the width of the page count: sort numerically.
    return sorted(directory.glob("page-*.png"), key=lambda path: int(path.stem.split("-")[-1]))


def imported_names(path: Path, *, absolute_only: bool = False) -> list[str]:
    """The modules a source file imports (`from x import y` gives x), in file order."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not (
                absolute_only and node.level):
            names.append(node.module)
    return names
