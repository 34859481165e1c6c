import base64
import re
import subprocess
from pathlib import Path

import pytest
from jinja2 import Environment, FileSystemLoader
from PIL import Image
from weasyprint import HTML

from lims import labels
from lims.barcodes import code128_width_modules, qr_png
from lims.pdf import data_uri, render_pdf
from tests.tools import dmtx_decode, pdf_to_pngs, require_tool, zbar_decode

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

# The sheet stock: A4, 2 x 7 labels of 99.1 mm x 38.1 mm, 15.15 mm top and 4.65 mm side
# margins, 2.5 mm between the columns.
SHEET_LEFT_MM, SHEET_TOP_MM, SHEET_PITCH_X_MM = 4.65, 15.15, 101.6
LABEL_WIDTH_MM, LABEL_HEIGHT_MM = 99.1, 38.1


@pytest.fixture(scope="module")
def render_template():
    environment = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)
    return lambda name, **context: environment.get_template(name).render(**context)


def make_label(lab_number: str, **overrides) -> dict:
    return {
        "lab_number": lab_number,
        "case_number": "C-2026-0042",
        "date": "2026-12-01",
        "description": "White crystalline powder in a heat-sealed bag",
        "seal": "S-778812",
        **overrides,
    }


def mm_to_px(mm: float, dpi: int = 300) -> int:
    return round(mm / 25.4 * dpi)


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    pdftotext = require_tool("pdftotext")
    path = tmp_path / "text.pdf"
    path.write_bytes(pdf)
    result = subprocess.run([pdftotext, "-layout", str(path), "-"], capture_output=True, check=True)
    return result.stdout.decode()


def test_single_labels_one_per_page_read_back(tmp_path, render_template):
    numbers = ["CL-2026-000123", "CL-2026-000123.1", "9912345678", "CL-2026-000999.12"]
    pdf = labels.render_labels_pdf([make_label(n) for n in numbers], "single", render_template)
    pages = pdf_to_pngs(pdf, tmp_path)
    assert len(pages) == len(numbers)
    for page, lab_number in zip(pages, numbers, strict=True):
        with Image.open(page) as image:
            assert image.size == pytest.approx((mm_to_px(100), mm_to_px(50)), abs=1)
        assert zbar_decode(page) == [lab_number]
        assert dmtx_decode(page) == [lab_number]


def test_single_label_shows_readable_text(tmp_path, render_template):
    label = make_label("CL-2026-000123.1", description="Schüttgut: 1,2 kg Pulver — grün")
    text = pdf_text(labels.render_labels_pdf([label], "single", render_template), tmp_path)
    for expected in [
        "CL-2026-000123.1",
        "C-2026-0042",
        "2026-12-01",
        "S-778812",
        "Schüttgut: 1,2 kg Pulver — grün",
        "CASE",
        "DATE",
        "SEAL",
    ]:
        assert expected in text


@pytest.mark.parametrize("layout", ["single", "sheet"])
def test_overlong_free_text_never_spills_onto_another_page(tmp_path, render_template, layout):
    long = "Zwölf Päckchen 漢字 עברית " + "a long, long description " * 20
    label = make_label(
        "CL-2026-000123.12",
        case_number="C-" + "9" * 60,
        date="1 December 2026",
        seal="SEAL-" + "0" * 60,
        description=long,
    )
    pdf = labels.render_labels_pdf([label] * 3, layout, render_template)
    assert len(pdf_to_pngs(pdf, tmp_path, dpi=30)) == (3 if layout == "single" else 1)


def test_sheet_of_16_labels_fills_two_pages_in_grid_order(tmp_path, render_template):
    numbers = [
        f"CL-2026-{123 + index:06d}" + (f".{index}" if index % 2 else "") for index in range(16)
    ]
    numbers[5] = "9912345678"
    sheet = [make_label(n, seal=None if index % 3 else "S-1") for index, n in enumerate(numbers)]
    pdf = labels.render_labels_pdf(sheet, "sheet", render_template)
    pages = pdf_to_pngs(pdf, tmp_path)
    assert len(pages) == 2
    decoded = []
    for page_number, page in enumerate(pages):
        with Image.open(page) as image:
            assert image.size == pytest.approx((mm_to_px(210), mm_to_px(297)), abs=1)
            for cell in range(14):
                row, column = divmod(cell, 2)
                left = SHEET_LEFT_MM + column * SHEET_PITCH_X_MM
                top = SHEET_TOP_MM + row * LABEL_HEIGHT_MM
                box = tuple(
                    mm_to_px(v) for v in (left, top, left + LABEL_WIDTH_MM, top + LABEL_HEIGHT_MM)
                )
                tile = tmp_path / f"tile-{page_number}-{cell}.png"
                image.crop(box).save(tile)
                code128 = zbar_decode(tile)
                if page_number * 14 + cell >= len(numbers):
                    assert code128 == []
                    continue
                assert dmtx_decode(tile) == code128
                decoded += code128
    # Every label decodes in its own cell of the stock, in order.
    assert decoded == numbers


