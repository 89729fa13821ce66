"""A local e-CROSS-compatible inventory API for demos and end-to-end tests.

It implements ``POST /ext/inventories/`` as the public contract describes it:
a bearer-token check, strict validation of the body with a 400 JSON error,
warehouse lookup (404 for an unknown warehouse) and an in-memory store. A SKU
gets a ``skuName`` only if the catalog file lists it, so an unregistered SKU
can be shown.

``GET /ext/inventories`` lists the stored records a page at a time, sorted
by record id, as ``{"items": [...], "nextPageToken": "..."}``. It filters on
``lastUpdateDateFrom`` and pages with ``pageToken`` and ``pageSize``.

``GET /_sandbox/requests`` lists every POST the sandbox received, with the
status it answered, so tests can compare what arrived with the file.

The response options (``SandboxResponses``) make the sandbox respond to
chosen SKUs the way a real e-CROSS sometimes does, so each warning of the
report can be produced on demand.

``POST /token`` exchanges the configured client id and secret for a bearer
token that expires after ``token_lifetime`` seconds. Fault injection (slow,
failing, throttling or dropped answers, outages) lives in
``batch_sync.sandbox_faults``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import ipaddress
import json
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from schemas.api import (
    LAST_UPDATE_FROM,
    PAGE_SIZE,
    PAGE_TOKEN,
    InventoryPage,
    InventoryRecord,
    page_to_json,
    record_to_json,
    request_problems,
)

if TYPE_CHECKING:
    from batch_sync.sandbox_faults import Faults

DEFAULT_MERCHANT_ID = "M1001"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
# The sandbox adds this to the warehouseId of --other-warehouse SKUs.
OTHER_WAREHOUSE_OFFSET = 1000

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
class SandboxResponses:
    """SKUs whose stored record differs from the request, chosen per option."""

    # SKU -> quantity to store and return in place of the quantity sent.
    stored_quantity: dict[str, int] = field(default_factory=dict)
    # SKUs whose record has no lastIntegrationDate.
    omit_integration_date: set[str] = field(default_factory=set)
    # SKUs whose record is stored under another warehouseId than the one sent.
    other_warehouse: set[str] = field(default_factory=set)
    # SKU -> number of returned orders listed in the record.
    returned_orders: dict[str, int] = field(default_factory=dict)


def _sku_number(text: str) -> tuple[str, int]:
    sku_id, separator, number = text.rpartition("=")
    if not separator or not sku_id:
        raise argparse.ArgumentTypeError(f"'{text}' is not SKU=N")
    try:
        value = int(number)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{number}' in '{text}' is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"'{text}': N must be 0 or more")
    return sku_id, value


def add_response_options(parser: argparse.ArgumentParser) -> None:
    """Add the options that build SandboxResponses to the sandbox command."""
    parser.add_argument(
        "--stored-quantity",
        type=_sku_number,
        action="append",
        default=[],
        metavar="SKU=N",
        help="store and return quantity N for SKU, whatever was sent (repeatable)",
    )
    parser.add_argument(
        "--omit-integration-date",
        action="append",
        default=[],
        metavar="SKU",
        help="leave lastIntegrationDate out of SKU's record (repeatable)",
    )
    parser.add_argument(
        "--other-warehouse",
        action="append",
        default=[],
        metavar="SKU",
        help=f"store SKU under warehouseId + {OTHER_WAREHOUSE_OFFSET} and return that record (repeatable)",
    )
    parser.add_argument(
        "--returned-orders",
        type=_sku_number,
        action="append",
        default=[],
        metavar="SKU=N",
        help="list N returned orders in SKU's record (repeatable)",
    )


def responses_from_args(args: argparse.Namespace) -> SandboxResponses:
    """Build SandboxResponses from the options that add_response_options added."""
    return SandboxResponses(
        stored_quantity=dict(args.stored_quantity),
        omit_integration_date=set(args.omit_integration_date),
        other_warehouse=set(args.other_warehouse),
        returned_orders=dict(args.returned_orders),
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
    responses: SandboxResponses = field(default_factory=SandboxResponses)
    client_id: str | None = None
    client_secret: str | None = None
    token_lifetime: float = 28800.0
    # Issued token -> monotonic time at which it expires.
    issued_tokens: dict[str, float] = field(default_factory=dict)
    tokens_issued: int = 0
    # Set by a fault: every token is rejected, as for a disabled account.
    reject_all_tokens: bool = False

    def accepts(self, authorization: str | None) -> bool:
        """Return True if the Authorization header carries a token the API accepts now."""
        if self.reject_all_tokens or not authorization or not authorization.startswith("Bearer "):
            return False
        token = authorization.removeprefix("Bearer ")
        if token == self.token:
            return True
        expires = self.issued_tokens.get(token)
        return expires is not None and time.monotonic() < expires

    def issue_token(self) -> str:
        token = secrets.token_urlsafe(24)
        self.issued_tokens[token] = time.monotonic() + self.token_lifetime
        self.tokens_issued += 1
        return token


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def _error(status: int, message: str, **details: Any) -> JSONResponse:
    return JSONResponse({"status": status, "error": message, **details}, status_code=status)


def _parse_time(text: str | None) -> dt.datetime | None:
    """Parse an ISO 8601 time; a time without an offset is taken as UTC."""
    if not text:
        return None
    parsed = dt.datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _stored_record(state: SandboxState, body: dict[str, Any], warehouse: tuple[str, str]) -> InventoryRecord:
    """Build the record to store for a valid request, applying the response options."""
    responses = state.responses
    sku_id = body["skuId"]
    warehouse_id = body["warehouseId"]
    if sku_id in responses.other_warehouse:
        warehouse_id += OTHER_WAREHOUSE_OFFSET
    now = _now()
    return InventoryRecord(
        id=f"{state.merchant_id}-{sku_id}-{warehouse_id}-{body['inventoryType']}",
        sku_id=sku_id,
        quantity=responses.stored_quantity.get(sku_id, body["quantity"]),
        warehouse_id=warehouse_id,
        inventory_type=body["inventoryType"],
        merchant_id=state.merchant_id,
        sku_name=state.catalog.get(sku_id),
        last_update_date=now,
        last_integration_date=None if sku_id in responses.omit_integration_date else now,
        warehouse_name=warehouse[0],
        warehouse_country=warehouse[1],
        returned_orders=[
            {"orderId": f"RET-{sku_id}-{number}"} for number in range(1, responses.returned_orders.get(sku_id, 0) + 1)
        ],
    )


def build_app(state: SandboxState) -> Starlette:
    """Build the ASGI app that serves ``state``."""

    def log_request(body: Any, status: int, fault: str | None = None) -> None:
        entry = {"at": _now(), "body": body, "status": status}
        if fault is not None:
            entry["fault"] = fault
        state.received.append(entry)

    async def post_inventory(request: Request) -> JSONResponse:
        raw = await request.body()
        # Set by the fault injector when it drops the response after storing the update.
        fault = request.scope.get("sandbox_fault")
        if not state.accepts(request.headers.get("authorization")):
            try:
                logged_body = json.loads(raw)
            except ValueError:
                logged_body = None
            log_request(logged_body, 401, fault)
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

        record = _stored_record(state, body, warehouse)
        state.records[record.id] = record
        log_request(body, 200, fault)
        return JSONResponse(record_to_json(record))

    async def list_inventories(request: Request) -> JSONResponse:
        if not state.accepts(request.headers.get("authorization")):
            return _error(401, "missing or invalid bearer token")
        query = request.query_params
        try:
            page_size = int(query.get(PAGE_SIZE, DEFAULT_PAGE_SIZE))
            offset = int(query.get(PAGE_TOKEN) or 0)
            updated_from = _parse_time(query.get(LAST_UPDATE_FROM))
        except ValueError as error:
            return _error(400, f"invalid query parameter: {error}")
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            return _error(400, f"{PAGE_SIZE} must be 1 to {MAX_PAGE_SIZE}")

        records = sorted(state.records.values(), key=lambda record: record.id)
        if updated_from is not None:
            records = [
                record for record in records
                if (_parse_time(record.last_update_date) or updated_from) >= updated_from
            ]
        end = offset + page_size
        next_token = str(end) if end < len(records) else None
        page = InventoryPage(items=records[offset:end], next_page_token=next_token)
        return JSONResponse(page_to_json(page))

    async def issue_token(request: Request) -> JSONResponse:
        try:
            body = json.loads(await request.body())
        except ValueError:
            return _error(400, "the body is not valid JSON")
        if not isinstance(body, dict) or not isinstance(body.get("clientId"), str) or not isinstance(body.get("clientSecret"), str):
            return _error(400, "clientId and clientSecret must be strings")
        if state.client_secret is None or (body["clientId"], body["clientSecret"]) != (state.client_id, state.client_secret):
            return _error(401, "invalid client credentials")
        return JSONResponse(
            {"token": state.issue_token(), "tokenType": "Bearer", "expiresIn": state.token_lifetime}
        )

    async def list_received(request: Request) -> JSONResponse:
        return JSONResponse(state.received)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse(
            {"status": "ok", "records": len(state.records), "tokensIssued": state.tokens_issued}
        )

    return Starlette(
        routes=[
            Route("/ext/inventories/", post_inventory, methods=["POST"]),
            Route("/ext/inventories", post_inventory, methods=["POST"]),
            Route("/ext/inventories", list_inventories, methods=["GET"]),
            Route("/ext/inventories/", list_inventories, methods=["GET"]),
            Route("/_sandbox/requests", list_received, methods=["GET"]),
            Route("/_sandbox/health", health, methods=["GET"]),
            Route("/token", issue_token, methods=["POST"]),
        ]
    )


def serve(state: SandboxState, host: str, port: int, faults: Faults | None = None) -> None:
    """Serve the sandbox until interrupted, injecting ``faults`` into inventory requests."""
    import uvicorn

    from batch_sync.sandbox_faults import FaultInjector

    check_loopback(host)
    app: Any = build_app(state)
    if faults is not None and faults.enabled:
        app = FaultInjector(app, state, faults)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    uvicorn.Server(config).run()
