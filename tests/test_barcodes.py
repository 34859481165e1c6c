import io
import random
import re

import numpy as np
import pytest
from PIL import Image

from lims import barcodes
from lims.pdf import data_uri, render_pdf
from tests.tools import dmtx_decode, pdf_to_pngs, require_tool, zbar_decode

# Payloads that broke other generators: a leading "99" (python-barcode folds it into the
# code-set switch), digit runs of odd length, sub-sample dots, a lone digit.
TRICKY_PAYLOADS = [
    "9912345678",
    "99",
    "990",
    "CL-2026-000123",
    "CL-2026-000123.1",
    "CL-2026-000123.12",
    "1",
    "0012345",
    "Ab c/d+e%f$g",
]


def random_lab_numbers(count: int, seed: int = 20261201) -> list[str]:
    rng = random.Random(seed)
    numbers = []
    for _ in range(count):
        prefix = rng.choice(["CL", "99", "CL-99", "LAB"])
        number = f"{prefix}-{rng.randint(2000, 2099)}-{rng.randint(0, 999999):06d}"
        if rng.random() < 0.5:
            number += f".{rng.randint(1, 40)}"
        numbers.append(number)
    return numbers


def write_png(tmp_path, name: str, png: bytes):
    path = tmp_path / f"{name}.png"
    path.write_bytes(png)
    return path


def pixels(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("L")) < 128


def run_lengths(row: np.ndarray) -> list[int]:
    edges = np.flatnonzero(np.diff(row.astype(np.int8))) + 1
    return np.diff(np.concatenate(([0], edges, [len(row)]))).tolist()


@pytest.mark.parametrize("module_px", [2, 3])
@pytest.mark.parametrize("payload", TRICKY_PAYLOADS)
def test_code128_reads_back_exactly(tmp_path, payload, module_px):
    png = barcodes.code128_png(payload, module_px=module_px)
    assert zbar_decode(write_png(tmp_path, "code128", png)) == [payload]


def test_code128_random_lab_numbers_read_back(tmp_path):
    for index, lab_number in enumerate(random_lab_numbers(50)):
        path = write_png(tmp_path, f"code128-{index}", barcodes.code128_png(lab_number))
        assert zbar_decode(path) == [lab_number]


@pytest.mark.parametrize("payload", TRICKY_PAYLOADS)
def test_datamatrix_reads_back_exactly(tmp_path, payload):
    png = barcodes.datamatrix_png(payload)
    assert dmtx_decode(write_png(tmp_path, "datamatrix", png)) == [payload]


def test_datamatrix_random_lab_numbers_read_back(tmp_path):
    for index, lab_number in enumerate(random_lab_numbers(50, seed=7)):
        path = write_png(tmp_path, f"datamatrix-{index}", barcodes.datamatrix_png(lab_number))
        assert dmtx_decode(path) == [lab_number]


def test_datamatrix_is_square():
    dark = pixels(barcodes.datamatrix_png("CL-2026-000123", module_px=1))
    # This payload fits an 8 x 32 rectangle, which many handheld imagers refuse.
    assert dark.shape[0] == dark.shape[1]


@pytest.mark.parametrize("payload", ["AB", "9912345678", "https://lims.example/c/C-2026-0042"])
def test_qr_png_is_a_full_qr_code_that_reads_back(tmp_path, payload):
    # zbar ignores Micro QR, which is what segno's make() picks for short payloads.
    path = write_png(tmp_path, "qr", barcodes.qr_png(payload))
    assert zbar_decode(path, symbology="qrcode") == [payload]


def test_qr_svg_reads_back_from_a_pdf(tmp_path):
    payload = "https://lims.example/verify/CL-2026-000123.1"
    svg = barcodes.qr_svg(payload)
    html = f'<img src="{data_uri(svg.encode(), "image/svg+xml")}" style="width: 30mm">'
    [page] = pdf_to_pngs(render_pdf(html), tmp_path)
    assert zbar_decode(page, symbology="qrcode") == [payload]


