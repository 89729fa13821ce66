"""Checks that stop a run before anything is sent when the file looks like the wrong file.

Each check returns None when the file passes, or a GuardFailure naming the
reason and the flag that overrides it. The run stops with exit status 2 on
the first failure. Thresholds come from the configuration (``[guards]``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class GuardFailure:
    """The reason a guard rejects the file, and the flag that overrides the check."""

    reason: str
    override: str

    def message(self, path: Path) -> str:
        return f"{path}: {self.reason}. If the file is right, run again with {self.override}"


def check_file_age(path: Path, max_age_hours: float, now: dt.datetime) -> GuardFailure | None:
    """Refuse a file last modified more than ``max_age_hours`` ago (0 turns the check off)."""
    if max_age_hours <= 0:
        return None
    modified = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)
    age_hours = (now - modified).total_seconds() / 3600
    if age_hours <= max_age_hours:
        return None
    return GuardFailure(
        f"the file was last modified {age_hours:.1f} hours ago ({modified:%Y-%m-%d %H:%M} UTC), "
        f"more than the {max_age_hours:g} hours allowed, so the export upstream may have failed",
        "--allow-old-file",
    )


def check_row_count(rows: int, previous_rows: int | None, min_ratio: float) -> GuardFailure | None:
    """Refuse a file with far fewer rows than the last successful run of the same source."""
    if previous_rows is None or previous_rows == 0 or min_ratio <= 0:
        return None
    if rows >= previous_rows * min_ratio:
        return None
    return GuardFailure(
        f"the file has {rows} rows, but the last successful run of this source had "
        f"{previous_rows}; fewer than {min_ratio:.0%} of that suggests a truncated export",
        "--allow-fewer-rows",
    )


def check_zero_share(
    zero_rows: int, rows: int, previous_zero_share: float | None, max_increase: float
) -> GuardFailure | None:
    """Refuse a file whose share of zero quantities jumped compared with the last run.

    ``max_increase`` is in share points: 0.3 refuses a file with 35% zeros when
    the last run had 5%. A broken export often writes 0 everywhere, which would
    empty the shop.
    """
    if rows == 0 or previous_zero_share is None or max_increase <= 0:
        return None
    share = zero_rows / rows
    if share - previous_zero_share <= max_increase:
        return None
    return GuardFailure(
        f"{share:.0%} of the rows have quantity 0, against {previous_zero_share:.0%} in the "
        f"last successful run; more than {max_increase:.0%} points higher suggests a broken export",
        "--allow-zero-quantities",
    )


def check_already_synced(previous_run: str | None) -> GuardFailure | None:
    """Refuse a file whose exact content a finished run already synced.

    ``previous_run`` names that run and its exit status, for example
    ``run 4 (exit status 1)``.
    """
    if previous_run is None:
        return None
    return GuardFailure(
        f"the same file content was already synced by {previous_run}, which tried "
        "every valid row, so this run would only send the same quantities again "
        "(its report lists any rows to fix)",
        "--allow-resync",
    )


@dataclass(frozen=True)
class GuardSettings:
    """Thresholds of the guards and the overrides given on the command line."""

    max_file_age_hours: float = 36.0
    min_row_ratio: float = 0.5
    max_zero_share_increase: float = 0.3
    refuse_resync: bool = True
    allow_old_file: bool = False
    allow_fewer_rows: bool = False
    allow_zero_quantities: bool = False
    allow_resync: bool = False


# A to-fix file holds only the rows that failed, so comparing its size or its
# zeros with a full export would refuse it for the wrong reason.
TO_FIX_SUFFIX = "-to-fix"


def first_failure(
    settings: GuardSettings,
    path: Path,
    rows_read: int,
    valid_rows: int,
    zero_rows: int,
    previous: PreviousRunFacts | None,
    synced_by_run: str | None,
    now: dt.datetime,
) -> GuardFailure | None:
    """Run every guard that is not overridden and return the first failure, if any."""
    partial_file = path.stem.endswith(TO_FIX_SUFFIX)
    checks = []
    if not settings.allow_resync and settings.refuse_resync:
        checks.append(lambda: check_already_synced(synced_by_run))
    if not settings.allow_old_file:
        checks.append(lambda: check_file_age(path, settings.max_file_age_hours, now))
    if not settings.allow_fewer_rows and previous is not None and not partial_file:
        checks.append(lambda: check_row_count(rows_read, previous.rows_read, settings.min_row_ratio))
    if not settings.allow_zero_quantities and previous is not None and not partial_file and previous.valid_rows:
        previous_share = previous.zero_rows / previous.valid_rows
        checks.append(
            lambda: check_zero_share(zero_rows, valid_rows, previous_share, settings.max_zero_share_increase)
        )

    for check in checks:
        failure = check()
        if failure is not None:
            return failure
    return None


@dataclass(frozen=True)
class PreviousRunFacts:
    """The last completed run of the same source: rows read, valid rows and zero quantities."""

    run_id: int
    rows_read: int
    valid_rows: int
    zero_rows: int
