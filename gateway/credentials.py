"""Who is asking: SMTP logins, sender API keys, Twilio-style Basic credentials and ops keys.

A credential decides the sender; a client never picks another. Secrets are checked against a scrypt
hash or an environment variable (constant-time). scrypt costs tens of milliseconds by design, so:
a successful check is remembered as a keyed digest (never the secret itself), a failed one is
remembered for a minute (a client retrying a wrong key does not pay again), and the scrypt runs in a
thread, at most half the cores at once, never on the event loop.

Guessing is limited (`throttle.py`): each failure is answered after a growing delay, and too many block
the client address or the user name for a while (`Blocked`). A user name that does not exist costs what
one that does costs (one scrypt, against a hash made for the purpose), so the time of an answer does not
tell which names exist.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import secrets
import time
from collections.abc import Callable

from .config import Config, Sender
from .secrets import hash_secret, verify_secret
from .throttle import Blocked, Limits, Throttle

log = logging.getLogger("gateway.auth")
__all__ = ["OPS", "Blocked", "Credentials"]

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
    def __init__(
        self,
        config: Config,
        limits: Limits | None = None,
        on_failure: Callable[[str, bool], None] | None = None,
    ) -> None:
        self.throttle = Throttle(limits or config.auth_limits)
        self._on_failure = on_failure  # (door, blocked): the metrics
        self._decoy: str | None = None  # a hash no secret matches: what an unknown name is checked against
        senders = list(config.senders.values())
        self._by_username = {s.smtp_username: s for s in senders if s.smtp_username}
        self._by_account = {s.twilio_account_sid: s for s in senders if s.twilio_account_sid}
        self._by_api_key = {s.twilio_api_key_sid: s for s in senders if s.twilio_api_key_sid}
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

    def _uniform(self, secret: bytes, env: str | None, stored_hash: str | None) -> bool:
        """`_matches` at the cost of one scrypt whatever the credential is kept as (or if there is none)."""
        if stored_hash:
            return verify_secret(secret.decode("utf-8", "replace"), stored_hash)
        if self._decoy is None:
            self._decoy = hash_secret(secrets.token_urlsafe(16))
        verify_secret(secret.decode("utf-8", "replace"), self._decoy)
        return _matches(secret, env, None)

    async def _guarded(
        self, door: str, client: str | None, user: str | None, digest: bytes, verify: Callable[[], str | None]
    ) -> str | None:
        """A check under the guessing limits: Blocked at once when blocked; a failure answered late."""
        self.throttle.start(client, user, digest)
        try:
            name = await self._check_async(digest, verify)
        except BaseException:
            self.throttle.abandoned(client, user, digest)
            raise
        if name is not None:
            self.throttle.succeeded(client, user, digest)
            return name
        delay, blocked = self.throttle.failed(client, user, digest)
        log.warning("auth failure: door=%s client=%s user=%r", door, client or "unknown", user)
        if blocked:
            log.warning(
                "auth blocked: door=%s client=%s user=%r for %g minutes",
                door, client or "unknown", user, self.throttle.limits.block_minutes,
            )  # fmt: skip
        if self._on_failure is not None:
            self._on_failure(door, blocked)
        await asyncio.sleep(delay)
        return None

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

    async def smtp_login(self, username: str, password: bytes, client: str | None = None) -> str | None:
        """The sender whose SMTP login this is, or None; Blocked when the client or name is."""
        sender = self._by_username.get(username)

        def verify() -> str | None:
            if sender is None:
                self._uniform(password, None, None)
                return None
            ok = self._uniform(password, sender.smtp_password_env, sender.smtp_password_hash)
            return sender.name if ok else None

        return await self._guarded("smtp", client, username, self._digest("smtp", username, password), verify)

    async def api_key(self, key: str, client: str | None = None, door: str = "http") -> str | None:
        """The sender an API key (Bearer) belongs to, or OPS for an ops key, or None."""
        secret = key.encode()

        def verify() -> str | None:
            if _matches(secret, *self._ops):
                return OPS
            return next(
                (s.name for s in self._with_keys if _matches(secret, s.api_key_env, s.api_key_hash)), None
            )

        return await self._guarded(door, client, None, self._digest("key", "", secret), verify)

    async def twilio_basic(self, account_sid: str, key: str, client: str | None = None) -> Sender | None:
        """The sender whose `twilio_account_sid` and API key these are, or whose Twilio API key (`SK…` sid
        as the user name, its secret as the password) these are; None otherwise."""
        by_key = account_sid.startswith("SK")
        sender = (self._by_api_key if by_key else self._by_account).get(account_sid)
        secret = key.encode()

        def verify() -> str | None:
            if sender is None:
                self._uniform(secret, None, None)
                return None
            if by_key:
                stored = (sender.twilio_api_key_secret_env, sender.twilio_api_key_secret_hash)
            else:
                stored = (sender.api_key_env, sender.api_key_hash)
            return sender.name if self._uniform(secret, *stored) else None

        digest = self._digest("twilio", account_sid, secret)
        name = await self._guarded("twilio", client, account_sid, digest, verify)
        return sender if name is not None else None
