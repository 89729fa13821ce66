"""Compare e-CROSS's stored record with the request that produced it.

A 200 response can still hide a problem. A record for another key than the
one sent makes the row fail. The other differences are warnings on a synced
row, each with a stable name that the report counts.
"""

from __future__ import annotations

import datetime as dt

from schemas.api import InventoryRecord, InventoryRequest

QUANTITY_MISMATCH = "quantity_mismatch"
SKU_NOT_REGISTERED = "sku_not_registered"
NOT_YET_INTEGRATED = "not_yet_integrated"
RESPONSE_MISMATCH = "response_mismatch"

WARNINGS = (QUANTITY_MISMATCH, SKU_NOT_REGISTERED, NOT_YET_INTEGRATED)


def key_mismatch(body: InventoryRequest, record: InventoryRecord) -> str | None:
    """Describe how the record's key differs from the request's, or return None."""
    differences = []
    if record.sku_id != body["skuId"]:
        differences.append(f"skuId sent '{body['skuId']}', returned '{record.sku_id}'")
    if record.warehouse_id != body["warehouseId"]:
        differences.append(f"warehouseId sent {body['warehouseId']}, returned {record.warehouse_id}")
    if record.inventory_type != body["inventoryType"]:
        differences.append(f"inventoryType sent {body['inventoryType']}, returned {record.inventory_type}")
    if not differences:
        return None
    return f"{RESPONSE_MISMATCH}: e-CROSS stored another record ({'; '.join(differences)})"


def record_warnings(sent_quantity: int, record: InventoryRecord) -> tuple[str, ...]:
    """Return the warning names of a record stored for a request of ``sent_quantity``, in a fixed order."""
    warnings = []
    if record.quantity != sent_quantity:
        warnings.append(QUANTITY_MISMATCH)
    if not record.sku_name:
        warnings.append(SKU_NOT_REGISTERED)
    integrated = _parse_time(record.last_integration_date)
    updated = _parse_time(record.last_update_date)
    if integrated is None or (updated is not None and integrated < updated):
        warnings.append(NOT_YET_INTEGRATED)
    return tuple(warnings)


def _parse_time(text: str | None) -> dt.datetime | None:
    """Parse an ISO 8601 time; a time without an offset is taken as UTC."""
    if not text:
        return None
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
