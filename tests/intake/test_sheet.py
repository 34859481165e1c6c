import io
import random

import openpyxl
import pandas as pd
import pytest

from lims.intake.sheet import (
    MAX_ROWS,
    SAMPLE_SHEET_COLUMNS,
    SampleRow,
    SheetError,
    parse_sample_sheet,
    template_csv,
)


def xlsx_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False, engine="openpyxl")
    return buffer.getvalue()


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def whole_file_error(result) -> str:
    assert result.rows == []
    [error] = result.errors
    assert (error.row, error.column) == (0, "")
    return error.message


def test_template_round_trips():
    text = template_csv()
    assert text.splitlines()[0] == ",".join(SAMPLE_SHEET_COLUMNS)
    result = parse_sample_sheet(text.encode(), "template.csv")
    assert result.errors == []
    assert result.rows == [
        SampleRow(
            row=2,
            description="White powder in a heat-sealed plastic bag",
            packaging="Plastic bag",
            unit_count=1,
            gross_weight_mg=1_250_500,
            net_weight_mg=1_000_200,
            seal_number="BG0071234",
            storage_location="VAULT-A-03",
            notes="Found in the spare tyre",
        )
    ]


def test_xlsx_with_aliases_and_leading_zero_seal():
    frame = pd.DataFrame(
        {
            "Item description": ["Green leaves", "Tablets"],
            "Units": ["", "40"],
            "Gross weight (g)": ["12.5", "30"],
            "Net weight (g)": ["10", ""],
            "Seal number": ["007 123", "a-9"],
            "Location": ["SAFE-2", ""],
            "Remarks": ["", "blue, logo"],
        }
    )
    result = parse_sample_sheet(xlsx_bytes(frame), "samples.xlsx")
    assert result.errors == []
    assert [(r.row, r.unit_count, r.gross_weight_mg, r.net_weight_mg) for r in result.rows] == [
        (2, 1, 12_500, 10_000),
        (3, 40, 30_000, None),
    ]
    assert [r.seal_number for r in result.rows] == ["007123", "A-9"]
    assert result.rows[0].storage_location == "SAFE-2"
    assert result.rows[1].notes == "blue, logo"


def test_xlsx_numeric_cells_and_blank_rows_keep_spreadsheet_row_numbers():
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Description", "gross_weight_g", "unit_count"])
    sheet.append(["first", 1.5, 2])
    sheet.append([])
    sheet.append(["fourth", 2, -1])
    buffer = io.BytesIO()
    workbook.save(buffer)
    result = parse_sample_sheet(buffer.getvalue(), "upload.bin")
    assert [(r.row, r.gross_weight_mg, r.unit_count) for r in result.rows] == [(2, 1500, 2)]
    assert result.errors == [
        SheetError(4, "unit_count", "Unit count should be a whole number of 1 or more, not “-1”.")
    ]


def test_semicolon_csv_with_decimal_comma_and_bom():
    text = (
        "\ufeffDescription;Gross weight (g);Net weight (g);Seal\r\n"
        "Weißes Pulver;1,5;1,25;007\r\n"
        "Бял прах;2 000,0;;\r\n"  # a space as thousands separator is refused
    )
    result = parse_sample_sheet(text.encode("utf-8"), "proben.csv")
    assert [e.column for e in result.errors] == ["Gross weight (g)"]
    assert [
        (r.description, r.gross_weight_mg, r.net_weight_mg, r.seal_number) for r in result.rows
    ] == [("Weißes Pulver", 1500, 1250, "007")]


def test_tab_separated_cp1252_file():
    text = "description\tpackaging\tnotes\nCaf\u00e9 beans\tJute sack\t\u20ac 10\n"
    result = parse_sample_sheet(text.encode("cp1252"), "export.txt")
    assert result.errors == []
    assert [(r.description, r.packaging, r.notes) for r in result.rows] == [
        ("Café beans", "Jute sack", "€ 10")
    ]


def test_every_bad_row_is_reported_with_its_column():
    frame = pd.DataFrame(
        {
            "description": ["good", "", "good too", "also good", "bad weight"],
            "units": ["1", "2", "zero", "3", "1"],
            "gross_weight_g": ["5", "5", "5", "-2", "5 lb"],
            "seal": ["S1", "S2", "S3", "S4", "С5"],
        }
    )
    result = parse_sample_sheet(csv_bytes(frame), "mixed.csv")
    assert [r.row for r in result.rows] == [2]
    assert [(e.row, e.column) for e in result.errors] == [
        (3, "description"),
        (4, "units"),
        (5, "gross_weight_g"),
        (6, "gross_weight_g"),
        (6, "seal"),
    ]
    messages = [e.message for e in result.errors]
    assert messages[0] == "Enter a description of the sample."
    assert messages[2] == "Gross weight cannot be negative."
    assert "not “5 lb”" in messages[3]
    assert "'С' is not allowed" in messages[4]


