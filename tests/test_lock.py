"""The run lock: one sync per state directory, and takeover of a dead holder's lock."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from batch_sync.lock import LOCK_NAME, RunLock, RunLocked

HOLD_LOCK = """
import sys, time
from pathlib import Path
from batch_sync.lock import RunLock
with RunLock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_second_holder_is_rejected(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"

        with pytest.raises(RunLocked) as raised:
            RunLock(tmp_path).acquire()

        assert f"process {holder.pid}" in str(raised.value)
        assert str(tmp_path) in str(raised.value)
    finally:
        holder.kill()
        holder.wait()


def test_killed_holder_lock_is_taken_over(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "locked"
    holder.kill()
    holder.wait()

    with capture_logs() as logs, RunLock(tmp_path):
        record = json.loads((tmp_path / LOCK_NAME).read_text())

    takeovers = [entry for entry in logs if entry["event"] == "lock.stale_taken_over"]
    assert len(takeovers) == 1
    assert takeovers[0]["previous_pid"] == holder.pid
    assert record["pid"] != holder.pid


def test_released_lock_can_be_taken_again(tmp_path: Path) -> None:
    with RunLock(tmp_path):
        pass

    with capture_logs() as logs, RunLock(tmp_path):
        pass

    assert [entry for entry in logs if entry["event"] == "lock.stale_taken_over"] == []
