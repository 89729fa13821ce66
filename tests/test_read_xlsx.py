"""The .xlsx reader on small workbooks built in each test."""

from __future__ import annotations

import datetime as dt
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from batch_sync.errors import InputError
from batch_sync.load import load_table
from batch_sync.validate import validate_table
from batch_sync.table import HIDDEN_ROW_NOTE
from batch_sync.xlsx_cells import date_format, sku_text_from_number
from tests.workbooks import (
    DATE,
    GENERAL,
    HEADER,
    TEXT,
    ZERO_PADDED,
    replace_cell_xml,
    write_raw_workbook,
    write_workbook,
)


def problems_by_row(path: Path) -> dict[int, list[tuple[str, str, str]]]:
    table = load_table(path)
    found: dict[int, list[tuple[str, str, str]]] = {}
    for problem in table.cell_problems:
        found.setdefault(problem.row, []).append(
            (problem.column, problem.value, problem.reason)
        )
    return found


def test_text_skus_keep_leading_zeros(tmp_path: Path) -> None:
    path = tmp_path / "text.xlsx"
    write_workbook(
        path, [HEADER, ["000123", 3, 1, "AVAILABLE"], ["0614", 4, 1, "AVAILABLE"]]
    )

    table = load_table(path)

    assert list(table.frame["skuId"]) == ["000123", "0614"]
    assert table.cell_problems == []


def test_number_sku_recovered_by_format(tmp_path: Path) -> None:
    path = tmp_path / "numbers.xlsx"
    workbook = write_workbook(
        path,
        [
            HEADER,
            [20099, 1, 1, "AVAILABLE"],
            [123, 1, 1, "AVAILABLE"],
            [99999999999, 1, 1, "AVAILABLE"],
        ],
    )
    workbook.active["A3"].number_format = "000000"
    workbook.save(path)

    table = load_table(path)

    assert list(table.frame["skuId"]) == ["20099", "000123", "99999999999"]
    assert table.cell_problems == []


@pytest.mark.parametrize(
    ("value", "number_format"),
    [
        (1234567890123456789, "General"),
        (123456789012, "General"),
        (20099.5, "General"),
        (123, "#,##0"),
        (123, "0.00"),
        (-5, "General"),
    ],
    ids=[
        "19-digits",
        "12-digits-general",
        "fraction",
        "thousands",
        "decimals",
        "negative",
    ],
)
def test_number_sku_without_certain_text_is_invalid(
    tmp_path: Path, value: float, number_format: str
) -> None:
    path = tmp_path / "damaged.xlsx"
    workbook = write_workbook(
        path, [HEADER, [value, 1, 1, "AVAILABLE"], ["OK-1", 1, 1, "AVAILABLE"]]
    )
    workbook.active["A2"].number_format = number_format
    workbook.save(path)

    validated = validate_table(load_table(path))

    assert list(validated.valid["skuId"]) == ["OK-1"]
    (problem,) = validated.problems[2]
    assert problem.column == "skuId"
    assert "format the skuId column as Text" in problem.reason


def test_blank_sku_cell_leaves_others_exact(tmp_path: Path) -> None:
    path = tmp_path / "blank.xlsx"
    write_workbook(
        path,
        [
            HEADER,
            [20099, 1, 1, "AVAILABLE"],
            [None, 2, 1, "AVAILABLE"],
            [20100, 3, 1, "AVAILABLE"],
        ],
    )

    validated = validate_table(load_table(path))

    assert list(validated.valid["skuId"]) == ["20099", "20100"]
    assert validated.problems[3][0].reason == "skuId is blank; enter the SKU id"


def test_scientific_sku_text_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "scientific.xlsx"
    write_workbook(path, [HEADER, ["1.23457E+09", 1, 1, "AVAILABLE"]])

    validated = validate_table(load_table(path))

    assert validated.valid.empty
    assert "scientific notation" in validated.problems[2][0].reason


