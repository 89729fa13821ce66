"""Find the rows that e-CROSS already holds with the same quantity, for ``--changed-only``.

The comparison reads e-CROSS's current records, not a local memory of the
last run, so it stays correct when someone else changed a quantity in
between. A row is sent when its quantity differs from the stored record's or
when e-CROSS has no record for its key; every other row is unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import structlog

from batch_sync.errors import RunAborted
from batch_sync.listing import InventoryLister
from batch_sync.upload import PendingRow, RowOutcome
from schemas.api import InventoryRecord
from schemas.report import UNCHANGED

log = structlog.get_logger(__name__)

# Records per listing page. The sandbox accepts at most 500.
# NOTE: the e-CROSS contract states no maximum page size; 500 is the
# sandbox's limit, not a documented one.
LISTING_PAGE_SIZE = 500

UNCHANGED_NOTE = "e-CROSS already holds this quantity; not sent"

RowKey = tuple[str, int, str]


@dataclass
class ChangeScan:
    """The result of comparing the file with e-CROSS's records."""

    # Sheet row -> outcome of each row that e-CROSS already holds unchanged.
    unchanged: dict[int, RowOutcome] = field(default_factory=dict)
    unchanged_keys: set[RowKey] = field(default_factory=set)
    records_read: int = 0
    pages: int = 0
    # Why the listing failed; then no row counts as unchanged and every row is sent.
    error: str = ""


def scan_changes(lister: InventoryLister, pending: Iterable[PendingRow]) -> ChangeScan:
    """Read every record of the merchant and mark the pending rows that it already holds.

    A failed listing leaves ``unchanged`` empty and sets ``error``, so the
    run sends every row, which is slower but never wrong.
    """
    wanted: dict[RowKey, PendingRow] = {}
    for row in pending:
        body = row.body
        wanted[(body["skuId"], body["warehouseId"], body["inventoryType"])] = row

    scan = ChangeScan()
    log.info("changes.listing_started", rows=len(wanted))
    try:
        for page in lister.records():
            scan.pages += 1
            scan.records_read += len(page.items)
            for record in page.items:
                _compare(scan, wanted, record)
    except RunAborted as error:
        scan.error = str(error)
        scan.unchanged.clear()
        scan.unchanged_keys.clear()
        log.error("changes.listing_failed", error=scan.error, pages=scan.pages)
        return scan

    log.info(
        "changes.listing_finished",
        records=scan.records_read,
        pages=scan.pages,
        unchanged=len(scan.unchanged),
        changed=len(wanted) - len(scan.unchanged),
    )
    return scan


def _compare(scan: ChangeScan, wanted: dict[RowKey, PendingRow], record: InventoryRecord) -> None:
    key = (record.sku_id, record.warehouse_id, record.inventory_type)
    pending = wanted.get(key)
    if pending is None or pending.body["quantity"] != record.quantity:
        return
    scan.unchanged_keys.add(key)
    scan.unchanged[pending.row] = RowOutcome(
        row=pending.row,
        status=UNCHANGED,
        record=record,
        error=UNCHANGED_NOTE,
        body=pending.body,
    )
