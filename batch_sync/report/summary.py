"""Build the JSON summary of a run from its facts and the tally of its result lines."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batch_sync.report.tally import ReportTally
from batch_sync.validate import ValidatedTable
from schemas.report import FAILED, INVALID, NOT_SENT, SKIPPED, SYNCED, UNCHANGED


@dataclass(frozen=True)
class RunFacts:
    """Facts about one run that the summary records."""

    input_path: Path
    started: dt.datetime
    finished: dt.datetime
    dry_run: bool
    exit_status: int
    stop_reason: str = ""
    # Summary keys about sending (run id, resume, request rate, 429s),
    # added to the summary as they are.
    upload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportPaths:
    results_csv: Path
    results_xlsx: Path
    summary_json: Path
    # None when no row is invalid or failed, so there is nothing to fix.
    to_fix: Path | None = None


def report_paths(report_dir: Path, input_path: Path, started: dt.datetime) -> ReportPaths:
    """Name the report files after the input file and the run's UTC start time."""
    stamp = started.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    prefix = report_dir / f"{input_path.stem}-{stamp}"
    return ReportPaths(
        results_csv=Path(f"{prefix}-results.csv"),
        results_xlsx=Path(f"{prefix}-results.xlsx"),
        summary_json=Path(f"{prefix}-summary.json"),
    )


def build_summary(
    table: ValidatedTable,
    tally: ReportTally,
    facts: RunFacts,
    paths: ReportPaths,
    verify: dict[str, Any] | None,
) -> dict[str, Any]:
    """Return the JSON summary; the row counts add up to rowsRead."""
    counts = tally.statuses
    return {
        "inputFile": str(facts.input_path),
        "sheet": table.source.sheet,
        "encoding": table.source.encoding,
        "startedAt": facts.started.isoformat(),
        "finishedAt": facts.finished.isoformat(),
        "durationSeconds": round((facts.finished - facts.started).total_seconds(), 3),
        "dryRun": facts.dry_run,
        "exitStatus": facts.exit_status,
        "stopReason": facts.stop_reason or None,
        "rowsRead": tally.rows_read,
        "synced": counts[SYNCED],
        "unchanged": counts[UNCHANGED],
        "invalid": counts[INVALID],
        "failed": counts[FAILED],
        "notSent": counts[NOT_SENT],
        "skipped": counts[SKIPPED],
        "duplicateRows": len(table.duplicate_of),
        "blankRowsSkipped": table.source.blank_rows,
        "hiddenRows": tally.hidden_rows,
        "ignoredColumns": table.source.ignored_columns,
        "warnings": tally.warning_counts(),
        "returnedOrders": tally.returned_orders,
        "units": [
            {
                "warehouseId": warehouse,
                "inventoryType": kind,
                "rowsSent": totals.rows_sent,
                "unitsSent": totals.units_sent,
                "rowsAcknowledged": totals.rows_acknowledged,
                "unitsAcknowledged": totals.units_acknowledged,
            }
            for warehouse, kind, totals in tally.unit_rows()
        ],
        "topErrors": [{"error": text, "rows": count} for text, count in tally.top_errors()],
        "verify": verify,
        "reports": {
            "resultsCsv": str(paths.results_csv),
            "resultsXlsx": str(paths.results_xlsx),
            "summaryJson": str(paths.summary_json),
            "toFix": str(paths.to_fix) if paths.to_fix else None,
        },
        **facts.upload,
    }
