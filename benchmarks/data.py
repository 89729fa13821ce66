"""Generate the large benchmark files once and keep them in bench-data/ (not committed)."""

from __future__ import annotations

import csv
import random
from pathlib import Path

from openpyxl import Workbook

DATA_DIR = Path(__file__).resolve().parent.parent / "bench-data"
HEADER = ["skuId", "quantity", "warehouseId", "inventoryType", "productName"]


def _rows(count: int, seed: int):
    rng = random.Random(seed)
    for index in range(count):
        kind = index % 4
        if kind == 0:
            sku = f"{index:08d}"
        elif kind == 1:
            sku = str(10**12 + index)
        elif kind == 2:
            sku = f"TS-{index}-{rng.choice('SML')}"
        else:
            sku = f"{index % 997:03d}-{index}"
        yield [sku, rng.randrange(1000), 1 + index % 3, "DAMAGED" if index % 9 == 0 else "AVAILABLE", "Benchmark item"]


def csv_file(rows: int) -> Path:
    """Return a CSV export of ``rows`` distinct valid rows, writing it if missing."""
    path = DATA_DIR / f"stock-{rows}.csv"
    if not path.exists():
        DATA_DIR.mkdir(exist_ok=True)
        partial = path.with_suffix(".partial")
        with partial.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            writer.writerows(_rows(rows, seed=rows))
        partial.rename(path)
    return path


def xlsx_file(rows: int) -> Path:
    """Return an .xlsx export of ``rows`` distinct valid rows with a text SKU column."""
    path = DATA_DIR / f"stock-{rows}.xlsx"
    if not path.exists():
        DATA_DIR.mkdir(exist_ok=True)
        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet("Stock")
        sheet.append(HEADER)
        for row in _rows(rows, seed=rows):
            sheet.append(row)
        partial = path.with_suffix(".partial.xlsx")
        workbook.save(partial)
        partial.rename(path)
    return path
