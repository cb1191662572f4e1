"""Unsubscribe tokens: HMAC-signed, per recipient and sender scope, with no readable personal data.

A token carries the channel, the sender scope, the SHA-256 of the normalized address and the issue
time, signed with HMAC-SHA256. Secrets rotate: the first secret signs, every listed secret verifies.
Secrets come from an environment variable (comma-separated, newest first) or a file (one per line,
newest first); when neither exists the gateway makes a random one in the file on first start.
"""

from __future__ import annotations

import base64
import hmac
import os
import secrets
import struct
from dataclasses import dataclass
from pathlib import Path

from .addresses import address_hash
from .model import Channel

_VERSION = 1
_CHANNEL_CODES = {Channel.EMAIL: b"e", Channel.SMS: b"s"}
_CODE_CHANNELS = {v: k for k, v in _CHANNEL_CODES.items()}
_MAC_BYTES = 16


class TokenSecretError(Exception):
    """No usable secret: the message says where one was looked for."""


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    channel: Channel
    scope: str
    address_hash: str
    issued_at: int  # seconds since the epoch


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    def __init__(self, secrets_newest_first: list[bytes]) -> None:
        usable = [s for s in secrets_newest_first if len(s) >= 16]
        if not usable:
            raise TokenSecretError("token secrets must be at least 16 bytes")
        self._secrets = usable

    @classmethod
    def from_config(cls, env: str | None, file: str | None) -> TokenSigner:
        if env and os.environ.get(env):
            return cls([s.strip().encode() for s in os.environ[env].split(",") if s.strip()])
        if not file:
            raise TokenSecretError(f"set {env} or gateway.token_secret_file")
        path = Path(file)
        if not path.exists():
            _create_secret_file(path)
        try:
            lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
        except OSError as exc:
            raise TokenSecretError(f"cannot read {file}: {exc.strerror or exc}") from None
        return cls([line.encode() for line in lines])

    def seal(self, purpose: str, payload: bytes) -> str:
        """`payload` signed for one purpose (a console session, say): readable, not forgeable."""
        return _b64(payload + self._mac(self._secrets[0], purpose.encode() + b"\0" + payload))

    def unseal(self, purpose: str, sealed: str) -> bytes | None:
        """The payload of a `seal` for this purpose by a current or earlier secret; None otherwise."""
        try:
            raw = _unb64(sealed)
        except (ValueError, TypeError):
            return None
        if len(raw) <= _MAC_BYTES or len(raw) > 1024:
            return None
        payload, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        signed = purpose.encode() + b"\0" + payload
        return payload if any(hmac.compare_digest(mac, self._mac(s, signed)) for s in self._secrets) else None

    def tag(self, purpose: str, payload: bytes, size: int = 8) -> bytes:
        """A short MAC of `payload` for one purpose (a return path's), by the newest secret."""
        return self._mac(self._secrets[0], purpose.encode() + b"\0" + payload)[:size]

    def tag_valid(self, purpose: str, payload: bytes, tag: bytes) -> bool:
        """Whether `tag` is `payload`'s for this purpose under a current or earlier secret."""
        signed = purpose.encode() + b"\0" + payload
        return len(tag) >= 8 and any(
            hmac.compare_digest(tag, self._mac(s, signed)[: len(tag)]) for s in self._secrets
        )

    def _mac(self, secret: bytes, payload: bytes) -> bytes:
        return hmac.digest(secret, payload, "sha256")[:_MAC_BYTES]

    def make(self, channel: Channel, scope: str, normalized_address: str, issued_at: int) -> str:
        scope_bytes = scope.encode()
        payload = (
            struct.pack(">BcI", _VERSION, _CHANNEL_CODES[channel], issued_at)
            + bytes.fromhex(address_hash(normalized_address))
            + scope_bytes
        )
        return _b64(payload + self._mac(self._secrets[0], payload))

    def read(self, token: str) -> Unsubscribe | None:
        """The token's content when a current or earlier secret signed it; None for anything forged or altered."""
        try:
            raw = _unb64(token)
        except (ValueError, TypeError):
            return None
        if len(raw) < 6 + 32 + _MAC_BYTES or len(raw) > 512:
            return None
        payload, mac = raw[:-_MAC_BYTES], raw[-_MAC_BYTES:]
        if not any(hmac.compare_digest(mac, self._mac(s, payload)) for s in self._secrets):
            return None
        version, code, issued = struct.unpack(">BcI", payload[:6])
        if version != _VERSION or code not in _CODE_CHANNELS:
            return None
        try:
            scope = payload[38:].decode()
        except UnicodeDecodeError:
            return None
        return Unsubscribe(_CODE_CHANNELS[code], scope, payload[6:38].hex(), issued)


def _create_secret_file(path: Path) -> None:
    """A new random secret at `path`, complete before anyone can see it: written to a private temporary
    file, then linked into place (atomic; whoever links first wins and the others read that one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32) + "\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
    finally:
        temporary.unlink(missing_ok=True)
