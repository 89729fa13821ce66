"""A run killed with SIGKILL at several points resumes without re-sending confirmed rows."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from batch_sync.journal import JOURNAL_FILE
from tests.conftest import TEST_TOKEN, run_cli, start_sandbox
from tests.test_faults_end_to_end import key, read_results, read_summary, write_rows

ROWS = 3000
# Records stored by the sandbox at which each run is killed.
KILL_POINTS = (400, 1300, 2200)


def start_sync(path: Path, url: str, report_dir: Path) -> subprocess.Popen[bytes]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("ECROSS_")}
    env["ECROSS_TOKEN"] = TEST_TOKEN
    return subprocess.Popen(
        [
            sys.executable, "-m", "batch_sync", "sync", str(path), "--base-url", url,
            "--report-dir", str(report_dir), "--rate-limit", "0", "--concurrency", "16",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )


def kill_when_stored(process: subprocess.Popen[bytes], url: str, records: int, state_dir: Path) -> None:
    """SIGKILL the process once the sandbox has stored ``records`` records and the run journaled some.

    The journal commits in batches, so on a busy machine the sandbox can be
    ahead of it; waiting for a journaled row makes every kill leave rows to skip.
    """
    while process.poll() is None:
        stored = httpx.get(f"{url}/_sandbox/health", timeout=10).json()["records"]
        if stored >= records and _latest_run_has_synced_rows(state_dir):
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    process.wait()


def _latest_run_has_synced_rows(state_dir: Path) -> bool:
    try:
        return bool(journal_synced_keys(state_dir))
    except sqlite3.Error:
        return False


def sent_keys(entries: list[dict[str, Any]]) -> set[tuple[str, int, str]]:
    """Return the row keys of logged requests; a request cut off by the kill has no JSON body."""
    return {key(entry["body"]) for entry in entries if isinstance(entry["body"], dict)}


def journal_synced_keys(state_dir: Path) -> set[tuple[str, int, str]]:
    """Return the row keys that the latest run in the journal recorded as synced."""
    with sqlite3.connect(state_dir / JOURNAL_FILE) as connection:
        (run_id,) = connection.execute("SELECT max(id) FROM runs").fetchone()
        rows = connection.execute(
            "SELECT sku_id, warehouse_id, inventory_type FROM row_results WHERE run_id = ? AND status = 'synced'",
            (run_id,),
        ).fetchall()
    return {(sku_id, warehouse_id, inventory_type) for sku_id, warehouse_id, inventory_type in rows}


def test_killed_runs_resume_to_completion(tmp_path: Path, state_dir: Path) -> None:
    path = tmp_path / "rows.csv"
    bodies = write_rows(path, ROWS)
    sandbox = start_sandbox(tmp_path, "--latency", "0.002")
    confirmed: set[tuple[str, int, str]] = set()
    try:
        for number, records in enumerate(KILL_POINTS):
            seen = len(sandbox.received())
            process = start_sync(path, sandbox.url, tmp_path / f"killed-{number}")
            kill_when_stored(process, sandbox.url, records, state_dir)

            assert process.returncode == -signal.SIGKILL
            resent = sent_keys(sandbox.received()[seen:]) & confirmed
            assert resent == set(), number
            confirmed = journal_synced_keys(state_dir)
            assert confirmed, number

        seen = len(sandbox.received())
        final = run_cli(
            "sync", str(path), "--base-url", sandbox.url, "--report-dir", str(tmp_path / "final"),
            "--rate-limit", "0", env={"ECROSS_TOKEN": TEST_TOKEN},
        )
        final_requests = sandbox.received()[seen:]
        stored = httpx.get(f"{sandbox.url}/_sandbox/health").json()["records"]
    finally:
        sandbox.stop()

    assert final.returncode == 0, final.stderr[-3000:]
    assert sent_keys(final_requests).isdisjoint(confirmed)
    assert stored == ROWS

    summary = read_summary(tmp_path / "final")
    assert summary["synced"] == ROWS
    assert summary["rowsRead"] == ROWS
    assert summary["rowsConfirmedEarlier"] == len(confirmed)
    assert summary["resumedFromRun"] is not None

    lines = read_results(tmp_path / "final")
    assert [int(line["row"]) for line in lines] == list(range(2, ROWS + 2))
    assert all(line["status"] == "synced" for line in lines)
    assert all(line["returnedId"] for line in lines)
    # The sandbox's catalog lists none of these SKUs, confirmed rows included.
    assert all(line["warnings"] == "sku_not_registered" for line in lines)
    expected_ids = {f"M1001-{b['skuId']}-{b['warehouseId']}-{b['inventoryType']}" for b in bodies}
    assert {line["returnedId"] for line in lines} == expected_ids


def test_sigterm_reports_then_resumes(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    write_rows(path, 2000)
    sandbox = start_sandbox(tmp_path, "--latency", "0.005")
    try:
        process = start_sync(path, sandbox.url, tmp_path / "stopped")
        while process.poll() is None:
            if httpx.get(f"{sandbox.url}/_sandbox/health", timeout=10).json()["records"] >= 300:
                process.send_signal(signal.SIGTERM)
                break
            time.sleep(0.02)
        process.wait(timeout=60)
        resumed = run_cli(
            "sync", str(path), "--base-url", sandbox.url, "--report-dir", str(tmp_path / "resumed"),
            "--rate-limit", "0", env={"ECROSS_TOKEN": TEST_TOKEN},
        )
    finally:
        sandbox.stop()

    assert process.returncode == 130
    stopped = read_summary(tmp_path / "stopped")
    assert stopped["exitStatus"] == 130
    assert stopped["notSent"] > 0
    assert stopped["synced"] + stopped["failed"] + stopped["notSent"] == 2000
    not_sent = [line for line in read_results(tmp_path / "stopped") if line["status"] == "not_sent"]
    assert all("SIGTERM" in line["error"] for line in not_sent)

    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = read_summary(tmp_path / "resumed")
    assert summary["synced"] == 2000
    assert summary["rowsConfirmedEarlier"] == stopped["synced"]
