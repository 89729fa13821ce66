"""Each warning of e-CROSS's response, produced by the sandbox on demand, in CSV, XLSX and JSON."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import openpyxl
from openpyxl.utils import get_column_letter
import pytest

from batch_sync.report import neutralise
from batch_sync.response_checks import NOT_YET_INTEGRATED as CHECKED_NOT_YET_INTEGRATED
from batch_sync.response_checks import QUANTITY_MISMATCH as CHECKED_QUANTITY_MISMATCH
from batch_sync.response_checks import RESPONSE_MISMATCH as CHECKED_RESPONSE_MISMATCH
from batch_sync.response_checks import SKU_NOT_REGISTERED as CHECKED_SKU_NOT_REGISTERED
from schemas.report import (
    NOT_YET_INTEGRATED,
    QUANTITY_MISMATCH,
    RESPONSE_MISMATCH,
    RESULT_COLUMNS,
    RETURNED_ORDERS,
    SKU_NOT_REGISTERED,
    STATUS_COLOURS,
    WARNINGS,
)
from tests.conftest import TEST_TOKEN, Sandbox, run_cli, start_sandbox

# Every SKU except UNREGISTERED-1 and the formula SKUs is in sample_files/catalog.csv.
STOCK = """skuId,quantity,warehouseId,inventoryType
000123,49,1,AVAILABLE
0614,5,1,AVAILABLE
1234567890123456789,7,1,AVAILABLE
NA,2,1,AVAILABLE
UNREGISTERED-1,4,2,DAMAGED
007,8,1,AVAILABLE
"=HYPERLINK(""http://127.0.0.1/x"")",1,1,AVAILABLE
@SUM(A1),1,1,AVAILABLE
BAD-NEG,-3,1,AVAILABLE
"""

ANSWER_OPTIONS = (
    "--stored-quantity", "000123=3",
    "--omit-integration-date", "0614",
    "--other-warehouse", "1234567890123456789",
    "--returned-orders", "NA=2",
)


@pytest.fixture(scope="module")
def warning_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Sync STOCK once against a sandbox that produces every warning."""
    tmp_path = tmp_path_factory.mktemp("warnings")
    (tmp_path / "stock.csv").write_text(STOCK, encoding="utf-8")
    sandbox: Sandbox = start_sandbox(tmp_path, *ANSWER_OPTIONS)
    try:
        result = run_cli(
            "sync", "stock.csv", "--base-url", sandbox.url, "--report-dir", "reports",
            env={"ECROSS_TOKEN": TEST_TOKEN}, cwd=tmp_path,
        )
    finally:
        sandbox.stop()
    report_dir = tmp_path / "reports"
    (csv_path,) = report_dir.glob("*-results.csv")
    with csv_path.open(newline="", encoding="utf-8-sig") as handle:
        lines = list(csv.DictReader(handle))
    (summary_path,) = report_dir.glob("*-summary.json")
    (xlsx_path,) = report_dir.glob("*-results.xlsx")
    return {
        "result": result,
        "lines": {line["skuId"].lstrip("'"): line for line in lines},
        "raw_lines": lines,
        "summary": json.loads(summary_path.read_text()),
        "xlsx": xlsx_path,
    }


def test_warning_names_match_checks() -> None:
    assert QUANTITY_MISMATCH == CHECKED_QUANTITY_MISMATCH
    assert SKU_NOT_REGISTERED == CHECKED_SKU_NOT_REGISTERED
    assert NOT_YET_INTEGRATED == CHECKED_NOT_YET_INTEGRATED
    assert RESPONSE_MISMATCH == CHECKED_RESPONSE_MISMATCH


def test_run_exits_one(warning_run: dict) -> None:
    assert warning_run["result"].returncode == 1, warning_run["result"].stderr


