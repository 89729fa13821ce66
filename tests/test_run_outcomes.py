"""Row outcomes that a run records in its journal and the report reads back in sheet order."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from batch_sync.journal import JOURNAL_FILE, Journal, JournalEntry
from batch_sync.load import load_table
from batch_sync.report import result_lines
from batch_sync.report.tally import ReportTally
from batch_sync.upload import RowOutcome
from batch_sync.validate import ValidatedTable, validate_table
from schemas.api import InventoryRecord

DIGEST = "ef" * 32


def entry(row: int, status: str = "synced", seconds: float = 0.25) -> JournalEntry:
    record = None
    if status == "synced":
        record = InventoryRecord(
            id=f"M1-SKU-{row}",
            sku_id=f"SKU-{row}",
            quantity=row,
            warehouse_id=1,
            inventory_type="AVAILABLE",
            warehouse_name="Merchant warehouse",
        )
    return JournalEntry(
        key=(f"SKU-{row}", 1, "AVAILABLE"),
        row=row,
        status=status,
        http_status=200 if status == "synced" else 503,
        attempts=1 if status == "synced" else 6,
        record=record,
        error="" if status == "synced" else "HTTP 503: busy",
        seconds=seconds,
    )


def open_journal(state_dir: Path) -> Journal:
    return Journal.open(state_dir, Path("stock.csv"), DIGEST, restart=False)


def test_outcomes_in_row_order_across_chunks(tmp_path: Path) -> None:
    journal = open_journal(tmp_path)
    for row in (9, 2, 7, 3, 5, 4, 8):
        journal.record(entry(row, status="failed" if row == 5 else "synced"))

    outcomes = list(journal.outcomes(chunk_rows=2))
    journal.close()

    assert [outcome.row for outcome in outcomes] == [2, 3, 4, 5, 7, 8, 9]
    assert outcomes[3].status == "failed"
    assert outcomes[3].error == "HTTP 503: busy"
    assert outcomes[3].attempts == 6
    assert outcomes[3].record is None


def test_outcome_keeps_record_and_seconds(tmp_path: Path) -> None:
    journal = open_journal(tmp_path)
    journal.record(entry(2, seconds=1.5))

    (outcome,) = journal.outcomes()
    journal.close()

    assert outcome.status == "synced"
    assert outcome.http_status == 200
    assert outcome.seconds == 1.5
    assert outcome.error == ""
    assert outcome.record is not None
    assert outcome.record.id == "M1-SKU-2"
    assert outcome.record.warehouse_name == "Merchant warehouse"


def test_resumed_outcome_names_earlier_run(tmp_path: Path) -> None:
    first = open_journal(tmp_path)
    first.record(entry(2))
    first.record(entry(3, status="failed"))
    first.flush()
    first.close()

    second = open_journal(tmp_path)
    second.record(entry(3))
    outcomes = list(second.outcomes())
    second.close()

    assert [outcome.row for outcome in outcomes] == [2, 3]
    assert outcomes[0].error == f"synced by run {first.run_id}; not sent again"
    assert outcomes[0].seconds == 0.0
    assert outcomes[0].attempts == 1
    assert outcomes[1].error == ""
    assert outcomes[1].seconds == 0.25


def test_synced_rows_include_confirmed(tmp_path: Path) -> None:
    first = open_journal(tmp_path)
    first.record(entry(2))
    first.flush()
    first.close()

    second = open_journal(tmp_path)
    second.record(entry(3))
    second.record(entry(4, status="failed"))
    synced = second.synced_rows()
    second.close()

    assert synced == {2, 3}


def test_version_1_journal_gets_seconds(tmp_path: Path) -> None:
    journal = open_journal(tmp_path)
    journal.record(entry(2, seconds=0.5))
    journal.flush()
    journal.close()
    with sqlite3.connect(tmp_path / JOURNAL_FILE) as connection:
        connection.execute("DROP INDEX row_results_by_row")
        connection.execute("ALTER TABLE row_results DROP COLUMN seconds")
        connection.execute("PRAGMA user_version=1")
    connection.close()

    resumed = open_journal(tmp_path)
    outcomes = list(resumed.outcomes())
    resumed.record(entry(3, seconds=0.75))
    rows = [(outcome.row, outcome.seconds) for outcome in resumed.outcomes()]
    resumed.close()

    assert [outcome.row for outcome in outcomes] == [2]
    assert outcomes[0].seconds == 0.0
    assert rows == [(2, 0.0), (3, 0.75)]
    with sqlite3.connect(tmp_path / JOURNAL_FILE) as connection:
        (version,) = connection.execute("PRAGMA user_version").fetchone()
    connection.close()
    assert version == 2


def table_of(tmp_path: Path, text: str) -> ValidatedTable:
    path = tmp_path / "stock.csv"
    path.write_text(text)
    return validate_table(load_table(path))


def synced(row: int, quantity: int) -> RowOutcome:
    record = InventoryRecord(
        id=f"M1-{row}",
        sku_id=f"A-{row}",
        quantity=quantity,
        warehouse_id=1,
        inventory_type="AVAILABLE",
        sku_name="Item",
        last_update_date="2026-12-04T10:00:00+00:00",
        last_integration_date="2026-12-04T10:00:01+00:00",
    )
    return RowOutcome(row=row, status="synced", http_status=200, record=record, attempts=1)


def test_lines_read_outcomes_lazily(tmp_path: Path) -> None:
    table = table_of(
        tmp_path,
        "skuId,quantity,warehouseId,inventoryType\nA-2,1,1,AVAILABLE\nA-3,2,1,AVAILABLE\nA-4,3,1,AVAILABLE\n",
    )
    read_rows: list[int] = []

    def outcomes() -> Iterator[RowOutcome]:
        for outcome in (synced(2, 1), synced(3, 2), synced(4, 3)):
            read_rows.append(outcome.row)
            yield outcome

    lines = result_lines(table, outcomes(), "not sent")
    first = next(lines)

    # The lookup reads one outcome ahead, never the whole iterable.
    assert first["status"] == "synced"
    assert read_rows == [2, 3]
    assert [line["row"] for line in lines] == [3, 4]
    assert read_rows == [2, 3, 4]


def test_duplicate_line_uses_first_outcome(tmp_path: Path) -> None:
    table = table_of(
        tmp_path,
        "skuId,quantity,warehouseId,inventoryType\nA-2,1,1,AVAILABLE\nA-3,2,1,AVAILABLE\nA-2,1,1,AVAILABLE\n",
    )

    lines = list(result_lines(table, [synced(2, 1), synced(3, 2)], "not sent"))

    assert [line["status"] for line in lines] == ["synced", "synced", "synced"]
    assert lines[2]["returnedId"] == "M1-2"
    assert lines[2]["_duplicate"] is True
    assert lines[2]["notes"] == "same row as row 2, sent once"
    assert lines[2]["error"] == ""


def test_line_warnings_from_stored_record(tmp_path: Path) -> None:
    table = table_of(tmp_path, "skuId,quantity,warehouseId,inventoryType\nA-2,1,1,AVAILABLE\nA-3,2,1,AVAILABLE\n")
    failed = RowOutcome(row=3, status="failed", http_status=503, attempts=6, error="HTTP 503: busy")

    lines = list(result_lines(table, [synced(2, 5), failed], "not sent"))

    assert lines[0]["warnings"] == "quantity_mismatch (sent 1, e-CROSS stored 5)"
    assert lines[0]["_warnings"] == ("quantity_mismatch",)
    assert lines[1]["warnings"] == ""
    assert lines[1]["status"] == "failed"


def test_conflicting_repeats_share_one_error_kind(tmp_path: Path) -> None:
    table = table_of(
        tmp_path,
        "skuId,quantity,warehouseId,inventoryType\n"
        "A-2,1,1,AVAILABLE\nA-2,5,1,AVAILABLE\nB-3,1,1,AVAILABLE\nB-3,7,1,AVAILABLE\n",
    )
    tally = ReportTally()

    for line in result_lines(table, [], "not sent"):
        tally.add(line)

    ((kind, rows),) = tally.top_errors()
    assert rows == 4
    assert "has 5" not in kind
