"""Real exports through the real CLI: the exact requests the sandbox gets and the report lines."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from batch_sync.table import HIDDEN_ROW_NOTE
from tests.conftest import TEST_TOKEN, CliResult, Sandbox, run_cli
from tests.workbooks import HEADER, replace_cell_xml, write_workbook


def sync(path: Path, sandbox: Sandbox, report_dir: Path) -> CliResult:
    result = run_cli(
        "sync", str(path), "--base-url", sandbox.url, "--report-dir", str(report_dir),
        env={"ECROSS_TOKEN": TEST_TOKEN},
    )  # fmt: skip
    assert "Traceback" not in result.stderr
    return result


def sent_bodies(sandbox: Sandbox) -> list[tuple[str, int, int, str]]:
    return sorted(
        (body["skuId"], body["quantity"], body["warehouseId"], body["inventoryType"])
        for body in (entry["body"] for entry in sandbox.received())
    )


def report_lines(report_dir: Path) -> dict[int, dict[str, str]]:
    (path,) = report_dir.glob("*-results.csv")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return {int(line["row"]): line for line in csv.DictReader(handle)}


def summary(report_dir: Path) -> dict:
    (path,) = report_dir.glob("*-summary.json")
    return json.loads(path.read_text())


def test_european_csv_syncs_exact_values(sandbox: Sandbox, tmp_path: Path) -> None:
    text = (
        "Lagerbestand;;;\r\n"
        "SKU ID;Quantity;Warehouse ID;Inventory Type;Bezeichnung\r\n"
        "000123;3,0;1;available;Café\r\n"
        "NULL; 7 ;2;Damaged ;Tasse\r\n"
        "1.23457E+09;1;1;AVAILABLE;Schuh\r\n"
        "0614;2,5;1;AVAILABLE;Mütze\r\n"
    )
    path = tmp_path / "lager.csv"
    path.write_bytes(text.encode("cp1252"))
    report_dir = tmp_path / "reports"

    result = sync(path, sandbox, report_dir)

    assert result.returncode == 1
    assert sent_bodies(sandbox) == [
        ("000123", 3, 1, "AVAILABLE"),
        ("NULL", 7, 2, "DAMAGED"),
    ]
    lines = report_lines(report_dir)
    assert sorted(lines) == [3, 4, 5, 6]
    assert lines[5]["status"] == "invalid"
    assert "skuId is in scientific notation" in lines[5]["error"]
    assert lines[6]["status"] == "invalid"
    assert (
        lines[6]["error"]
        == "quantity '2,5': quantity has a fraction; enter a whole number"
    )
    assert summary(report_dir)["encoding"] == "cp1252"
    assert result.stderr.count("load.ignored_columns") == 1
    assert "Bezeichnung" in result.stderr


def test_workbook_syncs_exact_values(sandbox: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "stock.xlsx"
    workbook = write_workbook(
        path,
        [
            ["Nightly export"],
            HEADER,
            [123, 4, 1, "AVAILABLE"],
            ["TEXT-1", "=2+2", 1, "AVAILABLE"],
            ["HIDDEN-1", 5, 2, "DAMAGED"],
            [1234567890123456789, 1, 1, "AVAILABLE"],
            ["FORMULA-1", "x", 1, "AVAILABLE"],
        ],
    )
    workbook.active["A3"].number_format = "000000"
    workbook.active.row_dimensions[5].hidden = True
    workbook.save(path)
    replace_cell_xml(path, "B7", '<c r="B7"><f>3*3</f><v>9</v></c>')
    report_dir = tmp_path / "reports"

    result = sync(path, sandbox, report_dir)

    assert result.returncode == 1
    assert sent_bodies(sandbox) == [
        ("000123", 4, 1, "AVAILABLE"),
        ("FORMULA-1", 9, 1, "AVAILABLE"),
        ("HIDDEN-1", 5, 2, "DAMAGED"),
    ]
    lines = report_lines(report_dir)
    assert sorted(lines) == [3, 4, 5, 6, 7]
    assert lines[4]["status"] == "invalid"
    assert "quantity is a formula with no saved value" in lines[4]["error"]
    assert lines[6]["status"] == "invalid"
    assert "skuId is stored as the number 1.234567890123457e+18" in lines[6]["error"]
    assert lines[5]["status"] == "synced"
    assert lines[5]["notes"] == HIDDEN_ROW_NOTE
    assert lines[3]["notes"] == ""
    assert summary(report_dir)["hiddenRows"] == 1
