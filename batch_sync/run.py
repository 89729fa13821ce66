"""Run one sync: load, validate, upload, verify if asked, report.

The report is written in a ``finally`` block, so a run that is interrupted or
stopped by the API still accounts for every row it read.
"""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
import datetime as dt
import signal
import time
from collections import Counter
from collections.abc import Container, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from batch_sync.auth import DEFAULT_AUTH_URL, ClientCredentialsToken, StaticToken, TokenSource
from batch_sync.changes import LISTING_PAGE_SIZE, ChangeScan, scan_changes
from batch_sync.client import ClientSettings, EcrossClient
from batch_sync.errors import InputError, RunAborted, TransientError
from batch_sync.guards import GuardSettings, first_failure
from batch_sync.history import RunHistory, source_key
from batch_sync.housekeeping import remove_old_reports
from batch_sync.lock import RunLock
from batch_sync.progress import Progress
from batch_sync.journal import ConfirmedRow, Journal, JournalEntry, RowKey, content_hash
from batch_sync.listing import InventoryLister
from batch_sync.load import DEFAULT_MAX_FILE_MB, load_table
from batch_sync.ratelimit import DEFAULT_RATE_LIMIT, AdaptiveRateLimiter
from batch_sync.report import ReportPaths, RunFacts, result_lines, write_report
from batch_sync.response_checks import record_warnings
from batch_sync.upload import PendingRow, RetryPolicy, RowOutcome, Uploader
from batch_sync.validate import ValidatedTable, validate_table
from batch_sync.verify import ALL_MODE, VerifyResult, file_keys, verify_records, verify_summary
from schemas.api import inventory_request
from schemas.report import FAILED, INVALID, NOT_SENT, SYNCED
from schemas.row import INVENTORY_TYPE, QUANTITY, SKU_ID, WAREHOUSE_ID

log = structlog.get_logger(__name__)

EXIT_OK = 0
EXIT_ROWS_NOT_SYNCED = 1
EXIT_UNUSABLE_INPUT = 2
EXIT_API_STOPPED = 3
# EX_TEMPFAIL of sysexits.h: another run holds the lock, try again later.
EXIT_LOCKED = 75
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class SyncOptions:
    """Everything one sync run needs; ``repr`` never shows the token or the client secret.

    The credentials are either ``token`` or ``client_id`` with
    ``client_secret``; without a ``state_dir`` the run keeps no journal.
    """

    path: Path
    report_dir: Path
    base_url: str
    token: str | None
    concurrency: int
    sheet: str | None = None
    dry_run: bool = False
    # None, RUN_MODE or ALL_MODE of batch_sync.verify.
    verify: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    auth_url: str = DEFAULT_AUTH_URL
    rate_limit: float | None = DEFAULT_RATE_LIMIT
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    state_dir: Path | None = None
    restart: bool = False
    mapping: Path | None = None
    max_file_mb: float = DEFAULT_MAX_FILE_MB
    guards: GuardSettings = field(default_factory=GuardSettings)
    # Days to keep report files and per-row journal outcomes; 0 keeps all.
    report_retention_days: float = 0.0
    journal_retention_days: float = 0.0
    # Send only the rows whose quantity differs from e-CROSS's records.
    changed_only: bool = False

    def __repr__(self) -> str:
        return (
            f"SyncOptions(path={str(self.path)!r}, base_url={self.base_url!r}, "
            f"concurrency={self.concurrency}, dry_run={self.dry_run}, "
            f"changed_only={self.changed_only}, "
            f"state_dir={str(self.state_dir)!r}, token='***', client_secret='***')"
        )


@dataclass(frozen=True)
class SyncResult:
    exit_status: int
    summary: dict[str, Any]
    paths: ReportPaths


def row_key(body: Any) -> RowKey:
    """Return the journal key of a request body: skuId, warehouseId, inventoryType."""
    return (body["skuId"], body["warehouseId"], body["inventoryType"])


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


def confirmed_outcomes(table: ValidatedTable, confirmed: dict[RowKey, ConfirmedRow]) -> dict[int, RowOutcome]:
    """Build this run's outcomes of the rows that an earlier run confirmed, warnings included."""
    outcomes: dict[int, RowOutcome] = {}
    if not confirmed:
        return outcomes
    for pending in pending_rows(table):
        earlier = confirmed.get(row_key(pending.body))
        if earlier is not None:
            outcomes[pending.row] = RowOutcome(
                row=pending.row,
                status=SYNCED,
                http_status=earlier.http_status,
                record=earlier.record,
                attempts=earlier.attempts,
                error=f"synced by run {earlier.sent_by_run}; not sent again",
                warnings=record_warnings(pending.body, earlier.record),
            )
    return outcomes


_MAX_SHARED_TEXTS = 10_000
# Each text to its one kept copy, for every run of this process.
_shared_texts: dict[str, str] = {}


