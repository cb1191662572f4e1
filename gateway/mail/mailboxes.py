"""The gateway's own addresses: the unsubscribe address (the `mailto:` of the List-Unsubscribe header it
adds) and the bounce address (for DSNs, complaint reports and replies). Mail to them is read for
opt-outs (inbound.py), never relayed, and needs no AUTH."""

from __future__ import annotations

from ..addresses import normalize_email
from ..config import Config

Mailbox = tuple[str, str | None]  # ("unsubscribe" | "bounce", the +sender tag or None)


def unsubscribe_address(config: Config) -> str:
    return config.smtp.unsubscribe_address or f"unsubscribe@{config.smtp.hostname}"


def bounce_address(config: Config) -> str:
    return config.smtp.bounce_address or f"bounces@{config.smtp.hostname}"


def tagged(mailbox: str, sender: str) -> str:
    """`unsubscribe+acme@host`: the sender rides along, so mail there is taken in the right scope."""
    local, _, domain = mailbox.rpartition("@")
    return f"{local}+{sender}@{domain}"


def own_mailbox(config: Config, address: str) -> Mailbox | None:
    """("unsubscribe" | "bounce", sender tag or None) when `address` is one of the gateway's own."""
    local, _, domain = normalize_email(address).rpartition("@")
    base, _, tag = local.partition("+")
    for kind, mailbox in (("unsubscribe", unsubscribe_address(config)), ("bounce", bounce_address(config))):
        own_local, _, own_domain = mailbox.lower().rpartition("@")
        if base == own_local and domain == own_domain:
            return kind, (tag or None)
    return None
