"""Build the report's result lines: one per input row, in sheet order.

A line is a dict with the public keys of RESULT_COLUMNS. Keys that start with
an underscore carry facts that the summary counts but the results files do
not show. The lines are yielded one at a time, and the row outcomes are read
from an iterable in sheet-row order, so neither is held in memory whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

import pandas as pd

from batch_sync.response_checks import record_warnings
from batch_sync.upload import RowOutcome
from batch_sync.validate import RowProblem, ValidatedTable, describe_problems
from schemas.report import (
    FAILED,
    FORMULA_STARTS,
    INVALID,
    MAX_ERROR_TEXT,
    NOT_SENT,
    QUANTITY_MISMATCH,
    RESPONSE_MISMATCH,
    RETURNED_ORDERS,
    SKIPPED,
    SYNCED,
)
from schemas.row import INVENTORY_TYPE, QUANTITY, SKU_ID, WAREHOUSE_ID

_PLAIN_NUMBER = re.compile(r"[-+]?[0-9]+(\.[0-9]+)?")


def neutralise(value: Any) -> Any:
    """Make a text value safe to open in a spreadsheet program.

    Text that a spreadsheet would run as a formula gets a leading apostrophe.
    A plain number such as ``-3`` is left alone, so it still reads as -3.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        if not _PLAIN_NUMBER.fullmatch(value):
            return "'" + value
    return value


