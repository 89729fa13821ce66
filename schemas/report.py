"""The reconciliation report: row statuses and the columns of the results file."""

from __future__ import annotations

SYNCED = "synced"
INVALID = "invalid"
FAILED = "failed"
NOT_SENT = "not_sent"
# A row the job left out on purpose by a documented rule, for example a
# location that the column mapping does not map to a warehouse.
SKIPPED = "skipped"

STATUSES = (SYNCED, INVALID, FAILED, NOT_SENT, SKIPPED)

# One line per input row, in this order, in the CSV and in the XLSX Rows sheet.
RESULT_COLUMNS = (
    "row",
    "skuId",
    "warehouseId",
    "inventoryType",
    "quantity",
    "status",
    "httpStatus",
    "returnedId",
    "skuName",
    "returnedQuantity",
    "warehouseName",
    "warehouseCountry",
    "lastUpdateDate",
    "attempts",
    "warnings",
    "error",
)

# Keys of the JSON summary that count rows; they add up to rowsRead.
COUNT_KEYS = ("synced", "invalid", "failed", "notSent", "skipped")

# API error bodies are cut to this many characters in the report and logs.
MAX_ERROR_EXCERPT = 300