def _shared_text(value: str | None) -> str | None:
    if value is None:
        return None
    if value not in _shared_texts and len(_shared_texts) < _MAX_SHARED_TEXTS:
        _shared_texts[value] = value
    return _shared_texts.get(value, value)


def compact_outcome(outcome: RowOutcome) -> RowOutcome:
    """Return the outcome as the report keeps it, without the request body.

    Texts of the stored record that are the same for many rows (merchant,
    inventory type, warehouse name and country) share one copy each, which
    keeps the outcomes of a large run smaller.
    """
    record = outcome.record
    if record is not None:
        record = dataclasses.replace(
            record,
            merchant_id=_shared_text(record.merchant_id),
            inventory_type=_shared_text(record.inventory_type) or "",
            warehouse_name=_shared_text(record.warehouse_name),
            warehouse_country=_shared_text(record.warehouse_country),
        )
    return dataclasses.replace(outcome, body=None, record=record)


def _token_source(options: SyncOptions) -> TokenSource:
    if options.token:
        return StaticToken(options.token)
    return ClientCredentialsToken(options.auth_url, options.client_id or "", options.client_secret or "")


@dataclass
class UploadState:
    """What the async part of a run leaves behind, also when it is interrupted."""

    uploader: Uploader | None = None
    verification: VerifyResult | None = None
    changes: ChangeScan | None = None


async def _upload_and_verify(
    options: SyncOptions,
    table: ValidatedTable,
    outcomes: dict[int, RowOutcome],
    journal: Journal | None,
    confirmed: dict[RowKey, ConfirmedRow],
    started: dt.datetime,
    state: UploadState,
) -> None:
    settings = ClientSettings(base_url=options.base_url, concurrency=options.concurrency)
    skip: set[RowKey] = set(confirmed)

    progress = Progress(len(table.valid) - len(confirmed), "sending")

    def record(outcome: RowOutcome) -> None:
        outcomes[outcome.row] = compact_outcome(outcome)
        progress.advance(failed=outcome.status != SYNCED)
        if journal is not None and outcome.body is not None:
            journal.record(
                JournalEntry(
                    key=row_key(outcome.body),
                    row=outcome.row,
                    status=outcome.status,
                    http_status=outcome.http_status,
                    attempts=outcome.attempts,
                    record=outcome.record,
                    error=outcome.error,
                )
            )

    loop = asyncio.get_running_loop()
    tokens = _token_source(options)
    try:
        if options.changed_only:
            state.changes = await _scan_changes(options, table, skip, tokens)
            outcomes.update(state.changes.unchanged)
            skip |= state.changes.unchanged_keys
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
            state.verification = await asyncio.to_thread(_verify, options, table, outcomes, started, bearer)
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
    outcomes: dict[int, RowOutcome],
    started: dt.datetime,
    bearer: str,
) -> VerifyResult:
    synced, other_keys = file_keys(table, outcomes)
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


def exit_status_for(counts: Counter[str], uploader: Uploader | None, dry_run: bool) -> int:
    """Return the exit status that the command-line contract gives this outcome."""
    if uploader is not None and uploader.abort is not None:
        return EXIT_API_STOPPED
    if uploader is not None and uploader.stop_reason:
        return EXIT_INTERRUPTED
    if counts[INVALID] or counts[FAILED] or (counts[NOT_SENT] and not dry_run):
        return EXIT_ROWS_NOT_SYNCED
    return EXIT_OK


def run_sync(options: SyncOptions) -> SyncResult:
    """Sync one file and write its report; raise InputError if the file is unusable.

    A run that sends holds the state directory's lock from start to end, so
    a second run with the same state directory raises RunLocked at once.
    """
    if options.dry_run or options.state_dir is None:
        return _run_sync(options)
    with RunLock(options.state_dir):
        return _run_sync(options)


def _check_guards(options: SyncOptions, table: ValidatedTable, digest: str, now: dt.datetime) -> None:
    """Raise InputError if a guard refuses the file; in a dry run, only log it."""
    if options.state_dir is None:
        return
    valid_rows = len(table.valid)
    zero_rows = int((table.valid[QUANTITY] == 0).sum())
    with RunHistory(options.state_dir) as history:
        previous = history.last_completed_run(source_key(options.path))
        # A changed-only run sends only what differs, so repeating it is cheap.
        repeat_allowed = options.restart or options.changed_only
        synced_by = None if repeat_allowed else history.completed_run_with_content(digest)
    failure = first_failure(
        options.guards,
        options.path,
        table.row_count,
        valid_rows,
        zero_rows,
        previous,
        None if synced_by is None else f"run {synced_by[0]} (exit status {synced_by[1]})",
        now,
    )
    if failure is None:
        return
    if options.dry_run:
        log.warning("guard.would_refuse", reason=failure.reason, override=failure.override)
        return
    log.error("guard.refused", reason=failure.reason, override=failure.override)
    raise InputError(failure.message(options.path))


