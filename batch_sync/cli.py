"""The batch-sync command line: parse arguments, configure logging, run a stage, exit."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import structlog

from batch_sync.auth import DEFAULT_AUTH_URL
from batch_sync.client import DEFAULT_BASE_URL
from batch_sync.errors import InputError
from batch_sync.journal import default_state_dir
from batch_sync.load import DEFAULT_MAX_FILE_MB
from batch_sync.logs import REDACTOR, configure_logging
from batch_sync.sandbox import add_response_options
from batch_sync.verify import ALL_MODE, RUN_MODE
from batch_sync.ratelimit import DEFAULT_RATE_LIMIT
from batch_sync.run import (
    EXIT_INTERRUPTED,
    EXIT_UNUSABLE_INPUT,
    SyncOptions,
    run_sync,
)
from batch_sync.upload import RetryPolicy

log = structlog.get_logger(__name__)

TOKEN_ENV = "ECROSS_TOKEN"
CLIENT_ID_ENV = "ECROSS_CLIENT_ID"
CLIENT_SECRET_ENV = "ECROSS_CLIENT_SECRET"
AUTH_URL_ENV = "ECROSS_AUTH_URL"
STATE_DIR_ENV = "BATCH_SYNC_STATE_DIR"
BASE_URL_ENV = "ECROSS_BASE_URL"
SANDBOX_TOKEN_ENV = "ECROSS_SANDBOX_TOKEN"
SANDBOX_CLIENT_SECRET_ENV = "ECROSS_SANDBOX_CLIENT_SECRET"
DEFAULT_CONCURRENCY = 16
MAX_CONCURRENCY = 256

EXIT_STATUS_HELP = """\
exit status:
  0    every row synced
  1    some rows are invalid or failed; the report lists them
  2    nothing was sent: the file, its columns or the configuration is unusable
  3    the run stopped because the API rejected the credentials or was unavailable
  130  interrupted (SIGINT or SIGTERM); the report lists the rows not sent
