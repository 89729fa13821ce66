"""The to-fix file: only invalid and failed rows, in the input's format, accepted again by sync."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections import Counter
from pathlib import Path

import openpyxl

from batch_sync.load import load_table
from batch_sync.report import RunFacts, result_lines, write_report
from batch_sync.validate import validate_table
from schemas.report import TO_FIX_REASON_COLUMN
from tests.conftest import SAMPLE_FILES, TEST_TOKEN, Sandbox, run_cli


def sync(path: Path, sandbox: Sandbox, report_dir: Path) -> tuple[int, dict]:
    result = run_cli(
        "sync", str(path), "--base-url", sandbox.url, "--report-dir", str(report_dir),
        env={"ECROSS_TOKEN": TEST_TOKEN},
    )
    (summary_path,) = report_dir.glob("*-summary.json")
    return result.returncode, json.loads(summary_path.read_text())


def corrected_values(sku_id: object, position: int) -> dict[str, object]:
    """Values that make any row of the to-fix file valid and accepted by the sandbox."""
    return {
        "skuId": sku_id if sku_id else f"FIXED-{position}",
        "quantity": 1,
        "warehouseId": 1,
        "inventoryType": "AVAILABLE",
    }


def test_csv_to_fix_has_only_rows_to_fix(sandbox: Sandbox, tmp_path: Path) -> None:
    code, summary = sync(SAMPLE_FILES / "stock-export.csv", sandbox, tmp_path / "first")
    to_fix = Path(summary["reports"]["toFix"])

    with to_fix.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))

    assert code == 1
    assert to_fix.name.endswith("-to-fix.csv")
    with (SAMPLE_FILES / "stock-export.csv").open(newline="", encoding="utf-8") as handle:
        original_header = next(csv.reader(handle))
    assert rows[0] == original_header + [TO_FIX_REASON_COLUMN]
    assert len(rows) - 1 == summary["invalid"] + summary["failed"]
    reasons = [row[-1] for row in rows[1:]]
    assert all(reason.startswith("row ") for reason in reasons)
    by_sku = {row[0]: row for row in rows[1:]}
    assert by_sku["BAD-NEG"][1] == "-3"
    assert "negative" in by_sku["BAD-NEG"][-1]
    assert "404" in by_sku["UNKNOWN-WAREHOUSE"][-1]
    assert by_sku["BAD-NEG"][4] == "negative quantity"


def test_csv_to_fix_syncs_once_corrected(sandbox: Sandbox, tmp_path: Path) -> None:
    _, first = sync(SAMPLE_FILES / "stock-export.csv", sandbox, tmp_path / "first")
    to_fix = Path(first["reports"]["toFix"])

    code, again = sync(to_fix, sandbox, tmp_path / "again")
    assert code == 1
    assert again["rowsRead"] == first["invalid"] + first["failed"]
    assert again["invalid"] == first["invalid"]
    assert again["failed"] == first["failed"]
    assert again["ignoredColumns"] == ["productName", TO_FIX_REASON_COLUMN]

    with to_fix.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    corrected = tmp_path / "corrected.csv"
    with corrected.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        for position, row in enumerate(rows):
            writer.writerow({**row, **corrected_values(row["skuId"], position)})

    code, fixed = sync(corrected, sandbox, tmp_path / "fixed")
    assert code == 0
    assert fixed["synced"] == fixed["rowsRead"]
    assert fixed["reports"]["toFix"] is None


def test_csv_to_fix_keeps_dialect(sandbox: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "semicolon.csv"
    path.write_bytes(
        "skuId;quantity;warehouseId;inventoryType;productName\n"
        "000123;3;1;AVAILABLE;Café mug\n"
        "BAD-1;-3;1;AVAILABLE;Žluťoučký\n".encode("utf-8-sig")
    )

    code, summary = sync(path, sandbox, tmp_path / "reports")
    to_fix = Path(summary["reports"]["toFix"])
    data = to_fix.read_bytes()

    assert code == 1
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0] == f"skuId;quantity;warehouseId;inventoryType;productName;{TO_FIX_REASON_COLUMN}"
    # The reason contains a semicolon, so the writer quotes it.
    assert lines[1].startswith('BAD-1;-3;1;AVAILABLE;Žluťoučký;"row 3 of the original file: ')
    assert len(lines) == 2


def test_xlsx_to_fix_syncs_once_corrected(sandbox: Sandbox, tmp_path: Path) -> None:
    sample = SAMPLE_FILES / "stock-export.xlsx"
    code, first = sync(sample, sandbox, tmp_path / "first")
    to_fix = Path(first["reports"]["toFix"])
    workbook = openpyxl.load_workbook(to_fix)
    sheet = workbook.active
    rows = list(sheet.iter_rows(values_only=True))

    assert code == 1
    assert to_fix.name.endswith("-to-fix.xlsx")
    assert sheet.title == "Stock"
    assert rows[0] == ("skuId", "quantity", "warehouseId", "inventoryType", "productName", TO_FIX_REASON_COLUMN)
    assert len(rows) - 1 == first["invalid"] + first["failed"]
    by_sku = {row[0]: row for row in rows[1:]}
    assert by_sku["BAD-NEG"][1] == -3
    assert by_sku["BAD-FRACTION"][1] == 3.5
    assert sheet["A2"].number_format == "@"

    code, again = sync(to_fix, sandbox, tmp_path / "again")
    assert code == 1
    assert again["rowsRead"] == first["invalid"] + first["failed"]
    assert again["invalid"] + again["failed"] == again["rowsRead"]

    header = [cell.value for cell in sheet[1]]
    for position, row in enumerate(sheet.iter_rows(min_row=2), start=2):
        values = corrected_values(row[0].value, position)
        for name, value in values.items():
            sheet.cell(row=position, column=header.index(name) + 1, value=value)
    corrected = tmp_path / "corrected.xlsx"
    workbook.save(corrected)

    code, fixed = sync(corrected, sandbox, tmp_path / "fixed")
    assert code == 0
    assert fixed["synced"] == fixed["rowsRead"]


def test_to_fix_skipped_when_input_gone(tmp_path: Path) -> None:
    path = tmp_path / "gone.csv"
    path.write_text("skuId,quantity,warehouseId,inventoryType\nA-1,-3,1,AVAILABLE\n")
    table = validate_table(load_table(path))
    path.unlink()
    started = dt.datetime.now(dt.timezone.utc)

    def facts_for(counts: Counter[str]) -> RunFacts:
        return RunFacts(input_path=path, started=started, finished=started, dry_run=True, exit_status=1)

    paths, summary = write_report(tmp_path / "reports", table, result_lines(table, {}, "dry run"), started, facts_for)

    assert paths.to_fix is None
    assert summary["reports"]["toFix"] is None
    assert summary["invalid"] == 1
    assert paths.results_xlsx.exists()
    assert not list((tmp_path / "reports").glob("*to-fix*"))


def test_xlsx_to_fix_keeps_formula_like_sku(sandbox: Sandbox, tmp_path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Stock"
    sheet.append(["skuId", "quantity", "warehouseId", "inventoryType"])
    for sku_id in ("-LEFT-1", "=SUM(A1)"):
        sheet.append([sku_id, -1, 1, "AVAILABLE"])
    for cell in sheet["A"][1:]:
        cell.data_type = "s"
    path = tmp_path / "stock.xlsx"
    workbook.save(path)
    code, summary = sync(path, sandbox, tmp_path / "first")
    to_fix = Path(summary["reports"]["toFix"])

    cells = openpyxl.load_workbook(to_fix)["Stock"]["A"][1:]

    assert code == 1
    assert [cell.value for cell in cells] == ["-LEFT-1", "=SUM(A1)"]
    assert all(cell.data_type == "s" for cell in cells)
    assert all(cell.quotePrefix for cell in cells)


def test_csv_to_fix_guard_removed_on_resync(sandbox: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "stock.csv"
    path.write_text("skuId,quantity,warehouseId,inventoryType\n-LEFT-1,-1,1,AVAILABLE\n@HOME,-1,1,AVAILABLE\n")
    code, summary = sync(path, sandbox, tmp_path / "first")
    to_fix = Path(summary["reports"]["toFix"])
    with to_fix.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert [row[0] for row in rows[1:]] == ["'-LEFT-1", "'@HOME"]
    for row in rows[1:]:
        row[1] = "5"
    with to_fix.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)

    second, _ = sync(to_fix, sandbox, tmp_path / "second")

    assert code == 1
    assert second == 0
    assert sorted(entry["body"]["skuId"] for entry in sandbox.received()) == ["-LEFT-1", "@HOME"]
