"""Run one sync: load, validate, upload, verify if asked, report.

The report is written in a ``finally`` block, so a run that is interrupted or
stopped by the API still accounts for every row it read.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from batch_sync.errors import InputError
from batch_sync.guards import first_failure
from batch_sync.history import RunHistory, source_key
from batch_sync.housekeeping import remove_old_reports
from batch_sync.journal import Journal, RowKey, content_hash
from batch_sync.load import load_table
from batch_sync.lock import RunLock
from batch_sync.options import (
    EXIT_API_STOPPED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_ROWS_NOT_SYNCED,
    SyncOptions,
)
from batch_sync.report import ReportPaths, RunFacts, result_lines, write_report
from batch_sync.sending import UploadState, upload_and_verify, upload_summary
from batch_sync.upload import Uploader
from batch_sync.validate import ValidatedTable, validate_table
from batch_sync.verify import verify_summary
from schemas.report import FAILED, INVALID, NOT_SENT
from schemas.row import QUANTITY

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class SyncResult:
    exit_status: int
    summary: dict[str, Any]
    paths: ReportPaths


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
        load_table(options.path, options.sheet, options.mapping, options.max_file_mb, options.csv_encoding)
    )
    digest = content_hash(options.path)
    _check_guards(options, table, digest, started)

    journal: Journal | None = None
    confirmed: set[RowKey] = set()
    if options.state_dir is not None and not options.dry_run:
        journal = Journal.open(options.state_dir, options.path, digest, restart=options.restart)
        confirmed = journal.confirmed_keys()
        structlog.contextvars.bind_contextvars(journal_run=journal.run_id)
        if journal.resumed_from is not None:
            log.info("sync.resumed", resumed_from=journal.resumed_from, rows_confirmed=len(confirmed))

    # Outcomes go to a journal as they arrive and the report reads them back
    # in sheet order, so memory does not grow with the rows sent. A run
    # without the state directory's journal (a dry run, or no state
    # directory) uses a scratch journal that is deleted after the report.
    # NOTE: the report reads every outcome from SQLite, so a journal that
    # cannot be written (a full disk) now stops the report too.
    scratch_dir: tempfile.TemporaryDirectory[str] | None = None
    if journal is None:
        scratch_dir = tempfile.TemporaryDirectory(prefix="batch-sync-outcomes-")
        outcome_journal = Journal.open(Path(scratch_dir.name), options.path, digest, restart=True, scratch=True)
    else:
        outcome_journal = journal
    state = UploadState()
    interrupted = False
    exit_status = EXIT_INTERRUPTED
    upload_started = time.monotonic()
    try:
        needs_api = options.changed_only or not options.dry_run
        if needs_api and len(table.valid) > len(confirmed):
            asyncio.run(upload_and_verify(options, table, outcome_journal, confirmed, started, state))
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
        try:
            lines = result_lines(
                table,
                outcome_journal.outcomes(),
                unsent_reason,
                secrets=[options.token or "", options.client_secret or ""],
            )
            paths, summary = write_report(
                options.report_dir,
                table,
                lines,
                started,
                facts_for,
                verify=verify_summary(verification) if verification else None,
                verify_findings=verification.findings if verification else None,
                stopped=bool(stop_reason),
            )
        finally:
            if scratch_dir is not None:
                outcome_journal.close()
                scratch_dir.cleanup()
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
