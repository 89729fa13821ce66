"""Every setting of ``batch-sync sync``: its TOML key, flag, environment variable and default.

``resolve_settings`` merges them in the order flags, environment, file,
defaults (see ``batch_sync.config``). Secrets are not settings: the token
and the client secret come only from the environment.
"""

from __future__ import annotations

import argparse
import codecs
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from batch_sync.auth import DEFAULT_AUTH_URL
from batch_sync.client import DEFAULT_BASE_URL
from batch_sync.csv_reader import ASCII_SAMPLE, AUTO_ENCODING
from batch_sync.config import (
    Config,
    Setting,
    choice,
    directory,
    find_config_file,
    fraction,
    http_url,
    non_negative_number,
    optional_path,
    positive_number,
    read_config_file,
    resolve,
    whole_number,
)
from batch_sync.journal import default_state_dir
from batch_sync.load import DEFAULT_MAX_FILE_MB
from batch_sync.logs import LOG_FORMATS
from batch_sync.ratelimit import DEFAULT_RATE_LIMIT
from batch_sync.upload import RetryPolicy

TOKEN_ENV = "ECROSS_TOKEN"
CLIENT_ID_ENV = "ECROSS_CLIENT_ID"
CLIENT_SECRET_ENV = "ECROSS_CLIENT_SECRET"

# Keys that must never be in the configuration file.
SECRET_KEYS = frozenset({"token", "client_secret", "clientSecret", "secret", "password"})

MAX_CONCURRENCY = 256


# Each of these accepts 0, which turns its limit or check off.
_rate = non_negative_number("a number of requests per second, 0 for no limit")
_hours = non_negative_number("a number of hours, 0 to turn the check off")
_days = non_negative_number("a number of days, 0 to keep everything")


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _csv_encoding(value: Any) -> str:
    name = str(value).strip().lower()
    if name == AUTO_ENCODING:
        return name
    try:
        name = codecs.lookup(name).name
        ascii_compatible = ASCII_SAMPLE.encode().decode(name) == ASCII_SAMPLE
    except (LookupError, TypeError, ValueError):
        raise ValueError("expected an encoding name such as cp1250 or utf-8, or auto") from None
    if not ascii_compatible:
        raise ValueError("expected an encoding that keeps ASCII letters and digits, such as cp1250")
    return name


_RETRY = RetryPolicy()

