"""Read an Excel workbook into a SourceTable with the text that Excel shows.

openpyxl reports each cell's stored type and number format, and that is what
decides whether the shown text can be recovered with certainty. A SKU stored
as text is taken as it is. A SKU stored as a whole number is recovered only
when its format makes Excel show every digit (General up to 11 digits, ``0``,
or a zero-padding format such as ``000000``). Every other number, date,
boolean or error value in the SKU column is a problem on that row, because
guessing its text could send a different SKU than the one in the sheet.
"""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import structlog
from openpyxl.utils.exceptions import InvalidFileException

from batch_sync.errors import InputError
from batch_sync.table import (
    HEADER_SEARCH_ROWS,
    CellProblem,
    SourceTable,
    build_frame,
    map_header,
    matching_column_count,
)
from schemas.row import REQUIRED_COLUMNS, SKU_ID

log = structlog.get_logger(__name__)

# Excel keeps 15 significant digits, and the General format switches to
# scientific notation for whole numbers of more than 11 digits.
EXCEL_DIGITS = 15
GENERAL_MAX_DIGITS = 11

_ZERO_PADDING = re.compile(r"0+")

_TEXT_ADVICE = (
    "format the skuId column as Text, enter the id again (or export it as "
    "text), and save"
)


def open_workbook(path: Path, data_only: bool) -> Any:
    """Open a workbook for streaming, translating openpyxl's errors to InputError."""
    try:
        return openpyxl.load_workbook(
            path, read_only=True, data_only=data_only, keep_links=False
        )
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as error:
        raise InputError(
            f"{path}: the file cannot be opened as an .xlsx workbook ({error}); "
            "open it in Excel and save it again as .xlsx"
        ) from error


def sku_text_from_number(value: int | float, number_format: str) -> str | None:
    """Return the SKU that Excel shows for a number, or None if it is not certain."""
    if isinstance(value, float):
        if not value.is_integer():
            return None
        value = int(value)
    if value < 0:
        return None

    digits = str(value)
    if len(digits) > EXCEL_DIGITS:
        return None
    if number_format == "General":
        return digits if len(digits) <= GENERAL_MAX_DIGITS else None
    if number_format in ("0", "@"):
        return digits
    if _ZERO_PADDING.fullmatch(number_format):
        return digits.zfill(len(number_format))
    return None


def number_text(value: int | float) -> str:
    """Return a number's text for a number column: 3.0 becomes ``3``."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def cell_text(column: str, value: Any, number_format: str) -> tuple[str, str | None]:
    """Return the cell's text and, if it cannot be taken as shown, the reason."""
    if value is None:
        return "", None
    if isinstance(value, str):
        return value, None
    if isinstance(value, bool):
        shown = "TRUE" if value else "FALSE"
        return shown, f"{column} holds the boolean {shown}; enter a value"
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat(), (
            f"{column} holds a date, not a {'SKU id' if column == SKU_ID else 'number'}; "
            "set the cell's format to General or Text and enter the value again"
        )
    if isinstance(value, (int, float)):
        if column != SKU_ID:
            return number_text(value), None
        recovered = sku_text_from_number(value, number_format)
        if recovered is not None:
            return recovered, None
        return number_text(value), (
            f"skuId is stored as the number {number_text(value)} with format "
            f"'{number_format}', so the id Excel shows may differ from the one "
            f"stored; {_TEXT_ADVICE}"
        )
    return str(value), f"{column} holds an unsupported value; enter it as text"


def _header_cells(row: tuple[Any, ...]) -> list[str]:
    return ["" if cell.value is None else str(cell.value) for cell in row]


def _find_header(sheet: Any) -> tuple[int, list[str], int]:
    best = (0, [], -1)
    for number, row in enumerate(
        sheet.iter_rows(max_row=HEADER_SEARCH_ROWS), start=1
    ):
        cells = _header_cells(row)
        score = matching_column_count(cells)
        if score > best[2]:
            best = (number, cells, score)
        if score == len(REQUIRED_COLUMNS):
            break
    return best


