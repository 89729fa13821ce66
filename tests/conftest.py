"""Shared fixtures: a real sandbox process on 127.0.0.1 and a runner for the real CLI."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent
SAMPLE_FILES = REPO / "sample_files"
TEST_TOKEN = "test-token-5f2a9c"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Sandbox:
    """A running ``batch-sync sandbox`` process."""

    url: str
    token: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def received(self) -> list[dict[str, Any]]:
        """Return every request the sandbox logged, oldest first."""
        return httpx.get(f"{self.url}/_sandbox/requests", timeout=10).json()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_sandbox(tmp_path: Path, *extra_args: str, token: str = TEST_TOKEN) -> Sandbox:
    """Start the sandbox CLI on a free loopback port and wait until it answers."""
    port = free_port()
    log_path = tmp_path / f"sandbox-{port}.log"
    env = {**os.environ, "ECROSS_SANDBOX_TOKEN": token}
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "batch_sync", "sandbox",
                "--host", "127.0.0.1", "--port", str(port),
                "--catalog", str(SAMPLE_FILES / "catalog.csv"),
                *extra_args,
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
        )
    sandbox = Sandbox(f"http://127.0.0.1:{port}", token, process, log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sandbox exited early: {log_path.read_text()}")
        try:
            httpx.get(f"{sandbox.url}/_sandbox/health", timeout=1)
            return sandbox
        except httpx.TransportError:
            time.sleep(0.1)
    sandbox.stop()
    raise RuntimeError(f"sandbox did not start within 30 s: {log_path.read_text()}")


@pytest.fixture(autouse=True)
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep every CLI run's journal in the test's own directory, not in the home directory."""
    path = tmp_path / "state"
    monkeypatch.setenv("BATCH_SYNC_STATE_DIR", str(path))
    return path


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    running = start_sandbox(tmp_path)
    yield running
    running.stop()


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 300, cwd: Path | None = None) -> CliResult:
    """Run ``python -m batch_sync ARGS`` in a subprocess and capture its output."""
    full_env = {key: value for key, value in os.environ.items() if not key.startswith("ECROSS_")}
    # Module-scoped fixtures run outside the autouse state_dir fixture; they get
    # a state directory of their own, never the home directory's.
    if "BATCH_SYNC_STATE_DIR" not in full_env:
        full_env["BATCH_SYNC_STATE_DIR"] = tempfile.mkdtemp(prefix="batch-sync-state-")
    full_env.update(env or {})
    completed = subprocess.run(
        [sys.executable, "-m", "batch_sync", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=cwd,
    )
    return CliResult(completed.returncode, completed.stdout, completed.stderr)
