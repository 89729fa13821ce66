"""The column mapping file: reading it, applying it, and a sync of the sample export."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from batch_sync.errors import InputError
from batch_sync.load import load_table
from batch_sync.mapping import read_mapping
from batch_sync.validate import validate_table
from tests.conftest import SAMPLE_FILES, TEST_TOKEN, Sandbox, run_cli
from tests.workbooks import write_workbook

SHOPIFY_EXPORT = SAMPLE_FILES / "shopify-inventory.csv"
SHOPIFY_MAPPING = SAMPLE_FILES / "shopify-mapping.toml"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_erp_headers_and_defaults(tmp_path: Path) -> None:
    mapping = write(
        tmp_path,
        "erp.toml",
        '[columns]\nskuId = ["Item No.", "Item"]\nquantity = "Qty on hand"\n'
        '[defaults]\nwarehouseId = 1\ninventoryType = "AVAILABLE"\n',
    )
    export = write(
        tmp_path,
        "erp.csv",
        "Item No.;Description;Qty on hand\n000123;Sock;4\nA-2;Mug;0\n",
    )

    validated = validate_table(load_table(export, mapping_path=mapping))

    assert validated.valid.to_dict("index") == {
        2: {
            "skuId": "000123",
            "quantity": 4,
            "warehouseId": 1,
            "inventoryType": "AVAILABLE",
        },
        3: {
            "skuId": "A-2",
            "quantity": 0,
            "warehouseId": 1,
            "inventoryType": "AVAILABLE",
        },
    }
    assert validated.source.ignored_columns == ["Description"]


def test_mapping_reads_workbook(tmp_path: Path) -> None:
    mapping = write(
        tmp_path,
        "erp.toml",
        '[columns]\nskuId = "Item No."\nquantity = "Inventory"\n'
        'warehouseId = "Location Code"\n[defaults]\ninventoryType = "AVAILABLE"\n'
        "[warehouses]\nMAIN = 1\n",
    )
    export = tmp_path / "erp.xlsx"
    write_workbook(
        export,
        [
            ["Item No.", "Description", "Location Code", "Inventory"],
            ["0614", "Mug", "MAIN", 3],
        ],
        title="Items",
    )

    validated = validate_table(load_table(export, mapping_path=mapping))

    assert validated.valid.to_dict("index") == {
        2: {
            "skuId": "0614",
            "quantity": 3,
            "warehouseId": 1,
            "inventoryType": "AVAILABLE",
        },
    }


def test_default_leaves_blank_cell_invalid(tmp_path: Path) -> None:
    mapping = write(tmp_path, "m.toml", "[defaults]\nwarehouseId = 2\n")
    export = write(
        tmp_path, "s.csv", "skuId,quantity,warehouseId,inventoryType\nA,1,,AVAILABLE\n"
    )

    validated = validate_table(load_table(export, mapping_path=mapping))

    assert (
        validated.problems[2][0].reason == "warehouseId is blank; enter a whole number"
    )


def test_placeholder_treatments(tmp_path: Path) -> None:
    mapping = write(
        tmp_path,
        "m.toml",
        '[placeholders.quantity]\n"not stocked" = { replace = "0" }\n"n/a" = "invalid"\n"-" = "skip"\n',
    )
    export = write(
        tmp_path,
        "s.csv",
        "skuId,quantity,warehouseId,inventoryType\nA,Not Stocked,1,AVAILABLE\nB, n/a ,1,AVAILABLE\nC,-,1,AVAILABLE\n",
    )

    table = load_table(export, mapping_path=mapping)
    validated = validate_table(table)

    assert validated.valid.loc[2, "quantity"] == 0
    assert (
        table.row_notes[2]
        == "quantity 'Not Stocked' read as '0' by the mapping file m.toml"
    )
    assert validated.problems[3][0].reason == (
        "quantity is the placeholder 'n/a', not a value; enter the quantity or remove the row"
    )
    assert [skipped.row for skipped in table.skipped_rows] == [4]
    assert (
        table.skipped_rows[0].reason
        == "quantity '-' is a placeholder that the mapping file m.toml skips"
    )
    assert list(table.frame.index) == [2, 3]


def test_placeholder_list_means_invalid(tmp_path: Path) -> None:
    mapping = write(tmp_path, "m.toml", '[placeholders]\nskuId = ["-", "n/a"]\n')
    export = write(
        tmp_path,
        "s.csv",
        "skuId,quantity,warehouseId,inventoryType\n-,1,1,AVAILABLE\nN/A,1,1,AVAILABLE\nA,1,1,AVAILABLE\n",
    )

    validated = validate_table(load_table(export, mapping_path=mapping))

    assert list(validated.valid["skuId"]) == ["A"]
    assert validated.problems[2][0].reason.startswith("skuId is the placeholder '-'")
    assert validated.problems[3][0].reason.startswith("skuId is the placeholder 'N/A'")


def test_unlisted_location_skipped(tmp_path: Path) -> None:
    mapping = write(tmp_path, "m.toml", '[warehouses]\n"Main" = 1\n"North" = 3\n')
    export = write(
        tmp_path,
        "s.csv",
        "skuId,quantity,warehouseId,inventoryType\nA,1,main,AVAILABLE\nB,1,South,AVAILABLE\nC,1,3,AVAILABLE\nD,1,NORTH ,DAMAGED\n",
    )

    table = load_table(export, mapping_path=mapping)
    validated = validate_table(table)

    assert validated.valid["warehouseId"].to_dict() == {2: 1, 5: 3}
    assert [skipped.row for skipped in table.skipped_rows] == [3, 4]
    assert table.skipped_rows[0].values["warehouseId"] == "South"
    assert (
        "location 'South' is not listed under [warehouses]"
        in table.skipped_rows[0].reason
    )


def test_default_warehouse_not_looked_up(tmp_path: Path) -> None:
    mapping = write(
        tmp_path, "m.toml", '[defaults]\nwarehouseId = 2\n[warehouses]\n"Main" = 1\n'
    )
    export = write(tmp_path, "s.csv", "skuId,quantity,inventoryType\nA,1,AVAILABLE\n")

    validated = validate_table(load_table(export, mapping_path=mapping))

    assert validated.valid["warehouseId"].to_dict() == {2: 2}
    assert validated.source.skipped_rows == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[columns\n", "not valid TOML"),
        ("[columns]\nsku = 'SKU'\n", "'sku', which is not one of"),
        ("[defaults]\nwarehouseId = 0\n", "must be a whole number of 1 or more"),
        ("[defaults]\ninventoryType = 'LOST'\n", "must be AVAILABLE or DAMAGED"),
        (
            "[defaults]\nskuId = 'X'\n",
            "only warehouseId and inventoryType can have a default",
        ),
        ("[warehouses]\nMain = 'one'\n", "must be a warehouse id of 1 or more"),
        ("[placeholders.quantity]\n'x' = 'ignore'\n", 'must be "invalid", "skip" or'),
        ("[location]\nMain = 1\n", "'location' is not one of the tables"),
        ("[placeholders]\nqty = ['-']\n", "'qty', which is not one of"),
        (
            "[columns]\nskuId = 'Item'\nquantity = 'item'\n",
            "maps the header 'item' to both skuId and quantity",
        ),
    ],
)
def test_invalid_mapping_rejected(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "bad.toml", text)

    with pytest.raises(InputError) as error:
        read_mapping(path)

    assert message in str(error.value)
    assert str(path) in str(error.value)


def test_mapping_lists_every_problem(tmp_path: Path) -> None:
    path = write(
        tmp_path, "bad.toml", "[defaults]\nwarehouseId = -1\n[warehouses]\nMain = 0\n"
    )

    with pytest.raises(InputError) as error:
        read_mapping(path)

    assert "[defaults] warehouseId" in str(error.value)
    assert "[warehouses] 'Main'" in str(error.value)


def read_report(report_dir: Path) -> tuple[list[dict[str, str]], dict]:
    (results,) = report_dir.glob("*-results.csv")
    (summary,) = report_dir.glob("*-summary.json")
    with results.open(newline="", encoding="utf-8-sig") as handle:
        lines = list(csv.DictReader(handle))
    return lines, json.loads(summary.read_text())


def test_shopify_sample_syncs(sandbox: Sandbox, tmp_path: Path) -> None:
    report_dir = tmp_path / "reports"

    result = run_cli(
        "sync",
        str(SHOPIFY_EXPORT),
        "--mapping",
        str(SHOPIFY_MAPPING),
        "--base-url",
        sandbox.url,
        "--report-dir",
        str(report_dir),
        env={"ECROSS_TOKEN": TEST_TOKEN},
    )

    assert result.returncode == 1, result.stderr
    sent = [
        (
            entry["body"]["skuId"],
            entry["body"]["warehouseId"],
            entry["body"]["quantity"],
            entry["body"]["inventoryType"],
        )
        for entry in sandbox.received()
    ]
    assert sorted(sent) == sorted(
        [
            ("000123", 1, 12, "AVAILABLE"),
            ("000123", 2, 2, "AVAILABLE"),
            ("0614", 1, 0, "AVAILABLE"),
            ("TS-SND-M40", 1, 7, "AVAILABLE"),
            ("TS-SND-M40", 3, 3, "AVAILABLE"),
            ("NA", 1, 40, "AVAILABLE"),
            ("TR-43", 1, 6, "AVAILABLE"),
        ]
    )

    lines, summary = read_report(report_dir)
    statuses = {int(line["row"]): line["status"] for line in lines}
    assert statuses == {
        2: "synced",
        3: "synced",
        4: "skipped",
        5: "synced",
        6: "skipped",
        7: "synced",
        8: "synced",
        9: "invalid",
        10: "synced",
        11: "skipped",
        12: "invalid",
        13: "synced",
    }
    errors = {int(line["row"]): line["error"] for line in lines}
    assert "location 'Pop-up store' is not listed" in errors[4]
    assert (
        errors[6]
        == "quantity 'not stocked' is a placeholder that the mapping file shopify-mapping.toml skips"
    )
    assert "skuId is the placeholder '-'" in errors[9]
    assert "quantity is negative" in errors[12]
    assert summary["rowsRead"] == 12
    assert summary["skipped"] == 3


def test_missing_mapping_file_exits_two(sandbox: Sandbox, tmp_path: Path) -> None:
    result = run_cli(
        "sync",
        str(SHOPIFY_EXPORT),
        "--mapping",
        str(tmp_path / "missing.toml"),
        "--base-url",
        sandbox.url,
        "--report-dir",
        str(tmp_path / "reports"),
        env={"ECROSS_TOKEN": TEST_TOKEN},
    )

    assert result.returncode == 2
    assert "mapping file not found" in result.stderr
    assert "Traceback" not in result.stderr
    assert sandbox.received() == []
