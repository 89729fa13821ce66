"""Run one sync: load, validate, upload, report.

The report is written in a ``finally`` block, so a run that is interrupted or
stopped by the API still accounts for every row it read.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from batch_sync.client import ClientSettings, EcrossClient
from batch_sync.load import DEFAULT_MAX_FILE_MB, load_table
from batch_sync.report import ReportPaths, RunFacts, result_lines, status_counts, write_report
from batch_sync.upload import PendingRow, RowOutcome, Uploader
from batch_sync.validate import ValidatedTable, validate_table
from schemas.api import inventory_request
from schemas.report import FAILED, INVALID, NOT_SENT
from schemas.row import INVENTORY_TYPE, QUANTITY, SKU_ID, WAREHOUSE_ID

log = structlog.get_logger(__name__)

EXIT_OK = 0
EXIT_ROWS_NOT_SYNCED = 1
EXIT_UNUSABLE_INPUT = 2
EXIT_API_STOPPED = 3
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class SyncOptions:
    """Everything one sync run needs; ``repr`` never shows the token."""

    path: Path
    report_dir: Path
    base_url: str
    token: str | None
    concurrency: int
    sheet: str | None = None
    dry_run: bool = False
    mapping: Path | None = None
    max_file_mb: float = DEFAULT_MAX_FILE_MB

    def __repr__(self) -> str:
        return (
            f"SyncOptions(path={str(self.path)!r}, base_url={self.base_url!r}, "
            f"concurrency={self.concurrency}, dry_run={self.dry_run}, token='***')"
        )


@dataclass(frozen=True)
class SyncResult:
    exit_status: int
    summary: dict[str, Any]
    paths: ReportPaths


def pending_rows(table: ValidatedTable) -> Iterator[PendingRow]:
    """Yield the API request of every valid row, in sheet order."""
    valid = table.valid
    for row, sku_id, quantity, warehouse_id, inventory_type in zip(
        valid.index,
        valid[SKU_ID],
        valid[QUANTITY],
        valid[WAREHOUSE_ID],
        valid[INVENTORY_TYPE],
    ):
        body = inventory_request(str(sku_id), int(quantity), int(warehouse_id), str(inventory_type))
        yield PendingRow(int(row), body)


async def _upload(options: SyncOptions, table: ValidatedTable, outcomes: dict[int, RowOutcome]) -> Uploader:
    settings = ClientSettings(
        base_url=options.base_url,
        token=options.token or "",
        concurrency=options.concurrency,
    )

    def record(outcome: RowOutcome) -> None:
        outcomes[outcome.row] = outcome

    loop = asyncio.get_running_loop()
    async with EcrossClient(settings) as client:
        uploader = Uploader(client, options.concurrency, record)
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, uploader.request_stop, f"interrupted by {signal.Signals(signum).name}")
        try:
            await uploader.run(pending_rows(table))
        finally:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(signum)
    return uploader


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
    """Sync one file and write its report; raise InputError if the file is unusable."""
    started = dt.datetime.now(dt.timezone.utc)
    log.info("sync.started", path=str(options.path), base_url=options.base_url, dry_run=options.dry_run)

    table = validate_table(
        load_table(options.path, options.sheet, options.mapping, options.max_file_mb)
    )

    outcomes: dict[int, RowOutcome] = {}
    uploader: Uploader | None = None
    interrupted = False
    try:
        if not options.dry_run and len(table.valid):
            log.info("upload.started", rows=len(table.valid), concurrency=options.concurrency)
            uploader = asyncio.run(_upload(options, table, outcomes))
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        if options.dry_run:
            unsent_reason = "dry run: the row is valid and was not sent"
        elif uploader is not None and uploader.stop_reason:
            unsent_reason = f"not sent: {uploader.stop_reason}"
        else:
            unsent_reason = "not sent: the run ended before this row was sent"
        lines = list(result_lines(table, outcomes, unsent_reason))
        counts = status_counts(lines)
        exit_status = EXIT_INTERRUPTED if interrupted else exit_status_for(counts, uploader, options.dry_run)
        facts = RunFacts(
            input_path=options.path,
            started=started,
            finished=dt.datetime.now(dt.timezone.utc),
            dry_run=options.dry_run,
            exit_status=exit_status,
            stop_reason=uploader.stop_reason if uploader else ("interrupted" if interrupted else ""),
        )
        paths, summary = write_report(options.report_dir, table, lines, facts)

    log.info(
        "sync.finished",
        exit_status=exit_status,
        rows_read=summary["rowsRead"],
        synced=summary["synced"],
        invalid=summary["invalid"],
        failed=summary["failed"],
        not_sent=summary["notSent"],
        results=str(paths.results_csv),
    )
    return SyncResult(exit_status, summary, paths)
