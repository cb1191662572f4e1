"""`gateway forget ADDRESS` — erasure: personal data out of the store, the address still suppressed."""

from __future__ import annotations

import argparse
import json

from ..lists import Lists
from ..model import Channel
from .common import add_config_option, load
from .lists import actor


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("forget", help="erase an address's personal data; it stays suppressed (hashed)")
    p.add_argument("address", help="an email address or an E.164 phone number")
    p.add_argument(
        "--channel", choices=[c.value for c in Channel], help="default: email if it has an @, else sms"
    )
    add_config_option(p)
    p.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    config, store = load(args)
    try:
        done = await Lists(store, config.senders, config.state_dir).erase(
            actor(), args.address, channel=args.channel
        )
    finally:
        await store.close()
    print(json.dumps(done, indent=2))
    return 0
