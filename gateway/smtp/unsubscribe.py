"""The List-Unsubscribe headers the gateway adds to marketing mail (RFC 2369, RFC 8058).

One recipient: a one-click HTTPS URL with a signed token for that recipient and sender, a mailto to the
gateway's unsubscribe address with the same token, and List-Unsubscribe-Post. Several recipients (mail
that only turned out to be marketing after DATA): the mailto alone, since one token cannot speak for
several people; a reply there is matched by its From address.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from urllib.parse import quote

from ..config import Config
from ..model import Channel
from ..tokens import TokenSigner


def unsubscribe_address(config: Config) -> str:
    return config.smtp.unsubscribe_address or f"unsubscribe@{config.smtp.hostname}"


def bounce_address(config: Config) -> str:
    return config.smtp.bounce_address or f"bounces@{config.smtp.hostname}"


def tagged(mailbox: str, sender: str) -> str:
    """`unsubscribe+acme@host`: the sender rides along, so mail there is taken in the right scope."""
    local, _, domain = mailbox.rpartition("@")
    return f"{local}+{sender}@{domain}"


def list_unsubscribe_headers(
    signer: TokenSigner, config: Config, sender: str, recipients: Sequence[str], now: datetime
) -> list[tuple[str, str]]:
    mailbox = tagged(unsubscribe_address(config), sender)
    if len(recipients) != 1:
        return [("List-Unsubscribe", f"<mailto:{mailbox}?subject=unsubscribe>")]
    token = signer.make(Channel.EMAIL, sender, recipients[0], int(now.timestamp()))
    url = f"{config.public_url}/unsubscribe/{token}"
    mailto = f"mailto:{mailbox}?subject={quote('unsubscribe ' + token)}"
    return [
        ("List-Unsubscribe", f"<{url}>, <{mailto}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
    ]
