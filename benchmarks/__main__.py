"""Run the benchmarks and print their results as one markdown table.

    python -m benchmarks                  # every section
    python -m benchmarks upload changed-only

Each section is a function in SECTIONS that returns table rows: figure,
ours, reference, ratio, note. The reading and memory sections live in
their own modules (benchmarks.read, benchmarks.memory) and register here.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import sys
from collections.abc import Callable

import structlog

Row = tuple[str, str, str, str, str]

# The upload sections' sizes: N rows, C workers, L seconds of server latency.
ROWS = 20_000
CONCURRENCY = 64
LATENCY = 0.05
REPEATS = 2
# Smaller runs for the alternative transports, which are only compared, not targets.
ALTERNATIVE_ROWS = 5_000
ASYNC_CLIENT_ROWS = 1_000


def _cpu_note(*shares: float) -> str:
    return f"server CPU {max(shares):.0%} of one core"


def upload_section() -> list[Row]:
    from benchmarks.upload import compare

    bound = CONCURRENCY / LATENCY
    slow = compare(["aiohttp", "batch_sync"], ROWS, CONCURRENCY, LATENCY, REPEATS)
    ours, reference = slow["batch_sync"], slow["aiohttp"]
    rows: list[Row] = [
        (
            f"upload efficiency, N={ROWS:,}, C={CONCURRENCY}, L={LATENCY * 1000:.0f} ms (rows/s)",
            f"{ours.rows_per_second:,.0f}",
            f"bound C/L {bound:,.0f}",
            f"{ours.rows_per_second / bound:.2f}",
            f"aiohttp reached {reference.rows_per_second / bound:.2f}; "
            + _cpu_note(ours.server_cpu_share, reference.server_cpu_share),
        )
    ]

    instant = compare(["aiohttp", "batch_sync"], ROWS, CONCURRENCY, 0.0, REPEATS + 1)
    ours, reference = instant["batch_sync"], instant["aiohttp"]
    rows.append(
        (
            f"client cost, instant server, N={ROWS:,}, C={CONCURRENCY} (rows/s)",
            f"{ours.rows_per_second:,.0f}",
            f"aiohttp {reference.rows_per_second:,.0f}",
            f"{ours.rows_per_second / reference.rows_per_second:.2f}",
            f"client CPU {ours.cpu_microseconds_per_row:.0f} vs {reference.cpu_microseconds_per_row:.0f} us/row; "
            + _cpu_note(ours.server_cpu_share, reference.server_cpu_share),
        )
    )

    others = compare(["aiohttp", "httpx-aiohttp"], ALTERNATIVE_ROWS, CONCURRENCY, 0.0, REPEATS)
    slowest = compare(["httpx.AsyncClient"], ASYNC_CLIENT_ROWS, CONCURRENCY, 0.0, 1)
    for name, result, reference in (
        ("uploader over httpx-aiohttp's transport", others["httpx-aiohttp"], others["aiohttp"]),
        ("stock httpx.AsyncClient, no uploader", slowest["httpx.AsyncClient"], instant["aiohttp"]),
    ):
        rows.append(
            (
                f"alternative: {name}, instant server, N={result.rows:,} (rows/s)",
                f"{result.rows_per_second:,.0f}",
                f"aiohttp {reference.rows_per_second:,.0f}",
                f"{result.rows_per_second / reference.rows_per_second:.2f}",
                f"client CPU {result.cpu_microseconds_per_row:.0f} us/row",
            )
        )
    return rows


def changed_only_section() -> list[Row]:
    from benchmarks.changed_only import measure

    result = measure(ROWS, CONCURRENCY, LATENCY)
    posts_ok = "equal" if result.changed_posts == result.changed_rows else "DIFFERENT"
    full, changed = result.full, result.changed
    return [
        (
            f"--changed-only, 1% changed, N={ROWS:,}, L={LATENCY * 1000:.0f} ms (s, API phase)",
            f"{changed.api:.1f}",
            f"full sync {full.api:.1f}",
            f"{changed.api / full.api:.2f}",
            f"{result.changed_posts} POSTs for {result.changed_rows} changed rows ({posts_ok}); "
            f"{result.listing_pages} listing pages; " + _cpu_note(result.server_cpu_share),
        ),
        (
            f"--changed-only, 1% changed, N={ROWS:,}, L={LATENCY * 1000:.0f} ms (s, whole CLI run)",
            f"{changed.whole:.1f}",
            f"full sync {full.whole:.1f}",
            f"{changed.whole / full.whole:.2f}",
            "both runs also read and validate the file and write the report",
        ),
    ]


# Section name -> function. The reading and memory sections are added by
# benchmarks.read and benchmarks.memory; keep them in this order.
def read_section() -> list[Row]:
    from benchmarks.read import read_rows

    rows: list[Row] = []
    for label, ours, reference_label, reference, ratio, target, ours_rss, reference_rss in read_rows():
        rows.append(
            (
                f"read + validate, {label} (s)",
                ours,
                f"{reference_label} {reference}",
                ratio,
                f"target {target}; peak RSS {ours_rss} vs {reference_rss} MiB",
            )
        )
    return rows


def _memory_rows(dry_run_rows: tuple[int, ...], real_run_rows: tuple[int, ...]) -> list[Row]:
    from benchmarks.memory import MEMORY_LIMIT_MIB, memory_rows

    rows: list[Row] = []
    for label, count, seconds, exit_status, peak, _target in memory_rows(dry_run_rows, real_run_rows):
        rows.append(
            (
                f"peak RSS, {label}, {count} rows (MiB)",
                peak,
                f"limit {MEMORY_LIMIT_MIB}",
                f"{float(peak) / MEMORY_LIMIT_MIB:.2f}",
                f"{seconds} s, exit status {exit_status}",
            )
        )
    return rows


def memory_section() -> list[Row]:
    from benchmarks.memory import DRY_RUN_ROWS, REAL_RUN_ROWS

    return _memory_rows(DRY_RUN_ROWS, REAL_RUN_ROWS)


def memory_1m_section() -> list[Row]:
    from benchmarks.memory import FULL_DRY_RUN_ROWS

    return _memory_rows(FULL_DRY_RUN_ROWS, ())


SECTIONS: dict[str, Callable[[], list[Row]]] = {
    "upload": upload_section,
    "changed-only": changed_only_section,
    "read": read_section,
    "memory": memory_section,
}
# Sections that run only when named, because they do not fit make bench's
# ten-minute budget on this machine.
EXTRA_SECTIONS: dict[str, Callable[[], list[Row]]] = {"memory-1m": memory_1m_section}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("sections", nargs="*", metavar="SECTION", help=f"any of {', '.join([*SECTIONS, *EXTRA_SECTIONS])} (default: {', '.join(SECTIONS)})")
    args = parser.parse_args()
    known = {**SECTIONS, **EXTRA_SECTIONS}
    unknown = [name for name in args.sections if name not in known]
    if unknown:
        parser.error(f"unknown section {', '.join(unknown)}; choose from {', '.join(known)}")
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))

    print(f"benchmarks on {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC, Python {platform.python_version()}, {sys.platform}")
    print()
    print("| figure | ours | reference | ratio | note |")
    print("|---|---|---|---|---|")
    for name in args.sections or SECTIONS:
        for row in known[name]():
            print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
