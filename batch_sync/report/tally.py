"""Count result lines while they stream past, for the summary sheet and the JSON summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from batch_sync.table import HIDDEN_ROW_NOTE
from schemas.report import FAILED, INVALID, STATUSES, WARNINGS

# The summary lists this many of the most common errors.
TOP_ERRORS = 10

# Distinct error texts counted before new ones are lumped together, so the
# error counter stays bounded when every row fails differently.
MAX_DISTINCT_ERRORS = 10_000
OTHER_ERRORS = "(other errors, not counted one by one)"


@dataclass
class UnitTotals:
    """Rows and units sent to one warehouse and inventory type."""

    rows_sent: int = 0
    units_sent: int = 0
    rows_acknowledged: int = 0
    units_acknowledged: int = 0


def _failed_with_the_run(http_status: int | None) -> bool:
    """Return whether a failed row's status is one that fails every row alike.

    No response, rejected credentials, too many requests and server errors
    need a re-run, not a change to the row. A 403 may name the row's
    warehouse, so it is not among them.
    """
    return http_status is None or http_status in (401, 408, 429) or http_status >= 500


@dataclass
class ReportTally:
    """Running counts over the result lines of one run."""

    # True when the run stopped early, so a re-run of the same file resends
    # the rows that failed for a reason of the whole run.
    stopped: bool = False
    rows_read: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)
    returned_orders: int = 0
    hidden_rows: int = 0
    units: dict[tuple[int, str], UnitTotals] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    # Sheet row -> error text of every invalid or failed row, for the to-fix file.
    rows_to_fix: dict[int, str] = field(default_factory=dict)

    def add(self, line: dict[str, Any]) -> None:
        """Count one result line."""
        self.rows_read += 1
        status = line["status"]
        self.statuses[status] += 1
        if HIDDEN_ROW_NOTE in line["notes"]:
            self.hidden_rows += 1
        if status in (INVALID, FAILED):
            if not (self.stopped and status == FAILED and _failed_with_the_run(line.get("httpStatus"))):
                self.rows_to_fix[line["row"]] = line["error"]
            self._count_error(line["_error_kind"] or line["error"])
        if line["_duplicate"]:
            return

        self.warnings.update(line["_warnings"])
        self.returned_orders += line.get("returnedOrders") or 0
        if line["_sent_quantity"] is None:
            return
        key = (int(line["warehouseId"]), str(line["inventoryType"]))
        totals = self.units.setdefault(key, UnitTotals())
        totals.rows_sent += 1
        totals.units_sent += line["_sent_quantity"]
        if line["_acknowledged_quantity"] is not None:
            totals.rows_acknowledged += 1
            totals.units_acknowledged += line["_acknowledged_quantity"]

    def _count_error(self, text: str) -> None:
        if text in self.errors or len(self.errors) < MAX_DISTINCT_ERRORS:
            self.errors[text] += 1
        else:
            self.errors[OTHER_ERRORS] += 1

    def status_counts(self) -> dict[str, int]:
        return {status: self.statuses[status] for status in STATUSES}

    def warning_counts(self) -> dict[str, int]:
        return {name: self.warnings[name] for name in WARNINGS}

    def top_errors(self) -> list[tuple[str, int]]:
        return self.errors.most_common(TOP_ERRORS)

    def unit_rows(self) -> list[tuple[int, str, UnitTotals]]:
        """Return the unit totals sorted by warehouse and inventory type."""
        return [(warehouse, kind, self.units[(warehouse, kind)]) for warehouse, kind in sorted(self.units)]