@pytest.mark.parametrize("module_px", [1, 2, 3, 4])
def test_code128_bars_are_whole_pixels_with_quiet_zones(module_px):
    payload = "CL-2026-000123.1"
    dark = pixels(barcodes.code128_png(payload, module_px=module_px, height_px=40))
    assert dark.shape == (40, barcodes.code128_width_modules(payload) * module_px)
    assert (dark == dark[0]).all()
    runs = run_lengths(dark[0])
    assert all(run % module_px == 0 for run in runs)
    quiet_px = barcodes.CODE128_QUIET_MODULES * module_px
    assert runs[0] == runs[-1] == quiet_px


@pytest.mark.parametrize("render", [barcodes.datamatrix_png, barcodes.qr_png])
def test_matrix_modules_are_whole_pixels(render):
    plain = pixels(render("CL-2026-000123.1", module_px=1))
    for module_px in (2, 5):
        scaled = pixels(render("CL-2026-000123.1", module_px=module_px))
        assert np.array_equal(scaled[::module_px, ::module_px], plain)
        assert scaled.shape == (plain.shape[0] * module_px, plain.shape[1] * module_px)


def test_matrix_symbols_have_quiet_zones():
    for render, quiet in [
        (barcodes.datamatrix_png, barcodes.DATAMATRIX_QUIET_MODULES),
        (barcodes.qr_png, barcodes.QR_QUIET_MODULES),
    ]:
        dark = pixels(render("CL-2026-000123", module_px=1))
        rows, columns = np.nonzero(dark)
        assert rows.min() == columns.min() == quiet
        assert rows.max() == columns.max() == dark.shape[0] - 1 - quiet


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("", "empty"),
        ("CL-2026-00012\u00e9", "position 13"),
        ("CL-2026\n000123", "printable ASCII"),
        ("\x00", "printable ASCII"),
        ("\u200b", "printable ASCII"),
    ],
)
@pytest.mark.parametrize(
    "render",
    [barcodes.code128_png, barcodes.datamatrix_png, barcodes.qr_png, barcodes.qr_svg],
)
def test_unencodable_payloads_are_refused(render, payload, message):
    with pytest.raises(ValueError, match=message):
        render(payload)


def test_too_long_payload_is_refused_with_the_format_named():
    with pytest.raises(ValueError, match="Code128"):
        barcodes.code128_png("9" * 1000)


@pytest.mark.parametrize("module_px", [0, -1, 1.5, 2.0, True])
def test_fractional_or_missing_module_size_is_refused(module_px):
    with pytest.raises(ValueError, match="whole number of pixels"):
        barcodes.code128_png("CL-2026-000123", module_px=module_px)
    with pytest.raises(ValueError, match="whole number of pixels"):
        barcodes.datamatrix_png("CL-2026-000123", module_px=module_px)


LABEL = {
    "lab_number": "CL-2026-000123.1",
    "case_number": "C-2026-0042",
    "date": "2026-12-01",
    "description": "White powder",
    "seal": "S-778812",
}


def field_data(zpl: str) -> list[str]:
    return re.findall(r"\^FD(.*?)\^FS", zpl, flags=re.DOTALL)


def unhex(data: str) -> str:
    """Undo ^FH escaping (_XX bytes) the way the printer does, then read UTF-8 (^CI28)."""
    raw = re.sub(rb"_([0-9A-F]{2})", lambda match: bytes([int(match[1], 16)]), data.encode())
    return raw.decode("utf-8")


def test_zpl_label_structure():
    zpl = barcodes.zpl_label(LABEL)
    assert zpl.startswith("^XA\n")
    assert zpl.endswith("^XZ\n")
    assert zpl.count("^XA") == zpl.count("^XZ") == 1
    assert "^CI28" in zpl
    assert "^PW800" in zpl and "^LL400" in zpl
    assert re.search(r"\^BY[23],3,\d+\^BCN,\d+,N,N,N,A\^FDCL-2026-000123\.1\^FS", zpl)
    assert re.search(r"\^BXN,\d+,200\^FDCL-2026-000123\.1\^FS", zpl)
    data = field_data(zpl)
    assert data.count("CL-2026-000123.1") == 3
    assert "Case C-2026-0042" in data
    assert "Date 2026-12-01" in data
    assert "Seal S-778812" in data
    assert "White powder" in data


