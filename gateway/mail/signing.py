"""DKIM signatures (RFC 6376) on relayed mail, with dkimpy, for senders that configure a key.

The gateway signs last, after adding its own headers, and `h=` covers From, Subject, Date, To, Cc,
Reply-To, Message-ID, MIME-Version, Content-Type, List-Unsubscribe and List-Unsubscribe-Post (RFC 8058
§4: a one-click unsubscribe is honored only when the signature covers both List-Unsubscribe headers).
A header named in `h=` but absent is signed as absent, so it cannot be added later without breaking the
signature. Canonicalization relaxed/simple: the body goes out byte for byte, so it stays valid.

dkimpy's RSA is pure Python, milliseconds of CPU per signature: signing runs in a worker thread so the
event loop keeps serving between Python's thread switches.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

import dkim

from ..config import Config, Sender

SIGNED_HEADERS = [
    h.encode()
    for h in (
        "from",
        "subject",
        "date",
        "to",
        "cc",
        "reply-to",
        "message-id",
        "mime-version",
        "content-type",
        "list-unsubscribe",
        "list-unsubscribe-post",
    )
]
_PROBE = b"From: probe@example.com\r\nSubject: probe\r\n\r\nprobe\r\n"


class DkimError(Exception):
    """A configured key cannot be used; the message says which and why."""


@dataclass(frozen=True)
class _Key:
    selector: bytes
    domain: bytes
    private_key: bytes


def _key_bytes(sender: Sender, config_path: str) -> bytes:
    if sender.dkim_key_env:
        value = os.environ.get(sender.dkim_key_env)
        if not value:
            raise DkimError(f"{config_path}: sender {sender.name!r}: ${sender.dkim_key_env} is not set")
        return value.replace("\\n", "\n").encode()
    try:
        return Path(sender.dkim_key_file or "").read_bytes()
    except OSError as exc:
        raise DkimError(
            f"{config_path}: sender {sender.name!r}: cannot read dkim_key_file "
            f"{sender.dkim_key_file}: {exc.strerror or exc}"
        ) from None


class DkimSigners:
    def __init__(self, config: Config) -> None:
        self._keys: dict[str, _Key] = {}
        for sender in config.senders.values():
            if not sender.dkim_selector:
                continue
            key = _Key(
                sender.dkim_selector.encode(),
                (sender.dkim_domain or "").encode(),
                _key_bytes(sender, config.path),
            )
            try:
                dkim.sign(_PROBE, key.selector, key.domain, key.private_key)
            except Exception as exc:  # dkimpy raises KeyFormatError and assorted parse errors
                raise DkimError(
                    f"{config.path}: sender {sender.name!r}: the DKIM key is not a usable RSA or "
                    f"Ed25519 private key ({type(exc).__name__})"
                ) from None
            self._keys[sender.name] = key

    def signs_for(self, sender: str) -> bool:
        return sender in self._keys

    def _sign(self, sender: str, message: bytes) -> bytes:
        key = self._keys[sender]
        return dkim.sign(
            message,
            key.selector,
            key.domain,
            key.private_key,
            include_headers=SIGNED_HEADERS,
            canonicalize=(b"relaxed", b"simple"),
        )

    async def sign(self, sender: str, message: bytes) -> bytes:
        """The message with its DKIM-Signature header first."""
        signature = await asyncio.to_thread(self._sign, sender, message)
        return signature + message
