"""Write the reconciliation report: one result line per input row, and a JSON summary.

Every file is written to a temporary name in the report directory and then
renamed, so a crash never leaves half a report behind.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from batch_sync.upload import RowOutcome
from batch_sync.validate import ValidatedTable, describe_problems
from schemas.report import FAILED, INVALID, NOT_SENT, RESULT_COLUMNS, SKIPPED, SYNCED
from schemas.row import INVENTORY_TYPE, QUANTITY, SKU_ID, WAREHOUSE_ID

# A spreadsheet program runs a cell that starts with one of these as a formula.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[-+]?[0-9]+(\.[0-9]+)?")


@dataclass(frozen=True)
class RunFacts:
    """Facts about one run that the summary records."""

    input_path: Path
    started: dt.datetime
    finished: dt.datetime
    dry_run: bool
    exit_status: int
    stop_reason: str = ""
    # Summary keys about sending (request rate, 429s, journal run, resume),
    # added to the summary as they are.
    upload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportPaths:
    results_csv: Path
    results_xlsx: Path
    summary_json: Path


def report_paths(report_dir: Path, input_path: Path, started: dt.datetime) -> ReportPaths:
    """Name the report files after the input file and the run's UTC start time."""
    stamp = started.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    prefix = report_dir / f"{input_path.stem}-{stamp}"
    return ReportPaths(
        results_csv=Path(f"{prefix}-results.csv"),
        results_xlsx=Path(f"{prefix}-results.xlsx"),
        summary_json=Path(f"{prefix}-summary.json"),
    )


def neutralise(value: Any) -> Any:
    """Make a text value safe to open in a spreadsheet program.

    Text that a spreadsheet would run as a formula gets a leading apostrophe.
    A plain number such as ``-3`` is left alone, so it still reads as -3.
    """
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        if not _PLAIN_NUMBER.fullmatch(value):
            return "'" + value
    return value


def _result_line(row: int, source_row: Any, status: str, error: str) -> dict[str, Any]:
    return {
        "row": row,
        "skuId": source_row[SKU_ID],
        "warehouseId": source_row[WAREHOUSE_ID],
        "inventoryType": source_row[INVENTORY_TYPE],
        "quantity": source_row[QUANTITY],
        "status": status,
        "error": error,
    }


def _add_outcome(line: dict[str, Any], outcome: RowOutcome) -> None:
    line["status"] = outcome.status
    line["httpStatus"] = outcome.http_status
    line["attempts"] = outcome.attempts
    line["error"] = outcome.error
    line["warnings"] = ",".join(outcome.warnings)
    record = outcome.record
    if record is not None:
        line["returnedId"] = record.id
        line["skuName"] = record.sku_name
        line["returnedQuantity"] = record.quantity
        line["warehouseName"] = record.warehouse_name
        line["warehouseCountry"] = record.warehouse_country
        line["lastUpdateDate"] = record.last_update_date


def result_lines(
    table: ValidatedTable, outcomes: dict[int, RowOutcome], unsent_reason: str
) -> Iterator[dict[str, Any]]:
    """Yield one result line per input row, in sheet order."""
    valid_rows = table.valid
    skipped = {skipped.row: skipped for skipped in table.source.skipped_rows}
    frame_rows = ((int(row), values) for row, values in table.source.frame.iterrows())
    for row, source_row in _merge_rows(frame_rows, skipped):
        if row in skipped:
            yield _result_line(row, source_row, SKIPPED, skipped[row].reason)
            continue
        if row in table.problems:
            yield _result_line(row, source_row, INVALID, describe_problems(table.problems[row]))
            continue

        line = _result_line(row, source_row, NOT_SENT, unsent_reason)
        first = table.duplicate_of.get(row, row)
        if first in valid_rows.index:
            line["quantity"] = int(valid_rows.at[first, QUANTITY])
            line["inventoryType"] = valid_rows.at[first, INVENTORY_TYPE]
            line["warehouseId"] = int(valid_rows.at[first, WAREHOUSE_ID])
        if first in outcomes:
            _add_outcome(line, outcomes[first])
        if first != row:
            note = f"same row as row {first}, sent once"
            line["error"] = f"{note}; {line['error']}" if line["error"] else note
        yield line


