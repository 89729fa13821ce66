"""The real CLI against a sandbox that misbehaves: faults, token revocation, outages."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import Sandbox, run_cli, start_sandbox

CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "client-secret-7d1e"
CREDENTIALS = {"ECROSS_CLIENT_ID": CLIENT_ID, "ECROSS_CLIENT_SECRET": CLIENT_SECRET}


def write_rows(path: Path, count: int) -> list[dict[str, Any]]:
    """Write a stock file of ``count`` valid rows and return their request bodies."""
    bodies = [
        {
            "skuId": f"SKU-{index:05d}",
            "quantity": index % 97,
            "warehouseId": 1 + index % 3,
            "inventoryType": "DAMAGED" if index % 5 == 0 else "AVAILABLE",
        }
        for index in range(count)
    ]
    lines = ["skuId,quantity,warehouseId,inventoryType"]
    lines += [f"{b['skuId']},{b['quantity']},{b['warehouseId']},{b['inventoryType']}" for b in bodies]
    path.write_text("\n".join(lines) + "\n")
    return bodies


def key(body: dict[str, Any]) -> tuple[str, int, str]:
    return (body["skuId"], body["warehouseId"], body["inventoryType"])


def read_results(report_dir: Path) -> list[dict[str, str]]:
    (path,) = report_dir.glob("*-results.csv")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def read_summary(report_dir: Path) -> dict[str, Any]:
    (path,) = report_dir.glob("*-summary.json")
    return json.loads(path.read_text())


def start_auth_sandbox(tmp_path: Path, *fault_args: str) -> Sandbox:
    return start_sandbox(tmp_path, "--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET, *fault_args)


def sync(sandbox: Sandbox, path: Path, report_dir: Path, *extra: str) -> Any:
    return run_cli(
        "sync", str(path), "--base-url", sandbox.url, "--auth-url", sandbox.url,
        "--report-dir", str(report_dir), *extra,
        env=CREDENTIALS,
    )


def test_all_faults_every_row_synced(tmp_path: Path) -> None:
    bodies = write_rows(tmp_path / "rows.csv", 300)
    sandbox = start_auth_sandbox(
        tmp_path,
        "--latency", "0.005", "--jitter", "0.01",
        "--error-rate", "0.05", "--throttle-rate", "0.015", "--retry-after", "1",
        "--drop-rate", "0.03", "--drop-after-update-rate", "0.03",
        "--max-rate", "50", "--outage-after-requests", "120", "--outage-duration", "1",
        "--revoke-tokens-every", "150", "--token-lifetime", "4", "--seed", "7",
    )
    try:
        result = sync(
            sandbox, tmp_path / "rows.csv", tmp_path / "reports",
            "--concurrency", "8", "--rate-limit", "100", "--max-attempts", "12", "--max-retry-delay", "2",
        )
        received = sandbox.received()
        tokens_issued = httpx.get(f"{sandbox.url}/_sandbox/health").json()["tokensIssued"]
    finally:
        sandbox.stop()

    assert result.returncode == 0, result.stderr[-3000:]
    summary = read_summary(tmp_path / "reports")
    assert summary["synced"] == 300
    assert summary["failed"] == 0
    assert summary["notSent"] == 0

    faults = Counter(entry.get("fault") for entry in received)
    for fault in ("error", "throttle", "closed", "closed_after_update", "outage", "rate_limit"):
        assert faults[fault] > 0, fault
    statuses = Counter(entry["status"] for entry in received)
    assert statuses[401] > 0
    assert tokens_issued > 1
    assert summary["http429"] == statuses[429]

    stored = {key(entry["body"]): entry["body"] for entry in received if entry["status"] == 200}
    assert len(stored) == len(bodies)
    for body in bodies:
        assert stored[key(body)] == body

    arrivals = Counter(key(entry["body"]) for entry in received)
    for line in read_results(tmp_path / "reports"):
        line_key = (line["skuId"], int(line["warehouseId"]), line["inventoryType"])
        assert line["status"] == "synced", line
        assert int(line["attempts"]) == arrivals[line_key], line


def test_revoked_token_renewed_mid_run(tmp_path: Path) -> None:
    write_rows(tmp_path / "rows.csv", 300)
    sandbox = start_auth_sandbox(tmp_path, "--revoke-tokens-every", "60")
    try:
        result = sync(sandbox, tmp_path / "rows.csv", tmp_path / "reports", "--concurrency", "4", "--rate-limit", "0")
        received = sandbox.received()
        tokens_issued = httpx.get(f"{sandbox.url}/_sandbox/health").json()["tokensIssued"]
    finally:
        sandbox.stop()

    assert result.returncode == 0, result.stderr[-3000:]
    assert read_summary(tmp_path / "reports")["synced"] == 300
    assert any(entry["status"] == 401 for entry in received)
    assert tokens_issued >= 300 // 60
    assert CLIENT_SECRET not in result.stderr + result.stdout


def test_persistent_401_stops_run(tmp_path: Path) -> None:
    write_rows(tmp_path / "rows.csv", 500)
    sandbox = start_auth_sandbox(tmp_path, "--reject-tokens-after", "50")
    try:
        result = sync(sandbox, tmp_path / "rows.csv", tmp_path / "reports", "--concurrency", "4", "--rate-limit", "0")
        received = sandbox.received()
    finally:
        sandbox.stop()

    assert result.returncode == 3, result.stderr[-3000:]
    rejected = [entry for entry in received if entry["status"] == 401]
    assert 0 < len(rejected) <= 12
    summary = read_summary(tmp_path / "reports")
    assert summary["synced"] == 50
    assert summary["notSent"] >= 500 - 50 - 12
    assert "401" in summary["stopReason"]


def test_wrong_client_secret_exits_three(tmp_path: Path) -> None:
    write_rows(tmp_path / "rows.csv", 20)
    sandbox = start_sandbox(tmp_path, "--client-secret", "another-secret")
    try:
        result = sync(sandbox, tmp_path / "rows.csv", tmp_path / "reports")
        received = sandbox.received()
    finally:
        sandbox.stop()

    assert result.returncode == 3
    assert received == []
    assert "ECROSS_CLIENT_SECRET" in read_summary(tmp_path / "reports")["stopReason"]


def test_outage_stops_then_rerun_completes(tmp_path: Path) -> None:
    bodies = write_rows(tmp_path / "rows.csv", 600)
    sandbox = start_auth_sandbox(tmp_path, "--outage-after-requests", "200")
    try:
        first = sync(
            sandbox, tmp_path / "rows.csv", tmp_path / "first", "--concurrency", "4", "--rate-limit", "0",
            "--outage-seconds", "2", "--max-retry-delay", "0.5",
        )
        during_outage = sandbox.received()
        httpx.delete(f"{sandbox.url}/_sandbox/outage")
        second = sync(sandbox, tmp_path / "rows.csv", tmp_path / "second", "--concurrency", "4", "--rate-limit", "0")
        after_outage = sandbox.received()[len(during_outage):]
    finally:
        sandbox.stop()

    assert first.returncode == 3, first.stderr[-3000:]
    first_summary = read_summary(tmp_path / "first")
    assert first_summary["synced"] == 200
    assert first_summary["notSent"] > 0
    assert "failed" in first_summary["stopReason"]
    not_sent = [line for line in read_results(tmp_path / "first") if line["status"] == "not_sent"]
    assert all(line["error"].startswith("not sent: ") for line in not_sent)
    # The rows in flight when the outage began failed with it, and a re-run sends them again.
    assert any(line["status"] == "failed" for line in read_results(tmp_path / "first"))
    assert list((tmp_path / "first").glob("*-to-fix.csv")) == []

    assert second.returncode == 0, second.stderr[-3000:]
    second_summary = read_summary(tmp_path / "second")
    assert second_summary["synced"] == 600
    assert second_summary["rowsConfirmedEarlier"] == 200
    synced_first = {key(entry["body"]) for entry in during_outage if entry["status"] == 200}
    sent_again = {key(entry["body"]) for entry in after_outage}
    assert synced_first.isdisjoint(sent_again)
    assert synced_first | sent_again == {key(body) for body in bodies}


def test_restart_sends_every_row_again(tmp_path: Path) -> None:
    write_rows(tmp_path / "rows.csv", 60)
    sandbox = start_auth_sandbox(tmp_path, "--outage-after-requests", "20")
    try:
        first = sync(
            sandbox, tmp_path / "rows.csv", tmp_path / "first", "--concurrency", "2", "--rate-limit", "0",
            "--outage-seconds", "1", "--max-retry-delay", "0.2",
        )
        seen = len(sandbox.received())
        httpx.delete(f"{sandbox.url}/_sandbox/outage")
        second = sync(sandbox, tmp_path / "rows.csv", tmp_path / "second", "--restart", "--rate-limit", "0")
        sent_again = sandbox.received()[seen:]
    finally:
        sandbox.stop()

    assert first.returncode == 3, first.stderr[-3000:]
    assert second.returncode == 0, second.stderr[-3000:]
    summary = read_summary(tmp_path / "second")
    assert summary["resumedFromRun"] is None
    assert summary["rowsConfirmedEarlier"] == 0
    assert len(sent_again) == 60
