"""``batch-sync config``: print the effective settings and where each one came from."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from batch_sync.commands.sync import add_config_flag
from batch_sync.config import read_secret
from batch_sync.errors import InputError
from batch_sync.settings import (
    CLIENT_ID_ENV,
    CLIENT_SECRET_ENV,
    TOKEN_ENV,
    add_setting_flags,
    describe,
    resolve_settings,
)


def add_parser(commands: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    config = commands.add_parser(
        "config",
        parents=parents,
        help="print the effective configuration and the source of each value",
        description=(
            "Print every setting of 'sync' with its value and source (flag, env, file "
            "or default); secrets show only whether they are set. Flags given here "
            "are applied as 'sync' would apply them."
        ),
    )
    add_config_flag(config)
    add_setting_flags(config)
    config.set_defaults(handler=run)


def _secret_state(name: str) -> str:
    try:
        value = read_secret(os.environ, name)
    except InputError as error:
        return f"unusable ({error})"
    return "set (hidden)" if value else "not set"


def run(args: argparse.Namespace) -> int:
    config = resolve_settings(args, os.environ, Path.cwd())
    rows = describe(config)
    rows.append((f"${TOKEN_ENV}", _secret_state(TOKEN_ENV), "env"))
    rows.append((f"${CLIENT_ID_ENV}", os.environ.get(CLIENT_ID_ENV, "") or "not set", "env"))
    rows.append((f"${CLIENT_SECRET_ENV}", _secret_state(CLIENT_SECRET_ENV), "env"))

    print(f"configuration file: {config.path or 'none'}")
    key_width = max(len(key) for key, _, _ in rows)
    value_width = min(40, max(len(value) for _, value, _ in rows))
    for key, value, source in rows:
        print(f"{key:<{key_width}}  {value:<{value_width}}  {source}")
    return 0
