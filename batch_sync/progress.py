"""Progress bars for a person at a terminal; nothing at all for cron, systemd or logs.

tqdm draws the bar on stderr (rows done of total, rate, ETA, and failures so
far). When stderr is not a terminal the bar is disabled, so it never reaches
a log file. Log lines printed while a bar is shown go through ``tqdm.write``,
which keeps the bar below them instead of breaking it.
"""

from __future__ import annotations

import shutil
import sys
from typing import IO, Any

from tqdm import tqdm


def terminal_attached(stream: IO[str] | None = None) -> bool:
    stream = stream or sys.stderr
    return hasattr(stream, "isatty") and stream.isatty()


class Progress:
    """One progress bar; a no-op when ``enabled`` is false."""

    def __init__(self, total: int | None, description: str, unit: str = "row", enabled: bool | None = None) -> None:
        if enabled is None:
            enabled = terminal_attached()
        self._failures = 0
        self._bar: Any = tqdm(
            total=total,
            desc=description,
            unit=unit,
            # A terminal that reports no size (0 columns) gets 80 columns.
            ncols=shutil.get_terminal_size(fallback=(80, 24)).columns or 80,
            mininterval=0.5,
            disable=not enabled,
            file=sys.stderr,
        )

    def advance(self, rows: int = 1, failed: bool = False) -> None:
        if failed:
            self._failures += 1
            self._bar.set_postfix(failed=self._failures, refresh=False)
        self._bar.update(rows)

    def close(self) -> None:
        self._bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class BarSafeStream:
    """A text stream for log lines that prints above any active progress bar."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        tqdm.write(text.rstrip("\n"), file=self._stream)
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def isatty(self) -> bool:
        return terminal_attached(self._stream)
