"""The e-CROSS inventory API: shapes of ``POST /ext/inventories/`` and ``GET /ext/inventories``.

Source: the e-CROSS product API's public documentation. ``quantity`` is the
absolute number of pieces that can be sold, not a change, so sending the same
request twice leaves the same state.

The client builds requests with ``inventory_request`` and reads answers with
``parse_inventory_record``. The sandbox checks requests with
``request_problems``, so both sides share one definition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypedDict

from schemas.row import INVENTORY_TYPES, MAX_WHOLE_NUMBER

INVENTORIES_PATH = "/ext/inventories/"
INVENTORY_LIST_PATH = "/ext/inventories"

# Query parameters of the record listing. The listing returns the records
# whose lastUpdateDate is at or after LAST_UPDATE_FROM, a page at a time.
LAST_UPDATE_FROM = "lastUpdateDateFrom"
PAGE_TOKEN = "pageToken"
PAGE_SIZE = "pageSize"

REQUEST_FIELDS = ("skuId", "quantity", "warehouseId", "inventoryType")


class InventoryRequest(TypedDict):
    """The JSON body of ``POST /ext/inventories/``."""

    skuId: str
    quantity: int
    warehouseId: int
    inventoryType: str


def inventory_request(
    sku_id: str, quantity: int, warehouse_id: int, inventory_type: str
) -> InventoryRequest:
    """Build a request body, raising ValueError if it breaks the contract."""
    body: InventoryRequest = {
        "skuId": sku_id,
        "quantity": quantity,
        "warehouseId": warehouse_id,
        "inventoryType": inventory_type,
    }
    problems = request_problems(body)
    if problems:
        raise ValueError("; ".join(problems))
    return body


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def request_problems(body: Any) -> list[str]:
    """Return every way in which ``body`` breaks the request contract."""
    if not isinstance(body, dict):
        return ["the body must be a JSON object"]

    problems = []
    unknown = sorted(set(body) - set(REQUEST_FIELDS))
    if unknown:
        problems.append(f"unknown fields: {', '.join(unknown)}")
    missing = [name for name in REQUEST_FIELDS if name not in body]
    if missing:
        problems.append(f"missing fields: {', '.join(missing)}")

    sku_id = body.get("skuId")
    if "skuId" in body and (not isinstance(sku_id, str) or not sku_id.strip()):
        problems.append("skuId must be a non-empty string")
    quantity = body.get("quantity")
    if "quantity" in body and not (
        _is_int(quantity) and 0 <= quantity <= MAX_WHOLE_NUMBER
    ):
        problems.append("quantity must be an integer of 0 or more")
    warehouse_id = body.get("warehouseId")
    if "warehouseId" in body and not (
        _is_int(warehouse_id) and 0 < warehouse_id <= MAX_WHOLE_NUMBER
    ):
        problems.append("warehouseId must be an integer greater than 0")
    if "inventoryType" in body and body.get("inventoryType") not in INVENTORY_TYPES:
        problems.append("inventoryType must be AVAILABLE or DAMAGED")
    return problems


@dataclass(frozen=True, slots=True)
class InventoryRecord:
    """The stored record that e-CROSS returns with a 200 response."""

    id: str
    sku_id: str
    quantity: int
    warehouse_id: int
    inventory_type: str
    merchant_id: str | None = None
    sku_name: str | None = None
    last_update_date: str | None = None
    last_integration_date: str | None = None
    warehouse_name: str | None = None
    warehouse_country: str | None = None
    returned_orders: list[Any] = field(default_factory=list)


def record_to_json(record: InventoryRecord) -> dict[str, Any]:
    """Return the record in the API's JSON form, leaving out absent fields."""
    document = {
        "id": record.id,
        "skuId": record.sku_id,
        "skuName": record.sku_name,
        "merchantId": record.merchant_id,
        "quantity": record.quantity,
        "inventoryType": record.inventory_type,
        "lastUpdateDate": record.last_update_date,
        "lastIntegrationDate": record.last_integration_date,
        "warehouseId": record.warehouse_id,
        "warehouseName": record.warehouse_name,
        "warehouseCountry": record.warehouse_country,
        "returnedOrders": list(record.returned_orders),
    }
    return {key: value for key, value in document.items() if value is not None}


def _optional_str(document: dict[str, Any], key: str) -> str | None:
    value = document.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{key} is {type(value).__name__}, expected a string")
    return value


def parse_inventory_record(document: Any) -> InventoryRecord:
    """Read a 200 response body, raising ValueError if it is not a stored record."""
    if not isinstance(document, dict):
        raise ValueError("the response body is not a JSON object")

    for key in ("id", "skuId", "inventoryType"):
        if not isinstance(document.get(key), str):
            raise ValueError(f"the response has no {key} string")
    for key in ("quantity", "warehouseId"):
        if not _is_int(document.get(key)):
            raise ValueError(f"the response has no {key} integer")
    returned_orders = document.get("returnedOrders") or []
    if not isinstance(returned_orders, list):
        raise ValueError("returnedOrders is not an array")

    return InventoryRecord(
        id=document["id"],
        sku_id=document["skuId"],
        quantity=document["quantity"],
        warehouse_id=document["warehouseId"],
        inventory_type=document["inventoryType"],
        merchant_id=_optional_str(document, "merchantId"),
        sku_name=_optional_str(document, "skuName"),
        last_update_date=_optional_str(document, "lastUpdateDate"),
        last_integration_date=_optional_str(document, "lastIntegrationDate"),
        warehouse_name=_optional_str(document, "warehouseName"),
        warehouse_country=_optional_str(document, "warehouseCountry"),
        returned_orders=returned_orders,
    )


@dataclass(frozen=True)
class InventoryPage:
    """One page of ``GET /ext/inventories``.

    The JSON form is ``{"items": [record, ...], "nextPageToken": "..."}``.
    An absent or empty token marks the last page.
    """

    items: list[InventoryRecord]
    next_page_token: str | None = None


def page_to_json(page: InventoryPage) -> dict[str, Any]:
    """Return the page in the API's JSON form."""
    document: dict[str, Any] = {"items": [record_to_json(item) for item in page.items]}
    if page.next_page_token:
        document["nextPageToken"] = page.next_page_token
    return document


def parse_inventory_page(document: Any) -> InventoryPage:
    """Read a listing body, raising ValueError if it is not a page of records."""
    if not isinstance(document, dict):
        raise ValueError("the response body is not a JSON object")
    items = document.get("items")
    if not isinstance(items, list):
        raise ValueError("the response has no items array")
    token = document.get("nextPageToken")
    if token is not None and not isinstance(token, str):
        raise ValueError("nextPageToken is not a string")

    records = []
    for position, item in enumerate(items):
        try:
            records.append(parse_inventory_record(item))
        except ValueError as error:
            raise ValueError(f"item {position}: {error}") from error
    return InventoryPage(items=records, next_page_token=token or None)
