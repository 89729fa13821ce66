"""Turn scanned cells into the text of each needed column, a piece of the sheet at a time.

Most cells of a column share a few stored types and number formats for
which the cell rules (batch_sync.xlsx_cells) show the stored value as it
is: text, and whole numbers in a plain format. Those cells are converted a
column at a time. Every other cell goes through ``cell_text`` on its own,
so each rule and message stays in one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

import numpy as np

from batch_sync.table import HIDDEN_ROW_NOTE, CellProblem
from batch_sync.xlsx_cells import cell_text
from batch_sync.xlsx_parts import Cell, Package, stored_value, unescape
from batch_sync.xlsx_scan import ScannedCells, ScannedPiece, UnsupportedXml

TEXT_KINDS = ("s", "str", "inlineStr")

# A whole number as a spreadsheet program stores it: no sign, no leading
# zero, at most 15 digits, so a float stores it exactly.
_STORED_WHOLE_NUMBER = re.compile(r"0|[1-9][0-9]{0,14}")
_STORED_WHOLE_NUMBERS = re.compile(r"(?:(?:0|[1-9][0-9]{0,14})\n)*")
_ATTRIBUTE = re.compile(r' ([a-z]+)="([^"]*)"')


@dataclass
class SheetRows:
    """The data rows of a sheet: the text of each column, row numbers, problems and notes."""

    columns: dict[str, list[str]]
    row_numbers: list[int] = field(default_factory=list)
    problems: list[CellProblem] = field(default_factory=list)
    notes: dict[int, str] = field(default_factory=dict)
    blank_rows: int = 0


def add_piece(
    rows: SheetRows,
    piece: ScannedPiece,
    positions: dict[str, int],
    header_row: int,
    package: Package,
) -> None:
    """Add the data rows of one scanned piece, leaving out blank rows and counting them."""
    numbers = piece.row_numbers
    count = len(numbers)
    filled = np.zeros(count, dtype=bool)
    texts: dict[str, np.ndarray] = {}
    reasons: dict[str, dict[int, str]] = {}
    for name, position in positions.items():
        cells = piece.columns[position]
        slots = _row_slots(numbers, cells.rows)
        cell_texts, cell_reasons = column_texts(name, cells, package)

        column = np.full(count, "", dtype=object)
        column[slots] = cell_texts
        texts[name] = column
        filled[slots] |= np.fromiter(
            map(bool, map(str.strip, cell_texts)), bool, len(cell_texts)
        )
        filled[slots[list(cell_reasons)]] = True
        reasons[name] = {
            int(cells.rows[index]): reason for index, reason in cell_reasons.items()
        }

    data = numbers > header_row
    keep = filled & data
    rows.blank_rows += int(data.sum()) - int(keep.sum())
    rows.row_numbers.extend(numbers[keep].tolist())
    for name, column in texts.items():
        rows.columns[name].extend(column[keep].tolist())

    if piece.hidden_rows:
        hidden = np.array(piece.hidden_rows, dtype=np.int64)
        for number in hidden[np.isin(hidden, numbers[keep])].tolist():
            rows.notes[number] = HIDDEN_ROW_NOTE
    problem_rows = sorted({row for found in reasons.values() for row in found})
    for row in problem_rows:
        if row <= header_row:
            continue
        for name in positions:
            if row in reasons[name]:
                text = texts[name][np.searchsorted(numbers, row)]
                rows.problems.append(CellProblem(row, name, text, reasons[name][row]))


def _row_slots(numbers: np.ndarray, cell_rows: np.ndarray) -> np.ndarray:
    """Return the index in ``numbers`` of each cell's row, or raise UnsupportedXml on a mismatch."""
    slots = np.searchsorted(numbers, cell_rows)
    if not len(slots):
        return slots
    if slots.max() >= len(numbers) or (numbers[slots] != cell_rows).any():
        raise UnsupportedXml("a cell's reference names a row that the sheet lacks")
    if len(slots) > 1 and not (np.diff(slots) > 0).all():
        raise UnsupportedXml("a row has two cells in the same column")
    return slots


