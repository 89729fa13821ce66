"""Send a validated table: build requests, run the uploader and the optional verification.

This is the asynchronous part of a run. It records each outcome in the run
journal as it arrives and keeps none in memory, so memory does not grow with
the rows sent. The report reads the outcomes back from the journal, also
when the run is interrupted.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
import time
from collections.abc import Container, Iterator
from dataclasses import dataclass
from typing import Any

import structlog

from batch_sync.auth import ClientCredentialsToken, StaticToken, TokenSource
from batch_sync.changes import LISTING_PAGE_SIZE, ChangeScan, scan_changes
from batch_sync.client import ClientSettings, EcrossClient
from batch_sync.errors import RunAborted, TransientError
from batch_sync.journal import Journal, JournalEntry, RowKey
from batch_sync.listing import InventoryLister
from batch_sync.options import SyncOptions
from batch_sync.progress import Progress
from batch_sync.ratelimit import AdaptiveRateLimiter
from batch_sync.upload import PendingRow, RowOutcome, Uploader
from batch_sync.validate import ValidatedTable
from batch_sync.verify import ALL_MODE, VerifyResult, file_keys, verify_records
from schemas.api import inventory_request
from schemas.report import SYNCED
from schemas.row import INVENTORY_TYPE, QUANTITY, SKU_ID, WAREHOUSE_ID

log = structlog.get_logger(__name__)


def row_key(body: Any) -> RowKey:
    """Return the journal key of a request body: skuId, warehouseId, inventoryType."""
    return (body["skuId"], body["warehouseId"], body["inventoryType"])


def journal_entry(outcome: RowOutcome) -> JournalEntry:
    """Return the journal entry of an outcome that still has its request body."""
    assert outcome.body is not None
    return JournalEntry(
        key=row_key(outcome.body),
        row=outcome.row,
        status=outcome.status,
        http_status=outcome.http_status,
        attempts=outcome.attempts,
        record=outcome.record,
        error=outcome.error,
        seconds=outcome.seconds,
    )


def pending_rows(table: ValidatedTable, skip: Container[RowKey] = ()) -> Iterator[PendingRow]:
    """Yield the API request of every valid row in sheet order, leaving out the keys in ``skip``."""
    valid = table.valid
    for row, sku_id, quantity, warehouse_id, inventory_type in zip(
        valid.index,
        valid[SKU_ID],
        valid[QUANTITY],
        valid[WAREHOUSE_ID],
        valid[INVENTORY_TYPE],
    ):
        body = inventory_request(str(sku_id), int(quantity), int(warehouse_id), str(inventory_type))
        if row_key(body) not in skip:
            yield PendingRow(int(row), body)


def _token_source(options: SyncOptions) -> TokenSource:
    if options.token:
        return StaticToken(options.token)
    return ClientCredentialsToken(options.auth_url, options.client_id or "", options.client_secret or "")


@dataclass
class UploadState:
    """The uploader and verification result of a run, kept also when the run is interrupted."""

    uploader: Uploader | None = None
    verification: VerifyResult | None = None
    changes: ChangeScan | None = None


async def upload_and_verify(
    options: SyncOptions,
    table: ValidatedTable,
    journal: Journal,
    confirmed: set[RowKey],
    started: dt.datetime,
    state: UploadState,
) -> None:
    """Find unchanged rows if asked, send the rest and verify if asked, recording each outcome in ``journal``.

    ``confirmed`` contains the keys that earlier runs synced, which are not sent again.
    """
    settings = ClientSettings(base_url=options.base_url, concurrency=options.concurrency)
    skip = set(confirmed)

    progress = Progress(len(table.valid) - len(confirmed), "sending")

    def record(outcome: RowOutcome) -> None:
        progress.advance(failed=outcome.status != SYNCED)
        journal.record(journal_entry(outcome))

    loop = asyncio.get_running_loop()
    tokens = _token_source(options)
    try:
        if options.changed_only:
            state.changes = await _scan_changes(options, table, skip, tokens)
            skip |= state.changes.unchanged_keys
            # The journal keeps the unchanged rows' outcomes from here on.
            for outcome in state.changes.unchanged.values():
                journal.record(journal_entry(outcome))
            state.changes.unchanged.clear()
        rows_to_send = len(table.valid) - len(skip)
        if options.dry_run or rows_to_send == 0:
            return

        log.info(
            "upload.started",
            rows=rows_to_send,
            concurrency=options.concurrency,
            rate_limit=options.rate_limit,
        )
        async with EcrossClient(settings) as client:
            uploader = Uploader(
                client,
                tokens,
                options.concurrency,
                record,
                retry=options.retry,
                limiter=AdaptiveRateLimiter(options.rate_limit),
            )
            state.uploader = uploader
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, uploader.request_stop, f"interrupted by {signal.Signals(signum).name}")
            upload_started = time.monotonic()
            try:
                await uploader.run(pending_rows(table, skip))
                log.info("upload.finished", rows=rows_to_send, seconds=round(time.monotonic() - upload_started, 3))
            finally:
                for signum in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(signum)

        if options.verify and not uploader.stop_reason:
            _, bearer = await tokens.bearer()
            state.verification = await asyncio.to_thread(_verify, options, table, journal, started, bearer)
    finally:
        progress.close()
        await tokens.aclose()


async def _scan_changes(
    options: SyncOptions, table: ValidatedTable, skip: set[RowKey], tokens: TokenSource
) -> ChangeScan:
    """Compare the rows not yet sent with e-CROSS's records; a failure means every row is sent."""
    try:
        _, bearer = await tokens.bearer()
    except (RunAborted, TransientError) as error:
        log.error("changes.token_failed", error=str(error))
        return ChangeScan(error=str(error))

    def scan() -> ChangeScan:
        settings = ClientSettings(base_url=options.base_url, concurrency=1)
        with InventoryLister(settings, bearer, page_size=LISTING_PAGE_SIZE) as lister:
            return scan_changes(lister, pending_rows(table, skip))

    return await asyncio.to_thread(scan)