def test_date_boolean_and_error_cells_are_invalid(tmp_path: Path) -> None:
    path = tmp_path / "types.xlsx"
    write_workbook(
        path,
        [
            HEADER,
            [dt.date(2024, 1, 2), 1, 1, "AVAILABLE"],
            [True, 1, 1, "AVAILABLE"],
            ["A-3", False, 1, "AVAILABLE"],
            ["A-4", 5, 1, "AVAILABLE"],
        ],
    )
    replace_cell_xml(path, "B5", '<c r="B5" t="e"><v>#N/A</v></c>')

    problems = problems_by_row(path)

    assert problems[2][0][0] == "skuId"
    assert "contains a date" in problems[2][0][2]
    assert problems[3] == [
        ("skuId", "TRUE", "skuId contains the boolean TRUE; enter the value as text")
    ]
    assert problems[4][0][:2] == ("quantity", "FALSE")
    assert problems[5] == [
        ("quantity", "#N/A", "quantity shows the error #N/A; correct the cell")
    ]


def test_number_columns_read_as_whole_numbers(tmp_path: Path) -> None:
    path = tmp_path / "quantities.xlsx"
    write_workbook(
        path,
        [
            HEADER,
            ["A-1", 3.0, 1.0, "AVAILABLE"],
            ["A-2", 3.5, 1, "AVAILABLE"],
            ["A-3", 1e20, 1, "AVAILABLE"],
            ["A-4", 0.001, 1, "AVAILABLE"],
            ["A-5", " 7 ", "2", "available"],
        ],
    )

    validated = validate_table(load_table(path))

    assert validated.valid.loc[2].to_dict() == {
        "skuId": "A-1",
        "quantity": 3,
        "warehouseId": 1,
        "inventoryType": "AVAILABLE",
    }
    assert validated.valid.loc[6].to_dict() == {
        "skuId": "A-5",
        "quantity": 7,
        "warehouseId": 2,
        "inventoryType": "AVAILABLE",
    }
    assert (
        validated.problems[3][0].reason
        == "quantity has a fraction; enter a whole number"
    )
    assert validated.problems[4][0].reason.startswith("quantity is larger than")
    assert (
        validated.problems[5][0].reason
        == "quantity has a fraction; enter a whole number"
    )


@pytest.mark.parametrize("number_format", ["0%", "#,##0,", '0,"K"', "0.00%;-0.00%"])
def test_scaled_quantity_is_invalid(tmp_path: Path, number_format: str) -> None:
    path = tmp_path / "scaled.xlsx"
    workbook = write_workbook(path, [HEADER, ["A-1", 1000, 1, "AVAILABLE"]])
    workbook.active["B2"].number_format = number_format
    workbook.save(path)

    problems = problems_by_row(path)

    assert problems[2][0][0] == "quantity"
    assert "shown scaled" in problems[2][0][2]


def test_thousands_separator_quantity_read(tmp_path: Path) -> None:
    path = tmp_path / "thousands.xlsx"
    workbook = write_workbook(path, [HEADER, ["A-1", 1500, 1, "AVAILABLE"]])
    workbook.active["B2"].number_format = "#,##0"
    workbook.save(path)

    table = load_table(path)

    assert table.frame.loc[2, "quantity"] == "1500"
    assert table.cell_problems == []


def test_formula_without_saved_value_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "formula.xlsx"
    write_workbook(
        path, [HEADER, ["A-1", "=2+3", 1, "AVAILABLE"], ["A-2", 4, 1, "AVAILABLE"]]
    )

    validated = validate_table(load_table(path))

    assert list(validated.valid["skuId"]) == ["A-2"]
    (problem,) = validated.problems[2]
    assert problem.column == "quantity"
    assert "formula with no saved value" in problem.reason
    assert "open the file in Excel" in problem.reason