"""


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if not 1 <= value <= MAX_CONCURRENCY:
        raise argparse.ArgumentTypeError(f"{value} is outside 1 to {MAX_CONCURRENCY}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is less than 1")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def _add_resilience_arguments(sync: argparse.ArgumentParser) -> None:
    defaults = RetryPolicy()
    sync.add_argument(
        "--rate-limit",
        type=_seconds,
        default=DEFAULT_RATE_LIMIT,
        metavar="R",
        help=(
            "requests per second shared by all workers; after 429 responses the job "
            f"slows down and recovers gradually; 0 means no limit (default: {DEFAULT_RATE_LIMIT:g})"
        ),
    )
    sync.add_argument(
        "--max-attempts",
        type=_count,
        default=defaults.max_attempts,
        metavar="N",
        help=f"attempts per row on 429, 5xx, timeouts and connection errors (default: {defaults.max_attempts})",
    )
    sync.add_argument(
        "--max-retry-delay",
        type=_seconds,
        default=defaults.max_delay,
        metavar="SECONDS",
        help=f"maximum wait in seconds before a retry, Retry-After included (default: {defaults.max_delay:g})",
    )
    sync.add_argument(
        "--outage-seconds",
        type=_seconds,
        default=defaults.outage_seconds,
        metavar="SECONDS",
        help=(
            "stop with exit status 3 when every request has failed for this long "
            f"(default: {defaults.outage_seconds:g})"
        ),
    )
    sync.add_argument(
        "--max-failed-rows",
        type=_count,
        default=defaults.max_consecutive_failures,
        metavar="N",
        help=(
            "stop with exit status 3 when this many rows in a row failed on every attempt "
            f"(default: {defaults.max_consecutive_failures})"
        ),
    )
    sync.add_argument(
        "--auth-url",
        metavar="URL",
        help=(
            f"auth server that exchanges ${CLIENT_ID_ENV} and ${CLIENT_SECRET_ENV} for a token "
            f"(default: ${AUTH_URL_ENV}, else {DEFAULT_AUTH_URL})"
        ),
    )
    sync.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help=(
            "directory of the run journal that lets a killed or stopped run resume "
            f"(default: ${STATE_DIR_ENV}, else $XDG_STATE_HOME/batch-sync, else ~/.local/state/batch-sync)"
        ),
    )
    sync.add_argument(
        "--restart",
        action="store_true",
        help="send every row again, ignoring rows that an unfinished run of the same file confirmed",
    )


def add_sandbox_arguments(sandbox: argparse.ArgumentParser) -> None:
    from batch_sync.sandbox_faults import add_fault_arguments

    sandbox.add_argument("--client-id", default="sandbox-client", help="client id that POST /token accepts (default: sandbox-client)")
    sandbox.add_argument(
        "--client-secret",
        help=f"client secret that POST /token accepts (default: ${SANDBOX_CLIENT_SECRET_ENV}; without one, POST /token responds 401)",
    )
    sandbox.add_argument(
        "--token-lifetime",
        type=_seconds,
        default=28800.0,
        metavar="SECONDS",
        help="expiresIn of the tokens that POST /token issues (default: 28800)",
    )
    add_fault_arguments(sandbox)


def _positive_megabytes(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number of megabytes") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} is not more than 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="batch-sync",
        description="Sync warehouse stock levels from a CSV or Excel export to e-CROSS.",
        epilog=EXIT_STATUS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sync = commands.add_parser(
        "sync",
        help="validate a stock export and send every valid row to e-CROSS",
        description=(
            "Read PATH (.csv, .tsv, .txt, .xlsx, .xlsm), validate every row, send "
            "the valid rows to POST /ext/inventories/ and write a report. The "
            f"bearer token is read from the {TOKEN_ENV} environment variable; "
            f"without it, {CLIENT_ID_ENV} and {CLIENT_SECRET_ENV} are exchanged "
            "for a token at the auth server. An unfinished run of the same file "
            "content is resumed."
        ),
        epilog=EXIT_STATUS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sync.add_argument("path", type=Path, metavar="PATH", help="the exported stock file")
    sync.add_argument("--sheet", metavar="NAME", help="the workbook sheet to read (default: the sheet whose header matches)")
    sync.add_argument(
        "--base-url",
        metavar="URL",
        help=f"e-CROSS API base URL (default: ${BASE_URL_ENV}, else {DEFAULT_BASE_URL})",
    )
    sync.add_argument(
        "--concurrency",
        type=_positive_int,
        default=DEFAULT_CONCURRENCY,
        metavar="N",
        help=f"number of requests in flight at once (default: {DEFAULT_CONCURRENCY})",
    )
    sync.add_argument(
        "--report-dir",
        type=Path,
        default=Path("reports"),
        metavar="DIR",
        help="directory for the report files (default: ./reports)",
    )
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
    _add_resilience_arguments(sync)
    sync.add_argument(
        "--mapping",
        type=Path,
        metavar="TOML",
        help="column mapping file for an export with other headers or values (see README)",
    )
    sync.add_argument(
        "--max-file-size",
        type=_positive_megabytes,
        default=DEFAULT_MAX_FILE_MB,
        metavar="MB",
        help=f"largest input file to read, in megabytes (default: {DEFAULT_MAX_FILE_MB})",
    )

    sandbox = commands.add_parser(
        "sandbox",
        help="run a local e-CROSS-compatible API for demos and tests",
        description=(
            "Serve a local e-CROSS-compatible inventory API on a loopback address. "
            f"The token it accepts comes from --token, else ${SANDBOX_TOKEN_ENV}, "
            f"else ${TOKEN_ENV}."
        ),
    )
    sandbox.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (default: 127.0.0.1)")
    sandbox.add_argument("--port", type=int, default=8080, help="TCP port (default: 8080)")
    sandbox.add_argument("--token", help="the bearer token to accept")
    sandbox.add_argument("--catalog", type=Path, metavar="CSV", help="CSV of registered SKUs (columns skuId, skuName)")
    add_response_options(sandbox)
    add_sandbox_arguments(sandbox)
    return parser


def _resolve_base_url(flag: str | None) -> str:
    base_url = flag or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        source = "--base-url" if flag else BASE_URL_ENV
        raise InputError(f"{source} '{base_url}' is not an http(s) URL; give one such as {DEFAULT_BASE_URL}")
    return base_url


# Widths of the terminal summary's columns. Every line except a long path
# then fits an 80-column terminal.
_LABEL_WIDTH = 30
_COUNT_WIDTH = 12


def _summary_row(label: str, value: object, indent: int = 2) -> str:
    return f"{' ' * indent}{label:<{_LABEL_WIDTH - indent}}{value!s:>{_COUNT_WIDTH}}"


def format_summary(summary: dict[str, Any]) -> str:
    """Format the run summary as a short table for the terminal."""
    lines = [f"input: {summary['inputFile']}"]
    lines.append(_summary_row("rows read", summary["rowsRead"]))
    for label, key in (
        ("synced", "synced"),
        ("unchanged", "unchanged"),
        ("invalid", "invalid"),
        ("failed", "failed"),
        ("not sent", "notSent"),
        ("skipped", "skipped"),
    ):
        lines.append(_summary_row(label, summary[key]))

    warnings = {name: count for name, count in summary["warnings"].items() if count}
    lines.append(_summary_row("warnings", sum(warnings.values())))
    for name, count in warnings.items():
        lines.append(_summary_row(name, count, indent=4))

    verify = summary.get("verify")
    if verify:
        lines.append(f"  check against e-CROSS ({verify['mode']})")
        if verify.get("error"):
            lines.append(f"    check failed: {verify['error']}")
        lines.append(_summary_row("quantity differs", verify["quantityDiffers"], indent=4))
        lines.append(_summary_row("missing in e-CROSS", verify["missingInEcross"], indent=4))
        if verify["mode"] == "all":
            lines.append(_summary_row("not in the file", verify["notInFile"], indent=4))

    changed_only = summary.get("changedOnly")
    if changed_only:
        lines.append(_summary_row("e-CROSS records compared", changed_only["recordsRead"]))
        if changed_only.get("error"):
            lines.append(f"  reading e-CROSS's records failed, so every row was sent: {changed_only['error']}")

    lines.append(_summary_row("time taken", f"{summary['durationSeconds']:.1f} s"))
    if summary.get("resumedFromRun") is not None:
        lines.append(f"  resumed run {summary['resumedFromRun']}: {summary['rowsConfirmedEarlier']} rows synced before")
    if summary.get("requestsSent"):
        lines.append(_summary_row("requests sent", summary["requestsSent"]))
        lines.append(_summary_row("request rate", f"{summary['requestRate']}/s"))
        lines.append(_summary_row("answered 429", summary["http429"]))
    if summary.get("stopReason"):
        lines.append(f"stopped: {summary['stopReason']}")
    lines.append("report:")
    lines.extend(f"  {path}" for path in summary["reports"].values() if path)
    return "\n".join(lines)


def _resolve_auth_url(flag: str | None) -> str:
    auth_url = flag or os.environ.get(AUTH_URL_ENV) or DEFAULT_AUTH_URL
    parts = urlsplit(auth_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        source = "--auth-url" if flag else AUTH_URL_ENV
        raise InputError(f"{source} '{auth_url}' is not an http(s) URL; give one such as {DEFAULT_AUTH_URL}")
    return auth_url


def _sync(args: argparse.Namespace) -> int:
    token = os.environ.get(TOKEN_ENV, "").strip() or None
    client_id = os.environ.get(CLIENT_ID_ENV, "").strip() or None
    client_secret = os.environ.get(CLIENT_SECRET_ENV, "").strip() or None
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
    state_dir = args.state_dir or (Path(os.environ[STATE_DIR_ENV]) if os.environ.get(STATE_DIR_ENV) else default_state_dir())
    options = SyncOptions(
        path=args.path,
        report_dir=args.report_dir,
        base_url=_resolve_base_url(args.base_url),
        token=token,
        concurrency=args.concurrency,
        sheet=args.sheet,
        dry_run=args.dry_run,
        changed_only=args.changed_only,
        verify=args.verify,
        client_id=client_id,
        client_secret=client_secret,
        auth_url=_resolve_auth_url(args.auth_url),
        rate_limit=args.rate_limit or None,
        retry=RetryPolicy(
            max_attempts=args.max_attempts,
            max_delay=args.max_retry_delay,
            outage_seconds=args.outage_seconds,
            max_consecutive_failures=args.max_failed_rows,
        ),
        state_dir=state_dir,
        restart=args.restart,
        mapping=args.mapping,
        max_file_mb=args.max_file_size,
    )
    result = run_sync(options)
    print(format_summary(result.summary))
    return result.exit_status


def _sandbox(args: argparse.Namespace) -> int:
    from batch_sync.sandbox import SandboxState, check_loopback, load_catalog, responses_from_args, serve
    from batch_sync.sandbox_faults import faults_from_arguments

    token = args.token or os.environ.get(SANDBOX_TOKEN_ENV) or os.environ.get(TOKEN_ENV)
    if not token:
        raise InputError(f"the sandbox needs a token: pass --token or set {SANDBOX_TOKEN_ENV}")
    try:
        check_loopback(args.host)
    except ValueError as error:
        raise InputError(str(error)) from error
    catalog = {}
    if args.catalog is not None:
        try:
            catalog = load_catalog(args.catalog)
        except (OSError, KeyError, UnicodeDecodeError) as error:
            raise InputError(f"{args.catalog}: cannot read the catalog ({error}); it needs the columns skuId and skuName") from error
    faults = faults_from_arguments(args)
    state = SandboxState(
        token=token,
        catalog=catalog,
        responses=responses_from_args(args),
        client_id=args.client_id,
        client_secret=args.client_secret or os.environ.get(SANDBOX_CLIENT_SECRET_ENV),
        token_lifetime=args.token_lifetime,
    )
    log.info("sandbox.started", host=args.host, port=args.port, catalog_skus=len(catalog), faults=faults.describe())
    serve(state, args.host, args.port, faults)
    log.info("sandbox.stopped")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(logging.INFO)
    handlers = {"sync": _sync, "sandbox": _sandbox}
    try:
        return handlers[args.command](args)
    except InputError as error:
        log.error("input.unusable", error=str(error))
        print(f"error: {error}", file=sys.stderr)
        return EXIT_UNUSABLE_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
