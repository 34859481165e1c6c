"""Sample sheets with stray far cells are refused before pandas pads them (issue 11, defect 4)."""

import io
import re
import time
import tracemalloc
import zipfile

import openpyxl
import pytest
from sqlalchemy import func, select

from lims.db import db
from lims.intake.models import Sample
from lims.intake.sheet import MAX_SHEET_CELLS, MAX_SHEET_ROWS, parse_sample_sheet


def xlsx(*far_cells: str, dimension: str | None = None) -> bytes:
    """A workbook with one sample and stray cells; ``dimension`` rewrites what the sheet claims."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["description"])
    sheet.append(["White powder"])
    for ref in far_cells:
        sheet[ref] = "x"
    buffer = io.BytesIO()
    workbook.save(buffer)
    if dimension is None:
        return buffer.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            body = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                body = re.sub(rb'<dimension ref="[^"]*"/>',
                              f'<dimension ref="{dimension}"/>'.encode(), body)
            target.writestr(item, body)
    return out.getvalue()


def refusal(data: bytes, filename: str = "bomb.xlsx") -> str:
    """The whole-file error of a sheet refused in < 2 s with < 50 MB allocated."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        result = parse_sample_sheet(data, filename)
        elapsed = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < 2.0, f"{elapsed:.2f} s"
    assert peak < 50 * 1024 * 1024, f"{peak / 2**20:.0f} MB"
    assert not result.rows and [error.row for error in result.errors] == [0]
    return result.errors[0].message


def test_xfd1_and_a3000_is_refused_by_its_declared_size():
    message = refusal(xlsx("XFD1", "A3000"))
    assert message.startswith("Refused by the cell limit: the sheet's declared size reaches row "
                              "3,000 and column XFD, 49,152,000 cells")


def test_a1048576_is_refused_by_its_declared_size():
    message = refusal(xlsx("A1048576"))
    assert message.startswith("Refused by the row limit: the sheet's declared size reaches row "
                              f"1,048,576; the limit is {MAX_SHEET_ROWS:,} rows")


@pytest.mark.parametrize("cells, expected", [
    (("XFD1", "A3000"), "Refused by the cell limit: the sheet reaches row 16 and column XFD"),
    (("A1048576",), f"Refused by the row limit: the sheet reaches row {MAX_SHEET_ROWS + 1:,}"),
])
def test_a_dimension_that_lies_is_caught_while_streaming(cells, expected):
    assert refusal(xlsx(*cells, dimension="A1")).startswith(expected)


def test_a_wide_csv_line_is_refused_before_pandas_pads_every_row():
    text = "description\n" + "," * 99_999 + "\n" + "White powder\n" * 10
    assert refusal(text.encode(), "wide.csv").startswith(
        "Refused by the cell limit: the CSV file reaches row 12 and column EQXD")


def test_a_far_cell_within_the_limits_is_still_read():
    assert MAX_SHEET_ROWS * 8 <= MAX_SHEET_CELLS
    result = parse_sample_sheet(xlsx(f"H{MAX_SHEET_ROWS}"), "fine.xlsx")
    assert [row.description for row in result.rows] == ["White powder"]
    assert any("has no header" in error.message for error in result.errors)


def test_bulk_upload_of_a_bomb_is_a_422_naming_the_limit_and_imports_nothing(
        app, client, login, make_user, make_case):
    case = make_case(make_user("technician", username="tech1"))
    login(client, "tech1")
    response = client.post(f"/cases/{case.case_number}/bulk", data={
        "sheet": (io.BytesIO(xlsx("XFD1", "A3000", dimension="A1")), "bomb.xlsx")},
        content_type="multipart/form-data")
    assert response.status_code == 422
    assert "Refused by the cell limit" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Sample)) == 0