def _record_history(options: SyncOptions, table: ValidatedTable, journal: Journal, summary: dict[str, Any]) -> None:
    """Store the run's details for later guards and ``history``, then compact old data."""
    assert options.state_dir is not None
    now = dt.datetime.now(dt.timezone.utc)
    with RunHistory(options.state_dir) as history:
        history.record_details(
            journal.run_id,
            source_key(options.path),
            len(table.valid),
            int((table.valid[QUANTITY] == 0).sum()),
            summary,
        )
        history.compact(options.journal_retention_days, now)


def _run_sync(options: SyncOptions) -> SyncResult:
    started = dt.datetime.now(dt.timezone.utc)
    # Bound to every log line of this run; the journal's run number joins it once known.
    log_run_id = f"{started:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    structlog.contextvars.bind_contextvars(run_id=log_run_id)
    log.info("sync.started", path=str(options.path), base_url=options.base_url, dry_run=options.dry_run)

    table = validate_table(
        load_table(options.path, options.sheet, options.mapping, options.max_file_mb)
    )
    digest = content_hash(options.path)
    _check_guards(options, table, digest, started)

    journal: Journal | None = None
    confirmed: dict[RowKey, ConfirmedRow] = {}
    if options.state_dir is not None and not options.dry_run:
        journal = Journal.open(options.state_dir, options.path, digest, restart=options.restart)
        confirmed = journal.confirmed_rows()
        structlog.contextvars.bind_contextvars(journal_run=journal.run_id)
        if journal.resumed_from is not None:
            log.info("sync.resumed", resumed_from=journal.resumed_from, rows_confirmed=len(confirmed))

    # NOTE: every sent row's outcome stays in memory until the report is
    # written, about 830 bytes per row, so memory grows with the rows sent.
    outcomes: dict[int, RowOutcome] = confirmed_outcomes(table, confirmed)
    state = UploadState()
    interrupted = False
    exit_status = EXIT_INTERRUPTED
    upload_started = time.monotonic()
    try:
        needs_api = options.changed_only or not options.dry_run
        if needs_api and len(table.valid) > len(confirmed):
            asyncio.run(_upload_and_verify(options, table, outcomes, journal, confirmed, started, state))
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        uploader = state.uploader
        upload_seconds = time.monotonic() - upload_started
        if options.dry_run and state.changes is not None and state.changes.error:
            unsent_reason = "dry run: e-CROSS's records could not be read, so a real run would send every row"
        elif options.dry_run and options.changed_only:
            unsent_reason = "dry run: the row differs from e-CROSS, so a real run would send it"
        elif options.dry_run:
            unsent_reason = "dry run: the row is valid and was not sent"
        elif uploader is not None and uploader.stop_reason:
            unsent_reason = f"not sent: {uploader.stop_reason}"
        else:
            unsent_reason = "not sent: the run ended before this row was sent"

        if uploader is not None and uploader.stop_reason:
            stop_reason = uploader.stop_reason
        elif interrupted:
            stop_reason = "interrupted"
        else:
            stop_reason = ""
        upload = upload_summary(options, uploader, journal, len(confirmed), upload_seconds, state.changes)

        def facts_for(counts: Counter[str]) -> RunFacts:
            nonlocal exit_status
            if not interrupted:
                exit_status = exit_status_for(counts, uploader, options.dry_run)
            return RunFacts(
                input_path=options.path,
                started=started,
                finished=dt.datetime.now(dt.timezone.utc),
                dry_run=options.dry_run,
                exit_status=exit_status,
                stop_reason=stop_reason,
                upload=upload,
            )

        verification = state.verification
        lines = result_lines(table, outcomes, unsent_reason, secrets=[options.token or "", options.client_secret or ""])
        paths, summary = write_report(
            options.report_dir,
            table,
            lines,
            started,
            facts_for,
            verify=verify_summary(verification) if verification else None,
            verify_findings=verification.findings if verification else None,
        )
        if journal is not None:
            journal.finish(exit_status, summary)
            journal.close()
            _record_history(options, table, journal, summary)
        remove_old_reports(options.report_dir, options.report_retention_days, dt.datetime.now(dt.timezone.utc))

    log.info(
        "sync.finished",
        exit_status=exit_status,
        rows_read=summary["rowsRead"],
        synced=summary["synced"],
        unchanged=summary["unchanged"],
        invalid=summary["invalid"],
        failed=summary["failed"],
        not_sent=summary["notSent"],
        skipped=summary["skipped"],
        warnings=summary["warnings"],
        http_429=summary["http429"],
        request_rate=summary["requestRate"],
        results=str(paths.results_csv),
    )
    return SyncResult(exit_status, summary, paths)