def cut_error(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove secrets from an error text and cut it to MAX_ERROR_TEXT characters."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    if len(text) <= MAX_ERROR_TEXT:
        return text
    return text[: MAX_ERROR_TEXT - 1] + "…"


def _result_line(
    row: int, source_row: Any, status: str, error: str, note: str
) -> dict[str, Any]:
    return {
        "row": row,
        "skuId": source_row[SKU_ID],
        "warehouseId": source_row[WAREHOUSE_ID],
        "inventoryType": source_row[INVENTORY_TYPE],
        "quantity": source_row[QUANTITY],
        "status": status,
        "notes": note,
        "error": error,
        "_warnings": (),
        "_error_kind": error if status in (INVALID, FAILED) else "",
        "_sent_quantity": None,
        "_acknowledged_quantity": None,
        "_duplicate": False,
    }


# The list of other rows in the reason of a key that repeats with
# different quantities, such as "(row 3 has 5, row 9 has 7)".
_OTHER_ROWS = re.compile(r" \(row [0-9]+ has [^)]*\)")


def _problem_kind(problems: list[RowProblem]) -> str:
    """Return a row's problems without the cell values or other rows, to group rows by cause."""
    return "; ".join(_OTHER_ROWS.sub("", problem.reason) for problem in problems)


def _warning_names(outcome: RowOutcome, sent: int) -> tuple[str, ...]:
    names: list[str] = []
    if outcome.status == SYNCED and outcome.record is not None:
        names.extend(record_warnings(sent, outcome.record))
    if outcome.status == FAILED and outcome.error.startswith(RESPONSE_MISMATCH):
        names.append(RESPONSE_MISMATCH)
    if outcome.record is not None and outcome.record.returned_orders:
        names.append(RETURNED_ORDERS)
    return tuple(names)


def _warning_text(names: tuple[str, ...], outcome: RowOutcome, sent: int) -> str:
    parts = []
    for name in names:
        record = outcome.record
        if name == QUANTITY_MISMATCH and record is not None:
            parts.append(f"{name} (sent {sent}, e-CROSS stored {record.quantity})")
        elif name == RETURNED_ORDERS and record is not None:
            parts.append(f"{name} ({len(record.returned_orders)})")
        else:
            parts.append(name)
    return "; ".join(parts)


def _add_outcome(line: dict[str, Any], outcome: RowOutcome) -> None:
    line["status"] = outcome.status
    line["httpStatus"] = outcome.http_status
    line["attempts"] = outcome.attempts
    line["seconds"] = outcome.seconds
    line["error"] = outcome.error
    line["_error_kind"] = outcome.error if outcome.status in (INVALID, FAILED) else ""
    names = _warning_names(outcome, line["quantity"])
    line["_warnings"] = names
    line["warnings"] = _warning_text(names, outcome, line["quantity"])
    if outcome.attempts:
        line["_sent_quantity"] = line["quantity"]
    record = outcome.record
    if record is not None:
        line["returnedId"] = record.id
        line["skuName"] = record.sku_name
        line["returnedQuantity"] = record.quantity
        line["warehouseName"] = record.warehouse_name
        line["warehouseCountry"] = record.warehouse_country
        line["lastUpdateDate"] = record.last_update_date
        line["lastIntegrationDate"] = record.last_integration_date
        line["returnedOrders"] = len(record.returned_orders)
        if outcome.status != FAILED:
            line["_acknowledged_quantity"] = record.quantity


def result_lines(
    table: ValidatedTable,
    outcomes: Iterable[RowOutcome],
    unsent_reason: str,
    secrets: Iterable[str] = (),
) -> Iterator[dict[str, Any]]:
    """Yield one result line per input row, in sheet order.

    ``outcomes`` must be in ascending sheet-row order, with at most one
    outcome per row. Error texts have every value in ``secrets`` replaced and are cut to
    MAX_ERROR_TEXT characters.
    """
    secrets = tuple(secrets)
    for line in _raw_lines(table, outcomes, unsent_reason):
        line["error"] = cut_error(line["error"] or "", secrets)
        line["_error_kind"] = cut_error(line["_error_kind"], secrets)
        yield line


def _raw_lines(
    table: ValidatedTable, outcomes: Iterable[RowOutcome], unsent_reason: str
) -> Iterator[dict[str, Any]]:
    valid = _ValidValues(table.valid)
    outcome_cursor = _OutcomeCursor(outcomes, kept_rows=set(table.duplicate_of.values()))
    skipped = {skipped.row: skipped for skipped in table.source.skipped_rows}
    frame_rows = _frame_rows(table.source.frame)
    notes = table.source.row_notes
    for row, source_row in _merge_rows(frame_rows, skipped):
        note = notes.get(row, "")
        if row in skipped:
            yield _result_line(row, source_row, SKIPPED, skipped[row].reason, note)
            continue
        if row in table.problems:
            error = describe_problems(table.problems[row])
            line = _result_line(row, source_row, INVALID, error, note)
            line["_error_kind"] = _problem_kind(table.problems[row])
            yield line
            continue

        line = _result_line(row, source_row, NOT_SENT, unsent_reason, note)
        first = table.duplicate_of.get(row, row)
        valid.fill(line, first)
        outcome = outcome_cursor.outcome_of(first)
        if outcome is not None:
            _add_outcome(line, outcome)
        if first != row:
            # The summary counts the units and warnings of the first row only.
            line["_duplicate"] = True
            # A repeat is a note, not an error: the row's status and any
            # error are those of its first row.
            repeat = f"same row as row {first}, sent once"
            line["notes"] = f"{line['notes']}; {repeat}" if line["notes"] else repeat
        yield line


class _OutcomeCursor:
    """A lookup of each row's outcome in an iterable sorted by row, for rows visited in ascending order.

    The outcomes of ``kept_rows`` stay in memory once read, because a later
    duplicate row reports the outcome of its first row.
    """

    def __init__(self, outcomes: Iterable[RowOutcome], kept_rows: set[int]) -> None:
        self._outcomes = iter(outcomes)
        self._next = next(self._outcomes, None)
        self._kept_rows = kept_rows
        self._kept: dict[int, RowOutcome] = {}

    def outcome_of(self, row: int) -> RowOutcome | None:
        """Return the outcome of ``row``, or None if it has none."""
        if row in self._kept:
            return self._kept[row]

        while self._next is not None and self._next.row < row:
            self._next = next(self._outcomes, None)
        if self._next is None or self._next.row != row:
            return None

        outcome = self._next
        self._next = next(self._outcomes, None)
        if row in self._kept_rows:
            self._kept[row] = outcome
        return outcome


class _ValidValues:
    """The typed values of the valid rows, looked up by sheet row without pandas indexing."""

    def __init__(self, valid: pd.DataFrame) -> None:
        if not valid.index.is_monotonic_increasing:
            valid = valid.sort_index()
        self.rows = valid.index.to_numpy()
        self.quantities = valid[QUANTITY].tolist()
        self.warehouse_ids = valid[WAREHOUSE_ID].tolist()
        self.inventory_types = valid[INVENTORY_TYPE].tolist()

    def fill(self, line: dict[str, Any], row: int) -> None:
        """Put the typed values of ``row`` into ``line`` if the row is valid."""
        position = int(self.rows.searchsorted(row))
        if position == len(self.rows) or self.rows[position] != row:
            return
        line["quantity"] = int(self.quantities[position])
        line["inventoryType"] = self.inventory_types[position]
        line["warehouseId"] = int(self.warehouse_ids[position])


def _frame_rows(frame: pd.DataFrame) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield each row number with its required values, without a Series per row."""
    names = [SKU_ID, QUANTITY, WAREHOUSE_ID, INVENTORY_TYPE]
    columns = [frame[name] for name in names]
    for row, *values in zip(frame.index, *columns):
        yield int(row), dict(zip(names, values))


def _merge_rows(
    frame_rows: Iterator[tuple[int, Any]], skipped: dict[int, Any]
) -> Iterator[tuple[int, Any]]:
    """Interleave the table's rows with the skipped rows in sheet order."""
    pending = sorted(skipped)
    for row, values in frame_rows:
        while pending and pending[0] < row:
            first = pending.pop(0)
            yield first, _skipped_values(skipped[first].values)
        yield row, values
    for first in pending:
        yield first, _skipped_values(skipped[first].values)


def _skipped_values(values: dict[str, str]) -> dict[str, str]:
    return {name: values.get(name, "") for name in (SKU_ID, QUANTITY, WAREHOUSE_ID, INVENTORY_TYPE)}
