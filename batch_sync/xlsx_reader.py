"""Read an Excel workbook into a SourceTable with the text that Excel shows.

The stored type and number format of each cell decide whether the shown text
can be recovered with certainty. A SKU stored as text is taken as it is. A
SKU stored as a whole number is recovered only when its format makes Excel
show every digit (General up to 11 digits, ``0``, or a zero-padding format
such as ``000000``). Every other number, date, boolean or error value in the
SKU column is a problem on that row, because guessing its text could send a
different SKU than the one in the sheet. A formula cell counts as the value
Excel saved with it; a formula without a saved value is a problem on its row.

Hidden rows, including rows hidden by a filter, are read like any other row,
because hiding is only a view, and each gets a row note for the report.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from pathlib import Path
from xml.etree.ElementTree import ParseError

import structlog

from batch_sync.errors import InputError
from batch_sync.progress import Progress
from batch_sync.table import (
    DEFAULT_HEADER_SPEC,
    HEADER_SEARCH_ROWS,
    HIDDEN_ROW_NOTE,
    CellProblem,
    HeaderSpec,
    SourceTable,
    build_frame,
    map_header,
    matching_column_count,
)
from batch_sync.xlsx_parts import Cell, Package, SheetInfo, open_package
from schemas.row import SKU_ID

log = structlog.get_logger(__name__)

# Rows between two updates of the loading progress bar.
PROGRESS_STEP = 1000

# Excel keeps 15 significant digits, and the General format switches to
# scientific notation for whole numbers of more than 11 digits.
EXCEL_DIGITS = 15
GENERAL_MAX_DIGITS = 11

# The compound-file signature that starts both a legacy .xls file and an
# encrypted (password-protected) .xlsx file.
COMPOUND_FILE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

_ZERO_PADDING = re.compile(r"0+")
_WHOLE_NUMBER = re.compile(r"[0-9]+(\.0*)?")
# Parts of a number format that never change which value is shown: quoted
# text, escaped characters and bracketed colours or conditions.
_FORMAT_DECORATION = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]|_.|\*.')
_DATE_FORMAT_LETTERS = re.compile(r"[dmyhs]", re.IGNORECASE)
# A comma right after the last digit placeholder divides the shown number by
# 1,000 per comma, as in "#,##0," for thousands.
_SCALING_FORMAT = re.compile(r"[0#?],+(;|$)")

_TEXT_ADVICE = (
    "format the skuId column as Text, enter the id again (or export it as "
    "text), and save"
)

# Errors that reading a damaged package can raise at any row: a broken zip
# member, bad XML, or an index or number attribute that makes no sense.
_DAMAGED_PART_ERRORS = (
    ParseError,
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    LookupError,
    ValueError,
    RuntimeError,
    NotImplementedError,
)


def check_signature(path: Path) -> None:
    """Raise InputError if the file is a kind that only looks like an .xlsx file."""
    with path.open("rb") as handle:
        start = handle.read(len(COMPOUND_FILE_SIGNATURE))
    if start == COMPOUND_FILE_SIGNATURE:
        raise InputError(
            f"{path}: the file is password-protected or is a legacy .xls "
            "workbook; open it in Excel, remove the password, and save it as .xlsx"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            kind = (
                archive.read("mimetype")[:200]
                if "mimetype" in archive.NameToInfo
                else b""
            )
    except _DAMAGED_PART_ERRORS:
        # Not a readable zip archive: opening it as a workbook reports why.
        return
    if b"opendocument" in kind:
        raise InputError(
            f"{path}: the file is an OpenDocument spreadsheet, not an "
            ".xlsx workbook; save it as .xlsx or CSV UTF-8"
        )


def date_format(number_format: str) -> bool:
    """Return whether a number format shows a number as a date or a time."""
    if number_format == "General":
        return False
    plain = _FORMAT_DECORATION.sub("", number_format)
    return bool(_DATE_FORMAT_LETTERS.search(plain))


def sku_text_from_number(stored: str, number_format: str) -> str | None:
    """Return the SKU that Excel shows for a stored number, or None if it is not certain."""
    if not _WHOLE_NUMBER.fullmatch(stored):
        return None
    digits = str(int(stored.split(".")[0]))
    if len(digits) > EXCEL_DIGITS:
        return None
    if number_format in ("General", "@"):
        return digits if len(digits) <= GENERAL_MAX_DIGITS else None
    if number_format == "0":
        return digits
    if _ZERO_PADDING.fullmatch(number_format):
        return digits.zfill(len(number_format))
    return None


def number_text(stored: str) -> str:
    """Return a stored number's text for a number column: ``3.0`` becomes ``3``."""
    try:
        value = float(stored)
    except ValueError:
        return stored
    if value.is_integer():
        return str(int(value))
    return repr(value)


