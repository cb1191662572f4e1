"""An upstream SMTP server for the tests, in its own process: records every message it accepts.

    python tests/smtp_sink.py --port 2600 --dir OUT [--refuse-rcpt TEXT] [--data-reply "451 4.3.0 later"]
        [--delay SECONDS] [--rset-delay SECONDS]

Each accepted message becomes OUT/<n>.eml (the bytes as received) and OUT/<n>.json (envelope).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import ssl
from pathlib import Path

from aiosmtpd.smtp import SMTP, AuthResult


class SinkSMTP(SMTP):
    """aiosmtpd offers AUTH but refuses its MAIL FROM parameter (RFC 4954 5) with 555; a real MTA that
    offers AUTH takes it. Taken off here and recorded with the envelope's options, as it was written."""

    async def smtp_MAIL(self, arg):
        path = re.match(r'\s*(?:FROM:)?\s*<(?:"(?:[^"\\]|\\.)*"|[^<>"])*>', arg or "", re.IGNORECASE)
        found = re.compile(r"(?<!\S)AUTH=(\S+)", re.IGNORECASE).search(arg or "", path.end() if path else 0)
        if found is not None:  # a parameter after the path, not a look-alike in a quoted local part
            arg = arg[: found.start()] + arg[found.end() :]
        await super().smtp_MAIL(arg)
        if found is not None and self.envelope is not None and self.envelope.mail_from:
            self.envelope.mail_options.append("AUTH=" + found.group(1))


class Sink:
    def __init__(
        self, out: Path, refuse: str | None, data_reply: str | None, delay: float, rset_delay: float = 0.0
    ) -> None:
        self.out, self.refuse, self.data_reply, self.delay = out, refuse, data_reply, delay
        self.rset_delay = rset_delay
        self.count = 0
        self.max_rcpts = 0  # recipients per transaction; 0: no limit
        self.refuse_data: str | None = None  # 554 at DATA for a recipient containing this

    async def handle_RSET(self, server, session, envelope):
        if self.rset_delay:
            await asyncio.sleep(self.rset_delay)
        return "250 2.0.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.max_rcpts and len(envelope.rcpt_tos) >= self.max_rcpts:
            return "452 4.5.3 Too many recipients"
        if self.refuse and self.refuse in address:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.refuse_data and any(self.refuse_data in r for r in envelope.rcpt_tos):
            return "554 5.7.1 Message refused for this recipient"
        if self.data_reply:
            return self.data_reply
        self.count += 1
        name = f"{os.getpid()}-{self.count:06d}"
        (self.out / f"{name}.eml.tmp").write_bytes(envelope.original_content)
        (self.out / f"{name}.json.tmp").write_text(
            json.dumps(
                {
                    "mail_from": envelope.mail_from,
                    "rcpt_tos": envelope.rcpt_tos,
                    "mail_options": envelope.mail_options,
                    "authenticated_as": session.auth_data if session.authenticated else None,
                    "tls": server.transport.get_extra_info("ssl_object") is not None,
                }
            )
        )
        os.rename(self.out / f"{name}.eml.tmp", self.out / f"{name}.eml")
        os.rename(self.out / f"{name}.json.tmp", self.out / f"{name}.json")
        return f"250 2.0.0 Ok: queued as SINK{self.count}"


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--refuse-rcpt")
    p.add_argument("--data-reply")
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--rset-delay", type=float, default=0.0, help="seconds before answering RSET")
    p.add_argument("--max-rcpts", type=int, default=0, help="452 after this many recipients in a transaction")
    p.add_argument("--refuse-data", help="554 at DATA for a transaction with a recipient containing this")
    p.add_argument("--tls-cert")
    p.add_argument("--tls-key")
    p.add_argument("--auth", help="USER:PASSWORD that clients must log in with (over STARTTLS)")
    p.add_argument("--implicit-tls", action="store_true", help="TLS from the first byte (smtps)")
    args = p.parse_args()
    tls = None
    if args.tls_cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    user, _, password = (args.auth or "").partition(":")

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = auth_data.login.decode() == user and auth_data.password.decode() == password
        return AuthResult(success=ok, auth_data=user if ok else None, handled=False)

    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    sink = Sink(out, args.refuse_rcpt, args.data_reply, args.delay, args.rset_delay)
    sink.max_rcpts, sink.refuse_data = args.max_rcpts, args.refuse_data
    loop = asyncio.get_running_loop()
    starttls = tls if not args.implicit_tls else None
    server = await loop.create_server(
        lambda: SinkSMTP(
            sink,
            enable_SMTPUTF8=True,
            decode_data=False,
            data_size_limit=None,
            hostname="sink.test",
            tls_context=starttls,
            require_starttls=bool(starttls),
            auth_required=bool(args.auth),
            auth_require_tls=bool(starttls),
            authenticator=authenticator if args.auth else None,
        ),
        "127.0.0.1",
        args.port,
        ssl=tls if args.implicit_tls else None,
    )
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    await stop.wait()
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
