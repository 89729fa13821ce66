"""Run history in a real journal file: details, lookups and compaction."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from batch_sync.commands.history import format_history
from batch_sync.history import RunHistory, RunRecord, source_key
from batch_sync.journal import JOURNAL_FILE, Journal, JournalEntry

NOW = dt.datetime.now(dt.timezone.utc)


def finished_run(state_dir: Path, input_path: Path, digest: str, exit_status: int, rows: int) -> int:
    journal = Journal.open(state_dir, input_path, digest, restart=False)
    for index in range(rows):
        journal.record(JournalEntry((f"SKU-{index}", 1, "AVAILABLE"), index + 2, "synced", 200, 1, None, ""))
    journal.finish(exit_status, {"rowsRead": rows, "synced": rows})
    journal.close()
    return journal.run_id


def test_source_key_ignores_dates(tmp_path: Path) -> None:
    assert source_key(tmp_path / "stock-2026-12-03.csv") == source_key(tmp_path / "stock-2026-12-04.csv")
    assert source_key(tmp_path / "stock.csv") != source_key(tmp_path / "other.csv")


def test_completed_run_found_by_content(tmp_path: Path) -> None:
    run_id = finished_run(tmp_path, tmp_path / "a.csv", "hash-a", 1, 3)

    with RunHistory(tmp_path) as history:
        assert history.completed_run_with_content("hash-a") == (run_id, 1)
        assert history.completed_run_with_content("hash-b") is None


def test_last_completed_run_has_details(tmp_path: Path) -> None:
    path = tmp_path / "stock-20261203.csv"
    run_id = finished_run(tmp_path, path, "hash-a", 0, 4)
    with RunHistory(tmp_path) as history:
        history.record_details(run_id, source_key(path), 4, 1, {"rowsRead": 4})

    with RunHistory(tmp_path) as history:
        previous = history.last_completed_run(source_key(tmp_path / "stock-20261204.csv"))

    assert previous is not None
    assert previous.run_id == run_id
    assert previous.rows_read == 4
    assert previous.zero_rows == 1


def test_compaction_keeps_runs_and_unfinished_rows(tmp_path: Path) -> None:
    old = finished_run(tmp_path, tmp_path / "old.csv", "hash-old", 0, 5)
    unfinished = Journal.open(tmp_path, tmp_path / "killed.csv", "hash-killed", restart=False)
    unfinished.record(JournalEntry(("K-1", 1, "AVAILABLE"), 2, "synced", 200, 1, None, ""))
    unfinished.flush()
    unfinished.close()
    with sqlite3.connect(tmp_path / JOURNAL_FILE) as connection:
        connection.execute("UPDATE runs SET started_at = '2020-01-01T00:00:00+00:00'")

    with RunHistory(tmp_path) as history:
        removed = history.compact(30, NOW)
        runs = history.recent_runs(10)

    with sqlite3.connect(tmp_path / JOURNAL_FILE) as connection:
        remaining = dict(connection.execute("SELECT run_id, count(*) FROM row_results GROUP BY run_id"))
    assert removed == 5
    assert {run.run_id for run in runs} == {old, unfinished.run_id}
    assert old not in remaining
    assert remaining[unfinished.run_id] == 1


def test_zero_retention_keeps_rows(tmp_path: Path) -> None:
    finished_run(tmp_path, tmp_path / "a.csv", "hash-a", 0, 2)

    with RunHistory(tmp_path) as history:
        assert history.compact(0, NOW) == 0


def test_history_separates_rows_to_fix_from_unsent_rows() -> None:
    record = RunRecord(
        run_id=7,
        input_path="stock.csv",
        started_at="2026-12-01T02:00:00+00:00",
        finished_at=None,
        exit_status=3,
        rows_read=20,
        synced=10,
        invalid=2,
        failed=1,
        not_sent=7,
        resumed_from=None,
        summary=None,
    )

    header, line = format_history([record]).splitlines()

    assert header.split()[-3:] == ["fix", "unsent", "file"]
    assert line.split() == ["7", "2026-12-01", "02:00:00", "3", "20", "10", "3", "7", "stock.csv"]
