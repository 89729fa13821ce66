"""Validate the loaded rows with the pandera row schema and build typed API rows.

Validation is lazy, so one pass finds every problem in the file. Each problem
is mapped back to the sheet row number, and rows with a problem are kept out
of the upload while every other row is still sent.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import pandas as pd
import pandera.pandas as pa
import structlog

from batch_sync.table import SourceTable
from schemas.row import (
    INVENTORY_TYPE,
    QUANTITY,
    REQUIRED_COLUMNS,
    SKU_ID,
    WAREHOUSE_ID,
    InventoryRowSchema,
    to_inventory_types,
    to_whole_numbers,
)

log = structlog.get_logger(__name__)

KEY_COLUMNS = (SKU_ID, WAREHOUSE_ID, INVENTORY_TYPE)


@dataclass(frozen=True)
class RowProblem:
    """One reason why a row cannot be sent."""

    column: str
    value: str
    reason: str


@dataclass
class ValidatedTable:
    """The outcome of validation.

    ``valid`` holds the rows to send, typed for the API and indexed by sheet
    row. ``problems`` lists the reasons of every invalid row. A row in
    ``duplicate_of`` repeats an earlier row exactly, so only the earlier row
    is sent and the later one gets its result.
    """

    source: SourceTable
    valid: pd.DataFrame
    problems: dict[int, list[RowProblem]] = field(default_factory=dict)
    duplicate_of: dict[int, int] = field(default_factory=dict)

    @property
    def row_count(self) -> int:
        return len(self.source.frame)


def _normalise_numbers(frame: pd.DataFrame, decimal_comma: bool) -> pd.DataFrame:
    """Strip spaces around numbers and read a decimal comma as a decimal point.

    A decimal comma is read only in files whose separator is a semicolon, the
    convention of European Excel, and only in the form ``3,0``. A value with
    more than one separator, such as ``1.234,0``, is left for the schema to
    reject, because its thousands separator could be misread.
    """
    normalised = frame.copy()
    for column in (QUANTITY, WAREHOUSE_ID):
        values = normalised[column].str.strip()
        if decimal_comma:
            values = values.str.replace(r"^(-?[0-9]+),([0-9]+)$", r"\1.\2", regex=True)
        normalised[column] = values
    return normalised


def _add_thousands_separator_problems(frame: pd.DataFrame, problems: dict[int, list[RowProblem]]) -> None:
    """Make a number with a '.' invalid in a file whose decimal separator is ','.

    ``frame`` holds the values as read, before the decimal comma is replaced.

    In such files '.' is the thousands separator, so ``1.000`` may mean one
    thousand; reading it as 1 or rejecting only some forms would guess.
    """
    for column in (QUANTITY, WAREHOUSE_ID):
        values = frame[column]
        has_point = values.str.contains(".", regex=False).fillna(False).astype(bool)
        for row, value in values[has_point].items():
            reasons = problems.setdefault(int(row), [])
            reasons[:] = [reason for reason in reasons if reason.column != column]
            reasons.append(
                RowProblem(
                    column,
                    str(value),
                    f"{column} contains '.' in a file whose decimal separator is ',', so "
                    "'.' may be a thousands separator (1.000 can mean 1000); write the "
                    "whole number without separators",
                )
            )


def _schema_problems(frame: pd.DataFrame, as_read: pd.DataFrame) -> dict[int, list[RowProblem]]:
    """Validate ``frame`` and quote each failing value from ``as_read``, the values as the file has them."""
    problems: dict[int, list[RowProblem]] = defaultdict(list)
    try:
        InventoryRowSchema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        for case in errors.failure_cases.itertuples(index=False):
            row = int(case.index)
            column = str(case.column)
            problems[row].append(
                RowProblem(column, str(as_read.at[row, column]), str(case.check))
            )
    return problems


def _typed_rows(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            SKU_ID: frame[SKU_ID].astype("str"),
            QUANTITY: to_whole_numbers(frame[QUANTITY]),
            WAREHOUSE_ID: to_whole_numbers(frame[WAREHOUSE_ID]),
            INVENTORY_TYPE: to_inventory_types(frame[INVENTORY_TYPE]).astype("str"),
        },
        index=frame.index,
    )


def _find_duplicates(
    typed: pd.DataFrame, problems: dict[int, list[RowProblem]]
) -> dict[int, int]:
    """Mark exact repeats of a key and add a problem to every row of a conflicting key."""
    duplicate_of: dict[int, int] = {}
    # Only rows whose skuId repeats can repeat a key, and comparing one
    # column is far cheaper than comparing three on every row. duplicated()
    # hashes pyarrow text about three times faster than is_unique does.
    repeats_sku = typed[SKU_ID].duplicated(keep=False)
    if not repeats_sku.any():
        return duplicate_of
    same_sku = typed[repeats_sku]
    repeated = same_sku[same_sku.duplicated(list(KEY_COLUMNS), keep=False)]
    for _, group in repeated.groupby(list(KEY_COLUMNS), sort=False):
        rows = [int(row) for row in group.index]
        quantities = group[QUANTITY].unique()
        if len(quantities) == 1:
            for row in rows[1:]:
                duplicate_of[row] = rows[0]
            continue
        for row in rows:
            others = ", ".join(
                f"row {other} has {group.at[other, QUANTITY]}" for other in rows if other != row
            )
            problems[row].append(
                RowProblem(
                    QUANTITY,
                    str(group.at[row, QUANTITY]),
                    "the same skuId, warehouseId and inventoryType appear with a "
                    f"different quantity ({others}); keep one row with the right quantity",
                )
            )
    return duplicate_of


# Invalid rows logged one by one; the rest are counted, and the report lists all.
MAX_LOGGED_PROBLEMS = 50


def _log_problems(problems: dict[int, list[RowProblem]]) -> None:
    for row in sorted(problems)[:MAX_LOGGED_PROBLEMS]:
        log.warning("validate.row_invalid", row=row, reason=describe_problems(problems[row]))
    if len(problems) > MAX_LOGGED_PROBLEMS:
        log.warning(
            "validate.more_rows_invalid",
            count=len(problems) - MAX_LOGGED_PROBLEMS,
            note="the report lists every invalid row",
        )


def validate_table(source: SourceTable) -> ValidatedTable:
    """Validate every row of ``source`` and split it into rows to send and problems."""
    frame = _normalise_numbers(source.frame, source.decimal_comma)
    # A message quotes the value as the file has it, such as 3,5 rather than 3.5.
    problems = _schema_problems(frame, source.frame)
    if source.decimal_comma:
        _add_thousands_separator_problems(source.frame, problems)

    for problem in source.cell_problems:
        reasons = problems.setdefault(problem.row, [])
        if any(reason.column == "" for reason in reasons):
            continue
        if problem.column == "":
            # A problem with the whole row replaces every other reason,
            # because the row's values may sit under the wrong headers.
            reasons.clear()
        else:
            # The reader's reason is more precise than the schema's for the same cell.
            reasons[:] = [reason for reason in reasons if reason.column != problem.column]
        reasons.insert(0, RowProblem(problem.column, problem.value, problem.reason))

    # Dropping no rows still copies a frame, so each drop runs only when needed.
    ok_frame = frame.drop(index=list(problems)) if problems else frame
    typed = _typed_rows(ok_frame)
    duplicate_of = _find_duplicates(typed, problems)
    valid = typed
    conflicting = [row for row in problems if row in typed.index]
    if conflicting:
        valid = valid.drop(index=conflicting)
    if duplicate_of:
        valid = valid.drop(index=list(duplicate_of))

    _log_problems(problems)
    log.info(
        "validate.done",
        rows=len(frame),
        valid=len(valid),
        invalid=len(problems),
        duplicates=len(duplicate_of),
    )
    return ValidatedTable(
        source=source,
        valid=valid,
        problems=dict(problems),
        duplicate_of=duplicate_of,
    )


def describe_problems(problems: list[RowProblem]) -> str:
    """Join a row's problems into one error text for the report."""
    parts = []
    for problem in problems:
        if problem.column in REQUIRED_COLUMNS:
            parts.append(f"{problem.column} '{problem.value}': {problem.reason}")
        else:
            parts.append(problem.reason)
    return "; ".join(parts)
