"""Validation of each column's values and of duplicate keys, from CSV files."""

from __future__ import annotations

from pathlib import Path

import pytest

from batch_sync.load import load_table
from batch_sync.validate import ValidatedTable, validate_table

HEADER = "skuId,quantity,warehouseId,inventoryType\n"


def validate_lines(tmp_path: Path, lines: list[str]) -> ValidatedTable:
    path = tmp_path / "stock.csv"
    path.write_text(HEADER + "".join(f"{line}\n" for line in lines), encoding="utf-8")
    return validate_table(load_table(path))


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        (" 7 ", 7),
        ("3.0", 3),
        ("0", 0),
        ("007", 7),
        ('" 12 "', 12),
        ("-0", 0),
        ("-0.0", 0),
        (".0", 0),
        ("-.0", 0),
    ],
)
def test_quantity_accepted(tmp_path: Path, quantity: str, expected: int) -> None:
    validated = validate_lines(tmp_path, [f"A-1,{quantity},1,AVAILABLE"])

    assert validated.problems == {}
    assert validated.valid.loc[2, "quantity"] == expected


@pytest.mark.parametrize(
    ("quantity", "reason"),
    [
        ("3.5", "quantity has a fraction; enter a whole number"),
        ("-3", "quantity is negative; enter a whole number of 0 or more"),
        (
            "1e3",
            "quantity is in scientific notation; enter the whole number without an exponent",
        ),
        (
            "1E-3",
            "quantity is in scientific notation; enter the whole number without an exponent",
        ),
        ("Not stocked", "quantity is not a number; enter a whole number"),
        ("", "quantity is blank; enter a whole number"),
        ("3 000", "quantity is not a number; enter a whole number"),
        ("9999999999", "quantity is larger than 2,147,483,647; check the value"),
    ],
)
def test_quantity_rejected(tmp_path: Path, quantity: str, reason: str) -> None:
    validated = validate_lines(
        tmp_path, [f"A-1,{quantity},1,AVAILABLE", "B-2,1,1,AVAILABLE"]
    )

    assert list(validated.valid["skuId"]) == ["B-2"]
    (problem,) = validated.problems[2]
    assert problem.column == "quantity"
    assert problem.reason == reason


@pytest.mark.parametrize(
    ("warehouse", "reason"),
    [
        ("0", "warehouseId is 0; enter a whole number of 1 or more"),
        ("-0", "warehouseId is 0; enter a whole number of 1 or more"),
        (".0", "warehouseId is 0; enter a whole number of 1 or more"),
        ("-1", "warehouseId is negative; enter a whole number of 1 or more"),
        ("1.5", "warehouseId has a fraction; enter a whole number"),
        ("Prague", "warehouseId is not a number; enter a whole number"),
        ("", "warehouseId is blank; enter a whole number"),
    ],
)
def test_warehouse_rejected(tmp_path: Path, warehouse: str, reason: str) -> None:
    validated = validate_lines(tmp_path, [f"A-1,1,{warehouse},AVAILABLE"])

    (problem,) = validated.problems[2]
    assert problem.column == "warehouseId"
    assert problem.reason == reason


def test_warehouse_whole_float_accepted(tmp_path: Path) -> None:
    validated = validate_lines(tmp_path, ["A-1,1,2.0,AVAILABLE"])

    assert validated.valid.loc[2, "warehouseId"] == 2


@pytest.mark.parametrize("value", ["available", "Damaged ", " AVAILABLE", "damaged"])
def test_inventory_type_normalised(tmp_path: Path, value: str) -> None:
    validated = validate_lines(tmp_path, [f"A-1,1,1,{value}"])

    assert validated.valid.loc[2, "inventoryType"] == value.strip().upper()


@pytest.mark.parametrize("value", ["LOST", "AVAIL", "AVAILABLE DAMAGED", ""])
def test_inventory_type_rejected(tmp_path: Path, value: str) -> None:
    validated = validate_lines(tmp_path, [f"A-1,1,1,{value}"])

    (problem,) = validated.problems[2]
    assert problem.column == "inventoryType"
    assert "AVAILABLE or DAMAGED" in problem.reason


@pytest.mark.parametrize(
    ("sku", "reason_start"),
    [
        ("1.23457E+09", "skuId is in scientific notation"),
        (
            "20099.0",
            "skuId looks like an id that a program turned into a decimal number",
        ),
        (" A-1", "skuId starts or ends with a space, tab or line break"),
        ("\tA-1", "skuId starts or ends with a space, tab or line break"),
        ('" A-1\n2"', "skuId starts or ends with a space, tab or line break"),
        ('"A-1\n2"', "skuId has a line break, tab, no-break space or other invisible"),
        ("A-1\t2", "skuId has a line break, tab, no-break space or other invisible"),
        ("A-1\u00a02", "skuId has a line break, tab, no-break space or other invisible"),
        ("A-1\u200b2", "skuId has a line break, tab, no-break space or other invisible"),
        ("", "skuId is blank"),
    ],
)
def test_damaged_sku_rejected(tmp_path: Path, sku: str, reason_start: str) -> None:
    validated = validate_lines(tmp_path, [f"{sku},1,1,AVAILABLE"])

    (problem,) = validated.problems[2]
    assert problem.column == "skuId"
    assert problem.reason.startswith(reason_start)


def test_identical_duplicate_sent_once(tmp_path: Path) -> None:
    validated = validate_lines(
        tmp_path, ["A-1,5,1,AVAILABLE", "B-2,1,1,AVAILABLE", "A-1,5.0,1,available"]
    )

    assert list(validated.valid.index) == [2, 3]
    assert validated.duplicate_of == {4: 2}
    assert validated.problems == {}


def test_conflicting_duplicates_all_invalid(tmp_path: Path) -> None:
    validated = validate_lines(
        tmp_path,
        [
            "A-1,5,1,AVAILABLE",
            "A-1,6,1,AVAILABLE",
            "A-1,7,1,DAMAGED",
            "A-1,8,2,AVAILABLE",
        ],
    )

    assert sorted(validated.problems) == [2, 3]
    assert "row 3 has 6" in validated.problems[2][0].reason
    assert "row 2 has 5" in validated.problems[3][0].reason
    assert list(validated.valid.index) == [4, 5]


def test_semicolon_file_rejects_thousands_point(tmp_path: Path) -> None:
    path = tmp_path / "eu.csv"
    path.write_bytes(
        b"skuId;quantity;warehouseId;inventoryType\r\n"
        b"T1;1.000;1;AVAILABLE\r\nT2;12.500;1;AVAILABLE\r\nT3;3,0;1;AVAILABLE\r\n"
    )

    table = validate_table(load_table(path))

    assert list(table.valid.index) == [4]
    assert int(table.valid.at[4, "quantity"]) == 3
    for row in (2, 3):
        (problem,) = table.problems[row]
        assert problem.column == "quantity"
        assert "thousands separator" in problem.reason
