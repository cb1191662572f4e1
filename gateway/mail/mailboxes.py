"""The gateway's own addresses: the unsubscribe address (the `mailto:` of the List-Unsubscribe header it
adds) and the bounce address (for DSNs, complaint reports and replies). Mail to them is read for
opt-outs (inbound.py), never relayed, and needs no AUTH.

With `smtp.bounce_domain` set, relayed marketing mail leaves with a return path of its own (VERP):
`bounces+<decision id>-<MAC>@<bounce_domain>`. A bounce to it names its message and recipient through
what the gateway signed, not through anything the bounce says. The local part stays under RFC 5321's 64
octets and is lower-case hex, which survives MTAs that fold case."""

from __future__ import annotations

import re

from ..addresses import normalize_email
from ..config import Config
from ..tokens import TokenSigner

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
    """("unsubscribe" | "bounce", sender tag or None) when `address` is one of the gateway's own.
    RFC 5321 4.5.1: a server MUST take mail to "Postmaster" without a domain, and to postmaster at its
    own name; the gateway's postmaster is its bounce address (reports about its mail come there)."""
    local, _, domain = normalize_email(address).rpartition("@")
    if local == "" and domain == "postmaster":  # (rpartition leaves a bare name in `domain`)
        return "bounce", None
    if local == "postmaster" and domain in (config.smtp.hostname.lower(), config.smtp.bounce_domain):
        return "bounce", None
    base, _, tag = local.partition("+")
    for kind, mailbox in (("unsubscribe", unsubscribe_address(config)), ("bounce", bounce_address(config))):
        own_local, _, own_domain = mailbox.lower().rpartition("@")
        if base == own_local and domain in (own_domain, config.smtp.bounce_domain):
            return kind, (tag or None)
    return None


_RETURN_PATH = "return-path"
_VERP_TAG = re.compile(r"([0-9a-f]{21})-([0-9a-f]{16})")


def return_path(signer: TokenSigner, config: Config, decision_id: str) -> str | None:
    """The envelope sender for the message whose decision will have this id, when `bounce_domain` is set."""
    domain = config.smtp.bounce_domain
    if not domain:
        return None
    local = bounce_address(config).rpartition("@")[0]
    mac = signer.tag(_RETURN_PATH, decision_id.encode()).hex()
    return f"{local}+{decision_id}-{mac}@{domain}"


def returned_to(signer: TokenSigner, tag: str | None) -> str | None:
    """The decision id a return path's tag names, when the gateway signed it; None for anything else."""
    found = _VERP_TAG.fullmatch(tag or "")
    if found is None:
        return None
    decision_id, mac = found.groups()
    return decision_id if signer.tag_valid(_RETURN_PATH, decision_id.encode(), bytes.fromhex(mac)) else None
