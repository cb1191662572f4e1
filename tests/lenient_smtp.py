"""An upstream SMTP server as careless as the ones SMTP smuggling exploits, in its own process.

    python tests/lenient_smtp.py --port 2600 --dir OUT

It takes a CR, an LF or a CRLF as a line end, in commands and in DATA, so DATA ends at any of
`<CR>.<CR>`, `<LF>.<LF>`, `<CR>.<LF>`, `<LF>.<CR>`, CRLF.CR, ... and what follows is read as the
next commands: a second message, with an envelope of its own, inside the first. Every message it
accepts becomes OUT/<n>.eml and OUT/<n>.json (envelope), as tests/smtp_sink.py writes them.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
from pathlib import Path

_LINE = re.compile(rb"\r\n|\r|\n")
_DATA_END = re.compile(rb"(\A|\r\n|\r|\n)\.(?:\r\n|\r|\n)")
_ADDRESS = re.compile(r"<([^>]*)>")


class Lenient:
    def __init__(self, out: Path) -> None:
        self.out, self.count = out, 0

    def save(self, mail_from: str, rcpt_tos: list[str], data: bytes) -> None:
        self.count += 1
        name = f"{os.getpid()}-{self.count:06d}"
        (self.out / f"{name}.eml.tmp").write_bytes(data)
        (self.out / f"{name}.json.tmp").write_text(json.dumps({"mail_from": mail_from, "rcpt_tos": rcpt_tos}))
        os.rename(self.out / f"{name}.eml.tmp", self.out / f"{name}.eml")
        os.rename(self.out / f"{name}.json.tmp", self.out / f"{name}.json")

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buffer = bytearray()

        async def more() -> bool:
            chunk = await reader.read(65536)
            buffer.extend(chunk)
            return bool(chunk)

        async def line() -> bytes | None:
            while True:
                m = _LINE.search(buffer)
                # a CR at the very end may be the first half of a CRLF: wait for one more byte
                if m and not (m.group() == b"\r" and m.end() == len(buffer)):
                    text = bytes(buffer[: m.start()])
                    del buffer[: m.end()]
                    return text
                if not await more():
                    return None

        def reply(text: str) -> None:
            writer.write(text.encode() + b"\r\n")

        reply("220 lenient.example ESMTP")
        mail_from, rcpt_tos = "", []
        try:
            while (command := await line()) is not None:
                verb = command[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    reply("250-lenient.example\r\n250-8BITMIME\r\n250 SIZE 100000000")
                elif verb == b"MAIL":
                    mail_from, rcpt_tos = _ADDRESS.search(command.decode(errors="replace")).group(1), []
                    reply("250 2.1.0 Ok")
                elif verb == b"RCPT":
                    rcpt_tos.append(_ADDRESS.search(command.decode(errors="replace")).group(1))
                    reply("250 2.1.5 Ok")
                elif verb == b"DATA":
                    reply("354 go ahead")
                    await writer.drain()
                    while True:
                        m = _DATA_END.search(buffer)
                        if m and not (m.group().endswith(b"\r") and m.end() == len(buffer)):
                            break
                        if not await more():
                            return
                    data = re.sub(rb"(\A|\r\n|\r|\n)\.\.", rb"\1.", bytes(buffer[: m.end(1)]))
                    del buffer[: m.end()]
                    self.save(mail_from, rcpt_tos, data)
                    mail_from, rcpt_tos = "", []
                    reply(f"250 2.0.0 Ok: queued as LENIENT{self.count}")
                elif verb == b"RSET":
                    mail_from, rcpt_tos = "", []
                    reply("250 2.0.0 Ok")
                elif verb == b"NOOP":
                    reply("250 2.0.0 Ok")
                elif verb == b"QUIT":
                    reply("221 2.0.0 Bye")
                    await writer.drain()
                    break
                else:
                    reply("502 5.5.2 Error: command not recognized")
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", required=True)
    args = p.parse_args()
    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    server = await asyncio.start_server(Lenient(out).session, "127.0.0.1", args.port)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
