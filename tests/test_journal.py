"""The run journal on a real SQLite file: recording, resuming, restarting, run history."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from batch_sync.errors import InputError
from batch_sync.journal import (
    JOURNAL_FILE,
    MAX_QUEUED_ROWS,
    Journal,
    JournalEntry,
    content_hash,
    default_state_dir,
)
from schemas.api import InventoryRecord

DIGEST = "ab" * 32


def entry(index: int, status: str = "synced") -> JournalEntry:
    record = None
    if status == "synced":
        record = InventoryRecord(id=f"M1-SKU-{index}", sku_id=f"SKU-{index}", quantity=index, warehouse_id=1, inventory_type="AVAILABLE")
    return JournalEntry(
        key=(f"SKU-{index}", 1, "AVAILABLE"),
        row=index + 2,
        status=status,
        http_status=200 if status == "synced" else 503,
        attempts=2,
        record=record,
        error="" if status == "synced" else "HTTP 503: busy",
    )


def first_run(state_dir: Path, exit_status: int | None) -> Journal:
    journal = Journal.open(state_dir, Path("stock.csv"), DIGEST, restart=False)
    journal.record(entry(0))
    journal.record(entry(1))
    journal.record(entry(2, status="failed"))
    if exit_status is None:
        journal.flush()
    else:
        journal.finish(exit_status, {"rowsRead": 3, "synced": 2, "failed": 1})
    journal.close()
    return journal


def test_unfinished_run_resumed(tmp_path: Path) -> None:
    first = first_run(tmp_path, exit_status=None)

    second = Journal.open(tmp_path, Path("stock.csv"), DIGEST, restart=False)
    outcomes = {outcome.row: outcome for outcome in second.outcomes()}

    assert second.resumed_from == first.run_id
    assert second.confirmed_keys() == {("SKU-0", 1, "AVAILABLE"), ("SKU-1", 1, "AVAILABLE")}
    assert set(outcomes) == {2, 3}
    assert outcomes[3].record is not None
    assert outcomes[3].record.id == "M1-SKU-1"
    assert outcomes[3].error == f"synced by run {first.run_id}; not sent again"


@pytest.mark.parametrize("exit_status", [3, 130])
def test_stopped_run_resumed(tmp_path: Path, exit_status: int) -> None:
    first = first_run(tmp_path, exit_status=exit_status)

    second = Journal.open(tmp_path, Path("stock.csv"), DIGEST, restart=False)

    assert second.resumed_from == first.run_id
    assert len(second.confirmed_keys()) == 2


@pytest.mark.parametrize("exit_status", [0, 1])
def test_finished_run_not_resumed(tmp_path: Path, exit_status: int) -> None:
    first_run(tmp_path, exit_status=exit_status)

    second = Journal.open(tmp_path, Path("stock.csv"), DIGEST, restart=False)

    assert second.resumed_from is None
    assert second.confirmed_keys() == set()


def test_restart_ignores_unfinished_run(tmp_path: Path) -> None:
    first_run(tmp_path, exit_status=None)

    second = Journal.open(tmp_path, Path("stock.csv"), DIGEST, restart=True)

    assert second.resumed_from is None
    assert second.confirmed_keys() == set()


def test_other_content_not_resumed(tmp_path: Path) -> None:
    first_run(tmp_path, exit_status=None)

    other = Journal.open(tmp_path, Path("stock.csv"), "cd" * 32, restart=False)

    assert other.resumed_from is None


def test_resume_chain_keeps_first_sender(tmp_path: Path) -> None:
    first = first_run(tmp_path, exit_status=None)
    second = Journal.open(tmp_path, Path("stock.csv"), DIGEST, restart=False)
    second.record(entry(2))
    second.flush()

    third = Journal.open(tmp_path, Path("stock.csv"), DIGEST, restart=False)
    errors = {outcome.row: outcome.error for outcome in third.outcomes()}

    assert third.resumed_from == second.run_id
    assert len(third.confirmed_keys()) == 3
    assert errors[2] == f"synced by run {first.run_id}; not sent again"
    assert errors[4] == f"synced by run {second.run_id}; not sent again"


def test_unflushed_batch_lost_on_kill(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path, Path("stock.csv"), DIGEST, restart=False)
    journal.record(entry(0))

    with sqlite3.connect(tmp_path / JOURNAL_FILE) as reader:
        (count,) = reader.execute("SELECT count(*) FROM row_results").fetchone()

    assert count == 0


def test_finish_records_run_counts(tmp_path: Path) -> None:
    journal = first_run(tmp_path, exit_status=1)

    with sqlite3.connect(tmp_path / JOURNAL_FILE) as reader:
        run = reader.execute(
            "SELECT input_path, content_hash, exit_status, rows_read, synced, failed, finished_at FROM runs WHERE id = ?",
            (journal.run_id,),
        ).fetchone()
        (mode,) = reader.execute("PRAGMA journal_mode").fetchone()

    assert run[:6] == ("stock.csv", DIGEST, 1, 3, 2, 1)
    assert run[6] is not None
    assert mode == "wal"


def test_content_hash_is_sha256(tmp_path: Path) -> None:
    path = tmp_path / "stock.csv"
    path.write_bytes(b"abc")

    assert content_hash(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_default_state_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_state_dir() == tmp_path / "batch-sync"

    monkeypatch.delenv("XDG_STATE_HOME")
    assert default_state_dir() == Path.home() / ".local" / "state" / "batch-sync"


def test_unwritable_state_dir_is_input_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")

    with pytest.raises(InputError, match="cannot open the run journal"):
        Journal.open(blocker / "state", Path("stock.csv"), DIGEST, restart=False)


def test_slow_writer_bounds_queued_outcomes(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path, Path("stock.csv"), "digest", restart=False)
    write = journal._write
    batch_sizes: list[int] = []

    def slow_write(batch: list) -> None:
        batch_sizes.append(len(batch))
        time.sleep(0.05)
        write(batch)

    journal._write = slow_write  # type: ignore[method-assign]
    for index in range(3 * MAX_QUEUED_ROWS):
        journal.record(entry(index))
    journal.flush()

    assert max(batch_sizes) <= MAX_QUEUED_ROWS
    assert sum(batch_sizes) == 3 * MAX_QUEUED_ROWS
    assert len(list(journal.outcomes())) == 3 * MAX_QUEUED_ROWS
    journal.close()
