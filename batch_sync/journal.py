"""The run journal: a SQLite file in the state directory that records every row's outcome.

A run is identified by the SHA-256 of the input file's bytes. A row is
identified by its key (skuId, warehouseId, inventoryType), which validation
keeps unique among the rows that are sent. When the latest run of the same
content did not finish (killed, exit 3 or 130), the next run resumes it:
rows that run confirmed as synced are copied into the new run and not sent
again.

Outcomes are written in batches, one transaction per ``FLUSH_ROWS`` rows or
``FLUSH_SECONDS`` seconds, because a commit per row would cap the upload
rate. A writer thread commits the batches that ``record`` collects, so
``record``, which runs on the upload's event loop, does not wait for a
commit unless ``MAX_QUEUED_ROWS`` outcomes are already waiting. A killed process loses at
most the batches not yet committed: those rows are sent again by the next
run, which is harmless because the POST sets an absolute quantity. WAL mode with ``synchronous=NORMAL`` survives a killed
process without losing commits; a power loss may lose the last commits,
with the same consequence.

Schema (``PRAGMA user_version`` = 2):

    runs         one row per run: id, input path, content hash, start and
                 finish time (ISO 8601, UTC), exit status, row counts, and
                 the run it resumed
    row_results  one row per (run, row key) with a final outcome: sheet
                 row, status, HTTP status, attempts, returned id, the
                 returned record as JSON, error, the run that sent it, and
                 the seconds the row took to send

Version 1 had no ``seconds`` column. Opening such a journal adds it, with 0
for the rows already stored. The index ``row_results_by_row`` lets the report
read a run's outcomes in sheet order, a chunk at a time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import structlog

from batch_sync.errors import InputError
from batch_sync.upload import RowOutcome
from schemas.api import InventoryRecord, parse_inventory_record, record_to_json
from schemas.report import SYNCED

log = structlog.get_logger(__name__)

JOURNAL_FILE = "journal.sqlite3"
SCHEMA_VERSION = 2
FLUSH_ROWS = 500
FLUSH_SECONDS = 0.2
# Outcomes that may wait for a busy writer thread. Beyond this, recording
# waits for the writer, so a writer slower than the uploads slows the uploads
# instead of letting the queue, and memory, grow with the rows sent.
MAX_QUEUED_ROWS = 20 * FLUSH_ROWS
# Outcomes read per query when the report reads a run's outcomes.
READ_CHUNK_ROWS = 5000
# Exit statuses of a run that stopped before it had tried every row.
UNFINISHED_EXIT_STATUSES = (3, 130)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    input_path TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    exit_status INTEGER,
    rows_read INTEGER,
    synced INTEGER,
    invalid INTEGER,
    failed INTEGER,
    not_sent INTEGER,
    skipped INTEGER,
    resumed_from INTEGER REFERENCES runs (id)
);
CREATE INDEX IF NOT EXISTS runs_by_content ON runs (content_hash, id);
CREATE TABLE IF NOT EXISTS row_results (
    run_id INTEGER NOT NULL REFERENCES runs (id),
    sku_id TEXT NOT NULL,
    warehouse_id INTEGER NOT NULL,
    inventory_type TEXT NOT NULL,
    row INTEGER NOT NULL,
    status TEXT NOT NULL,
    http_status INTEGER,
    attempts INTEGER NOT NULL,
    returned_id TEXT,
    record_json TEXT,
    error TEXT NOT NULL DEFAULT '',
    sent_by_run INTEGER NOT NULL,
    recorded_at TEXT NOT NULL,
    seconds REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, sku_id, warehouse_id, inventory_type)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS row_results_by_row ON row_results (run_id, row);
"""

_ROW_COLUMNS = (
    "run_id, sku_id, warehouse_id, inventory_type, row, status, http_status, "
    "attempts, returned_id, record_json, error, sent_by_run, recorded_at, seconds"
)
_INSERT_ROW = f"INSERT OR REPLACE INTO row_results ({_ROW_COLUMNS}) VALUES ({', '.join('?' * 14)})"

RowKey = tuple[str, int, str]


