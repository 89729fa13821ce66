"""Unattended operation through the real CLI: logs, secrets, guards, lock, configuration, history."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.conftest import TEST_TOKEN, Sandbox, run_cli, start_sandbox

HEADER = "skuId,quantity,warehouseId,inventoryType\n"


def write_stock(path: Path, rows: int, zero_every: int = 0, offset: int = 0) -> Path:
    lines = []
    for index in range(rows):
        quantity = 0 if zero_every and index % zero_every == 0 else index + 1 + offset
        lines.append(f"SKU-{index:05d},{quantity},1,AVAILABLE\n")
    path.write_text(HEADER + "".join(lines))
    return path


def sync(path: Path, sandbox: Sandbox, *extra: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    return run_cli(
        "sync", str(path), "--base-url", sandbox.url, "--report-dir", str(path.parent / "reports"), *extra,
        env={"ECROSS_TOKEN": TEST_TOKEN, **(env or {})}, cwd=cwd,
    )


def test_logs_are_json_lines_off_terminal(sandbox: Sandbox, tmp_path: Path) -> None:
    path = write_stock(tmp_path / "stock.csv", 5)

    result = sync(path, sandbox)

    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stderr.splitlines() if line.strip()]
    names = [event["event"] for event in events]
    assert "sync.started" in names
    assert names[-1] == "sync.finished" or "sync.finished" in names
    started = names.index("sync.started")
    run_ids = {event.get("run_id") for event in events[started:]}
    assert len(run_ids) == 1
    assert None not in run_ids
    finished = next(event for event in events if event["event"] == "sync.finished")
    for key in ("exit_status", "rows_read", "synced", "invalid", "failed", "not_sent"):
        assert key in finished


def test_logs_readable_with_bar_on_terminal(sandbox: Sandbox, tmp_path: Path) -> None:
    path = write_stock(tmp_path / "stock.csv", 5)
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    env = {key: value for key, value in os.environ.items() if not key.startswith("ECROSS_")}
    env["ECROSS_TOKEN"] = TEST_TOKEN

    process = subprocess.Popen(
        [sys.executable, "-m", "batch_sync", "sync", str(path), "--base-url", sandbox.url,
         "--report-dir", str(tmp_path / "reports")],
        stdout=subprocess.PIPE, stderr=follower, env=env,
    )
    os.close(follower)
    output = b""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                break
            if not chunk:
                break
            output += chunk
        elif process.poll() is not None:
            break
    process.wait(timeout=60)
    os.close(leader)
    text = output.decode("utf-8", "replace")

    assert process.returncode == 0
    assert "sync.started" in text
    assert "\x1b[" in text
    assert "sending" in text
    assert not any(line.startswith("{") for line in text.splitlines())


def test_log_file_gets_json_copy(sandbox: Sandbox, tmp_path: Path) -> None:
    path = write_stock(tmp_path / "stock.csv", 3)
    log_file = tmp_path / "logs" / "sync.jsonl"

    result = sync(path, sandbox, "--log-file", str(log_file))

    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert any(event["event"] == "sync.finished" for event in events)


def test_quiet_logs_warnings_only(sandbox: Sandbox, tmp_path: Path) -> None:
    path = write_stock(tmp_path / "stock.csv", 3)

    result = sync(path, sandbox, "-q")

    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""


def test_secrets_never_written(tmp_path: Path) -> None:
    secret = "client-secret-7d1e0f"
    sandbox = start_sandbox(
        tmp_path, "--client-secret", secret, "--token-lifetime", "3", "--revoke-tokens-every", "40",
    )
    path = write_stock(tmp_path / "stock.csv", 120)
    log_file = tmp_path / "sync.jsonl"
    try:
        result = run_cli(
            "sync", str(path), "--base-url", sandbox.url, "--auth-url", sandbox.url,
            "--report-dir", str(tmp_path / "reports"), "--log-file", str(log_file), "-v",
            env={"ECROSS_CLIENT_ID": "sandbox-client", "ECROSS_CLIENT_SECRET": secret},
        )
    finally:
        sandbox.stop()

    assert result.returncode == 0, result.stderr
    written = [result.stdout, result.stderr, log_file.read_text()]
    for report in (tmp_path / "reports").iterdir():
        written.append(report.read_bytes().decode("latin-1"))
    for journal_file in (tmp_path / "state").iterdir():
        written.append(journal_file.read_bytes().decode("latin-1"))
    for text in written:
        assert secret not in text
        assert "Bearer " not in text


def test_stale_file_refused_then_allowed(sandbox: Sandbox, tmp_path: Path) -> None:
    path = write_stock(tmp_path / "stock.csv", 3)
    two_days_ago = time.time() - 48 * 3600
    os.utime(path, (two_days_ago, two_days_ago))

    refused = sync(path, sandbox)
    allowed = sync(path, sandbox, "--allow-old-file")

    assert refused.returncode == 2
    assert "--allow-old-file" in refused.stderr
    assert allowed.returncode == 0, allowed.stderr
    assert len(sandbox.received()) == 3


def test_truncated_export_refused_then_allowed(sandbox: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "stock-20261203.csv"
    assert sync(write_stock(path, 100), sandbox).returncode == 0
    short = tmp_path / "stock-20261204.csv"
    write_stock(short, 20, offset=1)

    refused = sync(short, sandbox)
    allowed = sync(short, sandbox, "--allow-fewer-rows")

    assert refused.returncode == 2
    assert "20 rows" in refused.stderr
    assert "--allow-fewer-rows" in refused.stderr
    assert allowed.returncode == 0, allowed.stderr


def test_zeroed_export_refused_then_allowed(sandbox: Sandbox, tmp_path: Path) -> None:
    path = tmp_path / "stock.csv"
    assert sync(write_stock(path, 100), sandbox).returncode == 0
    write_stock(path, 100, zero_every=2)

    refused = sync(path, sandbox)
    allowed = sync(path, sandbox, "--allow-zero-quantities")

    assert refused.returncode == 2
    assert "--allow-zero-quantities" in refused.stderr
    assert allowed.returncode == 0, allowed.stderr


def test_same_content_refused_then_allowed(sandbox: Sandbox, tmp_path: Path) -> None:
    path = write_stock(tmp_path / "stock.csv", 4)
    assert sync(path, sandbox).returncode == 0

    refused = sync(path, sandbox)
    allowed = sync(path, sandbox, "--allow-resync")

    assert refused.returncode == 2
    assert "already synced" in refused.stderr
    assert "--allow-resync" in refused.stderr
    assert allowed.returncode == 0, allowed.stderr
    assert len(sandbox.received()) == 8


def test_second_run_locked_and_stale_lock_taken(tmp_path: Path) -> None:
    sandbox = start_sandbox(tmp_path, "--latency", "0.2")
    path = write_stock(tmp_path / "stock.csv", 400)
    env = {key: value for key, value in os.environ.items() if not key.startswith("ECROSS_")}
    env["ECROSS_TOKEN"] = TEST_TOKEN
    first = subprocess.Popen(
        [sys.executable, "-m", "batch_sync", "sync", str(path), "--base-url", sandbox.url,
         "--report-dir", str(tmp_path / "reports"), "--concurrency", "2"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        assert first.stderr is not None
        for line in first.stderr:
            if '"upload.started"' in line:
                break

        second = sync(path, sandbox)

        first.kill()
        first.wait()
        third = sync(path, sandbox, "--concurrency", "16")
    finally:
        if first.poll() is None:
            first.kill()
        sandbox.stop()

    assert second.returncode == 75
    assert "another sync" in second.stderr
    assert f"process {first.pid}" in second.stderr
    assert third.returncode == 0, third.stderr
    assert '"lock.stale_taken_over"' in third.stderr


def test_config_precedence_through_cli(tmp_path: Path) -> None:
    (tmp_path / "batch-sync.toml").write_text('concurrency = 3\nreport_dir = "out"\n[retry]\nmax_attempts = 4\n')

    from_file = run_cli("config", cwd=tmp_path)
    from_env = run_cli("config", env={"BATCH_SYNC_CONCURRENCY": "5"}, cwd=tmp_path)
    from_flag = run_cli("config", "--concurrency", "7", env={"BATCH_SYNC_CONCURRENCY": "5"}, cwd=tmp_path)

    def setting(result, key: str) -> list[str]:
        line = next(line for line in result.stdout.splitlines() if line.startswith(key + " "))
        return line.split()

    assert setting(from_file, "concurrency")[1:] == ["3", "file"]
    assert setting(from_env, "concurrency")[1:] == ["5", "env"]
    assert setting(from_flag, "concurrency")[1:] == ["7", "flag"]
    assert setting(from_file, "retry.max_attempts")[1:] == ["4", "file"]
    assert setting(from_file, "report_dir")[1:] == [str(tmp_path / "out"), "file"]
    assert setting(from_file, "base_url")[2] == "default"


def test_config_errors_reported_together(tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text('concurrency = 0\nrate_limit = "fast"\ntoken = "abc123"\n')
    path = write_stock(tmp_path / "stock.csv", 2)

    result = run_cli("sync", str(path), "--config", str(config), env={"ECROSS_TOKEN": TEST_TOKEN})

    assert result.returncode == 2
    assert "concurrency = 0" in result.stderr
    assert "rate_limit = 'fast'" in result.stderr
    assert "'token' is a secret" in result.stderr
    assert "abc123" not in result.stderr
    assert "Traceback" not in result.stderr


def test_config_masks_secrets(tmp_path: Path) -> None:
    result = run_cli("config", env={"ECROSS_TOKEN": "tok-visible-9"}, cwd=tmp_path)

    assert result.returncode == 0
    assert "tok-visible-9" not in result.stdout
    assert "set (hidden)" in result.stdout


def test_old_reports_removed_after_run(sandbox: Sandbox, tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    reports.mkdir()
    old = reports / "stock-20200101T000000Z-results.csv"
    old.write_text("old")
    unrelated = reports / "README.txt"
    unrelated.write_text("keep")
    path = write_stock(tmp_path / "stock.csv", 2)

    result = sync(path, sandbox, "--keep-reports-days", "10")

    assert result.returncode == 0, result.stderr
    assert not old.exists()
    assert unrelated.exists()
    assert len(list(reports.glob("stock-*-results.csv"))) == 1


def test_history_and_show(sandbox: Sandbox, tmp_path: Path) -> None:
    first = write_stock(tmp_path / "first.csv", 3)
    second = write_stock(tmp_path / "second.csv", 4)
    assert sync(first, sandbox).returncode == 0
    assert sync(second, sandbox).returncode == 0

    history = run_cli("history")
    show = run_cli("show", "1")
    missing = run_cli("show", "99")

    lines = history.stdout.splitlines()
    assert history.returncode == 0
    assert "second.csv" in lines[1]
    assert "first.csv" in lines[2]
    assert show.returncode == 0
    assert "first.csv" in show.stdout
    assert "-results.xlsx" in show.stdout
    assert missing.returncode == 2
    assert "no run 99" in missing.stderr


@pytest.mark.parametrize("command", ["history", "config"])
def test_read_only_commands_need_no_token(command: str, tmp_path: Path) -> None:
    result = run_cli(command, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
