"""Run one measurement in a fresh process and print its result as one JSON line.

Running each measurement in its own process keeps one from warming caches or
holding memory for the next, and lets the process report its own peak RSS.

    python -m benchmarks.measure KIND PATH
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path


def _peak_rss_mib() -> float:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ours(path: Path) -> int:
    from batch_sync.load import load_table
    from batch_sync.validate import validate_table

    table = validate_table(load_table(path))
    return len(table.valid)


def raw_csv(path: Path) -> int:
    import pandas as pd

    from schemas.row import InventoryRowSchema

    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    InventoryRowSchema.validate(frame, lazy=True)
    return len(frame)


def raw_calamine(path: Path) -> int:
    from python_calamine import CalamineWorkbook

    workbook = CalamineWorkbook.from_path(str(path))
    rows = workbook.get_sheet_by_index(0).to_python()
    return len(rows) - 1


KINDS = {"ours": ours, "raw-csv": raw_csv, "raw-calamine": raw_calamine}


def main() -> None:
    kind, path = sys.argv[1], Path(sys.argv[2])
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    started = time.perf_counter()
    rows = KINDS[kind](path)
    seconds = time.perf_counter() - started
    print(json.dumps({"kind": kind, "rows": rows, "seconds": round(seconds, 3), "peak_rss_mib": round(_peak_rss_mib(), 1)}))


if __name__ == "__main__":
    main()
