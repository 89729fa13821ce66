"""Changed-only benchmark: a full sync, then ``--changed-only`` after 1% of quantities changed.

Both runs are the real CLI in a subprocess against one benchmark server with
a fixed latency, so the second run reads back what the first one stored.
The number of POSTs of the second run must equal the number of changed rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.data import csv_file
from benchmarks.servers import fast_server, server_stats

# Every CHANGE_EVERY-th row gets a new quantity: 1% of the rows.
CHANGE_EVERY = 100


@dataclass(frozen=True)
class SyncTimes:
    """Seconds of one CLI run: the whole process, and its API phase (listing and upload)."""

    whole: float
    api: float


@dataclass(frozen=True)
class ChangedOnlyResult:
    """The times of both runs and the POSTs of the changed-only run."""

    rows: int
    changed_rows: int
    full: SyncTimes
    changed: SyncTimes
    changed_posts: int
    listing_pages: int
    server_cpu_share: float


def _changed_copy(source: Path, target: Path) -> int:
    """Write ``source`` with every CHANGE_EVERY-th quantity raised by 1000; return how many changed."""
    changed = 0
    with source.open(newline="", encoding="utf-8") as reader, target.open("w", newline="", encoding="utf-8") as writer:
        rows = csv.reader(reader)
        output = csv.writer(writer)
        output.writerow(next(rows))
        for index, row in enumerate(rows):
            if index % CHANGE_EVERY == 0:
                row[1] = str(int(row[1]) + 1000)
                changed += 1
            output.writerow(row)
    return changed


def _api_seconds(log_lines: str) -> float:
    """Return the seconds from the first listing or upload event to upload.finished in JSON log lines."""
    times = {}
    for line in log_lines.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        name = event.get("event")
        if name in ("changes.listing_started", "upload.started", "upload.finished"):
            times.setdefault(name, dt.datetime.fromisoformat(event["timestamp"]))
    start = times.get("changes.listing_started") or times["upload.started"]
    return (times["upload.finished"] - start).total_seconds()


def _sync(path: Path, url: str, work_dir: Path, concurrency: int, *flags: str) -> SyncTimes:
    env = {**os.environ, "ECROSS_TOKEN": "benchmark-token", "BATCH_SYNC_STATE_DIR": str(work_dir / "state")}
    command = [
        sys.executable, "-m", "batch_sync", "sync", str(path),
        "--base-url", url, "--concurrency", str(concurrency), "--rate-limit", "0",
        "--report-dir", str(work_dir / "reports"),
        # bench-data/ keeps generated files between runs, so they may be older
        # than the stale-file guard allows.
        "--allow-old-file", *flags,
    ]
    started = time.perf_counter()
    completed = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(f"sync {' '.join(flags)} exited with {completed.returncode}: {completed.stderr[-2000:]}")
    return SyncTimes(whole=seconds, api=_api_seconds(completed.stderr))


def measure(rows: int, concurrency: int, latency: float) -> ChangedOnlyResult:
    """Run a full sync and a changed-only sync of the same file with 1% of quantities changed."""
    source = csv_file(rows)
    with tempfile.TemporaryDirectory() as directory, fast_server(latency) as (url, _):
        work_dir = Path(directory)
        changed_path = work_dir / f"stock-{rows}-changed.csv"
        changed_rows = _changed_copy(source, changed_path)

        started = server_stats(url)
        full = _sync(source, url, work_dir, concurrency)
        after_full = server_stats(url)
        changed = _sync(changed_path, url, work_dir, concurrency, "--changed-only")
        after_changed = server_stats(url)

    if after_full["posts"] - started["posts"] != rows:
        raise RuntimeError(f"the full sync sent {after_full['posts'] - started['posts']} POSTs for {rows} rows")
    cpu = after_changed["cpu_seconds"] - started["cpu_seconds"]
    clock = after_changed["clock"] - started["clock"]
    return ChangedOnlyResult(
        rows=rows,
        changed_rows=changed_rows,
        full=full,
        changed=changed,
        changed_posts=after_changed["posts"] - after_full["posts"],
        listing_pages=after_changed["listings"] - after_full["listings"],
        server_cpu_share=cpu / clock,
    )
