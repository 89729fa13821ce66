"""The options of one sync run and the exit statuses of the command-line contract."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from batch_sync.auth import DEFAULT_AUTH_URL
from batch_sync.guards import GuardSettings
from batch_sync.load import DEFAULT_MAX_FILE_MB
from batch_sync.ratelimit import DEFAULT_RATE_LIMIT
from batch_sync.upload import RetryPolicy

EXIT_OK = 0
EXIT_ROWS_NOT_SYNCED = 1
EXIT_UNUSABLE_INPUT = 2
EXIT_API_STOPPED = 3
# EX_TEMPFAIL of sysexits.h: another run holds the lock, try again later.
EXIT_LOCKED = 75
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class SyncOptions:
    """Everything one sync run needs; ``repr`` never shows the token or the client secret.

    The credentials are either ``token`` or ``client_id`` with
    ``client_secret``; without a ``state_dir`` the run keeps no journal.
    """

    path: Path
    report_dir: Path
    base_url: str
    token: str | None
    concurrency: int
    sheet: str | None = None
    dry_run: bool = False
    # None, RUN_MODE or ALL_MODE of batch_sync.verify.
    verify: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    auth_url: str = DEFAULT_AUTH_URL
    rate_limit: float | None = DEFAULT_RATE_LIMIT
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    state_dir: Path | None = None
    restart: bool = False
    mapping: Path | None = None
    max_file_mb: float = DEFAULT_MAX_FILE_MB
    # A CSV file's encoding when it has no byte-order mark; None detects it.
    csv_encoding: str | None = None
    guards: GuardSettings = field(default_factory=GuardSettings)
    # Days to keep report files and per-row journal outcomes; 0 keeps all.
    report_retention_days: float = 0.0
    journal_retention_days: float = 0.0
    # Send only the rows whose quantity differs from e-CROSS's records.
    changed_only: bool = False

    def __repr__(self) -> str:
        return (
            f"SyncOptions(path={str(self.path)!r}, base_url={self.base_url!r}, "
            f"concurrency={self.concurrency}, dry_run={self.dry_run}, "
            f"changed_only={self.changed_only}, "
            f"state_dir={str(self.state_dir)!r}, token='***', client_secret='***')"
        )
