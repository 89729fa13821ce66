"""The per-row outcomes that a run keeps in memory for its report."""

from __future__ import annotations

from batch_sync.sending import compact_outcome
from batch_sync.upload import RowOutcome
from schemas.api import inventory_request, parse_inventory_record


def stored_record(sku: str) -> dict[str, object]:
    # Built at run time, so equal texts are distinct objects, as after json.loads.
    return {
        "id": f"M1001-{sku}",
        "skuId": sku,
        "quantity": 3,
        "warehouseId": 1,
        "inventoryType": "".join(["AVAIL", "ABLE"]),
        "warehouseName": "".join(["Merchant ", "warehouse"]),
        "warehouseCountry": "".join(["C", "Z"]),
        "lastUpdateDate": "2026-12-04T00:00:00+00:00",
    }


def outcome(sku: str) -> RowOutcome:
    return RowOutcome(
        row=2,
        status="synced",
        http_status=200,
        record=parse_inventory_record(stored_record(sku)),
        attempts=1,
        body=inventory_request(sku, 3, 1, "AVAILABLE"),
    )


def test_compact_outcome_drops_body() -> None:
    original = outcome("A-1")

    compact = compact_outcome(original)

    assert compact.body is None
    assert compact.record == original.record
    assert compact.status == original.status
    assert compact.attempts == original.attempts


def test_compact_outcome_shares_texts() -> None:
    first = compact_outcome(outcome("A-1")).record
    second = compact_outcome(outcome("B-2")).record

    assert first is not None
    assert second is not None
    assert first.warehouse_name is second.warehouse_name
    assert first.warehouse_country is second.warehouse_country
    assert first.inventory_type is second.inventory_type
    assert first.sku_id == "A-1"
    assert second.sku_id == "B-2"
