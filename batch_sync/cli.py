"""The batch-sync command line: parse arguments, configure logging, run a command, exit.

Every problem with the user's file, configuration or the API ends here as a
message and an exit status, never as a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys

import structlog

from batch_sync.commands import config as config_command
from batch_sync.commands import history as history_command
from batch_sync.commands import sandbox as sandbox_command
from batch_sync.commands import sync as sync_command
from batch_sync.errors import InputError
from batch_sync.lock import RunLocked
from batch_sync.logs import configure_logging, level_for, log_suppressed_repeats
from batch_sync.options import EXIT_INTERRUPTED, EXIT_LOCKED, EXIT_UNUSABLE_INPUT

log = structlog.get_logger(__name__)


def _verbosity_parser() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("-v", "--verbose", action="count", default=0, help="log more (repeat for debug)")
    parent.add_argument("-q", "--quiet", action="count", default=0, help="log less (warnings only; repeat for errors only)")
    return parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="batch-sync",
        description="Sync warehouse stock levels from a CSV or Excel export to e-CROSS.",
        epilog=sync_command.EXIT_STATUS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parents = [_verbosity_parser()]
    sync_command.add_parser(commands, parents)
    sandbox_command.add_parser(commands, parents)
    history_command.add_parsers(commands, parents)
    config_command.add_parser(commands, parents)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.log_level = level_for(args.verbose, args.quiet)
    configure_logging(args.log_level)

    try:
        return args.handler(args)
    except InputError as error:
        log.error("input.unusable", error=str(error))
        print(f"error: {error}", file=sys.stderr)
        return EXIT_UNUSABLE_INPUT
    except RunLocked as error:
        log.error("sync.locked", error=str(error))
        print(f"error: {error}", file=sys.stderr)
        return EXIT_LOCKED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of stdout went away (for example `batch-sync history | head`).
        # Point stdout at /dev/null so the interpreter's final flush cannot fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    finally:
        log_suppressed_repeats()


if __name__ == "__main__":
    sys.exit(main())