SYNC_SETTINGS: list[Setting] = [
    Setting("base_url", DEFAULT_BASE_URL, http_url, "e-CROSS API base URL", flag="base_url", env="ECROSS_BASE_URL"),
    Setting(
        "auth_url", DEFAULT_AUTH_URL, http_url,
        "auth server that exchanges the client id and secret for a token",
        flag="auth_url", env="ECROSS_AUTH_URL",
    ),
    Setting(
        "concurrency", 16, whole_number(1, MAX_CONCURRENCY), "requests in flight at once",
        flag="concurrency", env="BATCH_SYNC_CONCURRENCY",
    ),
    Setting(
        "rate_limit", DEFAULT_RATE_LIMIT, _rate,
        "requests per second shared by all workers; 0 means no limit",
        flag="rate_limit", env="BATCH_SYNC_RATE_LIMIT",
    ),
    Setting(
        "retry.max_attempts", _RETRY.max_attempts, whole_number(1, 100),
        "attempts per row on 429, 5xx, timeouts and connection errors", flag="max_attempts",
    ),
    Setting(
        "retry.max_delay", _RETRY.max_delay, positive_number(3600),
        "maximum wait in seconds before a retry", flag="max_retry_delay",
    ),
    Setting(
        "retry.outage_seconds", _RETRY.outage_seconds, positive_number(86400),
        "stop when every request has failed for this many seconds", flag="outage_seconds",
    ),
    Setting(
        "retry.max_failed_rows", _RETRY.max_consecutive_failures, whole_number(1, 1_000_000),
        "stop when this many rows in a row failed on every attempt", flag="max_failed_rows",
    ),
    Setting(
        "report_dir", Path("reports"), directory, "directory for the report files",
        flag="report_dir", env="BATCH_SYNC_REPORT_DIR",
    ),
    Setting(
        "report_retention_days", 30.0, _days,
        "days to keep report files; older ones are removed at the end of a run (0 keeps all)",
        flag="keep_reports_days",
    ),
    Setting(
        "state_dir", default_state_dir(), directory, "directory of the run journal and the run lock",
        flag="state_dir", env="BATCH_SYNC_STATE_DIR",
    ),
    Setting(
        "journal_retention_days", 90.0, _days,
        "days to keep per-row outcomes in the journal; run history is kept (0 keeps all)",
    ),
    Setting("mapping", None, optional_path, "column mapping file (TOML)", flag="mapping"),
    Setting(
        "csv_encoding", AUTO_ENCODING, _csv_encoding,
        "encoding of CSV files without a byte-order mark, such as cp1250; auto tries UTF-8, then Windows-1252",
        flag="encoding", env="BATCH_SYNC_CSV_ENCODING",
    ),
    Setting(
        "max_file_size_mb", float(DEFAULT_MAX_FILE_MB), positive_number(100_000),
        "largest input file to read, in megabytes", flag="max_file_size",
    ),
    Setting(
        "guards.max_file_age_hours", 36.0, _hours,
        "refuse a file last modified more than this many hours ago (0 turns the check off)",
    ),
    Setting(
        "guards.min_row_ratio", 0.5, fraction,
        "refuse a file with fewer rows than this share of the last successful run of the same source",
    ),
    Setting(
        "guards.max_zero_share_increase", 0.3, fraction,
        "refuse a file whose share of zero quantities is this much higher than in the last run",
    ),
    Setting(
        "guards.refuse_resync", True, _boolean,
        "refuse a file whose exact content a finished run already synced",
    ),
    Setting(
        "log.format", "auto", choice(*LOG_FORMATS),
        "auto: readable on a terminal, JSON lines otherwise", flag="log_format", env="BATCH_SYNC_LOG_FORMAT",
    ),
    Setting("log.file", None, optional_path, "also append JSON log lines to this file", flag="log_file", env="BATCH_SYNC_LOG_FILE"),
]

# Settings whose paths in the configuration file are relative to the file.
_PATH_KEYS = ("report_dir", "state_dir", "mapping", "log.file")


def _relative_to(file_values: dict[str, Any], config_path: Path) -> dict[str, Any]:
    adjusted = dict(file_values)
    for key in _PATH_KEYS:
        value = adjusted.get(key)
        if isinstance(value, str) and value and not Path(value).expanduser().is_absolute():
            adjusted[key] = str(config_path.parent / value)
    return adjusted


def resolve_settings(args: argparse.Namespace, environ: Mapping[str, str], cwd: Path) -> Config:
    """Return the effective sync settings; raise InputError listing every problem."""
    config_path = find_config_file(getattr(args, "config", None), cwd)
    file_values = _relative_to(read_config_file(config_path), config_path) if config_path else {}
    return resolve(SYNC_SETTINGS, vars(args), environ, file_values, config_path, SECRET_KEYS)


def add_setting_flags(parser: argparse.ArgumentParser) -> None:
    """Add the command-line flag of every setting that has one, with no default.

    A flag left out is None, so a lower source (environment, file, default)
    can provide the value.
    """
    metavars = {"concurrency": "N", "max_attempts": "N", "max_failed_rows": "N", "rate_limit": "R"}
    for setting in SYNC_SETTINGS:
        if setting.flag is None:
            continue
        source = f"; env ${setting.env}" if setting.env else ""
        default = setting.default if not isinstance(setting.default, Path) else str(setting.default)
        parser.add_argument(
            f"--{setting.flag.replace('_', '-')}",
            dest=setting.flag,
            default=None,
            metavar=metavars.get(setting.flag, "VALUE"),
            help=f"{setting.help} (config key {setting.key}{source}; default: {default})",
        )


def describe(config: Config) -> list[tuple[str, str, str]]:
    """Return (key, value, source) for every setting, for ``batch-sync config``."""
    rows = []
    for setting in SYNC_SETTINGS:
        value = config[setting.key]
        rows.append((setting.key, "" if value is None else str(value), config.source(setting.key)))
    return rows
