"""Write the to-fix file: the invalid and failed rows in the input's own format.

The file has the input's header row and every original cell of each row to
fix, plus a last column with the reason, so the user can correct it and run
``batch-sync sync`` on it directly. The SourceTable keeps only the required
columns, so the rows are read again from the input file by sheet row number.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from batch_sync.report.files import atomic_open
from batch_sync.report.lines import neutralise
from batch_sync.table import SourceTable
from schemas.report import TO_FIX_REASON_COLUMN


def to_fix_path(results_csv: Path, input_path: Path) -> Path:
    """Name the to-fix file like the results files, with the input's extension.

    An .xlsx workbook saved under an .xls name gets a to-fix file named
    .xlsx, because that is the format the file is written in.
    """
    prefix = str(results_csv)[: -len("-results.csv")]
    suffix = input_path.suffix.lower()
    if suffix == ".xls":
        suffix = ".xlsx"
    return Path(f"{prefix}-to-fix{suffix}")


def _reason(row: int, error: str) -> str:
    return f"row {row} of the original file: {error}"


def write_to_fix(path: Path, source: SourceTable, rows_to_fix: dict[int, str]) -> None:
    """Write the rows in ``rows_to_fix`` (sheet row -> error) to ``path``."""
    if source.sheet is not None:
        _write_xlsx(path, source, rows_to_fix)
    else:
        _write_csv(path, source, rows_to_fix)


def _write_csv(path: Path, source: SourceTable, rows_to_fix: dict[int, str]) -> None:
    encoding = source.encoding or "utf-8"
    delimiter = source.delimiter or ","
    text = source.path.read_bytes().decode(encoding)
    records = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)

    # NOTE: a reason that the input's encoding cannot represent (for example
    # a non-Latin character in Windows-1252) is written with "?" in its place.
    with atomic_open(path, newline="", encoding=encoding, errors="replace") as handle:
        writer = csv.writer(handle, delimiter=delimiter)
        # Record numbers match the CSV reader's, which counts records, not lines.
        for number, record in enumerate(records, start=1):
            if number == source.header_row:
                writer.writerow([neutralise(cell) for cell in record] + [TO_FIX_REASON_COLUMN])
            elif number in rows_to_fix:
                reason = _reason(number, rows_to_fix[number])
                writer.writerow([neutralise(cell) for cell in record] + [neutralise(reason)])


def _copy_cell(sheet: Any, cell: Any) -> WriteOnlyCell:
    value = getattr(cell, "value", None)
    copy = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        # A text cell with the quote-prefix style is shown as text and never
        # run as a formula, and it keeps the exact value for the re-run, which
        # a leading apostrophe in the value would change.
        copy.data_type = "s"
        copy.quotePrefix = value != neutralise(value)
    number_format = getattr(cell, "number_format", None)
    if number_format and copy.value is not None:
        copy.number_format = number_format
    return copy


def _write_xlsx(path: Path, source: SourceTable, rows_to_fix: dict[int, str]) -> None:
    output = Workbook(write_only=True)
    # The loader has already read this workbook, so openpyxl can open it too.
    # data_only gives the value Excel saved for a formula cell, not the formula.
    # TODO: openpyxl reads every row up to the last one to fix, which takes
    # seconds per 100,000 rows. The loader's own XML reader would be faster.
    # openpyxl rejects a file name that does not end in .xlsx or .xlsm, but
    # not an open file, so a workbook saved under an .xls name opens too.
    handle = source.path.open("rb")
    workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True, keep_links=False)
    try:
        sheet = workbook[source.sheet]
        target = output.create_sheet(source.sheet or "Stock")
        target.freeze_panes = "A2"
        last = max(rows_to_fix, default=source.header_row)
        for number, row in enumerate(
            sheet.iter_rows(min_row=source.header_row, max_row=last), start=source.header_row
        ):
            if number == source.header_row:
                header = [_copy_cell(target, cell) for cell in row]
                width = len(header)
                target.append(header + [TO_FIX_REASON_COLUMN])
            elif number in rows_to_fix:
                cells = [_copy_cell(target, cell) for cell in row][:width]
                cells += [None] * (width - len(cells))
                reason = WriteOnlyCell(target, value=neutralise(_reason(number, rows_to_fix[number])))
                reason.data_type = "s"
                target.append(cells + [reason])
    finally:
        workbook.close()
        handle.close()
    with atomic_open(path, "wb") as target_file:
        output.save(target_file)
