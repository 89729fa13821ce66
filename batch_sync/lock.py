"""Allow one sync at a time per state directory.

The lock is an ``flock`` on ``sync.lock`` in the state directory. The kernel
releases it when the holder exits, even after SIGKILL, so a killed run never
blocks the next one. The file also records the holder's process id and start
time, which lets a waiting run name the holder and lets a new holder log that
it took over from a run that died without cleaning up.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
from pathlib import Path
from types import TracebackType

import structlog

log = structlog.get_logger(__name__)

LOCK_NAME = "sync.lock"


class RunLocked(Exception):
    """Another sync holds the lock of this state directory."""


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """An exclusive, non-blocking lock on a state directory, used as a context manager."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_NAME
        self._fd: int | None = None

    def _read_holder(self, fd: int) -> dict[str, object]:
        os.lseek(fd, 0, os.SEEK_SET)
        data = os.read(fd, 4096)
        try:
            holder = json.loads(data or b"{}")
        except ValueError:
            return {}
        return holder if isinstance(holder, dict) else {}

    def acquire(self) -> None:
        """Take the lock or raise RunLocked naming the process that holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._read_holder(fd)
            os.close(fd)
            raise RunLocked(
                f"another sync (process {holder.get('pid', 'unknown')}, started "
                f"{holder.get('started', 'at an unknown time')}) is running with the "
                f"state directory {self.path.parent}; wait for it to finish"
            ) from None

        previous = self._read_holder(fd)
        previous_pid = previous.get("pid")
        if isinstance(previous_pid, int) and previous_pid != os.getpid() and not _process_exists(previous_pid):
            log.warning(
                "lock.stale_taken_over",
                path=str(self.path),
                previous_pid=previous_pid,
                previous_started=previous.get("started"),
            )

        record = json.dumps(
            {"pid": os.getpid(), "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
        ).encode()
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, record)
        self._fd = fd

    def release(self) -> None:
        """Clear the holder record and release the lock."""
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
