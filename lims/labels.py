"""Sample labels rendered from plain dicts: PDF (one per page or an A4 sheet) and ZPL."""

import io
from collections.abc import Callable, Mapping, Sequence

from PIL import Image

from lims.barcodes import (
    CODE128_QUIET_MODULES,
    code128_png,
    datamatrix_png,
    label_text,
    zpl_label,
)
from lims.pdf import data_uri, render_pdf

# Barcode images are drawn for a 300 dpi raster so every module is a whole number of device
# pixels there: 3 px = 0.254 mm (the common 10 mil X-dimension) for Code 128, 6 px = 0.508 mm
# for DataMatrix; on a 203 dpi printer these come out at 2 and 4 dots. The templates keep
# each image's width as given (bars may be stretched vertically, never horizontally).
LABEL_DPI = 300
CODE128_MODULE_PX = 3
CODE128_HEIGHT_PX = 165  # 14 mm, the tallest bars a template draws
DATAMATRIX_MODULE_PX = 6

DESCRIPTION_CHARS = 90
FIELD_CHARS = 24
SHEET_TITLE_CHARS = 80

# Template and labels per page: "sheet" matches 99.1 mm x 38.1 mm A4 stock (2 x 7, L7163).
LAYOUTS = {"single": ("labels/single.html", 1), "sheet": ("labels/sheet.html", 14)}


def _mm(pixels: int) -> float:
    return round(pixels * 25.4 / LABEL_DPI, 3)


def _image(png: bytes) -> dict:
    with Image.open(io.BytesIO(png)) as image:
        width, height = image.size
    return {"src": data_uri(png), "width_mm": _mm(width), "height_mm": _mm(height)}


def label_context(labels: Sequence[Mapping[str, str | None]]) -> list[dict]:
    """Labels with clean, cut text and barcode images as data URIs, ready for the templates."""
    context = []
    for label in labels:
        lab_number = label["lab_number"]
        code128 = _image(
            code128_png(lab_number, module_px=CODE128_MODULE_PX, height_px=CODE128_HEIGHT_PX)
        )
        code128["quiet_mm"] = _mm(CODE128_QUIET_MODULES * CODE128_MODULE_PX)
        context.append(
            {
                "lab_number": lab_number,
                "case_number": label_text(label["case_number"], FIELD_CHARS),
                "date": label_text(label["date"], FIELD_CHARS),
                "seal": label_text(label.get("seal") or "", FIELD_CHARS),
                "description": label_text(label.get("description") or "", DESCRIPTION_CHARS),
                "code128": code128,
                "datamatrix": _image(datamatrix_png(lab_number, module_px=DATAMATRIX_MODULE_PX)),
            }
        )
    return context


def render_labels_pdf(
    labels: Sequence[Mapping[str, str | None]],
    layout: str,
    render_template: Callable[..., str],
) -> bytes:
    """PDF of labels: "single" is one 100 mm x 50 mm label a page, "sheet" fills A4 sheets."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown label layout {layout!r}: choose one of {sorted(LAYOUTS)}")
    if not labels:
        raise ValueError("no labels to render")
    template, per_page = LAYOUTS[layout]
    context = label_context(labels)
    pages = [context[start : start + per_page] for start in range(0, len(context), per_page)]
    cases = dict.fromkeys(label["case_number"] for label in context)
    title = label_text(
        ("Cases " if len(cases) > 1 else "Case ") + ", ".join(cases), SHEET_TITLE_CHARS
    )
    return render_pdf(render_template(template, pages=pages, title=title))


def render_labels_zpl(labels: Sequence[Mapping[str, str | None]]) -> str:
    """ZPL II for a Zebra printer at 203 dpi, one ^XA...^XZ block per label."""
    return "".join(zpl_label(label) for label in labels)