def test_formula_uses_saved_value(tmp_path: Path) -> None:
    path = tmp_path / "saved.xlsx"
    write_workbook(path, [HEADER, ["x", "y", 1, "AVAILABLE"]])
    replace_cell_xml(path, "A2", '<c r="A2" t="str"><f>"00"&amp;"7"</f><v>007</v></c>')
    replace_cell_xml(path, "B2", '<c r="B2"><f>2+3</f><v>5</v></c>')

    validated = validate_table(load_table(path))

    assert validated.valid.loc[2].to_dict() == {
        "skuId": "007",
        "quantity": 5,
        "warehouseId": 1,
        "inventoryType": "AVAILABLE",
    }


def test_hidden_rows_read_with_note(tmp_path: Path) -> None:
    path = tmp_path / "hidden.xlsx"
    workbook = write_workbook(
        path, [HEADER, ["A-1", 1, 1, "AVAILABLE"], ["A-2", 2, 1, "AVAILABLE"]]
    )
    workbook.active.row_dimensions[3].hidden = True
    workbook.active.auto_filter.ref = "A1:D3"
    workbook.save(path)

    table = load_table(path)

    assert list(table.frame["skuId"]) == ["A-1", "A-2"]
    assert table.row_notes == {3: HIDDEN_ROW_NOTE}


def test_title_rows_keep_excel_row_numbers(tmp_path: Path) -> None:
    path = tmp_path / "title.xlsx"
    write_workbook(
        path,
        [
            ["Nightly stock export"],
            [],
            [" SKU ID ", "Quantity", "warehouse_id", "INVENTORY TYPE", "Note"],
            ["A-1", 1, 1, "AVAILABLE", "x"],
            [],
            ["A-2", 2, 1, "DAMAGED", ""],
        ],
    )

    table = load_table(path)

    assert table.header_row == 3
    assert list(table.frame.index) == [4, 6]
    assert table.ignored_columns == ["Note"]


def two_sheet_workbook(path: Path, second_header: list[str]) -> None:
    workbook = Workbook()
    notes = workbook.active
    notes.title = "Notes"
    notes.append(["Exported nightly"])
    first = workbook.create_sheet("Stock")
    first.append(HEADER)
    first.append(["A-1", 1, 1, "AVAILABLE"])
    second = workbook.create_sheet("Old stock")
    second.append(second_header)
    second.append(["B-1", 2, 1, "AVAILABLE"])
    workbook.save(path)


def test_sheet_with_matching_header_chosen(tmp_path: Path) -> None:
    path = tmp_path / "sheets.xlsx"
    two_sheet_workbook(path, ["skuId", "quantity"])

    table = load_table(path)

    assert table.sheet == "Stock"
    assert list(table.frame["skuId"]) == ["A-1"]


def test_ambiguous_sheets_list_names(tmp_path: Path) -> None:
    path = tmp_path / "sheets.xlsx"
    two_sheet_workbook(path, HEADER)

    with pytest.raises(InputError) as error:
        load_table(path)

    assert "'Stock', 'Old stock'" in str(error.value)
    assert "--sheet" in str(error.value)


def test_sheet_option_picks_sheet(tmp_path: Path) -> None:
    path = tmp_path / "sheets.xlsx"
    two_sheet_workbook(path, HEADER)

    table = load_table(path, sheet="Old stock")

    assert list(table.frame["skuId"]) == ["B-1"]


def test_unknown_sheet_lists_sheets(tmp_path: Path) -> None:
    path = tmp_path / "sheets.xlsx"
    two_sheet_workbook(path, HEADER)

    with pytest.raises(InputError) as error:
        load_table(path, sheet="Stok")

    assert "no sheet named 'Stok'" in str(error.value)
    assert "'Notes', 'Stock', 'Old stock'" in str(error.value)


def test_hidden_sheet_not_chosen(tmp_path: Path) -> None:
    path = tmp_path / "sheets.xlsx"
    two_sheet_workbook(path, HEADER)
    workbook = load_workbook(path)
    workbook["Old stock"].sheet_state = "hidden"
    workbook.save(path)

    table = load_table(path)

    assert table.sheet == "Stock"