def test_csv_quantity_mismatch_has_both(warning_run: dict) -> None:
    line = warning_run["lines"]["000123"]

    assert line["status"] == "synced"
    assert line["quantity"] == "49"
    assert line["returnedQuantity"] == "3"
    assert "quantity_mismatch (sent 49, e-CROSS stored 3)" in line["warnings"]


def test_csv_not_yet_integrated(warning_run: dict) -> None:
    line = warning_run["lines"]["0614"]

    assert line["status"] == "synced"
    assert line["warnings"] == NOT_YET_INTEGRATED
    assert line["lastIntegrationDate"] == ""


def test_csv_response_mismatch_fails_row(warning_run: dict) -> None:
    line = warning_run["lines"]["1234567890123456789"]

    assert line["status"] == "failed"
    assert RESPONSE_MISMATCH in line["warnings"]
    assert "warehouseId sent 1, returned 1001" in line["error"]


def test_csv_returned_orders_counted(warning_run: dict) -> None:
    line = warning_run["lines"]["NA"]

    assert line["status"] == "synced"
    assert line["returnedOrders"] == "2"
    assert line["warnings"] == "returned_orders (2)"


def test_csv_sku_not_registered(warning_run: dict) -> None:
    line = warning_run["lines"]["UNREGISTERED-1"]

    assert line["status"] == "synced"
    assert line["warnings"] == SKU_NOT_REGISTERED
    assert line["skuName"] == ""


def test_csv_clean_row_has_no_warning(warning_run: dict) -> None:
    assert warning_run["lines"]["007"]["warnings"] == ""


def test_csv_neutralises_formulas(warning_run: dict) -> None:
    cells = [value for line in warning_run["raw_lines"] for value in line.values()]

    sku_ids = [line["skuId"] for line in warning_run["raw_lines"]]

    assert not [cell for cell in cells if cell.startswith(("=", "@", "\t", "\r"))]
    assert "'=HYPERLINK(\"http://127.0.0.1/x\")" in sku_ids
    assert "'@SUM(A1)" in sku_ids


def test_csv_negative_quantity_reads_as_number(warning_run: dict) -> None:
    line = warning_run["lines"]["BAD-NEG"]

    assert line["status"] == "invalid"
    assert line["quantity"] == "-3"


def test_json_counts_each_warning(warning_run: dict) -> None:
    warnings = warning_run["summary"]["warnings"]

    assert list(warnings) == list(WARNINGS)
    assert warnings[QUANTITY_MISMATCH] == 1
    assert warnings[NOT_YET_INTEGRATED] == 1
    assert warnings[RESPONSE_MISMATCH] == 1
    assert warnings[RETURNED_ORDERS] == 1
    # UNREGISTERED-1 and the two formula SKUs are not in the catalog.
    assert warnings[SKU_NOT_REGISTERED] == 3
    assert warning_run["summary"]["returnedOrders"] == 2


def test_json_units_per_warehouse(warning_run: dict) -> None:
    units = {(unit["warehouseId"], unit["inventoryType"]): unit for unit in warning_run["summary"]["units"]}

    available = units[(1, "AVAILABLE")]
    assert available["rowsSent"] == 7
    assert available["unitsSent"] == 49 + 5 + 7 + 2 + 8 + 1 + 1
    assert available["rowsAcknowledged"] == 6
    assert available["unitsAcknowledged"] == 3 + 5 + 2 + 8 + 1 + 1
    assert units[(2, "DAMAGED")]["unitsAcknowledged"] == 4


def test_json_top_errors(warning_run: dict) -> None:
    errors = {entry["error"]: entry["rows"] for entry in warning_run["summary"]["topErrors"]}

    assert errors["quantity is negative; enter a whole number of 0 or more"] == 1
    assert any(text.startswith(RESPONSE_MISMATCH) for text in errors)


def test_xlsx_sheets_in_order(warning_run: dict) -> None:
    workbook = openpyxl.load_workbook(warning_run["xlsx"])

    assert workbook.sheetnames == ["Summary", "Rows"]


