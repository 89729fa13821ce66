"""The CSV reader on small files written as raw bytes in each test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from batch_sync import csv_layout, csv_reader
from batch_sync.csv_layout import scan_records
from batch_sync.errors import InputError
from batch_sync.load import load_table
from batch_sync.table import DEFAULT_HEADER_SPEC, SourceTable, map_header
from batch_sync.validate import validate_table

HEADER = "skuId,quantity,warehouseId,inventoryType"


def write(tmp_path: Path, data: bytes, name: str = "stock.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_identifiers_stay_exact(tmp_path: Path) -> None:
    rows = [
        "000123",
        "0614",
        "1234567890123456789",
        "NA",
        "NULL",
        "N/A",
        "None",
        "20099",
    ]
    body = "".join(f"{sku},1,1,AVAILABLE\r\n" for sku in rows)
    path = write(tmp_path, f"{HEADER}\r\n{body}".encode())

    validated = validate_table(load_table(path))

    assert list(validated.valid["skuId"]) == rows


def test_bom_header_recognised(tmp_path: Path) -> None:
    path = write(tmp_path, f"\ufeff{HEADER}\nA-1,2,1,AVAILABLE\n".encode())

    table = load_table(path)

    assert table.encoding == "utf-8-sig"
    assert list(table.frame.columns) == [
        "skuId",
        "quantity",
        "warehouseId",
        "inventoryType",
    ]
    assert list(table.frame["skuId"]) == ["A-1"]


def test_cp1252_decoded_and_named(tmp_path: Path) -> None:
    path = write(
        tmp_path, f"{HEADER},name\nCAFÉ-1,2,1,AVAILABLE,Café crème\n".encode("cp1252")
    )

    table = load_table(path)

    assert table.encoding == "cp1252"
    assert list(table.frame["skuId"]) == ["CAFÉ-1"]


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="an 8-bit file in another code page decodes as Windows-1252",
)
def test_cp1250_letters_kept(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER}\nŘEČ-1,2,1,AVAILABLE\n".encode("cp1250"))

    table = load_table(path)

    assert list(table.frame["skuId"]) == ["ŘEČ-1"]


def test_named_encoding_keeps_cp1250_letters(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER}\nŘEČ-1,2,1,AVAILABLE\n".encode("cp1250"))

    table = load_table(path, csv_encoding="cp1250")

    assert list(table.frame["skuId"]) == ["ŘEČ-1"]
    assert table.encoding == "cp1250"


def test_named_encoding_names_the_line_it_cannot_read(tmp_path: Path) -> None:
    # 0x98 is undefined in Windows-1250.
    path = write(tmp_path, f"{HEADER}\nA-1,2,1,AVAILABLE\n".encode() + b"B\x98,2,1,AVAILABLE\n")

    with pytest.raises(InputError) as error:
        load_table(path, csv_encoding="cp1250")

    assert "line 3 is not cp1250 text" in str(error.value)
    assert "csv_encoding" in str(error.value)


def test_byte_order_mark_beats_named_encoding(tmp_path: Path) -> None:
    path = write(tmp_path, f"\ufeff{HEADER}\nŘEČ-1,2,1,AVAILABLE\n".encode())

    table = load_table(path, csv_encoding="cp1250")

    assert list(table.frame["skuId"]) == ["ŘEČ-1"]


def test_undecodable_bytes_rejected(tmp_path: Path) -> None:
    # 0x81 is undefined in Windows-1252 and invalid as UTF-8.
    path = write(tmp_path, f"{HEADER}\nA\x81B,2,1,AVAILABLE\n".encode("latin-1"))

    with pytest.raises(InputError) as error:
        load_table(path)

    assert "neither UTF-8 nor Windows-1252" in str(error.value)
    assert str(path) in str(error.value)


def test_utf16_tab_text_read(tmp_path: Path) -> None:
    text = "skuId\tquantity\twarehouseId\tinventoryType\r\nŽ-01\t4\t1\tDAMAGED\r\n"
    path = write(tmp_path, b"\xff\xfe" + text.encode("utf-16-le"), "stock.txt")

    table = load_table(path)

    assert table.encoding == "utf-16"
    assert table.delimiter == "\t"
    assert list(table.frame["skuId"]) == ["Ž-01"]


def test_semicolon_decimal_comma(tmp_path: Path) -> None:
    data = "skuId;quantity;warehouseId;inventoryType\nA-1;3,0;1;AVAILABLE\nA-2;1.234,0;1;AVAILABLE\nA-3;3,5;1;AVAILABLE\n"
    path = write(tmp_path, data.encode())

    validated = validate_table(load_table(path))

    assert validated.source.delimiter == ";"
    assert validated.valid.loc[2, "quantity"] == 3
    assert list(validated.valid.index) == [2]
    assert "thousands separator" in validated.problems[3][0].reason
    assert (
        validated.problems[4][0].reason
        == "quantity has a fraction; enter a whole number"
    )
    assert validated.problems[4][0].value == "3,5"


@pytest.mark.parametrize("name", ["stock.tsv", "stock.txt"])
def test_tab_separated_read(tmp_path: Path, name: str) -> None:
    path = write(
        tmp_path,
        b"skuId\tquantity\twarehouseId\tinventoryType\nA,1\t5\t1\tAVAILABLE\n",
        name,
    )

    table = load_table(path)

    assert table.frame.loc[2].to_dict() == {
        "skuId": "A,1",
        "quantity": "5",
        "warehouseId": "1",
        "inventoryType": "AVAILABLE",
    }


def test_padded_header_names_match(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        b" SKU ID ,Quantity,warehouse_id,Inventory-Type,Colour\nA-1,1,1,AVAILABLE,red\n",
    )

    table = load_table(path)

    assert list(table.frame["skuId"]) == ["A-1"]
    assert table.ignored_columns == ["Colour"]


def test_quoted_line_break_stays_aligned(tmp_path: Path) -> None:
    data = f'{HEADER},note\nA-1,1,1,AVAILABLE,"two\r\nlines"\n"B\n2",2,1,DAMAGED,x\nC-3,3,1,AVAILABLE,y\n'
    path = write(tmp_path, data.encode())

    table = load_table(path)

    assert list(table.frame["skuId"]) == ["A-1", "B\n2", "C-3"]
    assert list(table.frame["quantity"]) == ["1", "2", "3"]
    assert list(table.frame.index) == [2, 3, 4]


def test_title_rows_and_blank_lines(tmp_path: Path) -> None:
    data = f"Stock export 2026-12-04\n\n{HEADER}\nA-1,1,1,AVAILABLE\n\n,,,\nA-2,2,1,AVAILABLE\n"
    path = write(tmp_path, data.encode())

    table = load_table(path)

    assert table.header_row == 3
    assert list(table.frame.index) == [4, 7]
    assert table.blank_rows == 2


@pytest.mark.parametrize(
    "line",
    ["A-1,1,1", "A-1,1,1,AVAILABLE,extra", "A,1,1,1,AVAILABLE"],
    ids=["too-few", "too-many", "unquoted-comma"],
)
def test_misaligned_row_invalid(tmp_path: Path, line: str) -> None:
    path = write(tmp_path, f"{HEADER}\n{line}\nB-2,2,1,AVAILABLE\n".encode())

    validated = validate_table(load_table(path))

    assert list(validated.valid["skuId"]) == ["B-2"]
    (problem,) = validated.problems[2]
    assert "values may sit under the wrong header" in problem.reason


def test_empty_trailing_cells_allowed(tmp_path: Path) -> None:
    path = write(tmp_path, f"{HEADER}\nA-1,1,1,AVAILABLE,,\n".encode())

    validated = validate_table(load_table(path))

    assert list(validated.valid["skuId"]) == ["A-1"]


def test_unclosed_quote_rejected(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f'{HEADER}\nA-1,1,1,AVAILABLE\n"B-2,2,1,AVAILABLE\nC-3,3,1,AVAILABLE\n'.encode(),
    )

    with pytest.raises(InputError) as error:
        load_table(path)

    assert "not valid CSV" in str(error.value)


def test_stray_quote_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, f'{HEADER}\n"A"1,1,1,AVAILABLE\n'.encode())

    with pytest.raises(InputError) as error:
        load_table(path)

    assert "not valid CSV" in str(error.value)


TRICKY_CSV = (
    "Stock export\r\n"
    f"{HEADER},note\r\n"
    'A-1,1,1,AVAILABLE,"two\r\nlines"\r\n'
    '"B ""2""",2,1,DAMAGED,\n'
    "\n"
    ' , ,"",\t\r'
    "C;3,3,1\n"
    "D-4,4,1,AVAILABLE,x,,\n"
    "E-5,5,1,AVAILABLE,x,extra\n"
    "Ž-6,6,1,AVAILABLE,Café"
)


