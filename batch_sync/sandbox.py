"""A local e-CROSS-compatible inventory API for demos and end-to-end tests.

It implements ``POST /ext/inventories/`` as the public contract describes it:
a bearer-token check, strict validation of the body with a 400 JSON error,
warehouse lookup (404 for an unknown warehouse) and an in-memory store. A SKU
gets a ``skuName`` only if the catalog file lists it, so an unregistered SKU
can be shown.

``GET /_sandbox/requests`` lists every request the sandbox received, with the
status it answered, so tests can compare what arrived with the file.
"""

from __future__ import annotations

import csv
import datetime as dt
import ipaddress
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from schemas.api import InventoryRecord, record_to_json, request_problems

DEFAULT_MERCHANT_ID = "M1001"

# Warehouse id -> (name, ISO country code). Warehouse 1 is the merchant's own.
DEFAULT_WAREHOUSES: dict[int, tuple[str, str]] = {
    1: ("Merchant warehouse", "CZ"),
    2: ("Brno returns centre", "CZ"),
    3: ("Bratislava hub", "SK"),
    4: ("Vienna partner store", "AT"),
}


def load_catalog(path: Path) -> dict[str, str]:
    """Read a catalog CSV with the columns skuId and skuName."""
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return {row["skuId"]: row["skuName"] for row in csv.DictReader(handle)}


def check_loopback(host: str) -> None:
    """Raise ValueError unless ``host`` is a loopback address."""
    if host == "localhost":
        return
    try:
        address = ipaddress.ip_address(host)
    except ValueError as error:
        raise ValueError(f"--host {host} is not an IP address; use 127.0.0.1") from error
    if not address.is_loopback:
        raise ValueError(
            f"--host {host} is not a loopback address; the sandbox listens only "
            "on 127.0.0.0/8 or ::1"
        )


@dataclass
class SandboxState:
    """The sandbox's store, its settings and the log of received requests."""

    token: str
    catalog: dict[str, str] = field(default_factory=dict)
    warehouses: dict[int, tuple[str, str]] = field(default_factory=lambda: dict(DEFAULT_WAREHOUSES))
    merchant_id: str = DEFAULT_MERCHANT_ID
    records: dict[str, InventoryRecord] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def _error(status: int, message: str, **details: Any) -> JSONResponse:
    return JSONResponse({"status": status, "error": message, **details}, status_code=status)


def build_app(state: SandboxState) -> Starlette:
    """Build the ASGI app that serves ``state``."""

    def log_request(body: Any, status: int) -> None:
        state.received.append({"at": _now(), "body": body, "status": status})

    async def post_inventory(request: Request) -> JSONResponse:
        raw = await request.body()
        if request.headers.get("authorization") != f"Bearer {state.token}":
            log_request(None, 401)
            return _error(401, "missing or invalid bearer token")

        try:
            body = json.loads(raw)
        except ValueError:
            log_request(raw.decode("utf-8", "replace"), 400)
            return _error(400, "the body is not valid JSON")
        problems = request_problems(body)
        if problems:
            log_request(body, 400)
            return _error(400, "; ".join(problems))

        warehouse = state.warehouses.get(body["warehouseId"])
        if warehouse is None:
            log_request(body, 404)
            return _error(404, f"warehouse {body['warehouseId']} not found")

        record_id = f"{state.merchant_id}-{body['skuId']}-{body['warehouseId']}-{body['inventoryType']}"
        now = _now()
        record = InventoryRecord(
            id=record_id,
            sku_id=body["skuId"],
            quantity=body["quantity"],
            warehouse_id=body["warehouseId"],
            inventory_type=body["inventoryType"],
            merchant_id=state.merchant_id,
            sku_name=state.catalog.get(body["skuId"]),
            last_update_date=now,
            last_integration_date=now,
            warehouse_name=warehouse[0],
            warehouse_country=warehouse[1],
        )
        state.records[record_id] = record
        log_request(body, 200)
        return JSONResponse(record_to_json(record))

    async def list_received(request: Request) -> JSONResponse:
        return JSONResponse(state.received)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "records": len(state.records)})

    return Starlette(
        routes=[
            Route("/ext/inventories/", post_inventory, methods=["POST"]),
            Route("/ext/inventories", post_inventory, methods=["POST"]),
            Route("/_sandbox/requests", list_received, methods=["GET"]),
            Route("/_sandbox/health", health, methods=["GET"]),
        ]
    )


def serve(state: SandboxState, host: str, port: int) -> None:
    """Serve the sandbox until interrupted."""
    import uvicorn

    check_loopback(host)
    config = uvicorn.Config(build_app(state), host=host, port=port, log_level="warning", access_log=False)
    uvicorn.Server(config).run()
