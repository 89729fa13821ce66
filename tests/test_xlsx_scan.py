"""The regular-expression scan of sheet XML against the ElementTree reader it speeds up."""

from __future__ import annotations

import tempfile
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from batch_sync import xlsx_scan
from batch_sync.errors import InputError
from batch_sync.load import load_table
from batch_sync.table import HIDDEN_ROW_NOTE
from batch_sync.xlsx_columns import SheetRows
from batch_sync.xlsx_parts import open_package
from batch_sync.xlsx_reader import parsed_rows, scanned_rows
from batch_sync.xlsx_scan import UnsupportedXml, column_letters
from tests.workbooks import (
    DATE,
    GENERAL,
    HEADER,
    TEXT,
    ZERO_PADDED,
    write_raw_workbook,
)

MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
SHARED_STRINGS = [
    "<t>SKU-1</t>",
    '<t xml:space="preserve"> padded </t>',
    "<t>AVAILABLE</t>",
    "<t>line_x000D_break</t>",
    "<t>A&amp;B</t>",
    "<t></t>",
]
HEADER_ROW = '<row r="1">' + "".join(
    f'<c r="{letter}1" t="inlineStr"><is><t>{name}</t></is></c>'
    for letter, name in zip("ABCD", HEADER)
) + "</row>"

# Cells as spreadsheet programs write them, where {ref} is the cell reference.
CELL_FORMS = [
    '<c r="{ref}" t="s"><v>0</v></c>',
    '<c r="{ref}" t="s"><v>1</v></c>',
    '<c r="{ref}" s="3" t="s"><v>3</v></c>',
    '<c r="{ref}" t="s"><v>4</v></c>',
    '<c r="{ref}" t="s"><v>5</v></c>',
    '<c r="{ref}" t="inlineStr"><is><t>TS-1 &lt;M&gt;</t></is></c>',
    '<c r="{ref}" t="inlineStr"><is><t xml:space="preserve"> 0614 </t></is></c>',
    '<c r="{ref}" t="inlineStr"><is><t>a_x0041_&#13;b&#x42;</t></is></c>',
    '<c r="{ref}" t="inlineStr"><is><t>two\r\nlines</t></is></c>',
    '<c r="{ref}" t="inlineStr"><is><t></t></is></c>',
    '<c r="{ref}"><v>7</v></c>',
    '<c r="{ref}" t="n"><v>0</v></c>',
    '<c r="{ref}"><v>-3</v></c>',
    '<c r="{ref}"><v>3.0</v></c>',
    '<c r="{ref}"><v>12.5</v></c>',
    '<c r="{ref}"><v>007</v></c>',
    '<c r="{ref}"><v>123456789012</v></c>',
    '<c r="{ref}"><v>1234567890123456</v></c>',
    '<c r="{ref}"><v>1.2345E+20</v></c>',
    f'<c r="{{ref}}" s="{ZERO_PADDED}"><v>123</v></c>',
    f'<c r="{{ref}}" s="{DATE}"><v>45000</v></c>',
    f'<c r="{{ref}}" s="{TEXT}"><v>42</v></c>',
    f'<c r="{{ref}}" s="{GENERAL}"><v>5</v></c>',
    '<c r="{ref}" s="99"><v>5</v></c>',
    '<c r="{ref}" t="b"><v>1</v></c>',
    '<c r="{ref}" t="e"><v>#N/A</v></c>',
    '<c r="{ref}" t="d"><v>2024-01-31T00:00:00</v></c>',
    '<c r="{ref}" t="str"><f>A1&amp;"x"</f><v>x_x0041_</v></c>',
    '<c r="{ref}"><f>1+2</f><v>3</v></c>',
    '<c r="{ref}"><f t="shared" ref="B2:B9" si="0">1+2</f><v>3</v></c>',
    '<c r="{ref}"><f t="shared" si="0"/><v>3</v></c>',
    '<c r="{ref}"><f>1+2</f><v></v></c>',
    '<c r="{ref}"><f>1+2</f></c>',
    '<c r="{ref}" t="str"><f>""</f><v></v></c>',
    '<c r="{ref}" s="1"/>',
    '<c r="{ref}" t="n"><v/></c>',
    '<c r="{ref}" t="inlineStr"></c>',
]
ROW_ATTRIBUTES = ["", ' spans="1:4"', ' hidden="1"', ' hidden="true"', ' hidden="0"']