def cell_text(column: str, cell: Cell | None) -> tuple[str, str | None]:
    """Return the cell's text and, if it cannot be taken as shown, the reason."""
    if cell is None:
        return "", None
    if cell.value is None:
        if cell.formula:
            return "", (
                f"{column} is a formula with no saved value; open the file in "
                "Excel, let it calculate, and save it"
            )
        return "", None

    kind = cell.kind
    if kind in ("s", "str", "inlineStr"):
        return cell.value, None
    if kind == "b":
        displayed = "TRUE" if cell.value == "1" else "FALSE"
        return (
            displayed,
            f"{column} contains the boolean {displayed}; enter the value as text",
        )
    if kind == "e":
        return cell.value, f"{column} shows the error {cell.value}; correct the cell"
    if kind == "d" or date_format(cell.number_format):
        return cell.value, (
            f"{column} contains a date, not a "
            f"{'SKU id' if column == SKU_ID else 'number'}; set the cell's format "
            "to General or Text and enter the value again"
        )
    if column != SKU_ID:
        plain_format = _FORMAT_DECORATION.sub("", cell.number_format)
        if "%" in plain_format or _SCALING_FORMAT.search(plain_format):
            return number_text(cell.value), (
                f"{column} is shown scaled (as a percentage or in thousands), so "
                "the sheet shows another number than the one stored; set the "
                "cell's format to General and check the value"
            )
        return number_text(cell.value), None

    recovered = sku_text_from_number(cell.value, cell.number_format)
    if recovered is not None:
        return recovered, None
    # The stored text is shown as it is, because a float such as 1.2345e+18
    # has no exact whole-number form that Excel would show.
    return cell.value, (
        f"skuId is stored as the number {cell.value} with format "
        f"'{cell.number_format}', so the id Excel shows may differ from the one "
        f"stored; {_TEXT_ADVICE}"
    )


def _header_text(cell: Cell) -> str:
    return cell.value or ""


def _find_header(
    package: Package, sheet: SheetInfo, spec: HeaderSpec
) -> tuple[int, list[str], int]:
    """Return (row number, cells, columns named) of the best header row of a sheet."""
    best: tuple[int, list[str], int] = (0, [], -1)
    for row in package.iter_rows(sheet.part):
        if row.number > HEADER_SEARCH_ROWS:
            break
        width = max(row.cells, default=-1) + 1
        cells = [
            _header_text(row.cells[i]) if i in row.cells else "" for i in range(width)
        ]
        score = matching_column_count(cells, spec)
        if score > best[2]:
            best = (row.number, cells, score)
        if score == len(set(spec.names.values())):
            break
    return best


def choose_sheet(
    package: Package, path: Path, sheet_name: str | None, spec: HeaderSpec
) -> SheetInfo:
    """Return the sheet named by --sheet, else the visible sheet with the best header."""
    names = [sheet.name for sheet in package.sheets]
    listed = ", ".join(repr(name) for name in names)
    if sheet_name is not None:
        for sheet in package.sheets:
            if sheet.name == sheet_name:
                return sheet
        raise InputError(
            f"{path}: there is no sheet named '{sheet_name}', because the sheets "
            f"are {listed}; give one of them with --sheet"
        )

    visible = [sheet for sheet in package.sheets if sheet.state == "visible"]
    scores = {sheet.name: _find_header(package, sheet, spec)[2] for sheet in visible}
    best_score = max(scores.values(), default=0)
    best = [sheet for sheet in visible if scores[sheet.name] == best_score]
    if best_score < 1:
        raise InputError(
            f"{path}: no visible sheet has a header row with the columns "
            f"{', '.join(spec.required)} in its first {HEADER_SEARCH_ROWS} rows, "
            f"and the sheets are {listed}; choose one with --sheet NAME or fix the header"
        )
    if len(best) > 1:
        raise InputError(
            f"{path}: several sheets have a stock header "
            f"({', '.join(repr(sheet.name) for sheet in best)}); choose one with "
            "--sheet NAME"
        )
    return best[0]


def read_xlsx(
    path: Path, sheet_name: str | None = None, spec: HeaderSpec = DEFAULT_HEADER_SPEC
) -> SourceTable:
    """Read one sheet of a workbook; raise InputError if it cannot be used."""
    check_signature(path)
    with open_package(path) as package:
        try:
            return _read_sheet(package, path, sheet_name, spec)
        except _DAMAGED_PART_ERRORS as error:
            raise InputError(
                f"{path}: the workbook is damaged ({type(error).__name__}: {error}); "
                "open it in Excel and save it again as .xlsx"
            ) from error


def _read_sheet(
    package: Package, path: Path, sheet_name: str | None, spec: HeaderSpec
) -> SourceTable:
    sheet = choose_sheet(package, path, sheet_name, spec)
    source = f"{path} (sheet '{sheet.name}')"
    header_row, header, _ = _find_header(package, sheet, spec)
    header_map = map_header(header, source, spec)
    positions = header_map.positions

    columns: dict[str, list[str]] = {name: [] for name in positions}
    row_numbers: list[int] = []
    problems: list[CellProblem] = []
    notes: dict[int, str] = {}
    blank_rows = 0
    # The total is unknown while streaming, so the bar shows rows read and their rate.
    progress = Progress(None, f"reading {sheet.name}")
    for row in package.iter_rows(sheet.part, set(positions.values())):
        if row.number % PROGRESS_STEP == 0:
            progress.advance(PROGRESS_STEP)
        if row.number <= header_row:
            continue
        texts = {
            name: cell_text(name, row.cells.get(position))
            for name, position in positions.items()
        }
        if all(not text.strip() and reason is None for text, reason in texts.values()):
            blank_rows += 1
            continue

        row_numbers.append(row.number)
        if row.hidden:
            notes[row.number] = HIDDEN_ROW_NOTE
        for name, (text, reason) in texts.items():
            columns[name].append(text)
            if reason is not None:
                problems.append(CellProblem(row.number, name, text, reason))

    progress.close()
    if not row_numbers:
        raise InputError(
            f"{source}: the sheet has a header row but no data rows; export the "
            "stock list again"
        )

    log.info(
        "load.xlsx_sheet",
        path=str(path),
        sheet=sheet.name,
        header_row=header_row,
        hidden_rows=len(notes),
    )
    return SourceTable(
        path=path,
        frame=build_frame(columns, row_numbers),
        header_row=header_row,
        sheet=sheet.name,
        ignored_columns=header_map.ignored,
        cell_problems=problems,
        blank_rows=blank_rows,
        row_notes=notes,
    )
