"""Write report files atomically, and the results CSV line by line."""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from batch_sync.report.lines import neutralise
from schemas.report import RESULT_COLUMNS


@contextmanager
def atomic_open(path: Path, mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path`` and rename it to ``path`` on success.

    A crash never leaves half a file under the final name.
    """
    handle = tempfile.NamedTemporaryFile(
        mode, dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False, **kwargs
    )
    try:
        with handle:
            yield handle
        os.replace(handle.name, path)
    except BaseException:
        os.unlink(handle.name)
        raise


class ResultsCsv:
    """The results CSV, written one line at a time under a temporary name."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._handle = tempfile.NamedTemporaryFile(
            "w",
            dir=path.parent,
            prefix=f".{path.name}.",
            suffix=".tmp",
            delete=False,
            newline="",
            encoding="utf-8-sig",
        )
        self._writer = csv.DictWriter(self._handle, fieldnames=RESULT_COLUMNS, extrasaction="ignore")
        self._writer.writeheader()

    def add(self, line: dict[str, Any]) -> None:
        self._writer.writerow({key: neutralise(line.get(key)) for key in RESULT_COLUMNS})

    def close(self) -> None:
        """Rename the finished file to its final name."""
        self._handle.close()
        os.replace(self._handle.name, self._path)

    def discard(self) -> None:
        """Delete the temporary file after a failure."""
        self._handle.close()
        os.unlink(self._handle.name)