def default_state_dir() -> Path:
    """Return ``$XDG_STATE_HOME/batch-sync``, else ``~/.local/state/batch-sync``."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "batch-sync"


def content_hash(path: Path) -> str:
    """Return the SHA-256 of the file's bytes as hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class JournalEntry:
    """One row's final outcome as the uploader reports it."""

    key: RowKey
    row: int
    status: str
    http_status: int | None
    attempts: int
    record: InventoryRecord | None
    error: str
    seconds: float = 0.0


class Journal:
    """The open journal of one run."""

    def __init__(self, connection: sqlite3.Connection, run_id: int, resumed_from: int | None) -> None:
        self._db = connection
        self.run_id = run_id
        self.resumed_from = resumed_from
        self._batch: list[tuple[Any, ...]] = []
        self._last_flush = time.monotonic()
        # One thread, so batches are committed in order. The connection is
        # used by one thread at a time: flush, finish and close wait for it.
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal-writer")
        self._writing: Future[None] | None = None

    @classmethod
    def open(cls, state_dir: Path, input_path: Path, digest: str, *, restart: bool, scratch: bool = False) -> Journal:
        """Open the journal in ``state_dir`` and start a run, resuming an unfinished one unless ``restart``.

        A ``scratch`` journal only carries one run's outcomes to its report,
        so its opening is logged at debug level. Raises InputError if the
        directory or the database cannot be used.
        """
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(state_dir / JOURNAL_FILE, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA busy_timeout=10000")
            _upgrade_version_1(connection)
            connection.executescript(_SCHEMA)
            connection.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except (OSError, sqlite3.Error) as error:
            raise InputError(
                f"{state_dir / JOURNAL_FILE}: cannot open the run journal ({error}); "
                "pass --state-dir with a writable directory or set BATCH_SYNC_STATE_DIR"
            ) from error

        previous = None if restart else _unfinished_run(connection, digest)
        with _transaction(connection):
            cursor = connection.execute(
                "INSERT INTO runs (input_path, content_hash, started_at, resumed_from) VALUES (?, ?, ?, ?)",
                (str(input_path), digest, _now(), previous),
            )
            run_id = int(cursor.lastrowid or 0)
            if previous is not None:
                connection.execute(
                    f"""
                    INSERT INTO row_results ({_ROW_COLUMNS})
                    SELECT ?, sku_id, warehouse_id, inventory_type, row, status, http_status,
                           attempts, returned_id, record_json, error, sent_by_run, recorded_at, seconds
                    FROM row_results WHERE run_id = ? AND status = ?
                    """,
                    (run_id, previous, SYNCED),
                )
        log_opened = log.debug if scratch else log.info
        log_opened("journal.opened", path=str(state_dir / JOURNAL_FILE), journal_run=run_id, resumed_from=previous)
        return cls(connection, run_id, previous)

    def confirmed_keys(self) -> set[RowKey]:
        """Return the keys of the rows that earlier runs of this content synced."""
        if self.resumed_from is None:
            return set()
        rows = self._db.execute(
            "SELECT sku_id, warehouse_id, inventory_type FROM row_results WHERE run_id = ? AND status = ?",
            (self.run_id, SYNCED),
        )
        return {(sku_id, warehouse_id, inventory_type) for sku_id, warehouse_id, inventory_type in rows}

    def synced_rows(self) -> set[int]:
        """Return the sheet rows of this run that are synced, those confirmed by earlier runs included."""
        self.flush()
        rows = self._db.execute("SELECT row FROM row_results WHERE run_id = ? AND status = ?", (self.run_id, SYNCED))
        return {row for (row,) in rows}

    def outcomes(self, chunk_rows: int = READ_CHUNK_ROWS) -> Iterator[RowOutcome]:
        """Yield this run's outcomes in sheet-row order, reading ``chunk_rows`` at a time.

        Queued outcomes are written first. A row that an earlier run synced
        is marked as not sent again, with that run's number.
        """
        self.flush()
        last_row = -1
        while True:
            chunk = self._db.execute(
                """
                SELECT row, status, http_status, attempts, record_json, error, sent_by_run, seconds
                FROM row_results WHERE run_id = ? AND row > ? ORDER BY row LIMIT ?
                """,
                (self.run_id, last_row, chunk_rows),
            ).fetchall()
            if not chunk:
                return
            for row, status, http_status, attempts, record_json, error, sent_by, seconds in chunk:
                record = None
                if record_json is not None:
                    record = parse_inventory_record(orjson.loads(record_json))
                outcome = RowOutcome(
                    row=row,
                    status=status,
                    http_status=http_status,
                    record=record,
                    error=error,
                    attempts=attempts,
                    seconds=seconds,
                )
                if sent_by != self.run_id:
                    outcome.error = f"synced by run {sent_by}; not sent again"
                    outcome.seconds = 0.0
                yield outcome
            last_row = chunk[-1][0]

    def record(self, entry: JournalEntry) -> None:
        """Queue one outcome and hand the batch to the writer thread if it is full or old enough.

        Raises the error of an earlier batch that the writer failed to commit.
        """
        record_json = None if entry.record is None else orjson.dumps(record_to_json(entry.record)).decode()
        returned_id = None if entry.record is None else entry.record.id
        self._batch.append(
            (
                self.run_id, *entry.key, entry.row, entry.status, entry.http_status, entry.attempts,
                returned_id, record_json, entry.error, self.run_id, _now(), entry.seconds,
            )
        )
        if len(self._batch) >= FLUSH_ROWS or time.monotonic() - self._last_flush >= FLUSH_SECONDS:
            self._flush_in_background()

    def _flush_in_background(self) -> None:
        if self._writing is not None:
            if not self._writing.done() and len(self._batch) < MAX_QUEUED_ROWS:
                # The batch keeps growing until the writer is free.
                return
            self._writing.result()
        batch, self._batch = self._batch, []
        self._writing = self._writer.submit(self._write, batch)
        self._last_flush = time.monotonic()

    def flush(self) -> None:
        """Write every queued outcome, waiting for the writer thread first."""
        self._wait_for_writer()
        self._write(self._batch)
        self._batch = []
        self._last_flush = time.monotonic()

    def _wait_for_writer(self) -> None:
        if self._writing is not None:
            writing, self._writing = self._writing, None
            writing.result()

    def _write(self, batch: list[tuple[Any, ...]]) -> None:
        """Write ``batch`` in one transaction."""
        if batch:
            with _transaction(self._db):
                self._db.executemany(
                    _INSERT_ROW,
                    batch,
                )

    def finish(self, exit_status: int, counts: Mapping[str, int]) -> None:
        """Write the remaining outcomes and the run's exit status and counts."""
        self.flush()
        with _transaction(self._db):
            self._db.execute(
                """
                UPDATE runs SET finished_at = ?, exit_status = ?, rows_read = ?, synced = ?,
                       invalid = ?, failed = ?, not_sent = ?, skipped = ?
                WHERE id = ?
                """,
                (
                    _now(), exit_status, counts.get("rowsRead"), counts.get("synced"),
                    counts.get("invalid"), counts.get("failed"), counts.get("notSent"),
                    counts.get("skipped"), self.run_id,
                ),
            )

    def close(self) -> None:
        """Close the database; outcomes still queued are dropped, as in a killed process."""
        try:
            self._wait_for_writer()
        finally:
            self._writer.shutdown()
            self._db.close()


def _upgrade_version_1(connection: sqlite3.Connection) -> None:
    """Add the ``seconds`` column to a version 1 journal, leaving a new or current journal as it is."""
    (version,) = connection.execute("PRAGMA user_version").fetchone()
    if version != 1:
        return
    connection.execute("ALTER TABLE row_results ADD COLUMN seconds REAL NOT NULL DEFAULT 0")


def _unfinished_run(connection: sqlite3.Connection, digest: str) -> int | None:
    """Return the latest run of this content if it did not finish, else None.

    A run that is still going counts as unfinished too. Two runs with the
    same state directory cannot overlap, because a sending run holds the
    directory's lock (batch_sync.lock).
    """
    latest = connection.execute(
        "SELECT id, exit_status FROM runs WHERE content_hash = ? ORDER BY id DESC LIMIT 1",
        (digest,),
    ).fetchone()
    if latest is None:
        return None
    run_id, exit_status = latest
    if exit_status is None or exit_status in UNFINISHED_EXIT_STATUSES:
        return int(run_id)
    return None


class _transaction:
    """BEGIN IMMEDIATE … COMMIT, or ROLLBACK if the block raises."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._db.execute("ROLLBACK" if exc_type is not None else "COMMIT")
