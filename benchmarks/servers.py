"""Start and stop the benchmark server in its own process and read its CPU time."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class ServerStats:
    """The request count and CPU time that the server reported when it stopped."""

    requests: int = 0
    cpu_seconds: float = 0.0
    extra: dict = field(default_factory=dict)


@contextmanager
def fast_server(latency: float) -> Iterator[tuple[str, ServerStats]]:
    """Run benchmarks.fast_server on a free loopback port; yield its URL and, after, its stats."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.fast_server", "--port", str(port), "--latency", str(latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    stats = ServerStats()
    try:
        first = process.stdout.readline() if process.stdout else ""
        if '"listening"' not in first:
            raise RuntimeError(f"benchmark server did not start: {first!r}")
        time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", stats
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
        for line in output.splitlines():
            report = json.loads(line)
            if report.get("event") == "stopped":
                stats.requests = report["requests"]
                stats.cpu_seconds = report["cpu_seconds"]


def server_stats(url: str) -> dict:
    """Return the running benchmark server's POST and listing counts and its CPU seconds."""
    import httpx

    return httpx.get(f"{url}/_stats", timeout=10).json()
