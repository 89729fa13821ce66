"""Memory benchmark: peak resident memory of the real ``batch-sync sync`` command.

Each run is the CLI in its own process, and its peak RSS comes from the
kernel's accounting of that child (``os.wait4``). A dry run loads, validates
and writes the full report. A real run does the same and also sends every
row to benchmarks.fast_server on 127.0.0.1 with no rate limit and 64
workers, with the journal on. Dry and real runs of the same two sizes show
how memory grows with the table and how much more it grows per row sent.

    python -m benchmarks.memory
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks import data
from benchmarks.servers import fast_server

# make bench runs these sizes. The section took 3.4 minutes on a shared
# 2-core machine, most of it sending the 200,000-row real run. The memory-1m
# section runs the 1,000,000-row dry run, which took about 1.5 minutes.
DRY_RUN_ROWS = (20_000, 200_000)
FULL_DRY_RUN_ROWS = (1_000_000,)
REAL_RUN_ROWS = (20_000, 200_000)
CONCURRENCY = 64
MEMORY_LIMIT_MIB = 1024

MEMORY_COLUMNS = ("run", "rows", "seconds", "exit status", "peak RSS (MiB)", "target")


@dataclass(frozen=True)
class CliRun:
    """One finished CLI run."""

    seconds: float
    exit_status: int
    peak_rss_mib: float


def run_cli(arguments: list[str], env: dict[str, str]) -> CliRun:
    """Run ``python -m batch_sync`` with ``arguments`` and return its time and peak RSS."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "batch_sync", *arguments],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    # ru_maxrss is in KiB on Linux.
    return CliRun(seconds, process.returncode, usage.ru_maxrss / 1024)


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["ECROSS_TOKEN"] = "benchmark-token"
    return env


def _row(label: str, rows: int, run: CliRun) -> list[str]:
    return [
        label,
        f"{rows:,}",
        f"{run.seconds:.1f}",
        str(run.exit_status),
        f"{run.peak_rss_mib:.0f}",
        f"< {MEMORY_LIMIT_MIB}",
    ]


def memory_rows(
    dry_run_rows: tuple[int, ...] = DRY_RUN_ROWS,
    real_run_rows: tuple[int, ...] = REAL_RUN_ROWS,
) -> list[list[str]]:
    """Run the CLI at each size and return one table row per run, in MEMORY_COLUMNS order."""
    env = _environment()
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="batch-sync-memory-") as folder:
        reports = Path(folder) / "reports"
        for count in dry_run_rows:
            path = data.csv_file(count)
            run = run_cli(
                ["sync", str(path), "--dry-run", "--report-dir", str(reports)], env
            )
            rows.append(_row("dry run (CSV)", count, run))

        with fast_server(latency=0.0) as (url, _stats):
            for count in real_run_rows:
                path = data.csv_file(count)
                state = Path(folder) / f"state-{count}"
                run = run_cli(
                    [
                        "sync",
                        str(path),
                        "--base-url",
                        url,
                        "--rate-limit",
                        "0",
                        "--concurrency",
                        str(CONCURRENCY),
                        "--report-dir",
                        str(reports),
                        "--state-dir",
                        str(state),
                        # bench-data/ files may be older than the stale-file guard allows.
                        "--allow-old-file",
                    ],
                    env,
                )
                rows.append(_row("real run (CSV, instant server)", count, run))
    return rows


if __name__ == "__main__":
    from benchmarks.read import markdown_table

    print(markdown_table(MEMORY_COLUMNS, memory_rows()))
