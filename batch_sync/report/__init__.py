"""Write the reconciliation report of a run.

The report is the results CSV and workbook (one line per input row), the
JSON summary and, when some rows are invalid or failed, a to-fix file in the
input's format. Result lines stream through write_report once: each line is
written to the CSV and the workbook's Rows sheet and counted, and the
summaries are written from the counts at the end. Every file is written to a
temporary name and then renamed, so a crash never leaves a half-written file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import structlog
from openpyxl.utils.exceptions import InvalidFileException

from batch_sync.errors import InputError
from batch_sync.report.files import ResultsCsv, atomic_open
from batch_sync.report.lines import neutralise, result_lines
from batch_sync.report.summary import ReportPaths, RunFacts, build_summary, report_paths
from batch_sync.report.tally import ReportTally
from batch_sync.report.to_fix import to_fix_path, write_to_fix
from batch_sync.report.workbook import ResultsWorkbook
from batch_sync.validate import ValidatedTable

log = structlog.get_logger(__name__)

__all__ = [
    "ReportPaths",
    "ReportTally",
    "RunFacts",
    "neutralise",
    "report_paths",
    "result_lines",
    "write_report",
]


def write_report(
    report_dir: Path,
    table: ValidatedTable,
    lines: Iterable[dict[str, Any]],
    started: dt.datetime,
    facts_for: Callable[[Counter[str]], RunFacts],
    verify: dict[str, Any] | None = None,
    verify_findings: list[dict[str, Any]] | None = None,
    stopped: bool = False,
) -> tuple[ReportPaths, dict[str, Any]]:
    """Write every report file and return their paths and the JSON summary.

    ``facts_for`` receives the row counts by status and returns the run
    facts, because the exit status depends on the counts. ``verify`` is the
    verification section of the summary and ``verify_findings`` the lines of
    the Verify sheet; both are None when the run did not verify. ``stopped``
    leaves rows that failed for the reason the run stopped out of the to-fix
    file, because a re-run of the same file sends them again.
    """
    report_dir.mkdir(parents=True, exist_ok=True)
    paths = report_paths(report_dir, table.source.path, started)

    tally = ReportTally(stopped=stopped)
    results_csv = ResultsCsv(paths.results_csv)
    workbook = ResultsWorkbook(paths.results_xlsx)
    try:
        for line in lines:
            tally.add(line)
            results_csv.add(line)
            workbook.add(line)
    except BaseException:
        results_csv.discard()
        workbook.discard()
        raise
    results_csv.close()

    if tally.rows_to_fix:
        to_fix = to_fix_path(paths.results_csv, table.source.path)
        try:
            write_to_fix(to_fix, table.source, tally.rows_to_fix)
        except (OSError, UnicodeError, InputError, zipfile.BadZipFile, InvalidFileException) as error:
            # The input may have changed or gone since it was read. The rest
            # of the report still accounts for every row.
            log.error("report.to_fix_failed", path=str(to_fix), error=str(error))
        else:
            paths = dataclasses.replace(paths, to_fix=to_fix)

    facts = facts_for(tally.statuses)
    summary = build_summary(table, tally, facts, paths, verify)
    workbook.save(summary, tally, verify_findings)
    with atomic_open(paths.summary_json, encoding="utf-8") as handle:
        json.dump(summary, handle, indent=2)
        handle.write("\n")

    return paths, summary
