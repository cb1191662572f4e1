"""The private parts of aiosmtpd and aiosmtplib this project relies on, all named here.

Neither library offers a public way to do what the gateway needs on the hot path (see protocol.py and
relay.py for why each is used): aiosmtpd's per-connection set-up, its read buffer (pipelined commands,
DATA read in large chunks) and its internal hooks; aiosmtplib's command lock and raw reply reader (DATA
written as the client sent it). pyproject.toml pins both libraries below releases they were not checked
on for this reason, and tests/test_layering.py fails, naming the part, when an installed version no
longer has one of them. `missing()` gives that list, and `gateway serve` refuses to start without them.
"""

from __future__ import annotations

import asyncio
import inspect
import re

import aiosmtplib
from aiosmtpd.smtp import SMTP

# -- aiosmtpd ------------------------------------------------------------------------------------------

# Per-connection state SMTP.__init__ sets, and the value a new connection starts with (GatewaySMTP copies
# everything else from the first connection instead of running __init__ again).
PER_CONNECTION = {
    "_timeout_handle": None,
    "_tls_handshake_okay": True,
    "_tls_protocol": None,
    "_original_transport": None,
    "session": None,
    "envelope": None,
    "transport": None,
    "_handler_coroutine": None,
}
# Set when a client connects (SMTP._cb_client_connected): the connection's stream reader and writer.
STREAMS = ("_reader", "_writer")
# What GatewaySMTP reads, calls or overrides on an SMTP instance besides those.
SMTP_PARTS = (
    "_auth_methods",
    "_smtp_methods",
    "_cb_client_connected",
    "_getaddr",
    "_call_handler_hook",
    "_set_post_data_state",
    "check_helo_needed",
    "check_auth_needed",
    "local_part_limit",
    "line_length_limit",
    "data_size_limit",
    "enable_SMTPUTF8",
    "event_handler",
    "loop",
)
# What it reads on each of `_auth_methods`' values (aiosmtpd's _AuthMechAttr).
AUTH_METHOD_PARTS = ("method", "is_builtin")


def input_buffer(protocol: SMTP) -> bytearray:
    """What the client has sent that aiosmtpd has not read yet."""
    return protocol._reader._buffer  # type: ignore[attr-defined]


def push_back(protocol: SMTP, data: bytes) -> None:
    """Bytes read past the end of DATA (pipelined commands) given back, to be read next."""
    input_buffer(protocol)[0:0] = data


_RCPT = re.compile(rb"RCPT TO:\s*<([^<>\r\n]{1,320})>[^\r\n]*\r?\n", re.IGNORECASE)


def pipelined_recipients(protocol: SMTP, limit: int = 1000) -> list[str]:
    """The addresses of the RCPT commands waiting in the buffer right after the one being handled (a
    pipelining client sends them all before the first reply, RFC 2920)."""
    buffer = bytes(input_buffer(protocol)[:65536])
    found: list[str] = []
    at = 0
    while len(found) < limit and (m := _RCPT.match(buffer, at)):
        found.append(m.group(1).decode("utf-8", "replace"))
        at = m.end()
    return found


# -- aiosmtplib ----------------------------------------------------------------------------------------

# What relay.send_data uses on aiosmtplib.SMTP's protocol object (SMTPProtocol).
PROTOCOL_PARTS = ("_command_lock", "_response_pending", "read_response", "write", "_buffer")


def command_protocol(client: aiosmtplib.SMTP):
    """The connected client's protocol object when it has the parts relay.py uses, else None (the relay
    then falls back on aiosmtplib's public data())."""
    protocol = client.protocol
    if protocol is None or any(not hasattr(protocol, part) for part in PROTOCOL_PARTS):
        return None
    if protocol._command_lock is None:
        return None
    return protocol


def unread_bytes(client: aiosmtplib.SMTP) -> bool:
    """Whether the upstream sent more than the replies read so far (a second reply line after the final
    one, junk after a bare LF): the connection is out of step, and the next command would read an old
    reply as its own."""
    protocol = command_protocol(client)
    return protocol is not None and bool(protocol._buffer)


# -- the check -----------------------------------------------------------------------------------------


def missing() -> list[str]:
    """Every private part named above that the installed libraries lack (empty when all are there)."""
    from aiosmtpd.smtp import _AuthMechAttr
    from aiosmtplib.protocol import SMTPProtocol

    gone = []

    class _Handler:
        pass

    async def build() -> tuple[SMTP, asyncio.StreamReader, SMTPProtocol]:
        return SMTP(_Handler()), asyncio.StreamReader(), SMTPProtocol()

    loop = asyncio.new_event_loop()
    try:
        smtp, stream, protocol = loop.run_until_complete(build())
    finally:
        loop.close()
    for part in (*PER_CONNECTION, *SMTP_PARTS):
        if not hasattr(smtp, part) and not hasattr(SMTP, part):
            gone.append(f"aiosmtpd SMTP.{part}")
    connected = inspect.getsource(SMTP._cb_client_connected)
    for part in STREAMS:
        if f"self.{part} = " not in connected:
            gone.append(f"aiosmtpd SMTP.{part} (set by _cb_client_connected)")
    if not isinstance(getattr(stream, "_buffer", None), bytearray):
        gone.append("asyncio StreamReader._buffer (a bytearray)")
    for part in AUTH_METHOD_PARTS:
        if part not in getattr(_AuthMechAttr, "_fields", ()):
            gone.append(f"aiosmtpd _AuthMechAttr.{part}")
    for part in PROTOCOL_PARTS:
        if not hasattr(protocol, part):
            gone.append(f"aiosmtplib SMTPProtocol.{part}")
    return gone
