"""Configure structlog once for the command line.

Events go to stderr: coloured and readable on a terminal, JSON lines when
stderr is not a terminal (cron, systemd) or with ``--log-format json``. With
``--log-file`` every event is also appended to that file as a JSON line. Each
line carries the run id, known secrets are masked in every value, and events
that can repeat once per row are logged up to a limit and then counted.
"""

from __future__ import annotations

import json
import logging
import sys
from collections import Counter
from pathlib import Path
from typing import IO, Any

import structlog

from batch_sync.progress import BarSafeStream

_REDACTED = "***"

# Events that can happen once per row. After this many of one kind in a run,
# the rest are counted and reported by ``log.repeats_suppressed`` at the end.
REPEATED_EVENTS = frozenset(
    {
        "upload.retry",
        "upload.row_rejected",
        "upload.row_failed",
        "upload.rate_limited",
    }
)
MAX_REPEATS = 20

LOG_FORMATS = ("auto", "console", "json")


class SecretRedactor:
    """A structlog processor that replaces known secret values in every event."""

    def __init__(self) -> None:
        self._secrets: list[str] = []

    def add(self, secret: str | None) -> None:
        if secret and secret not in self._secrets:
            self._secrets.append(secret)

    def clean(self, value: Any) -> Any:
        if isinstance(value, str):
            for secret in self._secrets:
                value = value.replace(secret, _REDACTED)
            return value
        if isinstance(value, dict):
            return {key: self.clean(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.clean(item) for item in value)
        return value

    def __call__(self, logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        return {key: self.clean(value) for key, value in event_dict.items()}


class RepeatLimiter:
    """A structlog processor that drops repeats of per-row events beyond a limit and counts them."""

    def __init__(self, events: frozenset[str] = REPEATED_EVENTS, limit: int = MAX_REPEATS) -> None:
        self._events = events
        self._limit = limit
        self.seen: Counter[str] = Counter()

    def __call__(self, logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        event = event_dict.get("event")
        if event in self._events:
            self.seen[event] += 1
            if self.seen[event] > self._limit:
                raise structlog.DropEvent
        return event_dict

    def suppressed(self) -> dict[str, int]:
        """Return how many events of each kind were dropped."""
        return {event: count - self._limit for event, count in self.seen.items() if count > self._limit}


class JsonFileCopy:
    """A structlog processor that appends each event to a file as a JSON line."""

    def __init__(self, handle: IO[str]) -> None:
        self._handle = handle

    def __call__(self, logger: Any, method_name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        self._handle.write(json.dumps(event_dict, default=str) + "\n")
        self._handle.flush()
        return event_dict


REDACTOR = SecretRedactor()
REPEATS = RepeatLimiter()


def level_for(verbose: int, quiet: int) -> int:
    """Return the log level for the -v and -q counts: INFO by default."""
    steps = [logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR]
    index = min(max(1 - verbose + quiet, 0), len(steps) - 1)
    return steps[index]


def configure_logging(
    level: int = logging.INFO,
    log_format: str = "auto",
    log_file: Path | None = None,
    stream: IO[str] | None = None,
) -> None:
    """Configure structlog for this process; see the module docstring."""
    stream = stream or sys.stderr
    if stream.isatty():
        # Log lines then print above a progress bar instead of through it.
        stream = BarSafeStream(stream)
    json_lines = log_format == "json" or (log_format == "auto" and not stream.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer(default=str)
        if json_lines
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        REPEATS,
        structlog.processors.format_exc_info,
        REDACTOR,
    ]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        processors.append(JsonFileCopy(log_file.open("a", encoding="utf-8")))
    processors.append(renderer)

    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )


def log_suppressed_repeats() -> None:
    """Log how many repeated per-row events were dropped, if any."""
    suppressed = REPEATS.suppressed()
    if suppressed:
        structlog.get_logger(__name__).info("log.repeats_suppressed", counts=suppressed)
