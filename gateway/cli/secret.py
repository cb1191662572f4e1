"""`gateway hash-secret` — turn a password or API key into the scrypt hash a config file may hold."""

from __future__ import annotations

import argparse
import getpass
import sys

from ..secrets import hash_secret
from .common import UsageError


def add_parser(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "hash-secret",
        help="print the scrypt hash of a secret read from stdin or a prompt",
        description="Reads the secret from standard input (or prompts on a terminal), never from the command "
        "line, and prints a hash for smtp_password_hash, api_key_hash or ops.api_key_hash.",
    )
    p.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    if sys.stdin.isatty():
        secret = getpass.getpass("secret: ")
    else:
        secret = sys.stdin.readline().rstrip("\r\n")
    if len(secret) < 8:
        raise UsageError("a secret needs at least 8 characters")
    print(hash_secret(secret))
    return 0
