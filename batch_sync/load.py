"""Load an export file: pick the reader by extension and check the file exists."""

from __future__ import annotations

from pathlib import Path

import structlog

from batch_sync.csv_reader import read_csv
from batch_sync.errors import InputError
from batch_sync.table import SourceTable
from batch_sync.xlsx_reader import read_xlsx

log = structlog.get_logger(__name__)

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
XLSX_SUFFIXES = (".xlsx", ".xlsm")

_UNSUPPORTED_ADVICE = {
    ".xls": "it is the legacy Excel format; open it in Excel and save it as .xlsx",
    ".ods": "it is an OpenDocument spreadsheet; save it as .xlsx or CSV",
    ".numbers": "it is an Apple Numbers file; export it as .xlsx or CSV",
}


def load_table(path: Path, sheet: str | None = None) -> SourceTable:
    """Read the export at ``path``; raise InputError if it cannot be used."""
    if not path.exists():
        raise InputError(f"{path}: file not found; check the path")
    if not path.is_file():
        raise InputError(f"{path}: not a file; give the path of the exported file")

    suffix = path.suffix.lower()
    if suffix in _UNSUPPORTED_ADVICE:
        raise InputError(f"{path}: cannot read this file, because {_UNSUPPORTED_ADVICE[suffix]}")
    if suffix not in CSV_SUFFIXES + XLSX_SUFFIXES:
        raise InputError(
            f"{path}: unknown file type '{path.suffix}'; supported types are "
            f"{', '.join(CSV_SUFFIXES + XLSX_SUFFIXES)}"
        )
    if sheet is not None and suffix in CSV_SUFFIXES:
        raise InputError(f"{path}: --sheet applies only to .xlsx workbooks")

    try:
        if suffix in XLSX_SUFFIXES:
            table = read_xlsx(path, sheet)
        else:
            table = read_csv(path)
    except PermissionError as error:
        raise InputError(f"{path}: permission denied; check the file's permissions") from error

    if table.ignored_columns:
        log.info("load.ignored_columns", path=str(path), columns=table.ignored_columns)
    log.info(
        "load.done",
        path=str(path),
        rows=len(table.frame),
        blank_rows=table.blank_rows,
        cell_problems=len(table.cell_problems),
    )
    return table