def read_both(path: Path, positions: dict[str, int] | None = None) -> tuple[SheetRows, SheetRows]:
    """Read the first sheet's data rows with the scan and with ElementTree."""
    positions = positions or {name: index for index, name in enumerate(HEADER)}
    with open_package(path) as package:
        sheet = package.sheets[0]
        scanned = scanned_rows(package, sheet, positions, header_row=1)
        parsed = parsed_rows(package, sheet, positions, header_row=1)
    return scanned, parsed


def assert_same_rows(scanned: SheetRows, parsed: SheetRows) -> None:
    assert scanned.row_numbers == parsed.row_numbers
    assert scanned.columns == parsed.columns
    assert scanned.problems == parsed.problems
    assert scanned.notes == parsed.notes
    assert scanned.blank_rows == parsed.blank_rows


def sheet_rows_xml(rows: list[tuple[int, int, list[int | None]]]) -> str:
    """Build ``<row>`` elements from (row gap, attribute choice, cell form per column)."""
    parts = [HEADER_ROW]
    number = 1
    for gap, attribute, forms in rows:
        number += gap
        cells = "".join(
            CELL_FORMS[form].format(ref=f"{letter}{number}")
            for letter, form in zip("ABCD", forms)
            if form is not None
        )
        parts.append(f'<row r="{number}"{ROW_ATTRIBUTES[attribute]}>{cells}</row>')
    return "".join(parts)


