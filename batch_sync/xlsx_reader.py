"""Read an Excel workbook into a SourceTable with the text that Excel shows.

The reader picks the sheet and its header row, then reads the needed
columns of every data row. It scans the sheet XML with regular expressions
(batch_sync.xlsx_scan) and converts whole columns (batch_sync.xlsx_columns),
and parses the sheet with ElementTree when the scan reports XML it does not
read. The rules that decide each cell's text are in batch_sync.xlsx_cells.

Hidden rows, including rows hidden by a filter, are read like any other row,
because hiding is only a view, and each gets a row note for the report.
"""

from __future__ import annotations

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
from batch_sync.xlsx_cells import cell_text
from batch_sync.xlsx_columns import SheetRows, add_piece
from batch_sync.xlsx_parts import Cell, Package, SheetInfo, open_package
from batch_sync.xlsx_scan import UnsupportedXml, scan_sheet

log = structlog.get_logger(__name__)

# Rows between two updates of the loading progress bar.
PROGRESS_STEP = 1000

# The compound-file signature that starts both a legacy .xls file and an
# encrypted (password-protected) .xlsx file.
COMPOUND_FILE_SIGNATURE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

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
    # A damaged archive can give a member a negative offset, and seek fails.
    OSError,
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
        except PermissionError:
            raise
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

    try:
        rows = scanned_rows(package, sheet, positions, header_row)
    except UnsupportedXml as error:
        log.info(
            "load.xlsx_parsed",
            path=str(path),
            sheet=sheet.name,
            reason=f"read with the slower XML parser, because {error}",
        )
        rows = parsed_rows(package, sheet, positions, header_row)

    if not rows.row_numbers:
        raise InputError(
            f"{source}: the sheet has a header row but no data rows; export the "
            "stock list again"
        )

    log.info(
        "load.xlsx_sheet",
        path=str(path),
        sheet=sheet.name,
        header_row=header_row,
        hidden_rows=len(rows.notes),
    )
    return SourceTable(
        path=path,
        frame=build_frame(rows.columns, rows.row_numbers),
        header_row=header_row,
        sheet=sheet.name,
        ignored_columns=header_map.ignored,
        cell_problems=rows.problems,
        blank_rows=rows.blank_rows,
        row_notes=rows.notes,
    )


def scanned_rows(
    package: Package, sheet: SheetInfo, positions: dict[str, int], header_row: int
) -> SheetRows:
    """Read the data rows with the regular-expression scan, or raise UnsupportedXml."""
    rows = SheetRows({name: [] for name in positions})
    # The total is unknown while streaming, so the bar shows rows read and their rate.
    with Progress(None, f"reading {sheet.name}") as progress:
        with package.archive.open(sheet.part) as stream:
            for piece in scan_sheet(stream, set(positions.values())):
                add_piece(rows, piece, positions, header_row, package)
                progress.advance(len(piece.row_numbers))
    return rows


def parsed_rows(
    package: Package, sheet: SheetInfo, positions: dict[str, int], header_row: int
) -> SheetRows:
    """Read the data rows by parsing the sheet XML with ElementTree."""
    rows = SheetRows({name: [] for name in positions})
    with Progress(None, f"reading {sheet.name}") as progress:
        for row in package.iter_rows(sheet.part, set(positions.values())):
            if row.number % PROGRESS_STEP == 0:
                progress.advance(PROGRESS_STEP)
            if row.number <= header_row:
                continue
            texts = {
                name: cell_text(name, row.cells.get(position))
                for name, position in positions.items()
            }
            if all(
                not text.strip() and reason is None for text, reason in texts.values()
            ):
                rows.blank_rows += 1
                continue

            rows.row_numbers.append(row.number)
            if row.hidden:
                rows.notes[row.number] = HIDDEN_ROW_NOTE
            for name, (text, reason) in texts.items():
                rows.columns[name].append(text)
                if reason is not None:
                    rows.problems.append(CellProblem(row.number, name, text, reason))
    return rows