def test_zpl_code128_leaves_a_quiet_zone_on_the_label():
    zpl = barcodes.zpl_label(LABEL)
    x, module = map(int, re.search(r"\^FO(\d+),\d+\^BY(\d)", zpl).groups())
    assert x >= barcodes.CODE128_QUIET_MODULES * module
    width = barcodes.code128_width_modules(LABEL["lab_number"]) * module
    assert x + width <= barcodes.ZPL_WIDTH_DOTS


def test_zpl_free_text_cannot_inject_commands():
    evil = "Bag ^XZ^XA^FO0,0^GB800,400,400^FS ~JA ~DGR:X.GRF _41 back\\slash\ncaf\u00e9 \u6f22"
    zpl = barcodes.zpl_label(
        {
            **LABEL,
            "description": evil,
            "case_number": "C-1^FS~",
            "date": "2026-12-01\r\n^XZ",
            "seal": "~SD30",
        }
    )
    assert zpl.count("^XA") == zpl.count("^XZ") == 1
    assert "~" not in zpl
    for data in field_data(zpl):
        assert "^" not in data and "\n" not in data and "\r" not in data
    texts = [unhex(data) for data in field_data(zpl)]
    assert barcodes.label_text(evil, barcodes.ZPL_DESCRIPTION_CHARS) in texts
    assert "Case C-1^FS~" in texts
    assert "Date 2026-12-01 ^XZ" in texts
    assert "Seal ~SD30" in texts


def test_zpl_long_description_is_cut():
    zpl = barcodes.zpl_label({**LABEL, "description": "word " * 100})
    [description] = [unhex(data) for data in field_data(zpl) if data.startswith("word")]
    assert len(description) <= barcodes.ZPL_DESCRIPTION_CHARS
    assert description.endswith("\u2026")


def test_zpl_label_without_seal_or_description():
    zpl = barcodes.zpl_label({**LABEL, "seal": None, "description": None})
    assert "Seal" not in zpl
    assert field_data(zpl)[-1] == "Date 2026-12-01"


@pytest.mark.parametrize(
    "lab_number", ["CL^2026", "CL~2026", "CL>2026", "CL 2026", "", "CL-\u00e9"]
)
def test_zpl_refuses_lab_numbers_that_would_break_barcode_fields(lab_number):
    with pytest.raises(ValueError, match="lab number|barcode payload"):
        barcodes.zpl_label({**LABEL, "lab_number": lab_number})


def test_zpl_refuses_a_lab_number_too_long_for_the_label():
    with pytest.raises(ValueError, match="too long"):
        barcodes.zpl_label({**LABEL, "lab_number": "CL-" + "ABCDEFGH" * 6})


@pytest.mark.parametrize(
    ("text", "max_chars", "expected"),
    [
        ("  white\tpowder\n\nin bag ", None, "white powder in bag"),
        ("a\x00b\x1bc\u200bd", None, "abcd"),
        ("one two three four", 12, "one two\u2026"),
        ("abcdefghijklmnopqrstuvwxyz", 10, "abcdefghi\u2026"),
        ("short", 10, "short"),
    ],
)
def test_label_text(text, max_chars, expected):
    assert barcodes.label_text(text, max_chars) == expected


def test_zpl_text_stays_clear_of_the_datamatrix():
    zpl = barcodes.zpl_label({**LABEL, "case_number": "C" * 80, "seal": "S" * 80})
    [datamatrix_x] = map(int, re.findall(r"\^FO(\d+),\d+\^BX", zpl))
    for x, height, text in re.findall(r"\^FO(\d+),\d+\^A0N,(\d+),\d+\^FH\^FD(.*?)\^FS", zpl):
        # Font 0 glyphs are at most about 0.6 of the height wide for letters and digits.
        assert int(x) + len(unhex(text)) * 0.6 * int(height) <= datamatrix_x


def test_missing_reader_skips_locally_but_fails_on_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="not installed"):
        require_tool("no-such-barcode-reader")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must not skip"):
        require_tool("no-such-barcode-reader")
