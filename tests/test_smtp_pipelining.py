"""A pipelining client (RFC 2920) names every recipient before the first reply: the email engine then reads
all their facts in one batch, where a client waiting for each reply gets one read per RCPT."""

from __future__ import annotations

import asyncio
import base64

from helpers import shipped_config
from servers import free_port

from gateway import config as config_module
from gateway.server import Gateway

RECEIPT = (
    b"From: Demo <orders@news.demo.example>\r\nTo: a@example.com\r\nSubject: Your order 1001\r\n"
    b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThanks for your order.\r\n"
)
PEOPLE = [f"person{i}@example.com" for i in range(5)]


class CountingStore:
    def __init__(self, real) -> None:
        self.real, self.reads = real, []

    async def facts(self, channel, sender, addresses, at, history_hours=0):
        self.reads.append(list(addresses))
        return await self.real.facts(channel, sender, addresses, at, history_hours)

    def __getattr__(self, name):
        return getattr(self.real, name)


async def _replies(reader: asyncio.StreamReader, count: int) -> list[bytes]:
    found = []
    while len(found) < count:
        line = await reader.readline()
        assert line, "connection closed"
        if line[3:4] != b"-":
            found.append(line[:3])
    return found


async def test_pipelined_recipients_are_read_in_one_batch(tmp_path):
    port = free_port()
    text = shipped_config(tmp_path, port, free_port())
    text = text.replace('category = "marketing"', 'category = "transactional"', 1)  # several recipients
    (tmp_path / "g.toml").write_text(text)
    gateway = Gateway(config_module.load(str(tmp_path / "g.toml")))
    counting = CountingStore(gateway.store)
    gateway.mail.pipeline.store = counting
    await gateway.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        assert await _replies(reader, 1) == [b"220"]
        login = base64.b64encode(b"\0demo\0demo-smtp-password").decode()
        writer.write(f"EHLO client.example\r\nAUTH PLAIN {login}\r\n".encode())
        assert await _replies(reader, 2) == [b"250", b"235"]

        # all at once, as a pipelining client sends them
        commands = ["MAIL FROM:<orders@news.demo.example>", *(f"RCPT TO:<{p}>" for p in PEOPLE), "DATA"]
        writer.write(("\r\n".join(commands) + "\r\n").encode())
        assert await _replies(reader, len(commands)) == [b"250"] * (1 + len(PEOPLE)) + [b"354"]
        writer.write(RECEIPT + b".\r\n")
        assert await _replies(reader, 1) == [b"250"]
        assert counting.reads == [PEOPLE]

        # one command at a time: one read per recipient
        counting.reads.clear()
        for command in ["MAIL FROM:<orders@news.demo.example>", *(f"RCPT TO:<{p}>" for p in PEOPLE[:3])]:
            writer.write(command.encode() + b"\r\n")
            assert await _replies(reader, 1) == [b"250"]
        writer.write(b"RSET\r\nQUIT\r\n")
        assert await _replies(reader, 2) == [b"250", b"221"]
        assert counting.reads == [[p] for p in PEOPLE[:3]]
        writer.close()
    finally:
        await gateway.stop()
    assert len(list((tmp_path / "outbox" / "new").iterdir())) == 1
