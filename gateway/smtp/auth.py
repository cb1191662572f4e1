"""SMTP AUTH (PLAIN, LOGIN): aiosmtpd's authenticator hook over the senders' SMTP logins."""

from __future__ import annotations

import logging

from aiosmtpd.smtp import AuthResult, LoginPassword

from ..credentials import Credentials

log = logging.getLogger("gateway.smtp")


class Authenticator:
    def __init__(self, credentials: Credentials) -> None:
        self.credentials = credentials

    def __call__(self, server, session, envelope, mechanism: str, auth_data) -> AuthResult:
        if mechanism not in ("LOGIN", "PLAIN") or not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        username = auth_data.login.decode("utf-8", "replace")
        sender = self.credentials.smtp_login(username, auth_data.password)
        if sender is None:
            log.info("AUTH %s failed for %r from %s", mechanism, username, session.peer)
            return AuthResult(success=False, handled=False)
        return AuthResult(success=True, auth_data=sender)
