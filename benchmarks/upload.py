"""Upload benchmarks: our uploader against the C / L bound and against a minimal aiohttp client.

Each function runs in the calling process against a benchmark server that
runs in its own process (benchmarks.fast_server), and returns rows per second
with the server's own CPU use, so a saturated server can be spotted.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp
import structlog

from benchmarks.servers import fast_server


@dataclass(frozen=True)
class UploadResult:
    name: str
    rows: int
    seconds: float
    server_cpu_share: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds


def _bodies(rows: int):
    for index in range(rows):
        yield {"skuId": f"{index:08d}", "quantity": index % 500, "warehouseId": 1, "inventoryType": "AVAILABLE"}


async def _run_ours(url: str, rows: int, concurrency: int) -> tuple[int, float]:
    from batch_sync.auth import StaticToken
    from batch_sync.client import ClientSettings, EcrossClient
    from batch_sync.ratelimit import AdaptiveRateLimiter
    from batch_sync.upload import PendingRow, Uploader

    synced = 0

    def count(outcome) -> None:
        nonlocal synced
        if outcome.status == "synced":
            synced += 1

    settings = ClientSettings(base_url=url, concurrency=concurrency)
    async with EcrossClient(settings) as client:
        uploader = Uploader(
            client, StaticToken("benchmark-token"), concurrency, count, limiter=AdaptiveRateLimiter(None)
        )
        pending = (PendingRow(index, body) for index, body in enumerate(_bodies(rows)))
        started = time.perf_counter()
        await uploader.run(pending)
        return synced, time.perf_counter() - started


async def _run_aiohttp(url: str, rows: int, concurrency: int) -> tuple[int, float]:
    """The reference: plain aiohttp, a shared queue and ``concurrency`` workers."""
    queue: asyncio.Queue = asyncio.Queue(maxsize=concurrency * 2)
    synced = 0

    async def work(session: aiohttp.ClientSession) -> None:
        nonlocal synced
        while (body := await queue.get()) is not None:
            async with session.post(f"{url}/ext/inventories/", json=body) as response:
                await response.json()
                if response.status == 200:
                    synced += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    headers = {"Authorization": "Bearer benchmark-token"}
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        started = time.perf_counter()
        workers = [asyncio.create_task(work(session)) for _ in range(concurrency)]
        for body in _bodies(rows):
            await queue.put(body)
        for _ in workers:
            await queue.put(None)
        await asyncio.gather(*workers)
        return synced, time.perf_counter() - started


RUNNERS = {"batch_sync": _run_ours, "aiohttp": _run_aiohttp}


def measure(name: str, rows: int, concurrency: int, latency: float) -> UploadResult:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    with fast_server(latency) as (url, stats):
        synced, seconds = asyncio.run(RUNNERS[name](url, rows, concurrency))
    if synced != rows:
        raise RuntimeError(f"{name}: only {synced} of {rows} rows synced")
    return UploadResult(name, rows, seconds, stats.cpu_seconds / seconds)
