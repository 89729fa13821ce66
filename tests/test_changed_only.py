"""--changed-only: the comparison with e-CROSS's records, and the real CLI against the sandbox."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import httpx

from batch_sync.changes import scan_changes
from batch_sync.client import ClientSettings
from batch_sync.listing import InventoryLister
from batch_sync.upload import PendingRow
from schemas.api import InventoryPage, InventoryRecord, inventory_request, page_to_json
from schemas.report import COUNT_KEYS
from tests.conftest import TEST_TOKEN, Sandbox, run_cli

ROWS = 300
HEADER = ["skuId", "quantity", "warehouseId", "inventoryType", "productName"]


def record(sku_id: str, quantity: int) -> InventoryRecord:
    return InventoryRecord(
        id=f"M-{sku_id}", sku_id=sku_id, quantity=quantity, warehouse_id=1, inventory_type="AVAILABLE"
    )


def pending(row: int, sku_id: str, quantity: int) -> PendingRow:
    return PendingRow(row, inventory_request(sku_id, quantity, 1, "AVAILABLE"))


def lister_over(handler: httpx.MockTransport) -> InventoryLister:
    settings = ClientSettings(base_url="http://127.0.0.1:9", concurrency=1)
    return InventoryLister(settings, "mock-token", page_size=2, transport=handler)


def test_scan_marks_only_equal_quantities() -> None:
    records = [record("SAME", 5), record("DIFFERS", 5), record("OTHER", 1)]

    def handler(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params.get("pageToken") or 0)
        token = str(offset + 2) if offset + 2 < len(records) else None
        return httpx.Response(200, json=page_to_json(InventoryPage(records[offset : offset + 2], token)))

    rows = [pending(2, "SAME", 5), pending(3, "DIFFERS", 6), pending(4, "NEW", 1)]
    with lister_over(httpx.MockTransport(handler)) as lister:
        scan = scan_changes(lister, rows)

    assert scan.error == ""
    assert scan.pages == 2
    assert scan.records_read == 3
    assert set(scan.unchanged) == {2}
    assert scan.unchanged[2].status == "unchanged"
    assert scan.unchanged[2].attempts == 0
    assert scan.unchanged_keys == {("SAME", 1, "AVAILABLE")}


def test_scan_failure_sends_every_row() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(400, text="bad page token"))

    with lister_over(transport) as lister:
        scan = scan_changes(lister, [pending(2, "SAME", 5)])

    assert "HTTP 400" in scan.error
    assert scan.unchanged == {}
    assert scan.unchanged_keys == set()


def write_export(path: Path, quantities: dict[str, int]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for index, (sku_id, quantity) in enumerate(quantities.items()):
            writer.writerow([sku_id, quantity, 1 + index % 2, "AVAILABLE", "Changed-only item"])


def read_results(report_dir: Path) -> dict[str, dict[str, str]]:
    (path,) = report_dir.glob("*-results.csv")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return {line["skuId"]: line for line in csv.DictReader(handle)}


def read_summary(report_dir: Path) -> dict:
    (path,) = report_dir.glob("*-summary.json")
    return json.loads(path.read_text())


def sync(path: Path, sandbox: Sandbox, report_dir: Path, *flags: str) -> int:
    result = run_cli(
        "sync", str(path), "--base-url", sandbox.url, "--report-dir", str(report_dir), *flags,
        env={"ECROSS_TOKEN": TEST_TOKEN},
    )
    return result.returncode


def test_changed_only_sends_changed_rows(sandbox: Sandbox, tmp_path: Path) -> None:
    quantities = {f"CO-{index:04d}": index % 50 for index in range(ROWS)}
    first = tmp_path / "night-1.csv"
    write_export(first, quantities)
    assert sync(first, sandbox, tmp_path / "full") == 0
    assert len(sandbox.received()) == ROWS

    # One percent of the quantities change, and one SKU is new to e-CROSS.
    changed = {"CO-0007": 1000, "CO-0150": 1001, "CO-0299": 1002}
    quantities.update(changed)
    quantities["CO-NEW"] = 4
    second = tmp_path / "night-2.csv"
    write_export(second, quantities)
    expected = {**changed, "CO-NEW": 4}

    preview_dir = tmp_path / "preview"
    assert sync(second, sandbox, preview_dir, "--dry-run", "--changed-only") == 0
    assert len(sandbox.received()) == ROWS
    preview = read_results(preview_dir)
    previewed = {sku for sku, line in preview.items() if line["status"] == "not_sent"}
    assert previewed == set(expected)
    summary = read_summary(preview_dir)
    assert summary["unchanged"] == ROWS - 3
    assert summary["rowsRead"] == sum(summary[key] for key in COUNT_KEYS)

    run_dir = tmp_path / "changed"
    assert sync(second, sandbox, run_dir, "--changed-only") == 0
    posted = sandbox.received()[ROWS:]
    assert {entry["body"]["skuId"]: entry["body"]["quantity"] for entry in posted} == expected
    assert len(posted) == len(expected)
    results = read_results(run_dir)
    assert {sku for sku, line in results.items() if line["status"] == "synced"} == previewed
    assert results["CO-0001"]["status"] == "unchanged"
    assert results["CO-0001"]["returnedQuantity"] == "1"
    summary = read_summary(run_dir)
    assert summary["unchanged"] == ROWS - 3
    assert summary["synced"] == len(expected)
    assert summary["changedOnly"]["recordsRead"] == ROWS
    assert summary["changedOnly"]["error"] is None
    assert summary["rowsRead"] == sum(summary[key] for key in COUNT_KEYS)