ROWS = st.lists(
    st.tuples(
        st.integers(1, 3),
        st.integers(0, len(ROW_ATTRIBUTES) - 1),
        st.lists(
            st.none() | st.integers(0, len(CELL_FORMS) - 1), min_size=4, max_size=4
        ),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=ROWS, piece_bytes=st.sampled_from([16, 200, xlsx_scan.SCAN_CHUNK_BYTES]))
def test_scan_matches_element_tree(
    rows: list[tuple[int, int, list[int | None]]], piece_bytes: int
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "stock.xlsx"
        write_raw_workbook(path, SHARED_STRINGS, sheet_rows_xml(rows))
        with mock.patch.object(xlsx_scan, "SCAN_CHUNK_BYTES", piece_bytes):
            scanned, parsed = read_both(path)

    assert_same_rows(scanned, parsed)


def test_scan_reads_every_form_in_one_sheet(tmp_path: Path) -> None:
    rows = [(1, index % len(ROW_ATTRIBUTES), [index] * 4) for index in range(len(CELL_FORMS))]
    path = tmp_path / "forms.xlsx"
    write_raw_workbook(path, SHARED_STRINGS, sheet_rows_xml(rows))

    scanned, parsed = read_both(path)

    assert_same_rows(scanned, parsed)
    assert HIDDEN_ROW_NOTE in scanned.notes.values()
    assert len(scanned.problems) > 10


def test_scan_reads_columns_past_z(tmp_path: Path) -> None:
    header = "".join(
        f'<c r="{column_letters(position)}1" t="inlineStr"><is><t>{name}</t></is></c>'
        for position, name in zip((0, 26, 27, 702), HEADER)
    )
    data = "".join(
        f'<c r="{column_letters(position)}2"><v>{position + 1}</v></c>'
        for position in (0, 1, 26, 27, 702)
    )
    path = tmp_path / "wide.xlsx"
    write_raw_workbook(path, [], f'<row r="1">{header}</row><row r="2">{data}</row>')

    scanned, parsed = read_both(
        path, {"skuId": 0, "quantity": 26, "warehouseId": 27, "inventoryType": 702}
    )

    assert_same_rows(scanned, parsed)
    assert scanned.columns["warehouseId"] == ["28"]
    assert column_letters(702) == "AAA"


def sheet_with(rows_xml: str, root: str = "worksheet", prefix: str = "") -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<{prefix}{root} xmlns{":" + prefix[:-1] if prefix else ""}="{MAIN_NS}">'
        f"<{prefix}sheetData>{rows_xml}</{prefix}sheetData></{prefix}{root}>"
    )


PREFIXED_SHEET = sheet_with(
    '<x:row r="1">'
    + "".join(
        f'<x:c r="{letter}1" t="inlineStr"><x:is><x:t>{name}</x:t></x:is></x:c>'
        for letter, name in zip("ABCD", HEADER)
    )
    + '</x:row><x:row r="2"><x:c r="A2" t="inlineStr"><x:is><x:t>SKU-1</x:t></x:is></x:c>'
    '<x:c r="B2"><x:v>4</x:v></x:c><x:c r="C2"><x:v>1</x:v></x:c>'
    '<x:c r="D2" t="inlineStr"><x:is><x:t>AVAILABLE</x:t></x:is></x:c></x:row>',
    prefix="x:",
)
DATA_ROW = (
    '<c r="B2"><v>4</v></c><c r="C2"><v>1</v></c>'
    '<c r="D2" t="inlineStr"><is><t>AVAILABLE</t></is></c>'
)

# Sheets whose XML the scan does not read, each with the skuId that
# ElementTree reads from row 2.
UNSUPPORTED_SHEETS = {
    "namespace prefix": (PREFIXED_SHEET, "SKU-1"),
    "rich text inline string": (
        sheet_with(
            HEADER_ROW + '<row r="2"><c r="A2" t="inlineStr"><is><r><t>SK</t></r>'
            f"<r><rPr><b/></rPr><t>U-1</t></r></is></c>{DATA_ROW}</row>"
        ),
        "SKU-1",
    ),
    "cell without a reference": (
        sheet_with(
            HEADER_ROW + '<row r="2"><c t="inlineStr"><is><t>SKU-2</t></is></c>'
            f"{DATA_ROW}</row>"
        ),
        "SKU-2",
    ),
    "style before reference": (
        sheet_with(
            HEADER_ROW + '<row r="2"><c s="0" r="A2" t="inlineStr"><is><t>SKU-3</t>'
            f"</is></c>{DATA_ROW}</row>"
        ),
        "SKU-3",
    ),
    "single-quoted attribute": (
        sheet_with(
            HEADER_ROW + "<row r='2'><c r='A2' t='inlineStr'><is><t>SKU-4</t></is></c>"
            f"{DATA_ROW}</row>"
        ),
        "SKU-4",
    ),
    "comment between cells": (
        sheet_with(
            HEADER_ROW + '<row r="2"><!-- <c r="A2"><v>9</v></c> -->'
            f'<c r="A2" t="inlineStr"><is><t>SKU-5</t></is></c>{DATA_ROW}</row>'
        ),
        "SKU-5",
    ),
    "whitespace inside a cell": (
        sheet_with(
            HEADER_ROW + '<row r="2">\n  <c r="A2" t="inlineStr">\n    <is><t>SKU-6</t>'
            f"</is>\n  </c>{DATA_ROW}</row>"
        ),
        "SKU-6",
    ),
    "CDATA value": (
        sheet_with(
            HEADER_ROW + '<row r="2"><c r="A2" t="inlineStr"><is><t><![CDATA[SKU-7]]>'
            f"</t></is></c>{DATA_ROW}</row>"
        ),
        "SKU-7",
    ),
    "rows out of order": (
        sheet_with(
            '<row r="2"><c r="A2" t="inlineStr"><is><t>SKU-8</t></is></c>'
            f"{DATA_ROW}</row>{HEADER_ROW}"
        ),
        "SKU-8",
    ),
}


@pytest.mark.parametrize("case", UNSUPPORTED_SHEETS, ids=list(UNSUPPORTED_SHEETS))
def test_unsupported_xml_read_by_element_tree(tmp_path: Path, case: str) -> None:
    sheet_xml, sku = UNSUPPORTED_SHEETS[case]
    path = tmp_path / "unusual.xlsx"
    write_raw_workbook(path, [], "", sheet_xml=sheet_xml)

    with open_package(path) as package:
        with pytest.raises(UnsupportedXml):
            scanned_rows(package, package.sheets[0], {"skuId": 0}, header_row=1)
    table = load_table(path)

    assert list(table.frame["skuId"]) == [sku]
    assert list(table.frame["quantity"]) == ["4"]


def test_unknown_entity_reported_as_damaged(tmp_path: Path) -> None:
    path = tmp_path / "entity.xlsx"
    rows = HEADER_ROW + f'<row r="2"><c r="A2" t="inlineStr"><is><t>&nbsp;</t></is></c>{DATA_ROW}</row>'
    write_raw_workbook(path, [], rows)

    with pytest.raises(InputError, match="damaged"):
        load_table(path)


def test_scan_used_for_plain_sheet(tmp_path: Path) -> None:
    path = tmp_path / "plain.xlsx"
    rows = HEADER_ROW + f'<row r="2"><c r="A2" t="inlineStr"><is><t>SKU-1</t></is></c>{DATA_ROW}</row>'
    write_raw_workbook(path, [], rows)

    with mock.patch(
        "batch_sync.xlsx_reader.parsed_rows", side_effect=AssertionError("parsed")
    ):
        table = load_table(path)

    assert list(table.frame["skuId"]) == ["SKU-1"]
