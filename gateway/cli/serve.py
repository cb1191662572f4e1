"""`gateway serve` — start the listeners (see gateway/server.py). It owns its event loop and may fork
workers, so it runs synchronously rather than inside the CLI's asyncio.run."""

from __future__ import annotations

import argparse

from .. import config as config_module
from ..tokens import TokenSecretError
from .common import UsageError, add_config_option


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "serve", help="run the gateway (SMTP and HTTP listeners; defaults need nothing external)"
    )
    add_config_option(p)
    p.set_defaults(run_sync=run)


def run(args: argparse.Namespace) -> int:
    from ..server import ServeError, serve_forever  # the server stack (aiohttp, aiosmtpd) only for serve

    config = config_module.load(args.config)
    try:
        return serve_forever(config)
    except (ServeError, TokenSecretError) as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot start: {exc.strerror or exc}") from None
