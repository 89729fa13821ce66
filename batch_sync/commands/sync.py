"""``batch-sync sync PATH``: validate an export, send the valid rows and write the report."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import structlog

from batch_sync.commands.summary import format_summary
from batch_sync.config import Config, read_secret
from batch_sync.csv_reader import AUTO_ENCODING
from batch_sync.errors import InputError
from batch_sync.guards import GuardSettings
from batch_sync.logs import REDACTOR, configure_logging
from batch_sync.options import SyncOptions
from batch_sync.run import run_sync
from batch_sync.settings import (
    CLIENT_ID_ENV,
    CLIENT_SECRET_ENV,
    TOKEN_ENV,
    add_setting_flags,
    resolve_settings,
)
from batch_sync.upload import RetryPolicy
from batch_sync.verify import ALL_MODE, RUN_MODE

log = structlog.get_logger(__name__)

EXIT_STATUS_HELP = """\
exit status:
  0    every row synced
  1    some rows are invalid or failed; the report lists them
  2    nothing was sent: the file, its columns or the configuration is unusable,
       or a guard refused the file (the message names the flag that overrides it)
  3    the run stopped because the API rejected the credentials or was unavailable
  75   another sync with the same state directory is running; try again later
  130  interrupted (SIGINT or SIGTERM); the report lists the rows not sent
"""


def add_config_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        metavar="TOML",
        help="configuration file (default: batch-sync.toml in the working directory, if present)",
    )


def add_parser(commands: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    sync = commands.add_parser(
        "sync",
        parents=parents,
        help="validate a stock export and send every valid row to e-CROSS",
        description=(
            "Read PATH (.csv, .tsv, .txt, .xlsx, .xlsm), validate every row, send "
            "the valid rows to POST /ext/inventories/ and write a report. The "
            f"bearer token is read from ${TOKEN_ENV} (or the owner-only file named "
            f"by ${TOKEN_ENV}_FILE); without it, ${CLIENT_ID_ENV} and "
            f"${CLIENT_SECRET_ENV} are exchanged for a token at the auth server. "
            "An unfinished run of the same file content is resumed. Settings come "
            "from flags, then environment variables, then the configuration file, "
            "then defaults; 'batch-sync config' shows the result."
        ),
        epilog=EXIT_STATUS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sync.add_argument("path", type=Path, metavar="PATH", help="the exported stock file")
    sync.add_argument("--sheet", metavar="NAME", help="the workbook sheet to read (default: the sheet whose header matches)")
    sync.add_argument("--dry-run", action="store_true", help="validate and write the report; send nothing")
    sync.add_argument(
        "--changed-only",
        action="store_true",
        help=(
            "read e-CROSS's current records first and send only the rows whose quantity "
            "differs or that e-CROSS lacks; with --dry-run, list those rows without sending"
        ),
    )
    check = sync.add_mutually_exclusive_group()
    check.add_argument(
        "--verify",
        action="store_const",
        const=RUN_MODE,
        dest="verify",
        help=(
            "after the upload, read back the records e-CROSS updated since the run "
            "started and report synced rows whose quantity differs or that are missing"
        ),
    )
    check.add_argument(
        "--verify-all",
        action="store_const",
        const=ALL_MODE,
        dest="verify",
        help=(
            "like --verify, but read every record of the merchant and also report "
            "records in the file's warehouses that the file does not mention"
        ),
    )
    sync.add_argument(
        "--restart",
        action="store_true",
        help="send every row again, ignoring the journal of earlier runs of the same file",
    )
    add_config_flag(sync)
    add_setting_flags(sync)

    guards = sync.add_argument_group("overrides of the wrong-file guards")
    guards.add_argument("--allow-old-file", action="store_true", help="send a file older than guards.max_file_age_hours")
    guards.add_argument(
        "--allow-fewer-rows", action="store_true", help="send a file with far fewer rows than the last successful run"
    )
    guards.add_argument(
        "--allow-zero-quantities",
        action="store_true",
        help="send a file whose share of zero quantities jumped since the last successful run",
    )
    guards.add_argument(
        "--allow-resync", action="store_true", help="send a file whose exact content was already synced"
    )
    sync.set_defaults(handler=run)


def _guard_settings(config: Config, args: argparse.Namespace) -> GuardSettings:
    return GuardSettings(
        max_file_age_hours=config["guards.max_file_age_hours"],
        min_row_ratio=config["guards.min_row_ratio"],
        max_zero_share_increase=config["guards.max_zero_share_increase"],
        refuse_resync=config["guards.refuse_resync"],
        allow_old_file=args.allow_old_file,
        allow_fewer_rows=args.allow_fewer_rows,
        allow_zero_quantities=args.allow_zero_quantities,
        allow_resync=args.allow_resync,
    )


def sync_options(args: argparse.Namespace, config: Config) -> SyncOptions:
    """Build the run's options from the arguments, the effective settings and the environment."""
    token = read_secret(os.environ, TOKEN_ENV)
    client_id = os.environ.get(CLIENT_ID_ENV, "").strip() or None
    client_secret = read_secret(os.environ, CLIENT_SECRET_ENV)
    REDACTOR.add(token)
    REDACTOR.add(client_secret)
    needs_api = args.changed_only or not args.dry_run
    if token is None and not (client_id and client_secret) and needs_api:
        raise InputError(
            f"{TOKEN_ENV} is not set; export the e-CROSS bearer token in "
            f"{TOKEN_ENV}, or {CLIENT_ID_ENV} and {CLIENT_SECRET_ENV} "
            "(or use --dry-run without --changed-only to only validate the file)"
        )
    if args.verify and args.dry_run:
        raise InputError(
            "--verify and --verify-all cannot be used with --dry-run, because a dry "
            "run sends nothing to check; leave out one of them"
        )

    rate_limit = config["rate_limit"]
    return SyncOptions(
        path=args.path,
        report_dir=config["report_dir"],
        base_url=config["base_url"],
        token=token,
        concurrency=config["concurrency"],
        sheet=args.sheet,
        dry_run=args.dry_run,
        changed_only=args.changed_only,
        verify=args.verify,
        client_id=client_id,
        client_secret=client_secret,
        auth_url=config["auth_url"],
        rate_limit=rate_limit if rate_limit > 0 else None,
        retry=RetryPolicy(
            max_attempts=config["retry.max_attempts"],
            max_delay=config["retry.max_delay"],
            outage_seconds=config["retry.outage_seconds"],
            max_consecutive_failures=config["retry.max_failed_rows"],
        ),
        state_dir=config["state_dir"],
        restart=args.restart,
        mapping=config["mapping"],
        max_file_mb=config["max_file_size_mb"],
        csv_encoding=None if config["csv_encoding"] == AUTO_ENCODING else config["csv_encoding"],
        guards=_guard_settings(config, args),
        report_retention_days=config["report_retention_days"],
        journal_retention_days=config["journal_retention_days"],
    )


def run(args: argparse.Namespace) -> int:
    config = resolve_settings(args, os.environ, Path.cwd())
    configure_logging(args.log_level, config["log.format"], config["log.file"])
    if config.path is not None:
        log.info("config.loaded", path=str(config.path))

    result = run_sync(sync_options(args, config))
    print(format_summary(result.summary))
    return result.exit_status
