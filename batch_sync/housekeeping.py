"""Remove old report files at the end of a run.

Only files whose names follow the report naming scheme
(``<stem>-<YYYYMMDDTHHMMSSZ>-<kind>.<ext>``) are candidates, and the run time
in the name, not the file's modification time, decides their age. Anything
else in the report directory is left alone.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

REPORT_NAME = re.compile(
    r".+-(?P<stamp>[0-9]{8}T[0-9]{6}Z)-(results|summary|to-fix|verify)\.(csv|xlsx|json)"
)


def remove_old_reports(report_dir: Path, keep_days: float, now: dt.datetime) -> list[Path]:
    """Delete report files older than ``keep_days`` days; return the deleted paths.

    ``keep_days`` of 0 or less keeps everything.
    """
    if keep_days <= 0 or not report_dir.is_dir():
        return []

    cutoff = now - dt.timedelta(days=keep_days)
    removed = []
    for path in sorted(report_dir.iterdir()):
        match = REPORT_NAME.fullmatch(path.name)
        if match is None or not path.is_file():
            continue
        stamp = dt.datetime.strptime(match["stamp"], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.timezone.utc)
        if stamp >= cutoff:
            continue
        try:
            path.unlink()
        except OSError as error:
            log.warning("housekeeping.remove_failed", path=str(path), error=str(error))
            continue
        removed.append(path)

    if removed:
        log.info("housekeeping.reports_removed", count=len(removed), older_than_days=keep_days)
    return removed
