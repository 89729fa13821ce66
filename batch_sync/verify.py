"""Check the synced rows against the records that e-CROSS returns afterwards.

``--verify`` lists the records updated since the run started and reports
synced rows whose stored quantity differs from the file, and synced rows
that e-CROSS does not list. ``--verify-all`` lists every record of the
merchant and also reports records in the file's warehouses that the file
does not mention, which is stock nobody updated in this run.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Container
from dataclasses import dataclass, field
from typing import Any

import structlog

from batch_sync.errors import RunAborted
from batch_sync.listing import InventoryLister
from batch_sync.validate import ValidatedTable
from schemas.report import MISSING_IN_ECROSS, NOT_IN_FILE, QUANTITY_DIFFERS
from schemas.row import INVENTORY_TYPE, QUANTITY, SKU_ID, WAREHOUSE_ID

log = structlog.get_logger(__name__)

RUN_MODE = "run"
ALL_MODE = "all"

# The listing filter starts this long before the run, so a server clock
# that runs slightly behind ours still lists the records of this run.
CLOCK_SKEW_MARGIN = dt.timedelta(minutes=2)

# Findings kept for the Verify sheet; the counts always cover every finding.
MAX_LISTED_FINDINGS = 100_000

RecordKey = tuple[str, int, str]


@dataclass(frozen=True)
class SyncedRow:
    """A row that e-CROSS acknowledged, with the quantity sent."""

    row: int
    quantity: int


@dataclass
class VerifyResult:
    """The outcome of reading the records back."""

    mode: str
    updated_from: str | None
    records_read: int = 0
    pages: int = 0
    rows_checked: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    findings: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""

    def add(self, finding: dict[str, Any]) -> None:
        self.counts[finding["check"]] += 1
        if len(self.findings) < MAX_LISTED_FINDINGS:
            self.findings.append(finding)


def file_keys(
    table: ValidatedTable, synced_rows: Container[int]
) -> tuple[dict[RecordKey, SyncedRow], set[RecordKey]]:
    """Split the keys of the valid rows into those of ``synced_rows`` and the other keys."""
    synced: dict[RecordKey, SyncedRow] = {}
    others: set[RecordKey] = set()
    valid = table.valid
    for row, sku_id, quantity, warehouse_id, inventory_type in zip(
        valid.index, valid[SKU_ID], valid[QUANTITY], valid[WAREHOUSE_ID], valid[INVENTORY_TYPE]
    ):
        key = (str(sku_id), int(warehouse_id), str(inventory_type))
        if int(row) in synced_rows:
            synced[key] = SyncedRow(int(row), int(quantity))
        else:
            others.add(key)
    return synced, others


def _finding(check: str, key: RecordKey, row: int | None, file_quantity: int | None, record: Any) -> dict[str, Any]:
    return {
        "check": check,
        "row": row,
        "skuId": key[0],
        "warehouseId": key[1],
        "inventoryType": key[2],
        "fileQuantity": file_quantity,
        "ecrossQuantity": None if record is None else record.quantity,
        "lastUpdateDate": None if record is None else record.last_update_date,
    }


def verify_records(
    lister: InventoryLister,
    synced: dict[RecordKey, SyncedRow],
    other_keys: set[RecordKey],
    started: dt.datetime,
    check_all: bool,
) -> VerifyResult:
    """Compare the listed records with the synced rows.

    A listing that fails is recorded in ``error``, and the findings up to
    that point are kept. No row is then reported missing, because the
    listing was incomplete.
    """
    updated_from = None if check_all else (started - CLOCK_SKEW_MARGIN).isoformat()
    result = VerifyResult(mode=ALL_MODE if check_all else RUN_MODE, updated_from=updated_from)
    result.rows_checked = len(synced)
    warehouses = {key[1] for key in synced} | {key[1] for key in other_keys}
    unseen = dict(synced)

    log.info("verify.started", mode=result.mode, updated_from=updated_from, rows=len(synced))
    try:
        for page in lister.records(updated_from):
            result.pages += 1
            for record in page.items:
                result.records_read += 1
                key = (record.sku_id, record.warehouse_id, record.inventory_type)
                expected = unseen.pop(key, None)
                if expected is not None:
                    if record.quantity != expected.quantity:
                        result.add(_finding(QUANTITY_DIFFERS, key, expected.row, expected.quantity, record))
                    continue
                mentioned = key in synced or key in other_keys
                if check_all and not mentioned and record.warehouse_id in warehouses:
                    result.add(_finding(NOT_IN_FILE, key, None, None, record))
    except RunAborted as error:
        result.error = str(error)
        log.error("verify.failed", error=result.error, pages=result.pages)
        return result

    for key, expected in sorted(unseen.items(), key=lambda item: item[1].row):
        result.add(_finding(MISSING_IN_ECROSS, key, expected.row, expected.quantity, None))
    log.info(
        "verify.finished",
        records=result.records_read,
        pages=result.pages,
        quantity_differs=result.counts[QUANTITY_DIFFERS],
        missing=result.counts[MISSING_IN_ECROSS],
        not_in_file=result.counts[NOT_IN_FILE],
    )
    return result


def verify_summary(result: VerifyResult) -> dict[str, Any]:
    """Return the verification section of the JSON summary."""
    return {
        "mode": result.mode,
        "lastUpdateDateFrom": result.updated_from,
        "recordsRead": result.records_read,
        "pages": result.pages,
        "rowsChecked": result.rows_checked,
        "quantityDiffers": result.counts[QUANTITY_DIFFERS],
        "missingInEcross": result.counts[MISSING_IN_ECROSS],
        "notInFile": result.counts[NOT_IN_FILE],
        "error": result.error or None,
    }
