"""The aiohttp-based transport against the real sandbox: records, timeouts, refused connections."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from batch_sync.client import ClientSettings, EcrossClient
from batch_sync.errors import TransientError
from schemas.api import inventory_request
from tests.conftest import TEST_TOKEN, free_port, start_sandbox

BODY = inventory_request("0614", 7, 1, "AVAILABLE")


async def post_once(settings: ClientSettings, token: str = TEST_TOKEN) -> tuple[int, object]:
    async with EcrossClient(settings) as client:
        return await client.post_inventory(BODY, token)


def test_post_returns_stored_record(tmp_path: Path) -> None:
    sandbox = start_sandbox(tmp_path)
    try:
        status, record = asyncio.run(post_once(ClientSettings(base_url=sandbox.url, concurrency=2)))
    finally:
        sandbox.stop()

    assert status == 200
    assert record.sku_id == "0614"
    assert record.quantity == 7
    assert record.warehouse_id == 1


def test_read_timeout_enforced(tmp_path: Path) -> None:
    sandbox = start_sandbox(tmp_path, "--latency", "3")
    settings = ClientSettings(base_url=sandbox.url, concurrency=1, read_timeout=0.3)
    try:
        with pytest.raises(TransientError) as caught:
            asyncio.run(post_once(settings))
    finally:
        sandbox.stop()

    assert str(caught.value).startswith("timed out")
    assert caught.value.http_status is None


def test_refused_connection_is_transient() -> None:
    settings = ClientSettings(base_url=f"http://127.0.0.1:{free_port()}", concurrency=1)

    with pytest.raises(TransientError) as caught:
        asyncio.run(post_once(settings))

    assert str(caught.value).startswith("connection failed")
