"""Barcode symbols (Code 128, DataMatrix, QR) as PNG or SVG, and ZPL II labels.

Every symbol is drawn from zxing-cpp's module matrix at one pixel per module and then
enlarged by a whole number of pixels: bars that are a fraction of a pixel wide blur into
their neighbours and stop scanning. python-barcode (drops a leading "99" from Code 128) and
segno's ``make()`` (picks Micro QR, which common readers ignore) are deliberately not used.
"""

import io
import re
import unicodedata
from collections.abc import Mapping

import numpy as np
import zxingcpp
from PIL import Image

# Minimum quiet zones in modules: ISO/IEC 15417 (Code 128) asks for 10, ISO/IEC 16022
# (DataMatrix) for 1 (2 gives readers margin on cut labels), ISO/IEC 18004 (QR) for 4.
CODE128_QUIET_MODULES = 10
DATAMATRIX_QUIET_MODULES = 2
QR_QUIET_MODULES = 4

# Zebra label geometry: 203 dpi is 8 dots per millimetre; the label is 100 mm x 50 mm.
ZPL_DOTS_PER_MM = 8
ZPL_WIDTH_DOTS = 100 * ZPL_DOTS_PER_MM
ZPL_HEIGHT_DOTS = 50 * ZPL_DOTS_PER_MM
ZPL_MARGIN_DOTS = 24
# Text stays left of x = 24 + 600 dots; the DataMatrix (at most 22 x 22 modules of 6 dots
# for a lab number) sits right of it.
ZPL_TEXT_WIDTH_DOTS = 600
ZPL_FIELD_CHARS = 30
ZPL_DESCRIPTION_CHARS = 90

# Characters a lab number may carry into ^BC/^BX field data: ZPL reads ^ and ~ as commands,
# ^BC reads > as a subset switch and ^BX reads ~ as an escape, so anything else is refused.
_ZPL_BARCODE_DATA = re.compile(r"[A-Za-z0-9./-]+")
_WHITESPACE = re.compile(r"\s+")


def _check_payload(data: str) -> None:
    if not isinstance(data, str):
        raise TypeError(f"barcode payload must be str, not {type(data).__name__}")
    if not data:
        raise ValueError("barcode payload is empty")
    for position, char in enumerate(data):
        if not " " <= char <= "~":
            raise ValueError(
                f"barcode payload {data!r} contains {char!r} at position {position}: "
                "only printable ASCII (space to '~') can be encoded"
            )


def _check_pixels(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a whole number of pixels >= 1, got {value!r}")


def _modules(data: str, barcode_format: zxingcpp.BarcodeFormat, **options: object) -> np.ndarray:
    """Module matrix without quiet zone: True where the module is dark."""
    _check_payload(data)
    try:
        symbol = zxingcpp.create_barcode(data, barcode_format, **options)
    except ValueError as exc:
        raise ValueError(f"cannot encode {data!r} as {barcode_format.name}: {exc}") from exc
    return np.asarray(symbol.to_image(scale=1, add_quiet_zones=False)) < 128


def _code128_row(data: str) -> np.ndarray:
    return _modules(data, zxingcpp.BarcodeFormat.Code128)[0]


def _datamatrix_matrix(data: str) -> np.ndarray:
    # Square symbols only: rectangular ones are legal but many handheld imagers refuse them.
    return _modules(data, zxingcpp.BarcodeFormat.DataMatrix, force_square=True)


def _qr_matrix(data: str) -> np.ndarray:
    return _modules(data, zxingcpp.BarcodeFormat.QRCode, ec_level="M")


def _png(dark: np.ndarray) -> bytes:
    image = Image.fromarray(np.where(dark, 0, 255).astype(np.uint8), mode="L")
    buffer = io.BytesIO()
    image.convert("1", dither=Image.Dither.NONE).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _matrix_png(matrix: np.ndarray, quiet_modules: int, module_px: int) -> bytes:
    _check_pixels("module_px", module_px)
    padded = np.pad(matrix, quiet_modules, constant_values=False)
    return _png(np.kron(padded, np.ones((module_px, module_px), dtype=bool)))


def code128_width_modules(data: str) -> int:
    """Width of the Code 128 symbol for data in modules, quiet zones included."""
    return len(_code128_row(data)) + 2 * CODE128_QUIET_MODULES


def code128_png(data: str, *, module_px: int = 2, height_px: int = 80) -> bytes:
    """Code 128 symbol of data as a PNG with quiet zones, module_px pixels per module."""
    _check_pixels("module_px", module_px)
    _check_pixels("height_px", height_px)
    row = np.pad(_code128_row(data), CODE128_QUIET_MODULES, constant_values=False)
    return _png(np.tile(np.repeat(row, module_px), (height_px, 1)))


def datamatrix_png(data: str, *, module_px: int = 4) -> bytes:
    """Square ECC 200 DataMatrix of data as a PNG with quiet zone, module_px pixels per module."""
    return _matrix_png(_datamatrix_matrix(data), DATAMATRIX_QUIET_MODULES, module_px)


def qr_png(data: str, *, module_px: int = 4) -> bytes:
    """QR Code (model 2, level M) of data as a PNG with quiet zone, module_px pixels per module."""
    return _matrix_png(_qr_matrix(data), QR_QUIET_MODULES, module_px)


def qr_svg(data: str) -> str:
    """QR Code (model 2, level M) of data as an SVG one user unit per module; size it in CSS."""
    matrix = np.pad(_qr_matrix(data), QR_QUIET_MODULES, constant_values=False)
    size = matrix.shape[0]
    path = "".join(f"M{x} {y}h1v1h-1z" for y, x in zip(*np.nonzero(matrix), strict=True))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" '
        f'shape-rendering="crispEdges"><rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path fill="#000" d="{path}"/></svg>'
    )