def test_shared_strings_and_styles_read(tmp_path: Path) -> None:
    path = tmp_path / "excel-layout.xlsx"
    strings = [f"<t>{name}</t>" for name in HEADER] + [
        '<r><t>SK</t></r><r><t xml:space="preserve">U 1</t></r><rPh sb="0" eb="2"><t>ruby</t></rPh>',
        "<t>AVAILABLE</t>",
        "<t>line_x000D_break</t>",
    ]
    header = "".join(
        f'<c r="{col}1" t="s"><v>{index}</v></c>' for index, col in enumerate("ABCD")
    )
    rows = (
        f'<row r="1">{header}</row>'
        '<row r="2"><c r="A2" t="s"><v>4</v></c><c r="B2"><v>7</v></c><c r="C2"><v>1</v></c><c r="D2" t="s"><v>5</v></c></row>'
        f'<row r="3"><c r="A3" s="{ZERO_PADDED}"><v>123</v></c><c r="B3"><v>1</v></c><c r="C3"><v>1</v></c><c r="D3" t="s"><v>5</v></c></row>'
        f'<row r="4"><c r="A4" s="{TEXT}" t="s"><v>6</v></c><c r="B4" s="{DATE}"><v>45000</v></c><c r="C4" s="{GENERAL}"><v>1</v></c><c r="D4" t="s"><v>5</v></c></row>'
        '<row r="9" s="1" customFormat="1"/>'
    )
    write_raw_workbook(path, strings, rows)

    table = load_table(path)

    assert list(table.frame["skuId"]) == ["SKU 1", "000123", "line\rbreak"]
    assert [(problem.row, problem.column) for problem in table.cell_problems] == [
        (4, "quantity")
    ]


def test_styled_empty_rows_keep_memory_flat(tmp_path: Path) -> None:
    path = tmp_path / "styled.xlsx"
    header = "".join(
        f'<c r="{col}1" t="inlineStr"><is><t>{name}</t></is></c>'
        for col, name in zip("ABCD", HEADER)
    )
    data = '<row r="2"><c r="A2" t="inlineStr"><is><t>A-1</t></is></c><c r="B2"><v>1</v></c><c r="C2"><v>1</v></c><c r="D2" t="inlineStr"><is><t>AVAILABLE</t></is></c></row>'
    empty = "".join(
        f'<row r="{number}" s="1" customFormat="1" ht="15"><c r="A{number}" s="1"/></row>'
        for number in range(3, 40_003)
    )
    write_raw_workbook(path, [], f'<row r="1">{header}</row>{data}{empty}')
    assert (
        zipfile.ZipFile(path).getinfo("xl/worksheets/sheet1.xml").file_size > 2_000_000
    )

    tracemalloc.start()
    table = load_table(path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert list(table.frame["skuId"]) == ["A-1"]
    assert table.blank_rows == 40_000
    assert peak < 2_000_000


@pytest.mark.parametrize(
    ("stored", "number_format", "expected"),
    [
        ("123", "General", "123"),
        ("123.0", "General", "123"),
        ("123", "00000", "00123"),
        ("123", "0", "123"),
        ("123456789012", "0", "123456789012"),
        ("1234567890123456", "0", None),
        ("1.2345678901234567E+18", "0", None),
        ("123", "@", "123"),
        ("12.5", "General", None),
        ("123", '"SKU-"0', None),
    ],
)
def test_sku_text_from_number(
    stored: str, number_format: str, expected: str | None
) -> None:
    assert sku_text_from_number(stored, number_format) == expected


@pytest.mark.parametrize(
    ("number_format", "is_date"),
    [
        ("General", False),
        ("0", False),
        ("yyyy-mm-dd", True),
        ("[Red]0.00", False),
        ('"Day "0', False),
        ("h:mm", True),
        ("0.00E+00", False),
        ("@", False),
    ],
)
def test_date_format_detection(number_format: str, is_date: bool) -> None:
    assert date_format(number_format) is is_date