def column_texts(
    name: str, cells: ScannedCells, package: Package
) -> tuple[np.ndarray, dict[int, str]]:
    """Return each cell's text, and the reason by cell index where it cannot be taken as shown."""
    count = len(cells.rows)
    texts = np.empty(count, dtype=object)
    reasons: dict[int, str] = {}
    element_texts = _element_texts(cells)
    formulas = np.zeros(count, dtype=bool)
    if any(cells.formulas):
        formulas = np.array(cells.formulas, dtype=object) != ""

    for attributes, indexes in _cells_by_attributes(cells.attributes):
        kind, number_format = _kind_and_format(attributes, package.formats)
        values = element_texts[indexes]
        empty = values == ""
        # A cell with no value and no formula is blank whatever its type.
        texts[indexes[empty & ~formulas[indexes]]] = ""

        bulk = ~empty & _shown_as_stored(name, kind, number_format)
        if kind == "n" and bulk.any():
            bulk &= _stored_whole_numbers(values)
        texts[indexes[bulk]] = _stored_texts(
            kind, values[bulk], package.shared_strings
        )

        for index in indexes[~bulk & (~empty | formulas[indexes])].tolist():
            cell = Cell(
                kind,
                stored_value(kind, _element_text(cells, index), package.shared_strings),
                number_format,
                bool(cells.formulas[index]),
            )
            texts[index], reason = cell_text(name, cell)
            if reason is not None:
                reasons[index] = reason
    return texts, reasons


def _element_texts(cells: ScannedCells) -> np.ndarray:
    """Return each cell's ``<v>`` text, or its inline string with Excel's escapes replaced."""
    texts = np.array(cells.values, dtype=object)
    if not any(cells.inline_tags):
        return texts
    inline_texts = cells.inline_texts
    if "_x" in "".join(inline_texts):
        inline_texts = [unescape(text) for text in inline_texts]
    if all(cells.inline_tags):
        return np.array(inline_texts, dtype=object)
    inline = np.array(cells.inline_tags, dtype=object) != ""
    texts[inline] = np.array(inline_texts, dtype=object)[inline]
    return texts


def _element_text(cells: ScannedCells, index: int) -> str | None:
    if cells.inline_tags[index]:
        return unescape(cells.inline_texts[index])
    if cells.value_tags[index]:
        return cells.values[index]
    return None


def _cells_by_attributes(
    attributes: list[str],
) -> list[tuple[str, np.ndarray]]:
    """Group cell indexes by their attribute text, which sets type and style."""
    distinct = list(set(attributes))
    if len(distinct) == 1:
        return [(distinct[0], np.arange(len(attributes)))]
    codes = {text: code for code, text in enumerate(distinct)}
    cell_codes = np.fromiter(map(codes.__getitem__, attributes), np.intp, len(attributes))
    return [(text, np.flatnonzero(cell_codes == code)) for text, code in codes.items()]


def _kind_and_format(attributes: str, formats: list[str]) -> tuple[str, str]:
    """Return the cell type and number format that a cell's attributes set."""
    pairs = _ATTRIBUTE.findall(attributes)
    values = dict(pairs)
    if len(values) != len(pairs):
        raise UnsupportedXml(f"a cell repeats an attribute: {attributes!r}")
    try:
        style = int(values.get("s", "0"))
    except ValueError as error:
        raise UnsupportedXml(f"a cell has an invalid style: {attributes!r}") from error
    number_format = formats[style] if style < len(formats) else "General"
    return values.get("t", "n"), number_format


@cache
def _shown_as_stored(column: str, kind: str, number_format: str) -> bool:
    """Return whether the cell rules show a column's values of this type and format as stored.

    For numbers, the rules look only at the number of digits of a whole
    number, so a format that shows both a 1-digit and a 15-digit whole
    number as stored shows every whole number in between as stored.
    """
    if kind not in TEXT_KINDS and kind != "n":
        return False
    samples = ("1", "123456789012345") if kind == "n" else ("text",)
    return all(
        cell_text(column, Cell(kind, sample, number_format, False)) == (sample, None)
        for sample in samples
    )


def _stored_whole_numbers(values: np.ndarray) -> np.ndarray:
    """Return which values are whole numbers as a spreadsheet program stores them."""
    # One match over the joined values is much cheaper than one per value,
    # and in most columns every value passes.
    if _STORED_WHOLE_NUMBERS.fullmatch("\n".join(values) + "\n"):
        return np.ones(len(values), dtype=bool)
    matches = map(_STORED_WHOLE_NUMBER.fullmatch, values)
    return np.fromiter(map(bool, matches), bool, len(values))


def _stored_texts(
    kind: str, values: np.ndarray, shared_strings: list[str]
) -> np.ndarray:
    if kind == "s":
        return np.array([shared_strings[int(value)] for value in values], dtype=object)
    if kind == "str":
        return np.array([unescape(value) for value in values], dtype=object)
    return values
