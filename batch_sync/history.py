"""Run history in the journal: what ``history`` and ``show`` print and what the guards compare with.

The journal's ``runs`` table records each run's file, content hash, times,
counts and exit status. This module adds ``run_details``: the run's source
key, its number of valid rows and of zero quantities, and its JSON summary,
which holds the report paths. It also compacts the journal: per-row outcomes
of old finished runs are deleted, and the run history is kept.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from batch_sync.guards import PreviousRunFacts
from batch_sync.journal import JOURNAL_FILE

log = structlog.get_logger(__name__)

# A finished run with one of these statuses tried every row it could send.
COMPLETED_EXIT_STATUSES = (0, 1)

_DETAILS_SCHEMA = """
CREATE TABLE IF NOT EXISTS run_details (
    run_id INTEGER PRIMARY KEY REFERENCES runs (id),
    source_key TEXT NOT NULL,
    valid_rows INTEGER NOT NULL,
    zero_quantity_rows INTEGER NOT NULL,
    summary_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS run_details_by_source ON run_details (source_key, run_id);
"""


def source_key(path: Path) -> str:
    """Return the key that groups nightly exports of the same source.

    Runs of digits in the file name become ``#``, so ``stock-2026-12-03.csv``
    and ``stock-2026-12-04.csv`` in the same folder are the same source.
    """
    resolved = path.resolve()
    return str(resolved.parent / re.sub(r"[0-9]+", "#", resolved.name))


@dataclass(frozen=True)
class RunRecord:
    """One run as ``batch-sync history`` lists it."""

    run_id: int
    input_path: str
    started_at: str
    finished_at: str | None
    exit_status: int | None
    rows_read: int | None
    synced: int | None
    invalid: int | None
    failed: int | None
    not_sent: int | None
    resumed_from: int | None
    summary: dict[str, Any] | None


class RunHistory:
    """Read and extend the run history of one state directory."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / JOURNAL_FILE
        self._db: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection | None:
        if self._db is None:
            if not self.path.exists():
                return None
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA busy_timeout=10000")
            self._db.executescript(_DETAILS_SCHEMA)
        return self._db

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> RunHistory:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def record_details(
        self, run_id: int, source: str, valid_rows: int, zero_quantity_rows: int, summary: dict[str, Any]
    ) -> None:
        """Store the details of a finished run."""
        db = self._connect()
        if db is None:
            return
        db.execute(
            "INSERT OR REPLACE INTO run_details VALUES (?, ?, ?, ?, ?)",
            (run_id, source, valid_rows, zero_quantity_rows, json.dumps(summary)),
        )

    def completed_run_with_content(self, digest: str) -> tuple[int, int] | None:
        """Return the id and exit status of a completed run of exactly this content, or None."""
        db = self._connect()
        if db is None:
            return None
        row = db.execute(
            f"""
            SELECT id, exit_status FROM runs
            WHERE content_hash = ? AND exit_status IN ({",".join("?" * len(COMPLETED_EXIT_STATUSES))})
            ORDER BY id DESC LIMIT 1
            """,
            (digest, *COMPLETED_EXIT_STATUSES),
        ).fetchone()
        return None if row is None else (int(row[0]), int(row[1]))

    def last_completed_run(self, source: str) -> PreviousRunFacts | None:
        """Return the latest completed run of the same source, or None."""
        db = self._connect()
        if db is None:
            return None
        row = db.execute(
            f"""
            SELECT runs.id, runs.rows_read, details.valid_rows, details.zero_quantity_rows
            FROM runs JOIN run_details AS details ON details.run_id = runs.id
            WHERE details.source_key = ?
              AND runs.exit_status IN ({",".join("?" * len(COMPLETED_EXIT_STATUSES))})
            ORDER BY runs.id DESC LIMIT 1
            """,
            (source, *COMPLETED_EXIT_STATUSES),
        ).fetchone()
        if row is None:
            return None
        return PreviousRunFacts(int(row[0]), int(row[1] or 0), int(row[2]), int(row[3]))

    def recent_runs(self, limit: int) -> list[RunRecord]:
        """Return the latest runs, newest first."""
        return self._runs("ORDER BY runs.id DESC LIMIT ?", (limit,))

    def run(self, run_id: int) -> RunRecord | None:
        """Return one run, or None if the journal has no such run."""
        runs = self._runs("WHERE runs.id = ?", (run_id,))
        return runs[0] if runs else None

    def _runs(self, clause: str, parameters: tuple[Any, ...]) -> list[RunRecord]:
        db = self._connect()
        if db is None:
            return []
        rows = db.execute(
            f"""
            SELECT runs.id, input_path, started_at, finished_at, exit_status, rows_read,
                   synced, invalid, failed, not_sent, resumed_from, details.summary_json
            FROM runs LEFT JOIN run_details AS details ON details.run_id = runs.id
            {clause}
            """,
            parameters,
        ).fetchall()
        return [
            RunRecord(*row[:11], summary=json.loads(row[11]) if row[11] else None)
            for row in rows
        ]

    def compact(self, keep_days: float, now: dt.datetime) -> int:
        """Delete per-row outcomes of finished runs older than ``keep_days``; return how many.

        Runs that did not finish keep their rows, because the next run of the
        same file resumes from them. 0 days keeps everything.
        """
        db = self._connect()
        if db is None or keep_days <= 0:
            return 0
        cutoff = (now - dt.timedelta(days=keep_days)).isoformat()
        cursor = db.execute(
            """
            DELETE FROM row_results WHERE run_id IN (
                SELECT id FROM runs WHERE finished_at IS NOT NULL AND started_at < ?
                  AND exit_status NOT IN (3, 130)
            )
            """,
            (cutoff,),
        )
        removed = cursor.rowcount
        if removed:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            db.execute("VACUUM")
            log.info("housekeeping.journal_compacted", rows_removed=removed, older_than_days=keep_days)
        return removed
