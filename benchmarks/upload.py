"""Upload benchmarks: our uploader against the C / L bound, a minimal aiohttp client and other transports.

Every runner posts the same rows with the same concurrency to a benchmark
server in its own process (benchmarks.fast_server). Runs of our uploader and
of its reference alternate against one server, and each keeps its best of a
few runs, so that a busy shared machine slows both alike. Each run also
records the server's CPU share, to show that the server was not the limit.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from benchmarks.servers import fast_server, server_stats

Runner = Callable[[str, int, int], Awaitable[int]]


@dataclass(frozen=True)
class UploadResult:
    """The best run of one runner: wall time, client CPU time and the server's CPU share."""

    name: str
    rows: int
    seconds: float
    cpu_seconds: float
    server_cpu_share: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds

    @property
    def cpu_microseconds_per_row(self) -> float:
        return self.cpu_seconds / self.rows * 1e6


def _bodies(rows: int) -> Iterator[dict[str, Any]]:
    for index in range(rows):
        yield {"skuId": f"{index:08d}", "quantity": index % 500, "warehouseId": 1, "inventoryType": "AVAILABLE"}


async def _run_uploader(
    url: str, rows: int, concurrency: int, transport: httpx.AsyncBaseTransport | None = None
) -> int:
    """Upload through batch_sync's Uploader and record each outcome in a journal, as a real run does."""
    from batch_sync.auth import StaticToken
    from batch_sync.client import ClientSettings, EcrossClient
    from batch_sync.journal import Journal
    from batch_sync.ratelimit import AdaptiveRateLimiter
    from batch_sync.sending import journal_entry
    from batch_sync.upload import PendingRow, RowOutcome, Uploader

    synced = 0
    with tempfile.TemporaryDirectory() as state_dir:
        journal = Journal.open(Path(state_dir), Path("benchmark.csv"), "benchmark", restart=True)

        def record(outcome: RowOutcome) -> None:
            nonlocal synced
            synced += outcome.status == "synced"
            journal.record(journal_entry(outcome))

        settings = ClientSettings(base_url=url, concurrency=concurrency)
        async with EcrossClient(settings, transport=transport) as client:
            uploader = Uploader(
                client, StaticToken("benchmark-token"), concurrency, record, limiter=AdaptiveRateLimiter(None)
            )
            await uploader.run(PendingRow(index, body) for index, body in enumerate(_bodies(rows)))
        journal.flush()
        journal.close()
    return synced


async def run_batch_sync(url: str, rows: int, concurrency: int) -> int:
    return await _run_uploader(url, rows, concurrency)


async def run_httpx_aiohttp(url: str, rows: int, concurrency: int) -> int:
    """Upload through our Uploader over the httpx-aiohttp package's AiohttpTransport in place of ours."""
    from httpx_aiohttp import AiohttpTransport

    transport = AiohttpTransport(limits=httpx.Limits(max_connections=concurrency))
    return await _run_uploader(url, rows, concurrency, transport)


async def _post_with_workers(rows: int, concurrency: int, post: Callable[[dict[str, Any]], Awaitable[bool]]) -> int:
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize=concurrency * 2)
    synced = 0

    async def work() -> None:
        nonlocal synced
        while (body := await queue.get()) is not None:
            # Await first: ``synced += await ...`` would read synced before
            # the await and lose other workers' counts.
            stored = await post(body)
            synced += stored

    workers = [asyncio.create_task(work()) for _ in range(concurrency)]
    for body in _bodies(rows):
        await queue.put(body)
    for _ in workers:
        await queue.put(None)
    await asyncio.gather(*workers)
    return synced


async def run_aiohttp(url: str, rows: int, concurrency: int) -> int:
    """Post the rows with plain aiohttp, a shared queue and ``concurrency`` workers: the reference."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    headers = {"Authorization": "Bearer benchmark-token"}
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

        async def post(body: dict[str, Any]) -> bool:
            async with session.post(f"{url}/ext/inventories/", json=body) as response:
                await response.json()
                return response.status == 200

        return await _post_with_workers(rows, concurrency, post)


async def run_httpx_client(url: str, rows: int, concurrency: int) -> int:
    """Post the rows with a stock httpx.AsyncClient and the same workers, as the job did before."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": "Bearer benchmark-token"}
    async with httpx.AsyncClient(base_url=url, limits=limits, headers=headers, timeout=30.0) as client:

        async def post(body: dict[str, Any]) -> bool:
            response = await client.post("/ext/inventories/", json=body)
            response.json()
            return response.status_code == 200

        return await _post_with_workers(rows, concurrency, post)


RUNNERS: dict[str, Runner] = {
    "batch_sync": run_batch_sync,
    "aiohttp": run_aiohttp,
    "httpx-aiohttp": run_httpx_aiohttp,
    "httpx.AsyncClient": run_httpx_client,
}


def _run_once(url: str, name: str, rows: int, concurrency: int) -> UploadResult:
    before = server_stats(url)
    cpu_started = time.process_time()
    started = time.perf_counter()
    synced = asyncio.run(RUNNERS[name](url, rows, concurrency))
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    after = server_stats(url)
    if synced != rows:
        raise RuntimeError(f"{name}: only {synced} of {rows} rows synced")
    server_share = (after["cpu_seconds"] - before["cpu_seconds"]) / seconds
    return UploadResult(name, rows, seconds, cpu_seconds, server_share)


def compare(names: list[str], rows: int, concurrency: int, latency: float, repeats: int) -> dict[str, UploadResult]:
    """Run each runner ``repeats`` times against one server, alternating, and keep each one's fastest run."""
    best: dict[str, UploadResult] = {}
    with fast_server(latency) as (url, _):
        for _ in range(repeats):
            for name in names:
                result = _run_once(url, name, rows, concurrency)
                if name not in best or result.seconds < best[name].seconds:
                    best[name] = result
    return best