def _verify(
    options: SyncOptions,
    table: ValidatedTable,
    journal: Journal,
    started: dt.datetime,
    bearer: str,
) -> VerifyResult:
    synced, other_keys = file_keys(table, journal.synced_rows())
    settings = ClientSettings(base_url=options.base_url, concurrency=1)
    with InventoryLister(settings, bearer) as lister:
        return verify_records(lister, synced, other_keys, started, check_all=options.verify == ALL_MODE)


def upload_summary(
    options: SyncOptions,
    uploader: Uploader | None,
    journal: Journal | None,
    confirmed: int,
    seconds: float,
    changes: ChangeScan | None = None,
) -> dict[str, Any]:
    """Return the summary keys about sending: request rate, 429s, journal run, resume, changed-only listing."""
    limiter = uploader.limiter if uploader is not None else None
    requests = limiter.requests if limiter is not None else 0
    changed_only = None
    if changes is not None:
        changed_only = {
            "recordsRead": changes.records_read,
            "pages": changes.pages,
            "error": changes.error or None,
        }
    return {
        "logRunId": structlog.contextvars.get_contextvars().get("run_id"),
        "changedOnly": changed_only,
        "runId": journal.run_id if journal is not None else None,
        "resumedFromRun": journal.resumed_from if journal is not None else None,
        "rowsConfirmedEarlier": confirmed,
        "requestsSent": requests,
        "requestRate": round(requests / seconds, 1) if seconds > 0 else 0.0,
        "rateLimit": options.rate_limit,
        "rateLimitLowest": None if limiter is None or limiter.lowest_rate is None else round(limiter.lowest_rate, 2),
        "http429": limiter.throttled if limiter is not None else 0,
    }
