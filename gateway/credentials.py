"""Who is asking: SMTP logins, sender API keys, Twilio-style Basic credentials and ops keys.

A credential decides the sender; a client never picks another. Secrets are checked against a scrypt
hash or an environment variable (constant-time). scrypt costs tens of milliseconds by design, so:
a successful check is remembered as a keyed digest (never the secret itself), a failed one is
remembered for a minute (a client retrying a wrong key does not pay again), and the HTTP door runs
the scrypt itself in a thread, never on the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Callable

from .config import Config, Sender
from .secrets import verify_secret

OPS = "\0ops"  # the name a valid ops key stands for
_FAILED_TTL = 60.0
_MAX_REMEMBERED = 10_000


def _matches(secret: bytes, env: str | None, stored_hash: str | None) -> bool:
    if stored_hash:
        return verify_secret(secret.decode("utf-8", "replace"), stored_hash)
    if env:
        expected = os.environ.get(env)
        return expected is not None and expected != "" and hmac.compare_digest(secret, expected.encode())
    return False


class Credentials:
    def __init__(self, config: Config) -> None:
        senders = list(config.senders.values())
        self._by_username = {s.smtp_username: s for s in senders if s.smtp_username}
        self._by_account = {s.twilio_account_sid: s for s in senders if s.twilio_account_sid}
        self._with_keys = [s for s in senders if s.api_key_env or s.api_key_hash]
        self._ops = (config.ops_api_key_env, config.ops_api_key_hash)
        self._pepper = secrets.token_bytes(16)
        self._verified: dict[bytes, str] = {}
        self._failed: dict[bytes, float] = {}
        self._scrypt: asyncio.Semaphore | None = None  # created inside the running loop

    def _digest(self, kind: str, ident: str, secret: bytes) -> bytes:
        return hmac.new(self._pepper, f"{kind}\0{ident}\0".encode() + secret, hashlib.sha256).digest()

    def _remembered(self, digest: bytes) -> str | None | bool:
        """The name a digest was verified for; False if it failed lately; None if unknown."""
        if (name := self._verified.get(digest)) is not None:
            return name
        failed = self._failed.get(digest)
        if failed is not None and time.monotonic() - failed < _FAILED_TTL:
            return False
        return None

    def _remember(self, digest: bytes, name: str | None) -> None:
        table: dict = self._verified if name is not None else self._failed
        if len(table) >= _MAX_REMEMBERED:
            table.clear()
        table[digest] = name if name is not None else time.monotonic()

    def _check(self, digest: bytes, verify: Callable[[], str | None]) -> str | None:
        known = self._remembered(digest)
        if known is False:
            return None
        if isinstance(known, str):
            return known
        name = verify()
        self._remember(digest, name)
        return name

    async def _check_async(self, digest: bytes, verify: Callable[[], str | None]) -> str | None:
        known = self._remembered(digest)
        if known is False:
            return None
        if isinstance(known, str):
            return known
        if self._scrypt is None:
            self._scrypt = asyncio.Semaphore(
                max(1, (os.cpu_count() or 2) // 2)
            )  # bounded: a flood of bad keys
        async with self._scrypt:  # cannot take every core from the traffic
            name = await asyncio.to_thread(verify)
        self._remember(digest, name)
        return name

    # -- the doors' questions ------------------------------------------------------------------------

    def smtp_login(self, username: str, password: bytes) -> str | None:
        """The sender whose SMTP login this is, or None (synchronous: aiosmtpd's AUTH hook is)."""
        sender = self._by_username.get(username)
        if sender is None:
            return None
        return self._check(
            self._digest("smtp", username, password),
            lambda: (
                sender.name
                if _matches(password, sender.smtp_password_env, sender.smtp_password_hash)
                else None
            ),
        )

    async def api_key(self, key: str) -> str | None:
        """The sender an API key (Bearer) belongs to, or OPS for an ops key, or None."""
        secret = key.encode()

        def verify() -> str | None:
            if _matches(secret, *self._ops):
                return OPS
            return next(
                (s.name for s in self._with_keys if _matches(secret, s.api_key_env, s.api_key_hash)), None
            )

        return await self._check_async(self._digest("key", "", secret), verify)

    async def twilio_basic(self, account_sid: str, key: str) -> Sender | None:
        """The sender whose `twilio_account_sid` and API key these are, or None."""
        sender = self._by_account.get(account_sid)
        if sender is None:
            return None
        secret = key.encode()
        name = await self._check_async(
            self._digest("twilio", account_sid, secret),
            lambda: sender.name if _matches(secret, sender.api_key_env, sender.api_key_hash) else None,
        )
        return sender if name is not None else None
