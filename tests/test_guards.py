"""Guards that refuse the wrong file, and report retention."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from batch_sync.guards import check_already_synced, check_file_age, check_row_count, check_zero_share
from batch_sync.housekeeping import remove_old_reports

NOW = dt.datetime(2026, 12, 4, 3, 0, tzinfo=dt.timezone.utc)


def test_file_age_refuses_stale_export(tmp_path: Path) -> None:
    path = tmp_path / "stock.csv"
    path.write_text("x")
    two_days_ago = (NOW - dt.timedelta(hours=48)).timestamp()
    os.utime(path, (two_days_ago, two_days_ago))

    failure = check_file_age(path, 36, NOW)

    assert failure is not None
    assert "48.0 hours ago" in failure.reason
    assert failure.override == "--allow-old-file"
    assert check_file_age(path, 72, NOW) is None
    assert check_file_age(path, 0, NOW) is None


def test_row_count_refuses_truncated_export() -> None:
    failure = check_row_count(400, 1000, 0.5)

    assert failure is not None
    assert "400 rows" in failure.reason
    assert "1000" in failure.reason
    assert check_row_count(600, 1000, 0.5) is None
    assert check_row_count(10, None, 0.5) is None


def test_zero_share_refuses_jump() -> None:
    failure = check_zero_share(400, 1000, 0.05, 0.3)

    assert failure is not None
    assert "40%" in failure.reason
    assert check_zero_share(100, 1000, 0.05, 0.3) is None
    assert check_zero_share(900, 1000, None, 0.3) is None


def test_already_synced_names_previous_run() -> None:
    failure = check_already_synced("20261203T030000Z-ab12")

    assert failure is not None
    assert "20261203T030000Z-ab12" in failure.reason
    assert check_already_synced(None) is None


def test_old_reports_removed_by_name_time(tmp_path: Path) -> None:
    old = tmp_path / "stock-20261101T030000Z-results.csv"
    recent = tmp_path / "stock-20261203T030000Z-results.xlsx"
    unrelated = tmp_path / "notes-20261101.txt"
    for path in (old, recent, unrelated):
        path.write_text("x")

    removed = remove_old_reports(tmp_path, 30, NOW)

    assert removed == [old]
    assert not old.exists()
    assert recent.exists()
    assert unrelated.exists()


def test_zero_retention_keeps_everything(tmp_path: Path) -> None:
    old = tmp_path / "stock-20201101T030000Z-summary.json"
    old.write_text("{}")

    assert remove_old_reports(tmp_path, 0, NOW) == []
    assert old.exists()
