"""--verify and --verify-all against the sandbox, and the paged listing over a mock transport."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import httpx
import openpyxl
import pytest

from batch_sync.client import ClientSettings
from batch_sync.errors import CredentialsRejected
from batch_sync.listing import InventoryLister
from batch_sync.verify import SyncedRow, verify_records
from schemas.api import InventoryPage, InventoryRecord, page_to_json
from schemas.report import MISSING_IN_ECROSS, NOT_IN_FILE, QUANTITY_DIFFERS, VERIFY_COLUMNS
from tests.conftest import TEST_TOKEN, Sandbox, run_cli, start_sandbox

HEADER = "skuId,quantity,warehouseId,inventoryType\n"
# More rows than one page of the listing, which the client asks for 100 at a time.
ROW_COUNT = 230


def stock_file(path: Path, sku_ids: list[str]) -> Path:
    path.write_text(HEADER + "".join(f"{sku},{index % 7},1,AVAILABLE\n" for index, sku in enumerate(sku_ids)))
    return path


def sync(path: Path, sandbox: Sandbox, report_dir: Path, *options: str) -> tuple[int, dict]:
    result = run_cli(
        "sync", str(path), "--base-url", sandbox.url, "--report-dir", str(report_dir), *options,
        env={"ECROSS_TOKEN": TEST_TOKEN},
    )
    (summary_path,) = report_dir.glob("*-summary.json")
    return result.returncode, json.loads(summary_path.read_text())


def test_verify_finds_quantity_differs(tmp_path: Path) -> None:
    sku_ids = [f"V-{index:04d}" for index in range(ROW_COUNT)]
    path = stock_file(tmp_path / "stock.csv", sku_ids)
    sandbox = start_sandbox(tmp_path, "--stored-quantity", "V-0150=999")
    try:
        code, summary = sync(path, sandbox, tmp_path / "reports", "--verify")
    finally:
        sandbox.stop()

    verify = summary["verify"]
    assert code == 0
    assert verify["mode"] == "run"
    assert verify["pages"] == 3
    assert verify["recordsRead"] == ROW_COUNT
    assert verify["rowsChecked"] == ROW_COUNT
    assert verify["quantityDiffers"] == 1
    assert verify["missingInEcross"] == 0
    assert verify["error"] is None

    (xlsx_path,) = (tmp_path / "reports").glob("*-results.xlsx")
    workbook = openpyxl.load_workbook(xlsx_path)
    assert workbook.sheetnames == ["Summary", "Rows", "Verify"]
    rows = list(workbook["Verify"].iter_rows(values_only=True))
    assert rows[0] == VERIFY_COLUMNS
    assert rows[1][:7] == (QUANTITY_DIFFERS, 152, "V-0150", 1, "AVAILABLE", 150 % 7, 999)


def test_verify_all_lists_records_not_in_file(tmp_path: Path) -> None:
    sandbox = start_sandbox(tmp_path)
    try:
        earlier = stock_file(tmp_path / "earlier.csv", ["OLD-1", "OLD-2", "KEPT-1"])
        sync(earlier, sandbox, tmp_path / "earlier")
        other = tmp_path / "other-warehouse.csv"
        other.write_text(HEADER + "OTHER-1,5,3,AVAILABLE\n")
        sync(other, sandbox, tmp_path / "other")
        tonight = stock_file(tmp_path / "tonight.csv", ["KEPT-1", "NEW-1"])

        code, summary = sync(tonight, sandbox, tmp_path / "tonight", "--verify-all")
    finally:
        sandbox.stop()

    verify = summary["verify"]
    assert code == 0
    assert verify["mode"] == "all"
    assert verify["lastUpdateDateFrom"] is None
    assert verify["recordsRead"] == 5
    assert verify["notInFile"] == 2
    assert verify["quantityDiffers"] == 0
    (xlsx_path,) = (tmp_path / "tonight").glob("*-results.xlsx")
    rows = list(openpyxl.load_workbook(xlsx_path)["Verify"].iter_rows(values_only=True))
    listed = {(row[0], row[2]) for row in rows[1:]}
    assert listed == {(NOT_IN_FILE, "OLD-1"), (NOT_IN_FILE, "OLD-2")}


def test_verify_with_dry_run_is_rejected(tmp_path: Path) -> None:
    path = stock_file(tmp_path / "stock.csv", ["A-1"])

    result = run_cli("sync", str(path), "--dry-run", "--verify", "--report-dir", str(tmp_path / "reports"))

    assert result.returncode == 2
    assert "cannot be used with --dry-run" in result.stderr


def test_sandbox_listing_pages_and_filters(sandbox: Sandbox, tmp_path: Path) -> None:
    path = stock_file(tmp_path / "stock.csv", [f"P-{index}" for index in range(5)])
    sync(path, sandbox, tmp_path / "reports")
    headers = {"Authorization": f"Bearer {sandbox.token}"}
    url = f"{sandbox.url}/ext/inventories"

    first = httpx.get(url, params={"pageSize": 2}, headers=headers).json()
    second = httpx.get(url, params={"pageSize": 2, "pageToken": first["nextPageToken"]}, headers=headers).json()
    third = httpx.get(url, params={"pageSize": 2, "pageToken": second["nextPageToken"]}, headers=headers).json()
    later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)).isoformat()
    filtered = httpx.get(url, params={"lastUpdateDateFrom": later}, headers=headers).json()
    unauthorised = httpx.get(url)

    assert [item["skuId"] for item in first["items"] + second["items"] + third["items"]] == [
        f"P-{index}" for index in range(5)
    ]
    assert "nextPageToken" not in third
    assert filtered == {"items": []}
    assert unauthorised.status_code == 401


def record(sku_id: str, quantity: int, warehouse_id: int = 1) -> InventoryRecord:
    return InventoryRecord(
        id=f"M-{sku_id}", sku_id=sku_id, quantity=quantity, warehouse_id=warehouse_id, inventory_type="AVAILABLE"
    )


def paged_transport(records: list[InventoryRecord], page_size: int) -> tuple[httpx.MockTransport, list[dict]]:
    """Serve ``records`` page by page and keep every request's query."""
    queries: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        query = dict(request.url.params)
        queries.append(query)
        offset = int(query.get("pageToken") or 0)
        end = offset + page_size
        token = str(end) if end < len(records) else None
        return httpx.Response(200, json=page_to_json(InventoryPage(records[offset:end], token)))

    return httpx.MockTransport(handler), queries


