"""Upload valid rows with a fixed pool of workers reading a bounded queue.

Each row's failure is caught in its worker and becomes that row's outcome.
Only run-fatal conditions stop the pool: the API rejecting the credentials
after one renewal, the API failing beyond the outage budget, or a stop
request (SIGINT or SIGTERM). After a stop, requests in flight get a short
grace period. Rows that were never sent get no outcome here, so the report
lists them as not sent.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import structlog

from batch_sync.auth import TokenSource
from batch_sync.client import EcrossClient
from batch_sync.errors import (
    ApiUnavailable,
    CredentialsRejected,
    RowRejected,
    RunAborted,
    TransientError,
)
from batch_sync.ratelimit import AdaptiveRateLimiter
from batch_sync.response_checks import key_mismatch
from schemas.api import InventoryRecord, InventoryRequest
from schemas.report import FAILED, SYNCED

log = structlog.get_logger(__name__)

# Seconds that requests in flight may take to finish after a stop request.
STOP_GRACE_SECONDS = 10.0


@dataclass(frozen=True)
class PendingRow:
    """A valid row waiting to be sent."""

    row: int
    body: InventoryRequest


@dataclass(slots=True)
class RowOutcome:
    """The outcome of one row that reached the upload stage."""

    row: int
    status: str
    http_status: int | None = None
    record: InventoryRecord | None = None
    error: str = ""
    attempts: int = 0
    seconds: float = 0.0
    body: InventoryRequest | None = None


@dataclass(frozen=True)
class RetryPolicy:
    """When to send a row again after a transient failure, and when to give up on the API.

    The delay before attempt n+1 is drawn uniformly from 0 to
    min(max_delay, base_delay * 2**(n-1)) seconds (exponential backoff with
    full jitter), unless the API named a longer Retry-After.
    """

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    # The run stops as unavailable when this many rows in a row failed on
    # every attempt with no request succeeding in between ...
    max_consecutive_failures: int = 20
    # ... or when every request has failed for this many seconds.
    outage_seconds: float = 120.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        backoff = random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))
        if retry_after is not None:
            return max(backoff, min(retry_after, self.max_delay))
        return backoff


class Uploader:
    """Run the worker pool for one run and report each row's outcome."""

    def __init__(
        self,
        client: EcrossClient,
        tokens: TokenSource,
        concurrency: int,
        on_outcome: Callable[[RowOutcome], None],
        retry: RetryPolicy = RetryPolicy(),
        limiter: AdaptiveRateLimiter | None = None,
        stop_grace: float = STOP_GRACE_SECONDS,
    ) -> None:
        self._client = client
        self._tokens = tokens
        self._concurrency = concurrency
        self._on_outcome = on_outcome
        self._retry = retry
        self.limiter = limiter or AdaptiveRateLimiter(None)
        self._stop_grace = stop_grace
        self._stop = asyncio.Event()
        self._abort: RunAborted | None = None
        self._stop_reason = ""
        self._consecutive_failures = 0
        self._failing_since: float | None = None

    def request_stop(self, reason: str) -> None:
        """Stop taking new rows; in-flight requests get a short time to finish."""
        if not self._stop.is_set():
            log.warning("upload.stopping", reason=reason)
            self._stop_reason = reason
            self._stop.set()

    @property
    def abort(self) -> RunAborted | None:
        """The run-fatal error that stopped the run, if any."""
        return self._abort

    @property
    def stop_reason(self) -> str:
        """Why the run stopped early, or an empty string if it did not."""
        return self._stop_reason

    async def run(self, rows: Iterable[PendingRow]) -> None:
        """Send every row unless the run is stopped."""
        # Fetch the first token once, so that rejected client credentials
        # stop the run before any worker starts. A transient failure here
        # is left to the workers, which retry it per row.
        try:
            await self._tokens.bearer()
        except CredentialsRejected as error:
            self._fail_run(error)
            return
        except TransientError as error:
            log.warning("upload.token_failed", error=str(error))

        queue: asyncio.Queue[PendingRow | None] = asyncio.Queue(maxsize=self._concurrency * 2)
        workers = [asyncio.create_task(self._work(queue)) for _ in range(self._concurrency)]
        feeder = asyncio.create_task(self._feed(rows, queue))
        tasks = [feeder, *workers]
        stopped = asyncio.create_task(self._stop.wait())

        running = set(tasks)
        while running and not self._stop.is_set():
            done, _ = await asyncio.wait(running | {stopped}, return_when=asyncio.FIRST_COMPLETED)
            running -= done
            if any(not task.cancelled() and task.exception() for task in done - {stopped}):
                break
        if running:
            await self._drain(feeder, workers, queue)
        stopped.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

        for task in tasks:
            failure = None if task.cancelled() else task.exception()
            if failure is not None:
                raise failure

    async def _feed(self, rows: Iterable[PendingRow], queue: asyncio.Queue[PendingRow | None]) -> None:
        for pending in rows:
            if self._stop.is_set():
                return
            await queue.put(pending)
        for _ in range(self._concurrency):
            await queue.put(None)

    async def _drain(
        self,
        feeder: asyncio.Task[None],
        workers: list[asyncio.Task[None]],
        queue: asyncio.Queue[PendingRow | None],
    ) -> None:
        """Stop feeding, let requests in flight finish within the grace period, cancel the rest."""
        feeder.cancel()
        while not queue.empty():
            queue.get_nowait()
        for _ in workers:
            queue.put_nowait(None)

        _, late = await asyncio.wait(workers, timeout=self._stop_grace)
        if late:
            # A cancelled request may still have reached the API; its row is
            # reported as not sent and a re-run sends it again, which is
            # harmless because the POST sets an absolute quantity.
            log.warning("upload.cancelled_in_flight", requests=len(late), grace_seconds=self._stop_grace)
            for worker in late:
                worker.cancel()

    async def _work(self, queue: asyncio.Queue[PendingRow | None]) -> None:
        while True:
            pending = await queue.get()
            if pending is None:
                return
            if self._stop.is_set():
                continue
            outcome = await self._send(pending)
            self._on_outcome(outcome)

    async def _send(self, pending: PendingRow) -> RowOutcome:
        started = time.monotonic()
        tries = 0
        posts = 0
        rejection: CredentialsRejected | None = None
        while True:
            tries += 1
            try:
                if rejection is not None:
                    # The token source returns False when the token it fetched
                    # after a 401 was rejected too, so this loop ends.
                    if not await self._tokens.renew(rejection.generation or 0):
                        self._fail_run(rejection)
                        return self._outcome(pending, FAILED, started, posts, error=str(rejection), http_status=rejection.http_status)
                    rejection = None
                generation, token = await self._tokens.bearer()
                await self.limiter.acquire()
                posts += 1
                status, record = await self._client.post_inventory(pending.body, token, generation)
            except CredentialsRejected as error:
                if error.generation is None:
                    self._fail_run(error)
                    return self._outcome(pending, FAILED, started, posts, error=str(error), http_status=error.http_status)
                # The row is sent again with a renewed token, and this does
                # not use up one of the row's attempts.
                log.warning("upload.token_rejected", row=pending.row, http_status=error.http_status, generation=error.generation)
                rejection = error
                tries -= 1
                continue
            except RowRejected as error:
                self._note_api_answered()
                log.warning("upload.row_rejected", row=pending.row, http_status=error.http_status, error=str(error))
                return self._outcome(pending, FAILED, started, posts, error=str(error), http_status=error.http_status)
            except TransientError as error:
                self._note_transient_failure(error)
                # Sending a row again is safe: the POST sets an absolute
                # quantity, so a request that did arrive is only repeated.
                if tries < self._retry.max_attempts and not self._stop.is_set():
                    wait = self._retry.delay(tries, error.retry_after)
                    log.info("upload.retry", row=pending.row, attempt=posts, wait=round(wait, 3), cause=str(error))
                    if await self._sleep_unless_stopped(wait):
                        continue
                self._count_failed_row(error)
                log.warning("upload.row_failed", row=pending.row, attempts=posts, error=str(error))
                return self._outcome(pending, FAILED, started, posts, error=str(error), http_status=error.http_status)

            self._note_api_answered()
            self._tokens.accepted(generation)
            self.limiter.on_success()
            return self._stored_outcome(pending, started, posts, status, record)

    def _stored_outcome(
        self, pending: PendingRow, started: float, posts: int, status: int, record: InventoryRecord
    ) -> RowOutcome:
        """Check the stored record's key against the request: synced, or failed on a key mismatch.

        The report derives a synced row's warnings from the record and the sent quantity.
        """
        mismatch = key_mismatch(pending.body, record)
        if mismatch is not None:
            log.warning("upload.response_mismatch", row=pending.row, error=mismatch)
            return self._outcome(pending, FAILED, started, posts, error=mismatch, http_status=status, record=record)
        return self._outcome(pending, SYNCED, started, posts, http_status=status, record=record)

    async def _sleep_unless_stopped(self, seconds: float) -> bool:
        """Sleep for ``seconds``; return False if the run was stopped meanwhile."""
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)
        except TimeoutError:
            return True
        return False

    def _note_api_answered(self) -> None:
        self._consecutive_failures = 0
        self._failing_since = None

    def _note_transient_failure(self, error: TransientError) -> None:
        if error.http_status == 429:
            self.limiter.on_throttled(error.retry_after)
        elif error.retry_after is not None:
            self.limiter.pause(min(error.retry_after, self._retry.max_delay))

        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        elif now - self._failing_since >= self._retry.outage_seconds:
            self._fail_run(
                ApiUnavailable(
                    f"every request failed for {now - self._failing_since:.0f} s "
                    f"(last error: {error})"
                )
            )

    def _count_failed_row(self, error: TransientError) -> None:
        self._consecutive_failures += 1
        if self._consecutive_failures >= self._retry.max_consecutive_failures:
            self._fail_run(
                ApiUnavailable(
                    f"the API failed for {self._consecutive_failures} rows in a row "
                    f"(last error: {error})"
                )
            )

    def _fail_run(self, error: RunAborted) -> None:
        if self._stop.is_set():
            # A run that is already stopping keeps its first reason and exit
            # status, even if requests still in flight fail afterwards.
            if self._abort is None:
                log.warning("upload.failed_while_stopping", error=str(error))
            return
        self._abort = error
        log.error("upload.aborted", error=str(error))
        self.request_stop(str(error))

    @staticmethod
    def _outcome(
        pending: PendingRow,
        status: str,
        started: float,
        attempts: int,
        *,
        error: str = "",
        http_status: int | None = None,
        record: InventoryRecord | None = None,
    ) -> RowOutcome:
        return RowOutcome(
            row=pending.row,
            status=status,
            http_status=http_status,
            record=record,
            error=error,
            attempts=attempts,
            seconds=round(time.monotonic() - started, 3),
            body=pending.body,
        )