def test_kilograms_milligrams_and_header_units():
    text = (
        "description,gross weight (kg),net_weight_g\n"
        "bale,1.5,1.2 kg\n"
        "pill,0.0003,250 mg\n"
        "bag,2,1500 G\n"
    )
    result = parse_sample_sheet(text.encode(), "units.csv")
    assert result.errors == []
    assert [(r.gross_weight_mg, r.net_weight_mg) for r in result.rows] == [
        (1_500_000, 1_200_000),
        (300, 250),
        (2_000_000, 1_500_000),
    ]


def test_net_weight_above_gross_is_refused():
    text = "description;gross;net\nbag;1 kg;1001 g\nbox;1 kg;1000 g\n"
    result = parse_sample_sheet(text.encode(), "weights.csv")
    assert [r.row for r in result.rows] == [3]
    assert result.errors == [
        SheetError(2, "net", "Net weight (1001 g) is more than gross weight (1000 g).")
    ]


def test_unknown_columns_are_named():
    text = "description,Colour,Smell\nbag,red,none\n"
    result = parse_sample_sheet(text.encode(), "extra.csv")
    assert [(e.row, e.column) for e in result.errors] == [(1, "Colour"), (1, "Smell")]
    assert result.errors[0].message.startswith("Unknown column “Colour”.")


def test_duplicate_columns_and_values_without_header():
    text = "description,seal,Seal number\nbag,A,B\nbox,C,D,1,5\n"
    result = parse_sample_sheet(text.encode(), "dupes.csv")
    assert [(e.row, e.column) for e in result.errors] == [(1, "Seal number"), (3, ""), (3, "")]
    assert "column D" in result.errors[1].message
    assert "“5” in column E" in result.errors[2].message


def test_missing_description_column_is_one_error():
    text = "packaging,seal\nbag,A\nbox,B\n"
    message = whole_file_error(parse_sample_sheet(text.encode(), "nodesc.csv"))
    assert "no description column" in message


def test_blank_rows_are_skipped_and_numbering_follows_the_file():
    text = "\ndescription,units\n\nfirst,1\n,\nsecond,x\n"
    result = parse_sample_sheet(text.encode(), "gaps.csv")
    assert [r.row for r in result.rows] == [4]
    assert [(e.row, e.column) for e in result.errors] == [(6, "units")]


def test_quoted_newline_is_one_row():
    text = 'description,notes\n"two\nlines",x\nnext,y\n'
    result = parse_sample_sheet(text.encode(), "quoted.csv")
    assert [(r.row, r.description) for r in result.rows] == [(2, "two\nlines"), (3, "next")]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"  \r\n\r\n", "The file is empty."),
        (b";;;\n", "The sheet is empty."),
        (b"description\n", "The sheet has a header row but no samples below it."),
    ],
)
def test_empty_files(data, message):
    assert whole_file_error(parse_sample_sheet(data, "empty.csv")) == message


def test_empty_workbook():
    workbook = openpyxl.Workbook()
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert whole_file_error(parse_sample_sheet(buffer.getvalue(), "x.xlsx")) == (
        "The sheet is empty."
    )


def test_random_binary_is_refused():
    data = random.Random(6346).randbytes(4096)
    message = whole_file_error(parse_sample_sheet(data, "photo.jpg"))
    assert message.startswith("photo.jpg is not a CSV or XLSX sheet")


def test_damaged_zip_is_refused():
    message = whole_file_error(parse_sample_sheet(b"PK\x03\x04" + b"\x00" * 100, "bad.xlsx"))
    assert "could not be opened as an Excel .xlsx workbook" in message


def test_old_xls_is_refused():
    data = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100
    assert ".xls" in whole_file_error(parse_sample_sheet(data, "old.xls"))


def test_undecodable_text_names_the_encodings():
    message = whole_file_error(parse_sample_sheet(b"description\nbad \x81 byte\n", "x.csv"))
    assert "UTF-8 or Windows-1252" in message
    assert "0x81" in message


def test_utf16_with_bom_is_read():
    text = "description\tunits\nБял прах\t2\n"
    result = parse_sample_sheet(text.encode("utf-16"), "unicode.txt")
    assert [(r.description, r.unit_count) for r in result.rows] == [("Бял прах", 2)]


def test_unterminated_quote_is_a_file_error():
    message = whole_file_error(parse_sample_sheet(b'description\n"open\n', "q.csv"))
    assert message.startswith("The CSV file could not be read")


def test_row_limit():
    at_limit = "description\n" + "x\n" * MAX_ROWS
    assert len(parse_sample_sheet(at_limit.encode(), "big.csv").rows) == MAX_ROWS
    over = at_limit + "x\n"
    assert "limit is 5,000" in whole_file_error(parse_sample_sheet(over.encode(), "big.csv"))


def test_long_cells_are_refused():
    text = f"description,packaging,location\nx,{'p' * 201},{'L' * 41}\n"
    result = parse_sample_sheet(text.encode(), "long.csv")
    assert [(e.column, e.message) for e in result.errors] == [
        ("packaging", "Packaging is longer than 200 characters."),
        ("location", "Storage location is longer than 40 characters."),
    ]
