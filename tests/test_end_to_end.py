"""The real CLI in a subprocess against the real sandbox, for every sample file."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import openpyxl
import pytest

from batch_sync.load import load_table
from batch_sync.validate import validate_table
from schemas.report import COUNT_KEYS, RESULT_COLUMNS
from tests.conftest import SAMPLE_FILES, TEST_TOKEN, Sandbox, run_cli

SAMPLES = sorted(SAMPLE_FILES.glob("stock-export.*"))


def read_results(report_dir: Path) -> list[dict[str, str]]:
    (path,) = report_dir.glob("*-results.csv")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def read_summary(report_dir: Path) -> dict:
    (path,) = report_dir.glob("*-summary.json")
    return json.loads(path.read_text())


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda path: path.name)
def test_sample_syncs_row_by_row(sample: Path, sandbox: Sandbox, tmp_path: Path) -> None:
    report_dir = tmp_path / "reports"

    result = run_cli(
        "sync", str(sample), "--base-url", sandbox.url, "--report-dir", str(report_dir),
        env={"ECROSS_TOKEN": TEST_TOKEN},
    )

    assert result.returncode == 1, result.stderr
    expected = validate_table(load_table(sample)).valid
    received = sandbox.received()
    bodies = {entry["body"]["skuId"]: entry["body"] for entry in received}
    assert len(received) == len(expected)
    for row, values in expected.iterrows():
        body = bodies[values["skuId"]]
        assert body["quantity"] == values["quantity"], row
        assert body["warehouseId"] == values["warehouseId"], row
        assert body["inventoryType"] == values["inventoryType"], row

    sku_ids = set(bodies)
    assert "000123" in sku_ids
    assert "0614" in sku_ids
    assert "1234567890123456789" in sku_ids
    assert {"NA", "NULL", "N/A", "None"} <= sku_ids


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda path: path.name)
def test_report_accounts_for_every_row(sample: Path, sandbox: Sandbox, tmp_path: Path) -> None:
    report_dir = tmp_path / "reports"

    run_cli(
        "sync", str(sample), "--base-url", sandbox.url, "--report-dir", str(report_dir),
        env={"ECROSS_TOKEN": TEST_TOKEN},
    )

    summary = read_summary(report_dir)
    lines = read_results(report_dir)
    table = load_table(sample)
    assert summary["rowsRead"] == len(table.frame)
    assert summary["rowsRead"] == sum(summary[key] for key in COUNT_KEYS)
    assert [int(line["row"]) for line in lines] == list(table.frame.index)
    assert summary["exitStatus"] == 1
    statuses = {line["skuId"]: line for line in lines}
    assert statuses["BAD-NEG"]["status"] == "invalid"
    assert "negative" in statuses["BAD-NEG"]["error"]
    assert statuses["UNKNOWN-WAREHOUSE"]["status"] == "failed"
    assert statuses["UNKNOWN-WAREHOUSE"]["httpStatus"] == "404"
    assert statuses["000123"]["status"] == "synced"
    assert statuses["000123"]["returnedId"] == f"M1001-000123-{statuses['000123']['warehouseId']}-{statuses['000123']['inventoryType']}"


def test_xlsx_report_has_every_row(sandbox: Sandbox, tmp_path: Path) -> None:
    report_dir = tmp_path / "reports"
    sample = SAMPLE_FILES / "stock-export.xlsx"

    run_cli(
        "sync", str(sample), "--base-url", sandbox.url, "--report-dir", str(report_dir),
        env={"ECROSS_TOKEN": TEST_TOKEN},
    )

    (path,) = report_dir.glob("*-results.xlsx")
    workbook = openpyxl.load_workbook(path, read_only=True)
    rows = list(workbook["Rows"].iter_rows(values_only=True))
    assert rows[0] == RESULT_COLUMNS
    assert len(rows) - 1 == read_summary(report_dir)["rowsRead"]


def test_sheet_row_numbers_match_excel(sandbox: Sandbox, tmp_path: Path) -> None:
    report_dir = tmp_path / "reports"
    sample = SAMPLE_FILES / "stock-export.xlsx"
    sheet = openpyxl.load_workbook(sample)["Stock"]
    excel_row_of_bad = next(cell.row for cell in sheet["A"] if cell.value == "BAD-NEG")

    run_cli(
        "sync", str(sample), "--base-url", sandbox.url, "--report-dir", str(report_dir),
        env={"ECROSS_TOKEN": TEST_TOKEN},
    )

    lines = {line["skuId"]: line for line in read_results(report_dir)}
    assert int(lines["BAD-NEG"]["row"]) == excel_row_of_bad


def test_missing_token_stops_before_reading(tmp_path: Path) -> None:
    result = run_cli("sync", str(tmp_path / "does-not-exist.csv"), "--report-dir", str(tmp_path))

    assert result.returncode == 2
    assert "ECROSS_TOKEN is not set" in result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_dry_run_sends_nothing(sandbox: Sandbox, tmp_path: Path) -> None:
    report_dir = tmp_path / "reports"

    result = run_cli(
        "sync", str(SAMPLE_FILES / "stock-export.csv"), "--dry-run", "--base-url", sandbox.url,
        "--report-dir", str(report_dir),
    )

    assert result.returncode == 1
    assert sandbox.received() == []
    summary = read_summary(report_dir)
    assert summary["dryRun"] is True
    assert summary["synced"] == 0
    assert summary["notSent"] > 0


def test_missing_column_is_whole_file_error(sandbox: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "no-type.csv"
    path.write_text("skuId,quantity,warehouseId\nA1,3,1\n")

    result = run_cli(
        "sync", str(path), "--base-url", sandbox.url, "--report-dir", str(tmp_path / "reports"),
        env={"ECROSS_TOKEN": TEST_TOKEN},
    )

    assert result.returncode == 2
    assert "inventoryType" in result.stderr
    assert "'skuId', 'quantity', 'warehouseId'" in result.stderr
    assert "Traceback" not in result.stderr
    assert sandbox.received() == []


def test_all_valid_rows_exit_zero(sandbox: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "clean.csv"
    path.write_text("skuId,quantity,warehouseId,inventoryType\n000123,3,1,AVAILABLE\n0614,0,1,DAMAGED\n")

    result = run_cli(
        "sync", str(path), "--base-url", sandbox.url, "--report-dir", str(tmp_path / "reports"),
        env={"ECROSS_TOKEN": TEST_TOKEN},
    )

    assert result.returncode == 0, result.stderr
    assert sorted(entry["body"]["skuId"] for entry in sandbox.received()) == ["000123", "0614"]


def test_wrong_token_exits_three(sandbox: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    rows = "".join(f"SKU-{index},1,1,AVAILABLE\n" for index in range(200))
    path.write_text("skuId,quantity,warehouseId,inventoryType\n" + rows)

    result = run_cli(
        "sync", str(path), "--base-url", sandbox.url, "--report-dir", str(tmp_path / "reports"),
        "--concurrency", "4", env={"ECROSS_TOKEN": "wrong-token"},
    )

    assert result.returncode == 3
    summary = read_summary(tmp_path / "reports")
    assert summary["notSent"] > 150
    assert summary["synced"] == 0
    assert len(sandbox.received()) < 20
    assert "wrong-token" not in result.stderr + result.stdout


def test_unreachable_api_exits_three(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    rows = "".join(f"SKU-{index},1,1,AVAILABLE\n" for index in range(100))
    path.write_text("skuId,quantity,warehouseId,inventoryType\n" + rows)

    result = run_cli(
        "sync", str(path), "--base-url", "http://127.0.0.1:9", "--report-dir", str(tmp_path / "reports"),
        env={"ECROSS_TOKEN": TEST_TOKEN},
    )

    assert result.returncode == 3, result.stderr
    summary = read_summary(tmp_path / "reports")
    assert summary["rowsRead"] == 100
    assert summary["notSent"] + summary["failed"] == 100


def test_python_dash_m_help_lists_exit_statuses() -> None:
    result = run_cli("sync", "--help")

    assert result.returncode == 0
    assert "130" in result.stdout
    assert "--dry-run" in result.stdout
