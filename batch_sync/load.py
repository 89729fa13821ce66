"""Load an export file: check it can be used, pick the reader, apply the column mapping."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import structlog

from batch_sync.csv_reader import read_csv
from batch_sync.errors import InputError
from batch_sync.mapping import apply_mapping, read_mapping
from batch_sync.table import DEFAULT_HEADER_SPEC, SourceTable
from batch_sync.xlsx_reader import read_xlsx
from schemas.report import FORMULA_STARTS, TO_FIX_REASON_COLUMN

log = structlog.get_logger(__name__)

CSV_SUFFIXES = (".csv", ".tsv", ".txt")
XLSX_SUFFIXES = (".xlsx", ".xlsm")

# NOTE: an estimate, not a measured limit. A 1,000,000-row stock CSV is about
# 40 MB, so 200 MB leaves room for wide exports while stopping a wrong file
# (a database dump, a video) before it is read into memory.
DEFAULT_MAX_FILE_MB = 200

_UNSUPPORTED_ADVICE = {
    ".xls": "it is the legacy Excel format; open it in Excel and save it as .xlsx",
    ".xlsb": "it is the binary Excel format; open it in Excel and save it as .xlsx",
    ".ods": "it is an OpenDocument spreadsheet; save it as .xlsx or CSV UTF-8",
    ".numbers": "it is an Apple Numbers file; export it as .xlsx or CSV UTF-8",
}


def _is_xlsx_package(path: Path) -> bool:
    """Return whether the file is a zip package with an Excel workbook part."""
    try:
        with zipfile.ZipFile(path) as archive:
            return "xl/workbook.xml" in archive.NameToInfo
    except (OSError, zipfile.BadZipFile):
        return False


def check_file(path: Path, max_file_mb: float) -> str:
    """Return the file's lower-case suffix, or raise InputError if the job cannot read it."""
    if not path.exists():
        raise InputError(f"{path}: file not found; check the path")
    if not path.is_file():
        raise InputError(f"{path}: not a file; give the path of the exported file")

    suffix = path.suffix.lower()
    if suffix == ".xls" and _is_xlsx_package(path):
        # Some export tools name an .xlsx workbook .xls, so the content decides.
        log.warning("load.xlsx_named_xls", path=str(path))
        suffix = ".xlsx"
    if suffix in _UNSUPPORTED_ADVICE:
        raise InputError(
            f"{path}: cannot read this file, because {_UNSUPPORTED_ADVICE[suffix]}"
        )
    if suffix not in CSV_SUFFIXES + XLSX_SUFFIXES:
        raise InputError(
            f"{path}: unknown file type '{path.suffix}'; save the export as one of "
            f"{', '.join(CSV_SUFFIXES + XLSX_SUFFIXES)}"
        )

    size_mb = path.stat().st_size / 1_000_000
    if size_mb > max_file_mb:
        raise InputError(
            f"{path}: the file is {size_mb:,.1f} MB, more than the limit of "
            f"{max_file_mb:,g} MB; check that it is the stock export, or raise the "
            "limit with --max-file-size"
        )
    if size_mb == 0:
        raise InputError(f"{path}: the file is empty; export the stock list again")
    return suffix


# The apostrophe that the report writer puts before text a spreadsheet would
# run as a formula (see batch_sync.report.lines.neutralise).
_FORMULA_GUARD = "^'(?=[" + re.escape("".join(FORMULA_STARTS)) + "])"


def remove_formula_guards(table: SourceTable) -> None:
    """Remove the apostrophes that the to-fix CSV writer added, so values are sent as exported.

    Only files with the to-fix reason column are changed, because only the
    report writer adds such an apostrophe. NOTE: a value that began with an
    apostrophe and a formula character in the original export also loses the
    apostrophe when its to-fix file is synced.
    """
    for column in table.frame.columns:
        table.frame[column] = table.frame[column].str.replace(_FORMULA_GUARD, "", regex=True)


def load_table(
    path: Path,
    sheet: str | None = None,
    mapping_path: Path | None = None,
    max_file_mb: float = DEFAULT_MAX_FILE_MB,
    csv_encoding: str | None = None,
) -> SourceTable:
    """Read the export at ``path``; raise InputError if it cannot be used.

    ``mapping_path`` names a column mapping file (TOML), read before the
    export so that a broken mapping stops the run first. ``csv_encoding``
    is the encoding of a CSV file without a byte-order mark; None detects it.
    """
    mapping = read_mapping(mapping_path) if mapping_path is not None else None
    spec = mapping.header_spec() if mapping is not None else DEFAULT_HEADER_SPEC

    suffix = check_file(path, max_file_mb)
    if sheet is not None and suffix in CSV_SUFFIXES:
        raise InputError(
            f"{path}: --sheet applies only to .xlsx workbooks; leave it out for "
            "a CSV file"
        )

    try:
        if suffix in XLSX_SUFFIXES:
            table = read_xlsx(path, sheet, spec)
        else:
            table = read_csv(path, spec, csv_encoding)
    except PermissionError as error:
        raise InputError(
            f"{path}: permission denied; check the file's permissions"
        ) from error

    if mapping is not None:
        table = apply_mapping(table, mapping)
    if suffix not in XLSX_SUFFIXES and TO_FIX_REASON_COLUMN in table.ignored_columns:
        remove_formula_guards(table)

    if table.ignored_columns:
        log.info("load.ignored_columns", path=str(path), columns=table.ignored_columns)
    log.info(
        "load.done",
        path=str(path),
        rows=len(table.frame),
        blank_rows=table.blank_rows,
        skipped_rows=len(table.skipped_rows),
        cell_problems=len(table.cell_problems),
    )
    return table
