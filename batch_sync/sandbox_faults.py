"""Faults that the sandbox can inject into ``POST /ext/inventories/``, for tests of a bad night.

``FaultInjector`` is ASGI middleware around the sandbox app. For each
inventory request it waits the configured latency, then either responds
with a fault or passes the request on. Each faulty response is added to the
sandbox's request log with its status and a ``fault`` name, so a test can
count every attempt that reached the sandbox.

A dropped connection is made by sending the response head and then raising
an error: uvicorn then closes the connection without a body, and the client
sees a broken response, as when a proxy drops the connection.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import email.utils
import json
import math
import random
import time
from dataclasses import asdict, dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from batch_sync.sandbox import SandboxState

INVENTORY_PATHS = ("/ext/inventories/", "/ext/inventories")


class DroppedConnection(Exception):
    """Raised inside the ASGI app so that uvicorn closes the connection."""


@dataclass(frozen=True)
class Faults:
    """Fault settings of the sandbox; each probability is per request, from 0 to 1."""

    latency: float = 0.0
    jitter: float = 0.0
    error_rate: float = 0.0
    throttle_rate: float = 0.0
    retry_after: float = 1.0
    drop_rate: float = 0.0
    drop_after_update_rate: float = 0.0
    max_rate: float | None = None
    outage_after_requests: int | None = None
    outage_start: float | None = None
    outage_duration: float = math.inf
    revoke_tokens_every: int | None = None
    reject_tokens_after: int | None = None
    seed: int | None = None

    @property
    def enabled(self) -> bool:
        return self != Faults(seed=self.seed)

    def describe(self) -> dict[str, Any]:
        """Return the faults that differ from the defaults."""
        defaults = asdict(Faults())
        return {name: value for name, value in asdict(self).items() if value != defaults[name]}


def add_fault_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the fault options to the ``sandbox`` command."""
    group = parser.add_argument_group("faults", "make POST /ext/inventories/ misbehave on purpose")
    group.add_argument("--latency", type=float, default=0.0, metavar="SECONDS", help="delay before every response")
    group.add_argument("--jitter", type=float, default=0.0, metavar="SECONDS", help="extra random delay, from 0 to this")
    group.add_argument("--error-rate", type=float, default=0.0, metavar="P", help="probability of HTTP 500 or 503 (half each)")
    group.add_argument(
        "--throttle-rate",
        type=float,
        default=0.0,
        metavar="P",
        help="probability of HTTP 429 with Retry-After, alternately in seconds and as an HTTP date",
    )
    group.add_argument("--retry-after", type=float, default=1.0, metavar="SECONDS", help="Retry-After of every 429 (default: 1)")
    group.add_argument("--drop-rate", type=float, default=0.0, metavar="P", help="probability of closing the connection before the update")
    group.add_argument(
        "--drop-after-update-rate",
        type=float,
        default=0.0,
        metavar="P",
        help="probability of storing the update and then closing the connection without an answer",
    )
    group.add_argument("--max-rate", type=float, metavar="R", help="answer 429 to requests beyond R per second")
    group.add_argument("--outage-after-requests", type=int, metavar="N", help="start an outage (HTTP 503) after N requests")
    group.add_argument("--outage-start", type=float, metavar="SECONDS", help="start an outage this long after the first request")
    group.add_argument(
        "--outage-duration", type=float, default=math.inf, metavar="SECONDS", help="length of the outage (default: until stopped)"
    )
    group.add_argument("--revoke-tokens-every", type=int, metavar="N", help="invalidate every issued token after each N requests")
    group.add_argument("--reject-tokens-after", type=int, metavar="N", help="answer 401 to every request after N requests")
    group.add_argument("--seed", type=int, help="seed of the fault draws, for a repeatable run")


def faults_from_arguments(args: argparse.Namespace) -> Faults:
    return Faults(
        latency=args.latency,
        jitter=args.jitter,
        error_rate=args.error_rate,
        throttle_rate=args.throttle_rate,
        retry_after=args.retry_after,
        drop_rate=args.drop_rate,
        drop_after_update_rate=args.drop_after_update_rate,
        max_rate=args.max_rate,
        outage_after_requests=args.outage_after_requests,
        outage_start=args.outage_start,
        outage_duration=args.outage_duration,
        revoke_tokens_every=args.revoke_tokens_every,
        reject_tokens_after=args.reject_tokens_after,
        seed=args.seed,
    )


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


