"""A minimal HTTP/1.1 server for benchmarks: answers every inventory POST after a fixed latency.

It speaks just enough HTTP/1.1 for keep-alive clients (Content-Length bodies,
no chunked requests) and echoes the request's key in a stored-record body, so
the client's response checks pass. It keeps the stored records in memory and
lists them with ``GET /ext/inventories`` (``pageSize``, ``pageToken``), so a
``--changed-only`` run can read them back. ``GET /_stats`` returns the POST
and listing counts and the server's own CPU seconds without the latency. It
is far cheaper per request than the sandbox, so that the client, not the
server, is what a benchmark measures. On SIGTERM or SIGINT it prints its own
CPU time and request count as JSON.

    python -m benchmarks.fast_server --port 8900 --latency 0.05
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import signal
import sys
import time
from urllib.parse import parse_qs, urlsplit

_RESPONSE_HEAD = (
    "HTTP/1.1 200 OK\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: {length}\r\n"
    "Connection: keep-alive\r\n\r\n"
)


# Stored records by key, in the order they were first stored.
RECORDS: dict[str, bytes] = {}


class InventoryProtocol(asyncio.Protocol):
    """One client connection; requests on it are answered in order."""

    latency = 0.0
    requests = 0
    listings = 0

    def __init__(self) -> None:
        self._buffer = b""
        self._transport: asyncio.Transport | None = None
        self._pending: asyncio.Task[None] | None = None
        self._queue: asyncio.Queue[tuple[bytes, bytes]] = asyncio.Queue()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._pending = asyncio.get_running_loop().create_task(self._answer_in_order())

    def connection_lost(self, exc: Exception | None) -> None:
        if self._pending is not None:
            self._pending.cancel()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            head_end = self._buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self._buffer[:head_end].lower()
            length = 0
            marker = head.find(b"content-length:")
            if marker >= 0:
                line_end = head.find(b"\r\n", marker)
                length = int(head[marker + 15 : line_end if line_end >= 0 else None])
            total = head_end + 4 + length
            if len(self._buffer) < total:
                return
            body = self._buffer[head_end + 4 : total]
            request_line = self._buffer[: self._buffer.find(b"\r\n")]
            self._buffer = self._buffer[total:]
            self._queue.put_nowait((request_line, body))

    async def _answer_in_order(self) -> None:
        while True:
            request_line, body = await self._queue.get()
            method, target = request_line.split(b" ")[:2]
            if target == b"/_stats":
                self._send(_stats())
                continue
            if InventoryProtocol.latency:
                await asyncio.sleep(InventoryProtocol.latency)
            if method == b"GET":
                InventoryProtocol.listings += 1
                self._send(_page(target.decode()))
            else:
                InventoryProtocol.requests += 1
                self._write(body)

    def _send(self, payload: bytes) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.write(_RESPONSE_HEAD.format(length=len(payload)).encode() + payload)

    def _write(self, body: bytes) -> None:
        request = json.loads(body or b"{}")
        key = f"{request.get('skuId')}-{request.get('warehouseId')}-{request.get('inventoryType')}"
        record = {
            "id": f"M1001-{key}",
            "skuId": request.get("skuId"),
            "skuName": "Benchmark item",
            "merchantId": "M1001",
            "quantity": request.get("quantity"),
            "inventoryType": request.get("inventoryType"),
            "lastUpdateDate": "2026-12-04T00:00:00+00:00",
            "lastIntegrationDate": "2026-12-04T00:00:01+00:00",
            "warehouseId": request.get("warehouseId"),
            "warehouseName": "Merchant warehouse",
            "warehouseCountry": "CZ",
            "returnedOrders": [],
        }
        payload = json.dumps(record).encode()
        RECORDS[key] = payload
        self._send(payload)


def _page(target: str) -> bytes:
    """Return one listing page; the page token is the offset of its first record."""
    query = parse_qs(urlsplit(target).query)
    size = int(query.get("pageSize", ["100"])[0])
    offset = int(query.get("pageToken", ["0"])[0])
    records = list(RECORDS.values())[offset : offset + size]
    page = b'{"items":[' + b",".join(records) + b"]"
    if offset + size < len(RECORDS):
        page += b',"nextPageToken":"' + str(offset + size).encode() + b'"'
    return page + b"}"


def _stats() -> bytes:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    stats = {
        "posts": InventoryProtocol.requests,
        "listings": InventoryProtocol.listings,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "clock": time.monotonic(),
    }
    return json.dumps(stats).encode()


async def serve(port: int, latency: float) -> None:
    InventoryProtocol.latency = latency
    loop = asyncio.get_running_loop()
    server = await loop.create_server(InventoryProtocol, "127.0.0.1", port, backlog=1024)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(json.dumps({"event": "listening", "port": port}), flush=True)
    async with server:
        await stop.wait()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "event": "stopped",
                "requests": InventoryProtocol.requests,
                "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
            }
        ),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds before each answer")
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.latency))
    sys.exit(0)


if __name__ == "__main__":
    main()