def _merge_rows(
    frame_rows: Iterator[tuple[int, Any]], skipped: dict[int, Any]
) -> Iterator[tuple[int, Any]]:
    """Interleave the table's rows with the skipped rows in sheet order."""
    pending = sorted(skipped)
    for row, values in frame_rows:
        while pending and pending[0] < row:
            first = pending.pop(0)
            yield first, _skipped_values(skipped[first].values)
        yield row, values
    for first in pending:
        yield first, _skipped_values(skipped[first].values)


def _skipped_values(values: dict[str, str]) -> dict[str, str]:
    return {name: values.get(name, "") for name in (SKU_ID, QUANTITY, WAREHOUSE_ID, INVENTORY_TYPE)}


@contextmanager
def _atomic_open(path: Path, mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    handle = tempfile.NamedTemporaryFile(
        mode, dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False, **kwargs
    )
    try:
        with handle:
            yield handle
        os.replace(handle.name, path)
    except BaseException:
        os.unlink(handle.name)
        raise


def write_csv(path: Path, lines: list[dict[str, Any]]) -> None:
    with _atomic_open(path, newline="", encoding="utf-8-sig") as handle:
        writer = csv.DictWriter(handle, fieldnames=RESULT_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for line in lines:
            writer.writerow({key: neutralise(line.get(key)) for key in RESULT_COLUMNS})


def _xlsx_cell(sheet: Any, value: Any) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=neutralise(value))
    if isinstance(cell.value, str):
        # openpyxl would store text that starts with = as a formula.
        cell.data_type = "s"
    return cell


def write_xlsx(path: Path, lines: list[dict[str, Any]]) -> None:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Rows")
    sheet.freeze_panes = "A2"
    sheet.append(list(RESULT_COLUMNS))
    for line in lines:
        sheet.append([_xlsx_cell(sheet, line.get(key)) for key in RESULT_COLUMNS])
    with _atomic_open(path, "wb") as handle:
        workbook.save(handle)


def build_summary(
    table: ValidatedTable, lines: list[dict[str, Any]], facts: RunFacts, paths: ReportPaths
) -> dict[str, Any]:
    counts = status_counts(lines)
    return {
        "inputFile": str(facts.input_path),
        "sheet": table.source.sheet,
        "encoding": table.source.encoding,
        "startedAt": facts.started.isoformat(),
        "finishedAt": facts.finished.isoformat(),
        "dryRun": facts.dry_run,
        "exitStatus": facts.exit_status,
        "stopReason": facts.stop_reason or None,
        "rowsRead": len(lines),
        "synced": counts[SYNCED],
        "invalid": counts[INVALID],
        "failed": counts[FAILED],
        "notSent": counts[NOT_SENT],
        "skipped": counts[SKIPPED],
        "duplicateRows": len(table.duplicate_of),
        "blankRowsSkipped": table.source.blank_rows,
        "ignoredColumns": table.source.ignored_columns,
        "reports": {
            "resultsCsv": str(paths.results_csv),
            "resultsXlsx": str(paths.results_xlsx),
            "summaryJson": str(paths.summary_json),
        },
        **facts.upload,
    }


def status_counts(lines: list[dict[str, Any]]) -> Counter[str]:
    """Count result lines by status."""
    return Counter(line["status"] for line in lines)


def write_report(
    report_dir: Path,
    table: ValidatedTable,
    lines: list[dict[str, Any]],
    facts: RunFacts,
) -> tuple[ReportPaths, dict[str, Any]]:
    """Write the results CSV, the results XLSX and the JSON summary; return their paths."""
    report_dir.mkdir(parents=True, exist_ok=True)
    paths = report_paths(report_dir, facts.input_path, facts.started)

    write_csv(paths.results_csv, lines)
    write_xlsx(paths.results_xlsx, lines)
    summary = build_summary(table, lines, facts, paths)
    with _atomic_open(paths.summary_json, encoding="utf-8") as handle:
        json.dump(summary, handle, indent=2)
        handle.write("\n")

    return paths, summary
