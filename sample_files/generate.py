"""Write the sample exports and the sandbox catalog in this folder.

The files are committed; run this script only to change them. The random
generator is seeded, so the output is the same on every run.

    python sample_files/generate.py
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

from openpyxl import Workbook

HERE = Path(__file__).resolve().parent
HEADER = ["skuId", "quantity", "warehouseId", "inventoryType", "productName"]

PRODUCTS = [
    "Merino sock",
    "Linen shirt",
    "Café mug",
    "Žluťoučký kůň plush",
    "Trail shoe",
    "Rain jacket",
    "Wool beanie",
    "Canvas tote",
]


def sku_ids(rng: random.Random, count: int) -> list[str]:
    """Return SKU ids of the kinds real exports have, every one distinct."""
    fixed = ["000123", "0614", "1234567890123456789", "NA", "NULL", "N/A", "None", "007"]
    ids = list(fixed)
    while len(ids) < count:
        kind = rng.randrange(4)
        if kind == 0:
            candidate = f"{rng.randrange(10**6):06d}"
        elif kind == 1:
            candidate = str(rng.randrange(10**12, 10**13))
        elif kind == 2:
            candidate = f"TS-{rng.choice(['RED', 'BLU', 'GRN'])}-{rng.choice('SML')}{rng.randrange(100)}"
        else:
            candidate = f"{rng.randrange(100, 999)}-{rng.randrange(10**4):04d}"
        if candidate not in ids:
            ids.append(candidate)
    return ids


def good_rows(rng: random.Random, count: int) -> list[list[object]]:
    rows = []
    for sku in sku_ids(rng, count):
        rows.append(
            [
                sku,
                rng.choice([0, 1, 2, 5, 12, 40, 150, rng.randrange(1000)]),
                rng.choice([1, 1, 1, 2, 3]),
                rng.choice(["AVAILABLE"] * 5 + ["DAMAGED"]),
                rng.choice(PRODUCTS),
            ]
        )
    return rows


BAD_ROWS: list[list[object]] = [
    ["BAD-NEG", -3, 1, "AVAILABLE", "negative quantity"],
    ["BAD-FRACTION", 3.5, 1, "AVAILABLE", "fractional quantity"],
    ["", 4, 1, "AVAILABLE", "blank SKU"],
    ["BAD-TYPE", 4, 1, "LOST", "unknown inventory type"],
    ["BAD-WAREHOUSE-0", 4, 0, "AVAILABLE", "warehouse 0"],
    ["BAD-TEXT-QTY", "Not stocked", 1, "AVAILABLE", "text quantity"],
    ["UNKNOWN-WAREHOUSE", 6, 9, "AVAILABLE", "warehouse the API does not know"],
]


def with_bad_rows(rows: list[list[object]], rng: random.Random) -> list[list[object]]:
    mixed = list(rows)
    for bad in BAD_ROWS:
        mixed.insert(rng.randrange(len(mixed)), list(bad))
    # A conflicting duplicate: the same key with another quantity.
    first = mixed[10]
    mixed.insert(200, [first[0], int(first[1]) + 7, first[2], first[3], "conflicting duplicate"])
    # An identical duplicate, which is sent once.
    second = mixed[20]
    mixed.insert(120, list(second))
    return mixed


def write_xlsx(path: Path, rows: list[list[object]]) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Stock"
    sheet.append(["Stock export, warehouse system, nightly"])
    sheet.append([])
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    for cell in sheet["A"]:
        cell.number_format = "@"
    notes = workbook.create_sheet("Notes")
    notes.append(["Exported by the warehouse system; do not edit by hand."])
    workbook.save(path)


def write_csv(path: Path, rows: list[list[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)


def write_catalog(path: Path, rows: list[list[object]], rng: random.Random) -> None:
    """Register most SKUs; leave a few out so the report can show unregistered ones."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["skuId", "skuName"])
        for row in rows:
            if rng.random() < 0.95:
                writer.writerow([row[0], row[4]])


def main() -> None:
    rng = random.Random(20261204)
    xlsx_rows = good_rows(rng, 300)
    csv_rows = good_rows(rng, 250)
    write_xlsx(HERE / "stock-export.xlsx", with_bad_rows(xlsx_rows, rng))
    write_csv(HERE / "stock-export.csv", with_bad_rows(csv_rows, rng))
    write_catalog(HERE / "catalog.csv", xlsx_rows + csv_rows, rng)


if __name__ == "__main__":
    main()
