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

from batch_sync.client import DEFAULT_BASE_URL
from batch_sync.errors import InputError
from batch_sync.load import DEFAULT_MAX_FILE_MB
from batch_sync.logs import REDACTOR, configure_logging
from batch_sync.run import (
    EXIT_INTERRUPTED,
    EXIT_UNUSABLE_INPUT,
    SyncOptions,
    run_sync,
)

log = structlog.get_logger(__name__)

TOKEN_ENV = "ECROSS_TOKEN"
BASE_URL_ENV = "ECROSS_BASE_URL"
SANDBOX_TOKEN_ENV = "ECROSS_SANDBOX_TOKEN"
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
            f"bearer token is read from the {TOKEN_ENV} environment variable."
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
    return parser


def _resolve_base_url(flag: str | None) -> str:
    base_url = flag or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        source = "--base-url" if flag else BASE_URL_ENV
        raise InputError(f"{source} '{base_url}' is not an http(s) URL; give one such as {DEFAULT_BASE_URL}")
    return base_url


def _print_summary(summary: dict[str, Any]) -> None:
    lines = [
        f"{summary['inputFile']}: {summary['rowsRead']} rows read",
        f"  synced    {summary['synced']:>8}",
        f"  invalid   {summary['invalid']:>8}",
        f"  failed    {summary['failed']:>8}",
        f"  not sent  {summary['notSent']:>8}",
    ]
    if summary.get("stopReason"):
        lines.append(f"  stopped: {summary['stopReason']}")
    reports = summary["reports"]
    lines.append("report:")
    lines.extend(f"  {path}" for path in reports.values())
    print("\n".join(lines))


def _sync(args: argparse.Namespace) -> int:
    token = os.environ.get(TOKEN_ENV, "").strip() or None
    REDACTOR.add(token)
    if token is None and not args.dry_run:
        raise InputError(
            f"{TOKEN_ENV} is not set; export the e-CROSS bearer token in "
            f"{TOKEN_ENV} (or use --dry-run to only validate the file)"
        )
    options = SyncOptions(
        path=args.path,
        report_dir=args.report_dir,
        base_url=_resolve_base_url(args.base_url),
        token=token,
        concurrency=args.concurrency,
        sheet=args.sheet,
        dry_run=args.dry_run,
        mapping=args.mapping,
        max_file_mb=args.max_file_size,
    )
    result = run_sync(options)
    _print_summary(result.summary)
    return result.exit_status


def _sandbox(args: argparse.Namespace) -> int:
    from batch_sync.sandbox import SandboxState, check_loopback, load_catalog, serve

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
    log.info("sandbox.started", host=args.host, port=args.port, catalog_skus=len(catalog))
    serve(SandboxState(token=token, catalog=catalog), args.host, args.port)
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
