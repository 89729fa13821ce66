"""Reading benchmark: load and validate a large CSV and XLSX file, against the fastest raw read.

Each measurement runs in a fresh process (benchmarks.measure), and ours and
the reference alternate, so both see the same load on a shared machine. The
best of the repeats counts, because noise only ever adds time.

    python -m benchmarks.read
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from benchmarks import data

CSV_ROWS = 1_000_000
XLSX_ROWS = 200_000
REPEATS = 2
TARGET_RATIO = 1.5

READ_COLUMNS = (
    "file",
    "ours (s)",
    "reference",
    "reference (s)",
    "ratio",
    "target",
    "ours peak RSS (MiB)",
    "reference peak RSS (MiB)",
)


@dataclass(frozen=True)
class Measurement:
    """The best of the repeats of one kind on one file."""

    kind: str
    seconds: float
    peak_rss_mib: float


def measure(kind: str, path: Path) -> Measurement:
    """Run one benchmarks.measure process and return its seconds and peak RSS."""
    output = subprocess.run(
        [sys.executable, "-m", "benchmarks.measure", kind, str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result = json.loads(output.strip().splitlines()[-1])
    return Measurement(kind, result["seconds"], result["peak_rss_mib"])


def compare(path: Path, reference: str, repeats: int = REPEATS) -> tuple[Measurement, Measurement]:
    """Measure ours and the reference in turn ``repeats`` times; return the best of each."""
    ours: list[Measurement] = []
    theirs: list[Measurement] = []
    for _ in range(repeats):
        ours.append(measure("ours", path))
        theirs.append(measure(reference, path))
    return (
        min(ours, key=lambda item: item.seconds),
        min(theirs, key=lambda item: item.seconds),
    )


def _row(label: str, reference_label: str, ours: Measurement, reference: Measurement) -> list[str]:
    ratio = ours.seconds / reference.seconds
    return [
        label,
        f"{ours.seconds:.2f}",
        reference_label,
        f"{reference.seconds:.2f}",
        f"{ratio:.2f}",
        f"≤ {TARGET_RATIO}",
        f"{ours.peak_rss_mib:.0f}",
        f"{reference.peak_rss_mib:.0f}",
    ]


def read_rows(
    csv_rows: int = CSV_ROWS, xlsx_rows: int = XLSX_ROWS, repeats: int = REPEATS
) -> list[list[str]]:
    """Measure the CSV and XLSX reads and return one table row each, in READ_COLUMNS order."""
    csv_path = data.csv_file(csv_rows)
    xlsx_path = data.xlsx_file(xlsx_rows)
    csv_ours, csv_reference = compare(csv_path, "raw-csv", repeats)
    xlsx_ours, xlsx_reference = compare(xlsx_path, "raw-calamine", repeats)
    return [
        _row(
            f"CSV, {csv_rows:,} rows",
            "pandas read_csv(dtype=str) + the same pandera schema",
            csv_ours,
            csv_reference,
        ),
        _row(
            f"XLSX, {xlsx_rows:,} rows",
            "python-calamine to_python()",
            xlsx_ours,
            xlsx_reference,
        ),
    ]


def markdown_table(columns: tuple[str, ...], rows: list[list[str]]) -> str:
    """Format rows as a markdown table."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines.extend("| " + " | ".join(row) + " |" for row in rows)
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table(READ_COLUMNS, read_rows()))