def label_text(text: object, max_chars: int | None = None) -> str:
    """Free text as one clean line for a label, cut with an ellipsis after max_chars."""
    line = "".join(
        " " if char.isspace() else char
        for char in str(text)
        if char.isspace() or unicodedata.category(char)[0] != "C"
    )
    line = _WHITESPACE.sub(" ", line).strip()
    if max_chars is not None and len(line) > max_chars:
        cut = line[: max_chars - 1]
        # Prefer to end on a whole word unless that throws away much of the text.
        if " " in cut[-12:]:
            cut = cut.rsplit(" ", 1)[0]
        line = cut.rstrip(" ,;:-\u2013\u2014") + "\u2026"
    return line


def _zpl_escape(char: str) -> str:
    # ^FH reads _XX as a hex byte and ^CI28 reads the bytes as UTF-8; ^ and ~ start commands.
    if char.isascii() and char.isprintable() and char not in "^~_\\":
        return char
    return "".join(f"_{byte:02X}" for byte in char.encode("utf-8"))


def zpl_text(text: object, max_chars: int | None = None) -> str:
    """Free text as ^FH field data: one clean line with ZPL-unsafe bytes hex-escaped."""
    return "".join(_zpl_escape(char) for char in label_text(text, max_chars))


def _zpl_text_field(
    x: int,
    y: int,
    height: int,
    text: object,
    max_chars: int,
    *,
    lines: int = 1,
    block_width: int = 0,
) -> str:
    # A ^FB block wraps the text; without one ZPL prints a single line.
    block = f"^FB{block_width},{lines},4,L,0" if block_width else ""
    return f"^FO{x},{y}^A0N,{height},{height}{block}^FH^FD{zpl_text(text, max_chars)}^FS"


def zpl_label(label: Mapping[str, str | None]) -> str:
    """ZPL II for one 100 mm x 50 mm label at 203 dpi: Code 128, DataMatrix and readable text."""
    lab_number = label["lab_number"]
    _check_payload(lab_number)
    if not _ZPL_BARCODE_DATA.fullmatch(lab_number):
        raise ValueError(
            f"lab number {lab_number!r} cannot go into ZPL barcode data: "
            "use letters, digits, '.', '-' and '/' only"
        )
    modules = code128_width_modules(lab_number)
    usable = ZPL_WIDTH_DOTS - 2 * ZPL_MARGIN_DOTS
    # 3 dots (0.375 mm) a module when it fits, else 2 dots (0.25 mm); never a fraction.
    module_dots = next((dots for dots in (3, 2) if modules * dots <= usable), None)
    if module_dots is None:
        raise ValueError(f"lab number {lab_number!r} is too long for a Code 128 on a 100 mm label")
    left = ZPL_MARGIN_DOTS
    seal = label_text(label.get("seal") or "")
    fields = [
        "^XA",
        "^CI28",
        f"^PW{ZPL_WIDTH_DOTS}",
        f"^LL{ZPL_HEIGHT_DOTS}",
        "^LH0,0",
        f"^FO{left + CODE128_QUIET_MODULES * module_dots},{ZPL_MARGIN_DOTS}"
        f"^BY{module_dots},3,100^BCN,100,N,N,N,A^FD{lab_number}^FS",
        f"^FO{left + ZPL_TEXT_WIDTH_DOTS + 20},140^BXN,6,200^FD{lab_number}^FS",
        f"^FO{left},140^A0N,56,48^FD{lab_number}^FS",
        _zpl_text_field(left, 206, 32, f"Case {label['case_number']}", ZPL_FIELD_CHARS),
        _zpl_text_field(left, 242, 30, f"Date {label['date']}", ZPL_FIELD_CHARS),
    ]
    if seal:
        fields.append(_zpl_text_field(left, 276, 30, f"Seal {seal}", ZPL_FIELD_CHARS))
    if label.get("description"):
        fields.append(
            _zpl_text_field(
                left,
                314,
                26,
                label["description"],
                ZPL_DESCRIPTION_CHARS,
                lines=2,
                block_width=ZPL_TEXT_WIDTH_DOTS,
            )
        )
    fields += ["^PQ1", "^XZ"]
    return "\n".join(fields) + "\n"