def test_xlsx_rows_sheet_layout(warning_run: dict) -> None:
    sheet = openpyxl.load_workbook(warning_run["xlsx"])["Rows"]
    rows = list(sheet.iter_rows(values_only=True))

    assert rows[0] == RESULT_COLUMNS
    assert len(rows) == 1 + warning_run["summary"]["rowsRead"]
    assert sheet.freeze_panes == "A2"
    last_column = get_column_letter(len(RESULT_COLUMNS))
    assert sheet.auto_filter.ref == f"A1:{last_column}{len(rows)}"
    assert sheet.column_dimensions["B"].width >= len("1234567890123456789")


def test_xlsx_status_cells_coloured(warning_run: dict) -> None:
    sheet = openpyxl.load_workbook(warning_run["xlsx"])["Rows"]
    status_column = RESULT_COLUMNS.index("status") + 1

    for row in sheet.iter_rows(min_row=2):
        cell = row[status_column - 1]
        # The colour is ARGB. XlsxWriter writes the alpha byte as FF, openpyxl as 00.
        assert cell.fill.fill_type == "solid", cell.coordinate
        assert cell.fill.fgColor.rgb[2:] == STATUS_COLOURS[cell.value], cell.coordinate


def test_xlsx_dates_stored_as_dates(warning_run: dict) -> None:
    sheet = openpyxl.load_workbook(warning_run["xlsx"])["Rows"]
    column = RESULT_COLUMNS.index("lastUpdateDate")
    rows = {row[1].value: row for row in sheet.iter_rows(min_row=2)}

    assert isinstance(rows["007"][column].value, dt.datetime)
    assert rows["007"][column].is_date


def test_xlsx_warnings_match_csv(warning_run: dict) -> None:
    sheet = openpyxl.load_workbook(warning_run["xlsx"])["Rows"]
    column = RESULT_COLUMNS.index("warnings")
    rows = {str(row[1]).lstrip("'"): row for row in sheet.iter_rows(min_row=2, values_only=True)}

    for sku_id, line in warning_run["lines"].items():
        assert (rows[sku_id][column] or "") == line["warnings"], sku_id


def test_xlsx_no_cell_starts_with_formula(warning_run: dict) -> None:
    workbook = openpyxl.load_workbook(warning_run["xlsx"])

    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", cell.coordinate
                if isinstance(cell.value, str):
                    assert not cell.value.startswith("="), cell.coordinate


def test_xlsx_negative_quantity_is_number_text(warning_run: dict) -> None:
    sheet = openpyxl.load_workbook(warning_run["xlsx"])["Rows"]
    rows = {row[1]: row for row in sheet.iter_rows(min_row=2, values_only=True)}

    assert rows["BAD-NEG"][RESULT_COLUMNS.index("quantity")] == "-3"


def test_xlsx_summary_counts_warnings(warning_run: dict) -> None:
    sheet = openpyxl.load_workbook(warning_run["xlsx"])["Summary"]
    values = {row[0]: row[1] for row in sheet.iter_rows(values_only=True) if row[0]}

    assert values["quantity_mismatch"] == 1
    assert values["response_mismatch"] == 1
    assert values["sku_not_registered"] == 3
    assert values["rows read"] == warning_run["summary"]["rowsRead"]
    assert values["Exit status"] == 1
    assert isinstance(values["Started (UTC)"], dt.datetime)


def test_terminal_summary_fits_80_columns(warning_run: dict) -> None:
    output = warning_run["result"].stdout

    assert "quantity_mismatch" in output
    assert "rows read" in output
    for line in output.splitlines():
        assert len(line) <= 80, line


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+cmd", "'+cmd"),
        ("-cmd", "'-cmd"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-3", "-3"),
        ("+4.5", "+4.5"),
        ("plain", "plain"),
        (-3, -3),
    ],
)
def test_neutralise_cases(value: object, expected: object) -> None:
    assert neutralise(value) == expected