def choose_sheet(workbook: Any, path: Path, sheet_name: str | None) -> Any:
    """Return the sheet named by --sheet, else the only sheet with a matching header."""
    names = [name for name in workbook.sheetnames]
    if sheet_name is not None:
        if sheet_name not in names:
            raise InputError(
                f"{path}: there is no sheet named '{sheet_name}'; the sheets are "
                f"{', '.join(repr(name) for name in names)}"
            )
        return workbook[sheet_name]

    scores = {}
    for name in names:
        sheet = workbook[name]
        if not hasattr(sheet, "iter_rows"):
            continue
        scores[name] = _find_header(sheet)[2]
    best_score = max(scores.values(), default=-1)
    best = [name for name, score in scores.items() if score == best_score]
    if len(best) == 1 or best_score < 1:
        return workbook[best[0] if best else names[0]]
    raise InputError(
        f"{path}: several sheets have a stock header ({', '.join(repr(n) for n in best)}); "
        "choose one with --sheet NAME"
    )


def _saved_formula_values(path: Path, sheet_name: str, cells: set[tuple[int, int]]):
    """Return the values Excel saved for formula cells, keyed by (row, column)."""
    workbook = open_workbook(path, data_only=True)
    try:
        sheet = workbook[sheet_name]
        wanted_rows = sorted({row for row, _ in cells})
        values = {}
        for number, row in enumerate(
            sheet.iter_rows(min_row=wanted_rows[0], max_row=wanted_rows[-1]),
            start=wanted_rows[0],
        ):
            for position, cell in enumerate(row):
                if (number, position) in cells:
                    values[(number, position)] = cell.value
        return values
    finally:
        workbook.close()


def read_xlsx(path: Path, sheet_name: str | None = None) -> SourceTable:
    """Read one sheet of a workbook; raise InputError if it cannot be used."""
    workbook = open_workbook(path, data_only=False)
    try:
        sheet = choose_sheet(workbook, path, sheet_name)
        source = f"{path} (sheet '{sheet.title}')"
        header_row, header, _ = _find_header(sheet)
        header_map = map_header(header, source)

        raw_rows = []
        formulas: set[tuple[int, int]] = set()
        blank_rows = 0
        for number, row in enumerate(
            sheet.iter_rows(min_row=header_row + 1), start=header_row + 1
        ):
            cells = {}
            for name, position in header_map.positions.items():
                cell = row[position] if position < len(row) else None
                value = None if cell is None else cell.value
                number_format = "General" if cell is None else cell.number_format
                if cell is not None and cell.data_type == "f":
                    formulas.add((number, position))
                cells[name] = (value, number_format, cell.data_type if cell else None)
            if all(value is None or str(value).strip() == "" for value, _, _ in cells.values()):
                blank_rows += 1
                continue
            raw_rows.append((number, cells))
    finally:
        workbook.close()

    saved = _saved_formula_values(path, sheet.title, formulas) if formulas else {}

    columns: dict[str, list[str]] = {name: [] for name in REQUIRED_COLUMNS}
    row_numbers: list[int] = []
    problems: list[CellProblem] = []
    for number, cells in raw_rows:
        row_numbers.append(number)
        for name, (value, number_format, data_type) in cells.items():
            position = header_map.positions[name]
            if data_type == "f":
                formula = value
                value = saved.get((number, position))
                if value is None:
                    problems.append(
                        CellProblem(
                            number,
                            name,
                            str(formula),
                            f"{name} is a formula with no saved value; open the "
                            "file in Excel, let it calculate, and save it",
                        )
                    )
                    columns[name].append("")
                    continue
            if data_type == "e" or (isinstance(value, str) and data_type == "f" and value.startswith("#")):
                problems.append(
                    CellProblem(number, name, str(value), f"{name} shows the error {value}; fix the cell")
                )
                columns[name].append(str(value))
                continue
            text, reason = cell_text(name, value, number_format)
            if reason:
                problems.append(CellProblem(number, name, text, reason))
            columns[name].append(text)

    if not row_numbers:
        raise InputError(
            f"{source}: the sheet has a header row but no data rows; export the "
            "stock list again"
        )

    log.info("load.xlsx_sheet", path=str(path), sheet=sheet.title, header_row=header_row)
    return SourceTable(
        path=path,
        frame=build_frame(columns, row_numbers),
        header_row=header_row,
        sheet=sheet.title,
        ignored_columns=header_map.ignored,
        cell_problems=problems,
        blank_rows=blank_rows,
    )