class FaultInjector:
    """ASGI middleware that injects ``faults`` into inventory requests."""

    def __init__(self, app: ASGIApp, state: SandboxState, faults: Faults) -> None:
        self._app = app
        self._state = state
        self._faults = faults
        self._random = random.Random(faults.seed)
        self._requests = 0
        self._first_request_at: float | None = None
        self._outage_began: float | None = None
        self._outage_cleared = False
        self._window_start = 0.0
        self._window_requests = 0
        self._throttled = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/_sandbox/outage" and scope["method"] == "DELETE":
            await self._end_outage(send)
            return
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in INVENTORY_PATHS:
            await self._app(scope, receive, send)
            return

        raw = await _read_body(receive)
        self._requests += 1
        now = time.monotonic()
        if self._first_request_at is None:
            self._first_request_at = now
        self._apply_token_faults()

        faults = self._faults
        delay = faults.latency + self._random.uniform(0, faults.jitter)
        if delay > 0:
            await asyncio.sleep(delay)

        fault = self._draw_fault(time.monotonic())
        if fault is None:
            await self._app(scope, _replay(raw), send)
        elif fault == "closed_after_update":
            scope = {**scope, "sandbox_fault": fault}
            await self._app(scope, _replay(raw), _discard)
            await self._drop(send)
        else:
            await self._answer_fault(fault, raw, send)

    def _apply_token_faults(self) -> None:
        faults = self._faults
        if faults.revoke_tokens_every and self._requests % faults.revoke_tokens_every == 0:
            self._state.issued_tokens.clear()
        if faults.reject_tokens_after is not None and self._requests > faults.reject_tokens_after:
            self._state.reject_all_tokens = True

    def _draw_fault(self, now: float) -> str | None:
        if self._in_outage(now):
            return "outage"
        if self._over_rate(now):
            return "rate_limit"

        faults = self._faults
        draw = self._random.random()
        for fault, probability in (
            ("error", faults.error_rate),
            ("throttle", faults.throttle_rate),
            ("closed", faults.drop_rate),
            ("closed_after_update", faults.drop_after_update_rate),
        ):
            if draw < probability:
                return fault
            draw -= probability
        return None

    def _in_outage(self, now: float) -> bool:
        faults = self._faults
        if self._outage_cleared:
            return False
        if self._outage_began is None:
            by_count = faults.outage_after_requests is not None and self._requests > faults.outage_after_requests
            assert self._first_request_at is not None
            by_time = faults.outage_start is not None and now >= self._first_request_at + faults.outage_start
            if not (by_count or by_time):
                return False
            self._outage_began = now
        return now < self._outage_began + self._faults.outage_duration

    def _over_rate(self, now: float) -> bool:
        if self._faults.max_rate is None:
            return False
        if now - self._window_start >= 1.0:
            self._window_start = now
            self._window_requests = 0
        self._window_requests += 1
        return self._window_requests > self._faults.max_rate

    async def _answer_fault(self, fault: str, raw: bytes, send: Send) -> None:
        headers: list[tuple[bytes, bytes]] = []
        if fault == "outage":
            status = 503
        elif fault == "error":
            status = self._random.choice((500, 503))
        elif fault in ("throttle", "rate_limit"):
            status = 429
            headers.append((b"retry-after", self._retry_after().encode()))
        else:
            status = 0
        self._log(raw, status or None, fault)

        if fault == "closed":
            await self._drop(send)
            return
        payload = json.dumps({"status": status, "error": f"sandbox fault: {fault}"}).encode()
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    def _retry_after(self) -> str:
        """Return Retry-After in seconds, or every other time as an HTTP date."""
        self._throttled += 1
        seconds = self._faults.retry_after
        if self._throttled % 2:
            return str(math.ceil(seconds))
        # An HTTP date has whole seconds, so round up to wait at least ``seconds``.
        when = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=math.ceil(seconds) + 1)
        return email.utils.format_datetime(when.replace(microsecond=0), usegmt=True)

    async def _drop(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"100")]})
        raise DroppedConnection("sandbox fault: connection closed before the answer")

    async def _end_outage(self, send: Send) -> None:
        self._outage_cleared = True
        payload = b'{"outage": false}'
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    def _log(self, raw: bytes, status: int | None, fault: str) -> None:
        try:
            body = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        self._state.received.append(
            {"at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"), "body": body, "status": status, "fault": fault}
        )


def _replay(raw: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            # A second receive() only waits for a disconnect, so it blocks.
            await asyncio.Event().wait()
        sent = True
        return {"type": "http.request", "body": raw, "more_body": False}

    return receive


async def _discard(message: Message) -> None:
    pass
