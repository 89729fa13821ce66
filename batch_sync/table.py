"""The table that a reader hands to validation, and the header matching both readers use."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from batch_sync.errors import InputError
from schemas.row import REQUIRED_COLUMNS, header_key

# The row note of a sheet row that is hidden or filtered out. Such a row is
# read like any other, because hiding is only a view.
HIDDEN_ROW_NOTE = "the row is hidden in the sheet (hidden or filtered out) and was read"

# Readers look for the header in this many rows at the top of a sheet, because
# exports often put a title or a note above it.
HEADER_SEARCH_ROWS = 20


@dataclass(frozen=True)
class HeaderSpec:
    """The header names that identify each column the job reads.

    ``names`` maps a header key (see ``header_key``) to the column it names.
    ``required`` lists the columns the header row must have. A column mapping
    file can add names and make a column optional by giving it a default.
    """

    names: dict[str, str]
    required: tuple[str, ...] = REQUIRED_COLUMNS


DEFAULT_HEADER_SPEC = HeaderSpec({header_key(name): name for name in REQUIRED_COLUMNS})


@dataclass(frozen=True)
class CellProblem:
    """A cell that a reader could not turn into the text the sheet shows."""

    row: int
    column: str
    value: str
    reason: str


@dataclass(frozen=True)
class SkippedRow:
    """A data row that a reader left out by a documented rule, with that rule."""

    row: int
    values: dict[str, str]
    reason: str


@dataclass
class SourceTable:
    """The required columns of one sheet, as text, indexed by sheet row number.

    Row numbers are the ones a spreadsheet program shows, with the first row
    of the file as 1. Missing cells are empty strings, never NaN.
    """

    path: Path
    frame: pd.DataFrame
    header_row: int
    sheet: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    decimal_comma: bool = False
    ignored_columns: list[str] = field(default_factory=list)
    cell_problems: list[CellProblem] = field(default_factory=list)
    skipped_rows: list[SkippedRow] = field(default_factory=list)
    blank_rows: int = 0
    # Facts about a row that do not make it invalid, such as "hidden in the
    # sheet", keyed by sheet row number, for the report to show.
    row_notes: dict[int, str] = field(default_factory=dict)


@dataclass(frozen=True)
class HeaderMap:
    """The position of each required column in the header row, and the ignored headers."""

    positions: dict[str, int]
    ignored: list[str]


def matching_column_count(cells: list[str], spec: HeaderSpec) -> int:
    """Return how many of the spec's columns a candidate header row names."""
    names = {spec.names.get(header_key(cell)) for cell in cells if cell}
    names.discard(None)
    return len(names)


def map_header(cells: list[str], source: str, spec: HeaderSpec) -> HeaderMap:
    """Find the spec's columns in a header row, raising InputError if a required one is missing.

    ``source`` names the file (and sheet) in the error message.
    """
    positions: dict[str, int] = {}
    ignored: list[str] = []
    for position, cell in enumerate(cells):
        name = spec.names.get(header_key(cell))
        if name is None:
            if cell.strip():
                ignored.append(cell.strip())
            continue
        if name in positions:
            first = cells[positions[name]].strip()
            raise InputError(
                f"{source}: the columns '{first}' and '{cell.strip()}' both name "
                f"{name}; delete or rename one of them"
            )
        positions[name] = position

    missing = [name for name in spec.required if name not in positions]
    if missing:
        # At most 10 names of 40 characters, so a binary file gives a short message.
        names = [cell.strip()[:40] for cell in cells if cell.strip()]
        found = ", ".join(f"'{name}'" for name in names[:10])
        if len(names) > 10:
            found += f" and {len(names) - 10} more"
        raise InputError(
            f"{source}: missing required column(s) {', '.join(missing)}, because "
            f"the header row has {found or 'no names'}; add the missing columns, "
            "rename the headers or map them in a --mapping file"
        )
    return HeaderMap(positions=positions, ignored=ignored)


def build_frame(columns: dict[str, list[str]], row_numbers: list[int]) -> pd.DataFrame:
    """Build the text frame for validation, one column per column found."""
    frame = pd.DataFrame(
        {name: pd.Series(values, dtype="str") for name, values in columns.items()}
    )
    frame.index = pd.Index(row_numbers, dtype="int64", name="row")
    return frame