def _read_both_ways(tmp_path: Path, text: str) -> tuple[SourceTable, SourceTable]:
    path = write(tmp_path, text.encode())
    spec = DEFAULT_HEADER_SPEC
    header_row, header, _ = csv_reader._find_header(text, ",", spec)
    header_map = map_header(header, str(path), spec)
    width = len(header)
    fast = csv_reader._read_records_fast(
        path, path.read_bytes(), text, "utf-8", ",", header_row, header_map, width
    )
    exact = csv_reader._read_records(path, text, ",", header_row, header_map, width)
    assert fast is not None
    return fast, exact


def test_fast_reader_matches_csv_module(tmp_path: Path) -> None:
    fast, exact = _read_both_ways(tmp_path, TRICKY_CSV)

    pd.testing.assert_frame_equal(fast.frame, exact.frame)
    assert fast.cell_problems == exact.cell_problems
    assert fast.blank_rows == exact.blank_rows
    assert list(fast.frame.index) == [3, 4, 7, 8, 9, 10]
    assert [problem.row for problem in fast.cell_problems] == [7, 9]


@pytest.mark.parametrize(
    "text",
    [f'{HEADER}\n"A"1,1,1,AVAILABLE\n', f'{HEADER}\nA"1,1,1,AVAILABLE\n'],
    ids=["after-closing-quote", "inside-unquoted-value"],
)
def test_fast_reader_declines_stray_quote(tmp_path: Path, text: str) -> None:
    assert scan_records(text.encode(), ",") is None


