"""Read a column mapping file (TOML) and apply it to a loaded table.

A mapping file lets a site read an export whose headers and values differ
from ours. It has four optional tables:

- ``[columns]``: our column name = the export's header name, or a list of them.
- ``[defaults]``: a value for ``warehouseId`` or ``inventoryType`` when the
  export has no such column. A blank cell in a column that exists stays blank.
- ``[warehouses]``: a value of the warehouseId column, such as a location
  name, = an e-CROSS warehouse id. With this table, a row whose value is not
  listed is skipped, never guessed.
- ``[placeholders]``: values that mean "no value" in a column. The form
  ``quantity = ["n/a", "-"]`` makes such rows invalid with a reason. The
  table form ``[placeholders.quantity]`` gives each value a treatment:
  ``"invalid"``, ``"skip"`` (the row is skipped) or ``{ replace = "VALUE" }``
  (the cell reads as VALUE).

Location and placeholder values match with case and surrounding spaces
ignored. ``sample_files/shopify-mapping.toml`` is a commented example.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from batch_sync.errors import InputError
from batch_sync.table import CellProblem, HeaderSpec, SkippedRow, SourceTable
from schemas.row import (
    INVENTORY_TYPE,
    INVENTORY_TYPES,
    REQUIRED_COLUMNS,
    WAREHOUSE_ID,
    header_key,
)

INVALID = "invalid"
SKIP = "skip"
REPLACE = "replace"

_TABLES = ("columns", "defaults", "warehouses", "placeholders")
_DEFAULTABLE = (WAREHOUSE_ID, INVENTORY_TYPE)


@dataclass(frozen=True)
class Placeholder:
    """The treatment of a placeholder value: invalid, skip, or replace with ``value``."""

    action: str
    value: str = ""


@dataclass(frozen=True)
class ColumnMapping:
    """A validated mapping file. Location and placeholder keys are match keys."""

    path: Path
    headers: dict[str, list[str]]
    defaults: dict[str, str]
    warehouses: dict[str, int]
    placeholders: dict[str, dict[str, Placeholder]]

    def header_spec(self) -> HeaderSpec:
        """Return the header names of each column: ours plus the mapped ones."""
        names = {header_key(name): name for name in REQUIRED_COLUMNS}
        for column, headers in self.headers.items():
            for header in headers:
                names[header_key(header)] = column
        required = tuple(name for name in REQUIRED_COLUMNS if name not in self.defaults)
        return HeaderSpec(names, required)


def match_key(value: str) -> str:
    """Return the form of a location or placeholder value used for matching."""
    return value.strip().casefold()


def _text_list(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if (
        isinstance(value, list)
        and value
        and all(isinstance(item, str) for item in value)
    ):
        return list(value)
    return None


def _read_columns(table: dict[str, Any], problems: list[str]) -> dict[str, list[str]]:
    headers = {}
    seen: dict[str, str] = {}
    for column, value in table.items():
        names = _text_list(value)
        for name in names or []:
            other = seen.setdefault(header_key(name), column)
            if other != column:
                problems.append(
                    f"[columns] maps the header '{name}' to both {other} and {column}"
                )
        if column not in REQUIRED_COLUMNS:
            problems.append(
                f"[columns] has '{column}', which is not one of {', '.join(REQUIRED_COLUMNS)}"
            )
        elif names is None:
            problems.append(
                f"[columns] {column} must be a header name or a list of header names"
            )
        else:
            headers[column] = names
    return headers


def _read_defaults(table: dict[str, Any], problems: list[str]) -> dict[str, str]:
    defaults = {}
    for column, value in table.items():
        if (
            column == WAREHOUSE_ID
            and isinstance(value, int)
            and not isinstance(value, bool)
            and value > 0
        ):
            defaults[column] = str(value)
        elif column == INVENTORY_TYPE and value in INVENTORY_TYPES:
            defaults[column] = value
        elif column in _DEFAULTABLE:
            expected = (
                "a whole number of 1 or more"
                if column == WAREHOUSE_ID
                else " or ".join(INVENTORY_TYPES)
            )
            problems.append(
                f"[defaults] {column} is {value!r}, but it must be {expected}"
            )
        else:
            problems.append(
                f"[defaults] has '{column}', but only {' and '.join(_DEFAULTABLE)} can have a default"
            )
    return defaults


def _read_warehouses(table: dict[str, Any], problems: list[str]) -> dict[str, int]:
    warehouses = {}
    for location, warehouse_id in table.items():
        if (
            isinstance(warehouse_id, int)
            and not isinstance(warehouse_id, bool)
            and warehouse_id > 0
        ):
            warehouses[match_key(location)] = warehouse_id
        else:
            problems.append(
                f"[warehouses] '{location}' is {warehouse_id!r}, but it must be a warehouse id of 1 or more"
            )
    return warehouses


def _read_placeholder(
    column: str, value: str, treatment: Any, problems: list[str]
) -> Placeholder | None:
    if treatment in (INVALID, SKIP):
        return Placeholder(treatment)
    if isinstance(treatment, dict) and set(treatment) == {REPLACE}:
        replacement = treatment[REPLACE]
        if isinstance(replacement, (str, int)) and not isinstance(replacement, bool):
            return Placeholder(REPLACE, str(replacement))
    problems.append(
        f'[placeholders.{column}] \'{value}\' must be "invalid", "skip" or '
        '{ replace = "VALUE" }'
    )
    return None


def _read_placeholders(
    table: dict[str, Any], problems: list[str]
) -> dict[str, dict[str, Placeholder]]:
    placeholders: dict[str, dict[str, Placeholder]] = {}
    for column, values in table.items():
        if column not in REQUIRED_COLUMNS:
            problems.append(
                f"[placeholders] has '{column}', which is not one of "
                f"{', '.join(REQUIRED_COLUMNS)}"
            )
            continue
        listed = _text_list(values)
        if listed is not None:
            # A plain list of values makes each of them invalid, the default.
            values = dict.fromkeys(listed, INVALID)
        if not isinstance(values, dict):
            problems.append(
                f"[placeholders] {column} must be a list of values or a table of "
                "value = treatment"
            )
            continue
        for value, treatment in values.items():
            placeholder = _read_placeholder(column, value, treatment, problems)
            if placeholder is not None:
                placeholders.setdefault(column, {})[match_key(value)] = placeholder
    return placeholders


def read_mapping(path: Path) -> ColumnMapping:
    """Read and check a mapping file, raising InputError that lists every problem."""
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise InputError(
            f"{path}: mapping file not found; check the --mapping path"
        ) from error
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(
            f"{path}: cannot read the mapping file ({error}); save it as UTF-8 text"
        ) from error
    except tomllib.TOMLDecodeError as error:
        raise InputError(
            f"{path}: the mapping file is not valid TOML ({error}); correct it"
        ) from error

    problems: list[str] = []
    for name, value in document.items():
        if name not in _TABLES or not isinstance(value, dict):
            problems.append(
                f"'{name}' is not one of the tables {', '.join(f'[{t}]' for t in _TABLES)}"
            )
    mapping = ColumnMapping(
        path=path,
        headers=_read_columns(_table(document, "columns"), problems),
        defaults=_read_defaults(_table(document, "defaults"), problems),
        warehouses=_read_warehouses(_table(document, "warehouses"), problems),
        placeholders=_read_placeholders(_table(document, "placeholders"), problems),
    )
    if problems:
        raise InputError(
            f"{path}: the mapping file is invalid, because {'; '.join(problems)}; correct it"
        )
    return mapping


def _table(document: dict[str, Any], name: str) -> dict[str, Any]:
    value = document.get(name, {})
    return value if isinstance(value, dict) else {}


def apply_mapping(table: SourceTable, mapping: ColumnMapping) -> SourceTable:
    """Apply defaults, placeholders and the location table to a loaded table."""
    original = table.frame
    frame = original.copy()
    for column, value in mapping.defaults.items():
        if column not in frame.columns:
            frame[column] = value
    frame = frame[list(REQUIRED_COLUMNS)]

    skip_reasons: dict[int, str] = {}
    problems = list(table.cell_problems)
    notes = dict(table.row_notes)
    for column, placeholders in mapping.placeholders.items():
        keys = frame[column].map(match_key)
        for key, placeholder in placeholders.items():
            rows = keys.index[keys == key]
            for row in rows:
                value = original.at[row, column] if column in original.columns else ""
                _apply_placeholder(
                    mapping,
                    frame,
                    row,
                    column,
                    value,
                    placeholder,
                    problems,
                    skip_reasons,
                    notes,
                )

    # A default warehouseId is an id already, so only the file's values are looked up.
    if mapping.warehouses and WAREHOUSE_ID in original.columns:
        _map_locations(mapping, frame, skip_reasons)

    skipped = [
        SkippedRow(
            row,
            {name: str(original.at[row, name]) for name in original.columns},
            reason,
        )
        for row, reason in sorted(skip_reasons.items())
    ]
    remaining = frame.drop(index=list(skip_reasons))
    return dataclasses.replace(
        table,
        frame=remaining,
        cell_problems=[
            problem for problem in problems if problem.row not in skip_reasons
        ],
        skipped_rows=sorted(
            table.skipped_rows + skipped, key=lambda skipped_row: skipped_row.row
        ),
        row_notes={row: note for row, note in notes.items() if row not in skip_reasons},
    )


def _apply_placeholder(
    mapping: ColumnMapping,
    frame: pd.DataFrame,
    row: int,
    column: str,
    value: str,
    placeholder: Placeholder,
    problems: list[CellProblem],
    skip_reasons: dict[int, str],
    notes: dict[int, str],
) -> None:
    if placeholder.action == SKIP:
        skip_reasons.setdefault(
            row,
            f"{column} '{value}' is a placeholder that the mapping file {mapping.path.name} skips",
        )
    elif placeholder.action == REPLACE:
        frame.at[row, column] = placeholder.value
        note = f"{column} '{value}' read as '{placeholder.value}' by the mapping file {mapping.path.name}"
        notes[row] = f"{notes[row]}; {note}" if row in notes else note
    else:
        problems.append(
            CellProblem(
                row,
                column,
                value,
                f"{column} is the placeholder '{value.strip()}', not a value; enter the {column} or remove the row",
            )
        )


def _map_locations(
    mapping: ColumnMapping, frame: pd.DataFrame, skip_reasons: dict[int, str]
) -> None:
    """Replace location names with warehouse ids; mark rows of unlisted locations skipped."""
    values = frame[WAREHOUSE_ID]
    ids = values.map(match_key).map(mapping.warehouses)
    unlisted = ids.isna() & (values.str.strip() != "")
    for row in values.index[unlisted]:
        skip_reasons.setdefault(
            row,
            f"location '{values.at[row].strip()}' is not listed under [warehouses] in the "
            f"mapping file {mapping.path.name}; add it there to sync these rows",
        )
    listed = ids.notna()
    frame.loc[listed, WAREHOUSE_ID] = ids[listed].astype("int64").astype("str")
