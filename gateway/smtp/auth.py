"""SMTP AUTH (PLAIN, LOGIN) over the senders' SMTP logins, checked off the event loop and under the
guessing limits (gateway/throttle.py).

aiosmtpd calls its authenticator synchronously, so `Collector` (the authenticator) only keeps what the
client sent; the handler's own `auth_PLAIN` and `auth_LOGIN` (`LoginMethods`, which aiosmtpd prefers to
its built-in ones) let aiosmtpd read the exchange, then await the check: `235` for a sender's login,
`535 5.7.8` after a growing delay for a wrong one, `454 4.7.0` at once while the client address or the
user name is blocked.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from ..credentials import Blocked, Credentials


@dataclass(frozen=True)
class _Collected:
    login: bytes
    password: bytes


class Collector:
    """aiosmtpd's authenticator hook: what the client sent, kept for `LoginMethods` to check."""

    def __call__(self, server, session, envelope, mechanism: str, auth_data) -> AuthResult:
        if mechanism not in ("LOGIN", "PLAIN") or not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        return AuthResult(
            success=False, handled=False, auth_data=_Collected(auth_data.login, auth_data.password)
        )


class LoginMethods:
    """AUTH PLAIN and LOGIN for the SMTP door's handler (it sets `credentials`)."""

    credentials: Credentials

    async def auth_PLAIN(self, server: SMTP, args: list[str]) -> AuthResult:
        return await self._checked(server, await SMTP.auth_PLAIN(server, None, args))

    async def auth_LOGIN(self, server: SMTP, args: list[str]) -> AuthResult:
        return await self._checked(server, await SMTP.auth_LOGIN(server, None, args))

    async def _checked(self, server: SMTP, collected: AuthResult) -> AuthResult:
        given = collected.auth_data
        if not isinstance(given, _Collected):
            return collected  # the exchange itself failed (bad base64, cancelled): aiosmtpd answered
        peer = server.session.peer if server.session is not None else None
        client = peer[0] if isinstance(peer, tuple) and peer else None
        username = given.login.decode("utf-8", "replace")
        try:
            sender = await self.credentials.smtp_login(username, given.password, client)
        except Blocked as exc:
            return AuthResult(
                success=False,
                handled=False,
                message=f"454 4.7.0 Too many failed attempts: try again in {exc.retry_after} s",
            )
        if sender is None:
            return AuthResult(success=False, handled=False)  # 535 5.7.8
        return AuthResult(success=True, auth_data=sender)
