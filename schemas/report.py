"""The reconciliation report: row statuses, warning names and the columns of each file."""

from __future__ import annotations

SYNCED = "synced"
INVALID = "invalid"
FAILED = "failed"
NOT_SENT = "not_sent"
# A row the job left out on purpose by a documented rule, for example a
# location that the column mapping does not map to a warehouse.
SKIPPED = "skipped"
# A valid row that --changed-only did not send because e-CROSS already holds
# its quantity.
UNCHANGED = "unchanged"

STATUSES = (SYNCED, UNCHANGED, INVALID, FAILED, NOT_SENT, SKIPPED)

# A spreadsheet program runs a cell that starts with one of these as a formula,
# so the report writer guards such text and the to-fix loader removes the guard.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# Fill colour (RGB hex) of the status cell in the XLSX Rows sheet.
STATUS_COLOURS = {
    SYNCED: "C6EFCE",
    UNCHANGED: "E2EFDA",
    INVALID: "FFEB9C",
    FAILED: "FFC7CE",
    NOT_SENT: "D9D9D9",
    SKIPPED: "DDEBF7",
}

# Warnings that e-CROSS's response can raise on a row. The first three leave
# the row synced. A response_mismatch makes the row fail, and
# returned_orders means the record lists returned orders.
QUANTITY_MISMATCH = "quantity_mismatch"
SKU_NOT_REGISTERED = "sku_not_registered"
NOT_YET_INTEGRATED = "not_yet_integrated"
RESPONSE_MISMATCH = "response_mismatch"
RETURNED_ORDERS = "returned_orders"

WARNINGS = (
    QUANTITY_MISMATCH,
    SKU_NOT_REGISTERED,
    NOT_YET_INTEGRATED,
    RESPONSE_MISMATCH,
    RETURNED_ORDERS,
)

# One line per input row, in this order, in the CSV and in the XLSX Rows sheet.
# ``notes`` contains facts about the row that do not make it invalid, such as
# a hidden row or a placeholder that the column mapping replaced.
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
    "lastIntegrationDate",
    "returnedOrders",
    "attempts",
    "seconds",
    "warnings",
    "notes",
    "error",
)

# Columns of the XLSX Rows sheet that hold times; they are stored as Excel
# dates in UTC, and as ISO 8601 text in the CSV.
DATE_COLUMNS = ("lastUpdateDate", "lastIntegrationDate")

# Keys of the JSON summary that count rows; they add up to rowsRead.
COUNT_KEYS = ("synced", "unchanged", "invalid", "failed", "notSent", "skipped")

# API error bodies are cut to this many characters in the report and logs.
MAX_ERROR_EXCERPT = 300

# Every error cell of the report is cut to this many characters. It is
# longer than MAX_ERROR_EXCERPT so that an API excerpt keeps its prefix.
MAX_ERROR_TEXT = 500

# The extra last column of the to-fix file.
TO_FIX_REASON_COLUMN = "batch-sync reason"

# Columns of the verification listing, in the JSON summary and the XLSX
# Verify sheet.
VERIFY_COLUMNS = (
    "check",
    "row",
    "skuId",
    "warehouseId",
    "inventoryType",
    "fileQuantity",
    "ecrossQuantity",
    "lastUpdateDate",
)

# Verification findings.
QUANTITY_DIFFERS = "quantity_differs"
MISSING_IN_ECROSS = "missing_in_ecross"
NOT_IN_FILE = "not_in_file"