def test_quote_inside_value_kept(tmp_path: Path) -> None:
    path = write(tmp_path, f'{HEADER}\nA"1,1,1,AVAILABLE\n'.encode())

    table = load_table(path)

    assert list(table.frame["skuId"]) == ['A"1']


def test_fast_reader_full_blank_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csv_layout, "FULL_SCAN_CANDIDATES", 0)

    fast, exact = _read_both_ways(tmp_path, TRICKY_CSV)

    pd.testing.assert_frame_equal(fast.frame, exact.frame)
    assert fast.blank_rows == exact.blank_rows


@pytest.mark.parametrize(
    "data",
    [
        b"a,b\r\nc,d\r\n",
        b"a,b\r\nc,d",
        b'a,b\r\n"x\r\ny",1\r\n\r\nlast,1',
        b'"q""\r\n",2\r\n',
    ],
)
def test_crlf_records_match_general_scan(data: bytes) -> None:
    buffer = np.frombuffer(data, dtype=np.uint8)
    quotes = np.flatnonzero(buffer == ord('"'))

    fast = csv_layout._crlf_record_bounds(buffer, quotes)
    general = csv_layout._record_bounds(buffer, quotes, has_carriage_return=True)

    assert fast[0].tolist() == general[0].tolist()
    assert fast[1].tolist() == general[1].tolist()
