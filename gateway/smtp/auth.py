"""SMTP AUTH (PLAIN, LOGIN) against the senders' configured credentials.

A credential decides the sender; a client never picks another. Passwords are checked against a scrypt
hash or an environment variable. A successful check is remembered (as a keyed digest, never the
password) so clients that reconnect for every message do not pay scrypt each time.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets

from aiosmtpd.smtp import AuthResult, LoginPassword

from ..config import Config
from ..secrets import verify_secret

log = logging.getLogger("gateway.smtp")


class Authenticator:
    def __init__(self, config: Config) -> None:
        self._by_username = {s.smtp_username: s for s in config.senders.values() if s.smtp_username}
        self._pepper = secrets.token_bytes(16)
        self._verified: set[bytes] = set()

    def _digest(self, username: str, password: bytes) -> bytes:
        return hmac.new(self._pepper, username.encode() + b"\0" + password, hashlib.sha256).digest()

    def check(self, username: str, password: bytes) -> str | None:
        """The sender this credential belongs to, or None."""
        sender = self._by_username.get(username)
        if sender is None:
            return None
        digest = self._digest(username, password)
        if digest in self._verified:
            return sender.name
        ok = False
        if sender.smtp_password_hash:
            ok = verify_secret(password.decode("utf-8", "replace"), sender.smtp_password_hash)
        elif sender.smtp_password_env:
            expected = os.environ.get(sender.smtp_password_env)
            ok = bool(expected) and hmac.compare_digest(password, expected.encode())
        if ok:
            if len(self._verified) > 10_000:
                self._verified.clear()
            self._verified.add(digest)
            return sender.name
        return None

    def __call__(self, server, session, envelope, mechanism: str, auth_data) -> AuthResult:
        if mechanism not in ("LOGIN", "PLAIN") or not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        username = auth_data.login.decode("utf-8", "replace")
        sender = self.check(username, auth_data.password)
        if sender is None:
            log.info("AUTH %s failed for %r from %s", mechanism, username, session.peer)
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=sender)
