"""The uploader and client against httpx.MockTransport: retries, final 4xx, 401 and outages."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import json
from collections import Counter
from collections.abc import Callable

import httpx
import pytest

from batch_sync.auth import ClientCredentialsToken, StaticToken, TokenSource
from batch_sync.client import ClientSettings, EcrossClient, retry_after_seconds
from batch_sync.errors import ApiUnavailable, CredentialsRejected
from batch_sync.ratelimit import AdaptiveRateLimiter
from batch_sync.upload import PendingRow, RetryPolicy, RowOutcome, Uploader
from schemas.api import inventory_request

FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.001, max_delay=0.01, max_consecutive_failures=5, outage_seconds=60)
Handler = Callable[[httpx.Request], httpx.Response]


def stored(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    record = {**body, "id": f"M1-{body['skuId']}", "merchantId": "M1"}
    return httpx.Response(200, json=record)


def rows(count: int) -> list[PendingRow]:
    return [PendingRow(index + 2, inventory_request(f"SKU-{index}", index, 1, "AVAILABLE")) for index in range(count)]


def upload(
    handler: Handler,
    count: int,
    *,
    tokens: TokenSource | None = None,
    retry: RetryPolicy = FAST_RETRY,
    limiter: AdaptiveRateLimiter | None = None,
) -> tuple[dict[int, RowOutcome], Uploader]:
    outcomes: dict[int, RowOutcome] = {}

    async def main() -> Uploader:
        settings = ClientSettings(base_url="http://api.test", concurrency=4)
        async with EcrossClient(settings, transport=httpx.MockTransport(handler)) as client:
            uploader = Uploader(
                client,
                tokens or StaticToken("t0"),
                4,
                lambda outcome: outcomes.__setitem__(outcome.row, outcome),
                retry=retry,
                limiter=limiter,
            )
            await uploader.run(rows(count))
            return uploader

    return outcomes, asyncio.run(main())


def test_transient_statuses_retried_once_reported() -> None:
    calls: Counter[str] = Counter()

    def handler(request: httpx.Request) -> httpx.Response:
        sku = json.loads(request.content)["skuId"]
        calls[sku] += 1
        if calls[sku] == 1:
            return httpx.Response(503, text="busy")
        if calls[sku] == 2:
            raise httpx.ReadTimeout("slow", request=request)
        return stored(request)

    outcomes, uploader = upload(handler, 10)

    assert len(outcomes) == 10
    assert all(outcome.status == "synced" for outcome in outcomes.values())
    assert all(outcome.attempts == 3 for outcome in outcomes.values())
    assert uploader.abort is None


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (400, {"status": 400, "error": "quantity must be an integer of 0 or more"}, "HTTP 400: quantity must be an integer of 0 or more"),
        (404, {"status": 404, "error": "warehouse 9 not found"}, "HTTP 404: warehouse 9 not found"),
        (403, {"status": 403, "error": "warehouse 4 may not be updated by this merchant"}, "HTTP 403: warehouse 4 may not"),
    ],
    ids=["400", "404", "403-warehouse"],
)
def test_final_4xx_not_retried(status: int, body: dict[str, object], expected: str) -> None:
    outcomes, uploader = upload(lambda request: httpx.Response(status, json=body), 3)

    assert uploader.abort is None
    for outcome in outcomes.values():
        assert outcome.status == "failed"
        assert outcome.attempts == 1
        assert outcome.http_status == status
        assert outcome.error.startswith(expected)


def test_static_token_401_stops_run() -> None:
    outcomes, uploader = upload(lambda request: httpx.Response(401, json={"error": "bad token"}), 100)

    assert isinstance(uploader.abort, CredentialsRejected)
    assert len(outcomes) <= 8


def test_credentials_403_stops_run() -> None:
    outcomes, uploader = upload(lambda request: httpx.Response(403, json={"error": "token lacks scope"}), 100)

    assert isinstance(uploader.abort, CredentialsRejected)
    assert len(outcomes) <= 8


def test_client_token_renewed_after_401() -> None:
    issued: list[str] = []

    def auth_handler(request: httpx.Request) -> httpx.Response:
        assert json.loads(request.content) == {"clientId": "id", "clientSecret": "secret"}
        issued.append(f"token-{len(issued)}")
        return httpx.Response(200, json={"token": issued[-1], "tokenType": "Bearer", "expiresIn": 28800})

    def api_handler(request: httpx.Request) -> httpx.Response:
        # The first token is rejected from the fifth request on.
        api_handler.calls += 1  # type: ignore[attr-defined]
        if request.headers["authorization"] == "Bearer token-0" and api_handler.calls > 4:  # type: ignore[attr-defined]
            return httpx.Response(401)
        return stored(request)

    api_handler.calls = 0  # type: ignore[attr-defined]
    tokens = ClientCredentialsToken("http://auth.test", "id", "secret", transport=httpx.MockTransport(auth_handler))

    outcomes, uploader = upload(api_handler, 20, tokens=tokens)

    assert uploader.abort is None
    assert issued == ["token-0", "token-1"]
    assert all(outcome.status == "synced" for outcome in outcomes.values())


def test_renewed_token_rejected_stops_run() -> None:
    def auth_handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"token": "any", "tokenType": "Bearer", "expiresIn": 28800})

    tokens = ClientCredentialsToken("http://auth.test", "id", "secret", transport=httpx.MockTransport(auth_handler))

    outcomes, uploader = upload(lambda request: httpx.Response(401), 100, tokens=tokens)

    assert isinstance(uploader.abort, CredentialsRejected)
    assert tokens.tokens_fetched == 2
    assert len(outcomes) <= 8


def test_dead_api_stops_after_failed_rows() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    outcomes, uploader = upload(handler, 200)

    assert isinstance(uploader.abort, ApiUnavailable)
    assert "5 rows in a row" in str(uploader.abort)
    assert len(outcomes) < 20


def test_short_blip_does_not_stop() -> None:
    calls = Counter[str]()

    def handler(request: httpx.Request) -> httpx.Response:
        calls["all"] += 1
        if 10 < calls["all"] <= 20:
            return httpx.Response(502)
        return stored(request)

    outcomes, uploader = upload(handler, 60, retry=RetryPolicy(max_attempts=8, base_delay=0.001, max_delay=0.01))

    assert uploader.abort is None
    assert all(outcome.status == "synced" for outcome in outcomes.values())


def test_429_throttles_every_worker() -> None:
    calls = Counter[str]()

    def handler(request: httpx.Request) -> httpx.Response:
        calls["all"] += 1
        if calls["all"] == 3:
            return httpx.Response(429, headers={"Retry-After": "0"})
        return stored(request)

    limiter = AdaptiveRateLimiter(1000.0)
    outcomes, _ = upload(handler, 20, limiter=limiter)

    assert limiter.throttled == 1
    assert limiter.lowest_rate == 500.0
    assert sum(outcome.attempts for outcome in outcomes.values()) == 21


def test_retry_after_both_forms() -> None:
    now = dt.datetime(2026, 12, 4, 3, 0, 0, tzinfo=dt.timezone.utc)
    later = email.utils.format_datetime(now + dt.timedelta(seconds=7), usegmt=True)
    earlier = email.utils.format_datetime(now - dt.timedelta(seconds=7), usegmt=True)

    assert retry_after_seconds("12", now) == 12.0
    assert retry_after_seconds(later, now) == 7.0
    assert retry_after_seconds(earlier, now) == 0.0
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None


def test_undecodable_body_is_transient() -> None:
    calls: Counter[str] = Counter()

    def handler(request: httpx.Request) -> httpx.Response:
        sku = json.loads(request.content)["skuId"]
        calls[sku] += 1
        if calls[sku] == 1:
            return httpx.Response(200, headers={"Content-Encoding": "gzip"}, content=b"not gzip")
        return stored(request)

    outcomes, uploader = upload(handler, 3)

    assert all(outcome.status == "synced" for outcome in outcomes.values())
    assert all(outcome.attempts == 2 for outcome in outcomes.values())
    assert uploader.abort is None
