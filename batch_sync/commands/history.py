"""``batch-sync history`` and ``batch-sync show RUN``: past runs from the journal."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from batch_sync.commands.summary import format_summary
from batch_sync.commands.sync import add_config_flag
from batch_sync.errors import InputError
from batch_sync.history import RunHistory, RunRecord
from batch_sync.settings import resolve_settings

DEFAULT_LIMIT = 20


def _state_dir(args: argparse.Namespace) -> Path:
    config = resolve_settings(args, os.environ, Path.cwd())
    return config["state_dir"]


def add_parsers(commands: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    history = commands.add_parser(
        "history",
        parents=parents,
        help="list recent runs, newest first",
        description="List recent sync runs from the journal in the state directory, newest first.",
    )
    history.add_argument("--limit", type=int, default=DEFAULT_LIMIT, metavar="N", help=f"runs to list (default: {DEFAULT_LIMIT})")
    history.add_argument("--state-dir", dest="state_dir", metavar="DIR", help="the state directory (default: as for sync)")
    add_config_flag(history)
    history.set_defaults(handler=run_history)

    show = commands.add_parser(
        "show",
        parents=parents,
        help="print one run's summary and report paths",
        description="Print the summary and the report paths of one run listed by 'batch-sync history'.",
    )
    show.add_argument("run_id", type=int, metavar="RUN", help="the run number from 'batch-sync history'")
    show.add_argument("--state-dir", dest="state_dir", metavar="DIR", help="the state directory (default: as for sync)")
    add_config_flag(show)
    show.set_defaults(handler=run_show)


def _status_text(record: RunRecord) -> str:
    if record.exit_status is None:
        return "unfinished"
    return str(record.exit_status)


def _count_text(count: int | None) -> str:
    return "-" if count is None else str(count)


def format_history(records: list[RunRecord]) -> str:
    """Format runs as a table of at most 80 columns, apart from long file names."""
    header = (
        f"{'run':>5}  {'started (UTC)':<19}  {'exit':>10}  {'rows':>7}  {'synced':>7}  "
        f"{'to fix':>6}  {'unsent':>6}  file"
    )
    lines = [header]
    for record in records:
        started = record.started_at[:19].replace("T", " ")
        # Invalid and failed rows need a change to the file or in e-CROSS.
        # Unsent rows only need another run.
        to_fix = (record.invalid or 0) + (record.failed or 0)
        lines.append(
            f"{record.run_id:>5}  {started:<19}  {_status_text(record):>10}  "
            f"{_count_text(record.rows_read):>7}  {_count_text(record.synced):>7}  "
            f"{to_fix:>6}  {_count_text(record.not_sent):>6}  {record.input_path}"
        )
    return "\n".join(lines)


def run_history(args: argparse.Namespace) -> int:
    state_dir = _state_dir(args)
    with RunHistory(state_dir) as history:
        records = history.recent_runs(max(1, args.limit))
    if not records:
        print(f"no runs recorded in {state_dir}")
        return 0
    print(format_history(records))
    return 0


def run_show(args: argparse.Namespace) -> int:
    state_dir = _state_dir(args)
    with RunHistory(state_dir) as history:
        record = history.run(args.run_id)
    if record is None:
        raise InputError(
            f"there is no run {args.run_id} in {state_dir}; 'batch-sync history' lists the runs"
        )
    if record.summary is None:
        print(
            f"run {record.run_id}: {record.input_path}, started {record.started_at}, "
            f"exit status {_status_text(record)}; it recorded no summary, because it did not finish"
        )
        return 0
    print(f"run {record.run_id}, exit status {_status_text(record)}")
    print(format_summary(record.summary))
    return 0
