"""`gateway forget ADDRESS` — erasure: personal data out of the store, the address still suppressed."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from ..addresses import channel_and_address
from ..model import Channel
from .common import UsageError, add_config_option, load


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("forget", help="erase an address's personal data; it stays suppressed (hashed)")
    p.add_argument("address", help="an email address or an E.164 phone number")
    p.add_argument(
        "--channel", choices=[c.value for c in Channel], help="default: email if it has an @, else sms"
    )
    add_config_option(p)
    p.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    try:
        channel, address = channel_and_address(args.address, args.channel)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    _, store = load(args)
    try:
        result = await store.forget(channel, address, datetime.now(UTC))
    finally:
        await store.close()
    print(
        json.dumps(
            {
                "channel": channel.value,
                "erased": True,
                "decisions": result.decisions,
                "suppressions_hashed": result.suppressions,
                "consents": result.consents,
                "outbox": result.outbox,
                "held_texts": result.held,
            },
            indent=2,
        )
    )
    return 0
