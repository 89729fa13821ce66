"""The results workbook written with XlsxWriter, read back with openpyxl."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from batch_sync.load import load_table
from batch_sync.report import RunFacts, result_lines, write_report
from batch_sync.validate import validate_table


def write_for(tmp_path: Path, lines_of: Any) -> Path:
    path = tmp_path / "stock.csv"
    path.write_text("skuId,quantity,warehouseId,inventoryType\n=A-1,3,1,AVAILABLE\nB-2,x,1,AVAILABLE\n")
    table = validate_table(load_table(path))
    started = dt.datetime.now(dt.timezone.utc)

    def facts_for(counts: Counter[str]) -> RunFacts:
        return RunFacts(input_path=path, started=started, finished=started, dry_run=True, exit_status=1)

    report_dir = tmp_path / "reports"
    write_report(report_dir, table, lines_of(result_lines(table, [], "dry run")), started, facts_for)
    return report_dir


def test_failed_report_leaves_no_files(tmp_path: Path) -> None:
    def failing(lines: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        yield next(lines)
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_for(tmp_path, failing)

    assert list((tmp_path / "reports").iterdir()) == []


def test_rows_sheet_keeps_text_types(tmp_path: Path) -> None:
    report_dir = write_for(tmp_path, lambda lines: lines)

    (xlsx,) = report_dir.glob("*-results.xlsx")
    rows = list(openpyxl.load_workbook(xlsx)["Rows"].iter_rows(values_only=True))

    assert rows[1][:2] == (2, "'=A-1")
    assert rows[1][4] == 3
    assert rows[2][4] == "x"
    assert rows[2][5] == "invalid"
    assert not [path.name for path in report_dir.iterdir() if path.name.startswith(".")]


def test_report_files_share_owner_only_mode(tmp_path: Path) -> None:
    report_dir = write_for(tmp_path, lambda lines: lines)

    modes = {path.suffix: path.stat().st_mode & 0o777 for path in report_dir.iterdir()}

    assert modes[".xlsx"] == 0o600
    assert modes[".csv"] == 0o600
    assert modes[".json"] == 0o600
