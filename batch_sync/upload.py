"""Upload valid rows with a fixed pool of workers reading a bounded queue.

Each row's failure is caught in its worker and becomes that row's outcome.
Only run-fatal conditions stop the pool: the API rejecting the credentials,
the API failing for too many rows in a row, or a stop request (SIGINT or
SIGTERM). Rows that were never sent are reported as not sent.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import structlog

from batch_sync.client import EcrossClient
from batch_sync.errors import ApiUnavailable, CredentialsRejected, RowRejected, RunAborted, TransientError
from batch_sync.response_checks import key_mismatch, record_warnings
from schemas.api import InventoryRecord, InventoryRequest
from schemas.report import FAILED, NOT_SENT, SYNCED

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PendingRow:
    """A valid row waiting to be sent."""

    row: int
    body: InventoryRequest


@dataclass
class RowOutcome:
    """What happened to one row that reached the upload stage."""

    row: int
    status: str
    http_status: int | None = None
    record: InventoryRecord | None = None
    error: str = ""
    attempts: int = 0
    seconds: float = 0.0
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class RetryPolicy:
    """When to send a row again after a transient failure.

    The delay before attempt n+1 is drawn uniformly from 0 to
    min(max_delay, base_delay * 2**(n-1)) seconds (exponential backoff with
    full jitter), unless the API named a longer Retry-After.
    """

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    # The run stops as unavailable after this many rows in a row failed with
    # transient errors on every attempt and no row succeeded in between.
    max_consecutive_failures: int = 20

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
        concurrency: int,
        on_outcome: Callable[[RowOutcome], None],
        retry: RetryPolicy = RetryPolicy(),
    ) -> None:
        self._client = client
        self._concurrency = concurrency
        self._on_outcome = on_outcome
        self._retry = retry
        self._stop = asyncio.Event()
        self._abort: RunAborted | None = None
        self._stop_reason = ""
        self._consecutive_failures = 0

    def request_stop(self, reason: str) -> None:
        """Stop taking new rows; in-flight requests finish."""
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
        """Send every row unless the run is stopped; report rows never sent as not sent."""
        queue: asyncio.Queue[PendingRow | None] = asyncio.Queue(maxsize=self._concurrency * 2)
        workers = [asyncio.create_task(self._work(queue)) for _ in range(self._concurrency)]

        rows_iter = iter(rows)
        for pending in rows_iter:
            if self._stop.is_set():
                self._report_not_sent(pending)
                break
            await queue.put(pending)
        for pending in rows_iter:
            self._report_not_sent(pending)
        for _ in workers:
            await queue.put(None)

        await asyncio.gather(*workers)

    def _report_not_sent(self, pending: PendingRow) -> None:
        self._on_outcome(RowOutcome(pending.row, NOT_SENT, error=f"not sent: {self._stop_reason}"))

    async def _work(self, queue: asyncio.Queue[PendingRow | None]) -> None:
        while True:
            pending = await queue.get()
            if pending is None:
                return
            if self._stop.is_set():
                self._report_not_sent(pending)
                continue
            outcome = await self._send(pending)
            self._on_outcome(outcome)

    async def _send(self, pending: PendingRow) -> RowOutcome:
        started = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            try:
                status, record = await self._client.post_inventory(pending.body)
            except CredentialsRejected as error:
                self._fail_run(error)
                return self._outcome(pending, FAILED, started, attempt, error=str(error), http_status=401)
            except RowRejected as error:
                self._consecutive_failures = 0
                log.warning("upload.row_rejected", row=pending.row, http_status=error.http_status, error=str(error))
                return self._outcome(pending, FAILED, started, attempt, error=str(error), http_status=error.http_status)
            except TransientError as error:
                # Sending a row again is safe: the POST sets an absolute
                # quantity, so a request that did arrive is only repeated.
                if attempt < self._retry.max_attempts and not self._stop.is_set():
                    wait = self._retry.delay(attempt, error.retry_after)
                    log.info("upload.retry", row=pending.row, attempt=attempt, wait=round(wait, 3), cause=str(error))
                    await asyncio.sleep(wait)
                    continue
                self._count_transient_failure(error)
                log.warning("upload.row_failed", row=pending.row, attempts=attempt, error=str(error))
                return self._outcome(pending, FAILED, started, attempt, error=str(error), http_status=error.http_status)

            self._consecutive_failures = 0
            mismatch = key_mismatch(pending.body, record)
            if mismatch is not None:
                log.warning("upload.response_mismatch", row=pending.row, error=mismatch)
                return self._outcome(pending, FAILED, started, attempt, error=mismatch, http_status=status, record=record)
            outcome = self._outcome(pending, SYNCED, started, attempt, http_status=status, record=record)
            outcome.warnings = record_warnings(pending.body, record)
            return outcome

    def _count_transient_failure(self, error: TransientError) -> None:
        self._consecutive_failures += 1
        if self._consecutive_failures >= self._retry.max_consecutive_failures:
            self._fail_run(
                ApiUnavailable(
                    f"the API failed for {self._consecutive_failures} rows in a row "
                    f"(last error: {error})"
                )
            )

    def _fail_run(self, error: RunAborted) -> None:
        if self._abort is None:
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
        )