def test_sheet_footer_names_the_case_and_counts_sheets(tmp_path, render_template):
    sheet = [make_label(f"CL-2026-{n:06d}") for n in range(15)]
    text = pdf_text(labels.render_labels_pdf(sheet, "sheet", render_template), tmp_path)
    assert "Case C-2026-0042" in text
    assert "Sheet 1 of 2" in text and "Sheet 2 of 2" in text


def test_label_context_barcodes_encode_only_the_lab_number(tmp_path):
    [context] = labels.label_context([make_label("CL-2026-000123.1")])
    # 3 px a module at 300 dpi is 0.254 mm: the template must not scale the image.
    modules = code128_width_modules("CL-2026-000123.1")
    assert context["code128"]["width_mm"] == pytest.approx(modules * 0.254)
    for key, decode in [("code128", zbar_decode), ("datamatrix", dmtx_decode)]:
        header, _, body = context[key]["src"].partition(",")
        assert header == "data:image/png;base64"
        png = tmp_path / f"{key}.png"
        png.write_bytes(base64.b64decode(body))
        assert decode(png) == ["CL-2026-000123.1"]


def test_label_context_cleans_and_cuts_free_text():
    long = 'Bag of <b>powder</b> & "pills"\n\twith\x00 a very long story ' + "blah " * 40
    [context] = labels.label_context([make_label("CL-2026-000123", description=long, seal=None)])
    assert len(context["description"]) <= labels.DESCRIPTION_CHARS
    assert context["description"].startswith('Bag of <b>powder</b> & "pills" with a very')
    assert context["description"].endswith("\u2026")
    assert context["seal"] == ""


def test_templates_escape_free_text_and_load_nothing_external(render_template):
    label = make_label(
        "CL-2026-000123",
        description='<img src="file:///etc/passwd"><script>x',
        case_number="C-1 <b>",
        seal="</dd><p>",
    )
    for layout, (template, _) in labels.LAYOUTS.items():
        html = render_template(template, pages=[labels.label_context([label])], title="T <i>")
        assert "<script>" not in html and "<b>" not in html and "<i>" not in html, layout
        assert "&lt;img src=&#34;file:///etc/passwd&#34;&gt;&lt;script&gt;x" in html
        assert all(src.startswith("data:") for src in re.findall(r'src="([^"]*)"', html))


def test_zpl_for_several_labels():
    zpl = labels.render_labels_zpl([make_label("CL-2026-000123"), make_label("9912345678")])
    assert zpl.count("^XA") == zpl.count("^XZ") == 2
    assert "^FD9912345678^FS" in zpl


def test_unknown_layout_and_empty_list_are_refused(render_template):
    with pytest.raises(ValueError, match="unknown label layout"):
        labels.render_labels_pdf([make_label("CL-2026-000123")], "poster", render_template)
    with pytest.raises(ValueError, match="no labels"):
        labels.render_labels_pdf([], "sheet", render_template)


def test_bad_lab_number_is_refused_before_rendering(render_template):
    with pytest.raises(ValueError, match="printable ASCII"):
        labels.render_labels_pdf([make_label("CL-2026-\u00e9")], "single", render_template)


def count_pdf_images(pdf: bytes, tmp_path: Path) -> int:
    pdfimages = require_tool("pdfimages")
    path = tmp_path / "images.pdf"
    path.write_bytes(pdf)
    listing = subprocess.run([pdfimages, "-list", str(path)], capture_output=True, check=True)
    # Two header lines, then one line per image.
    return len(listing.stdout.decode().splitlines()) - 2


def test_render_pdf_embeds_data_uri_images(tmp_path):
    pdf = render_pdf(f'<img src="{data_uri(qr_png("x"))}">')
    assert pdf.startswith(b"%PDF-")
    assert count_pdf_images(pdf, tmp_path) == 1


def count_pdf_attachments(pdf: bytes, tmp_path: Path) -> int:
    path = tmp_path / "attachments.pdf"
    path.write_bytes(pdf)
    listing = subprocess.run(
        [require_tool("pdfdetach"), "-list", str(path)], capture_output=True, check=True
    )
    return int(listing.stdout.decode().split()[0])


def test_render_pdf_refuses_local_files_and_network(tmp_path):
    local_png = tmp_path / "secret.png"
    local_png.write_bytes(qr_png("secret"))
    html = f"""
      <link rel="stylesheet" href="file:///etc/passwd">
      <link rel="attachment" href="file:///etc/passwd">
      <img src="{local_png.as_uri()}">
      <img src="file:///etc/passwd">
      <img src="http://127.0.0.1:9/tracker.png">
      <div style="background: url('{local_png.as_uri()}'); width: 10mm; height: 10mm"></div>
      <p>body</p>
    """
    # Control: WeasyPrint's own fetcher would embed both the local image and /etc/passwd.
    unguarded = HTML(string=html).write_pdf()
    assert count_pdf_images(unguarded, tmp_path) >= 1
    assert count_pdf_attachments(unguarded, tmp_path) == 1

    pdf = render_pdf(html)
    assert count_pdf_images(pdf, tmp_path) == 0
    assert count_pdf_attachments(pdf, tmp_path) == 0
    assert b"root:" not in pdf