def settings() -> ClientSettings:
    return ClientSettings(base_url="http://127.0.0.1:9", concurrency=1)


def test_verify_records_follows_tokens() -> None:
    records = [record(f"S-{index}", index) for index in range(7)]
    records[3] = record("S-3", 300)
    transport, queries = paged_transport(records, page_size=3)
    synced = {("S-3", 1, "AVAILABLE"): SyncedRow(5, 3), ("GONE", 1, "AVAILABLE"): SyncedRow(9, 1)}
    synced.update({(f"S-{index}", 1, "AVAILABLE"): SyncedRow(index + 2, index) for index in (0, 1, 2)})
    started = dt.datetime(2026, 12, 4, 16, 0, tzinfo=dt.timezone.utc)

    with InventoryLister(settings(), "mock-token", page_size=3, transport=transport) as lister:
        result = verify_records(lister, synced, set(), started, check_all=False)

    assert result.pages == 3
    assert result.records_read == 7
    assert [query.get("pageToken") for query in queries] == [None, "3", "6"]
    assert queries[0]["lastUpdateDateFrom"] == "2026-12-04T15:58:00+00:00"
    assert result.counts[QUANTITY_DIFFERS] == 1
    assert result.counts[MISSING_IN_ECROSS] == 1
    assert result.counts[NOT_IN_FILE] == 0
    assert {finding["skuId"] for finding in result.findings} == {"S-3", "GONE"}


def test_verify_records_keeps_listing_error() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(401, text="bad token"))
    synced = {("S-1", 1, "AVAILABLE"): SyncedRow(2, 1)}

    with InventoryLister(settings(), "mock-token", transport=transport) as lister:
        result = verify_records(lister, synced, set(), dt.datetime.now(dt.timezone.utc), check_all=True)

    assert "HTTP 401" in result.error
    assert result.counts[MISSING_IN_ECROSS] == 0


def test_lister_raises_on_bad_token() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(401, text="bad token"))

    with InventoryLister(settings(), "mock-token", transport=transport) as lister:
        with pytest.raises(CredentialsRejected):
            list(lister.records())
