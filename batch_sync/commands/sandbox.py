"""``batch-sync sandbox``: run the local e-CROSS-compatible API."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import structlog

from batch_sync.errors import InputError

log = structlog.get_logger(__name__)

TOKEN_ENV = "ECROSS_TOKEN"
SANDBOX_TOKEN_ENV = "ECROSS_SANDBOX_TOKEN"
SANDBOX_CLIENT_SECRET_ENV = "ECROSS_SANDBOX_CLIENT_SECRET"


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def add_parser(commands: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:
    from batch_sync.sandbox import add_response_options
    from batch_sync.sandbox_faults import add_fault_arguments

    sandbox = commands.add_parser(
        "sandbox",
        parents=parents,
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
    sandbox.add_argument(
        "--client-id", default="sandbox-client", help="client id that POST /token accepts (default: sandbox-client)"
    )
    sandbox.add_argument(
        "--client-secret",
        help=(
            f"client secret that POST /token accepts (default: ${SANDBOX_CLIENT_SECRET_ENV}; "
            "without one, POST /token responds 401)"
        ),
    )
    sandbox.add_argument(
        "--token-lifetime",
        type=_seconds,
        default=28800.0,
        metavar="SECONDS",
        help="expiresIn of the tokens that POST /token issues (default: 28800)",
    )
    add_fault_arguments(sandbox)
    sandbox.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from batch_sync.sandbox import (
        SandboxState,
        check_loopback,
        load_catalog,
        responses_from_args,
        serve,
    )
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
            raise InputError(
                f"{args.catalog}: cannot read the catalog ({error}); it needs the columns skuId and skuName"
            ) from error

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
