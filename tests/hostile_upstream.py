"""A misbehaving upstream SMTP server for the tests: loopback only, asyncio, configurable faults.

In the test's own process (a thread with its own event loop), so a test can change its faults between
messages while the gateway keeps its pooled connections:

    up = HostileUpstream().start()
    up.set_rules([Rule("DOT", "delay", seconds=8, times=1)])
    ...
    up.accepted      # every message it took: {"mail_from", "rcpt_tos", "data", "conn", "answered"}
    up.stop()

or as a process of its own (`python tests/hostile_upstream.py --port 2600 --dir OUT --rules JSON`),
writing OUT/<n>.eml and OUT/<n>.json as tests/smtp_sink.py does.

Events a rule can fire on: CONNECT (the banner), EHLO, HELO, MAIL, RCPT, DATA (the DATA command), DOT
(the end of the message), RSET, NOOP, QUIT. Actions:

    reply    answer `text` (raw: CRLFs, garbage, no CRLF, non-ASCII are all written as given)
    reply_close  answer `text`, then close the connection (421 and go)
    close    close the connection without an answer
    hang     never answer (the connection stays open until the client closes it)
    delay    wait `seconds`, then answer as usual (or `text`)
    split    answer as usual (or `text`), one byte per TCP segment
    trickle  answer as usual (or `text`) at `rate` bytes per second

A message's end (DOT) is recorded as accepted as soon as it has arrived when the answer the upstream will
give starts with 2 (as an MTA does: the queue file is written before the reply), whatever happens to that
answer afterwards; `answered` says whether the answer was written out.

Filters: `times` (fire this many times, then never again; None: always), `skip` (let this many matching
events go by first), `nth` (RCPT: only the nth recipient of a transaction, 1-based), `conn` (only on the
nth connection, 1-based).

`idle_close`: seconds after which an idle connection (between transactions) gets `421 4.4.2 idle timeout`
and is closed, as Postfix does. `ehlo`: the extension lines EHLO offers. `refuse_rcpt`: a substring of
recipients refused with 550. `read_rate`: bytes per second the message is read at (with a small receive
buffer, so the sender's writes stall). `max_size`: MAIL with a larger SIZE=, or a larger
message at its end, gets 552 (whatever EHLO says).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_EHLO = ["PIPELINING", "SIZE 100000000", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8"]
_ADDRESS = re.compile(rb"<([^>]*)>")


@dataclass
class Rule:
    on: str
    do: str
    text: str | bytes | None = None
    seconds: float = 0.0
    rate: float = 1.0
    times: int | None = None
    skip: int = 0
    nth: int | None = None
    conn: int | None = None
    fired: int = 0
    seen: int = 0

    def matches(self, event: str, conn: int, nth: int | None) -> bool:
        if self.on != event:
            return False
        if self.conn is not None and self.conn != conn:
            return False
        if self.nth is not None and self.nth != nth:
            return False
        if self.times is not None and self.fired >= self.times:
            return False
        self.seen += 1
        if self.seen <= self.skip:
            return False
        self.fired += 1
        return True

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Rule:
        return cls(**d)


@dataclass(eq=False)
class Session:
    number: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    mail_from: str | None = None
    rcpt_tos: list[str] = field(default_factory=list)
    closed: bool = False


class HostileUpstream:
    def __init__(
        self,
        rules: list[Rule] | None = None,
        *,
        ehlo: list[str] | None = None,
        idle_close: float | None = None,
        refuse_rcpt: str | None = None,
        read_rate: float | None = None,
        max_size: int | None = None,
        out: Path | None = None,
        port: int = 0,
        hostname: str = "hostile.test",
    ) -> None:
        self.rules: list[Rule] = list(rules or [])
        self.ehlo = list(DEFAULT_EHLO if ehlo is None else ehlo)
        self.idle_close = idle_close
        self.refuse_rcpt = refuse_rcpt
        self.read_rate = read_rate
        self.max_size = max_size
        self.out = out
        self.port = port
        self.hostname = hostname
        self.accepted: list[dict[str, Any]] = []
        self.commands: list[tuple[int, str]] = []  # (connection, command line) as received
        self.connections = 0
        self.open_connections = 0
        self.in_flight = 0  # messages whose end has arrived and whose final answer is not written yet
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._sessions: set[Session] = set()
        self._tasks: set[asyncio.Task] = set()
        self._ready = threading.Event()

    # --- control, from any thread ---------------------------------------------------------------

    def set_rules(self, rules: list[Rule]) -> None:
        with self._lock:
            self.rules = list(rules)

    def clear(self) -> None:
        self.set_rules([])

    def delivered_to(self, recipient: str) -> int:
        """How many accepted messages went to this recipient."""
        return sum(recipient.lower() in (r.lower() for r in m["rcpt_tos"]) for m in list(self.accepted))

    def start(self) -> HostileUpstream:
        self._thread = threading.Thread(target=self._run, name="hostile-upstream", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("hostile upstream did not start")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        with contextlib.suppress(Exception):  # (a loop already stopping)
            fut.result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(10)

    def drop_idle(self) -> None:
        """Close every connection now (as an upstream restarting would)."""
        if self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._drop_all(), self._loop).result(10)

    # --- the server ------------------------------------------------------------------------------

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._listen())
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    async def _listen(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if self.read_rate:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(100)
        sock.setblocking(False)
        self._server = await asyncio.start_server(self._session, sock=sock, limit=2**24)
        self.port = sock.getsockname()[1]

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._drop_all()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _drop_all(self) -> None:
        for s in list(self._sessions):
            s.closed = True
            s.writer.close()

    def _rule(self, event: str, s: Session, nth: int | None = None) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.matches(event, s.number, nth):
                    return rule
        return None

    async def _write(self, s: Session, data: bytes, how: str = "plain", rate: float = 1.0) -> bool:
        """Write an answer; False when the connection is gone."""
        try:
            if how == "plain":
                s.writer.write(data)
                await s.writer.drain()
            else:
                pause = 0.002 if how == "split" else 1.0 / rate
                for i in range(len(data)):
                    s.writer.write(data[i : i + 1])
                    await s.writer.drain()
                    if i + 1 < len(data):
                        await asyncio.sleep(pause)
            return True
        except (ConnectionError, OSError):
            return False

    async def _answer(self, s: Session, event: str, default: bytes, rule: Rule | None) -> bool | None:
        """Answer an event under its rule. True: answered; False: could not write; None: no answer
        (closed or hanging: the session ends)."""
        if rule is None:
            return await self._write(s, default)
        text = rule.text
        answer = default if text is None else (text.encode("utf-8") if isinstance(text, str) else text)
        if rule.do == "reply":
            return await self._write(s, answer)
        if rule.do == "reply_close":
            await self._write(s, answer)
            s.closed = True
            s.writer.close()
            return None
        if rule.do == "close":
            s.closed = True
            s.writer.close()
            return None
        if rule.do == "hang":
            await self._hang(s)
            return None
        if rule.do == "delay":
            await asyncio.sleep(rule.seconds)
            if s.closed:
                return False
            return await self._write(s, answer)
        if rule.do in ("split", "trickle"):
            return await self._write(s, answer, rule.do, rule.rate)
        raise ValueError(f"unknown action {rule.do!r}")

    async def _hang(self, s: Session) -> None:
        try:
            while await s.reader.read(65536):
                pass
        except (ConnectionError, OSError):
            pass
        s.closed = True
        s.writer.close()

    async def _readline(self, s: Session) -> bytes | None:
        try:
            if self.idle_close is not None and s.mail_from is None:
                try:
                    line = await asyncio.wait_for(s.reader.readuntil(b"\r\n"), self.idle_close)
                except TimeoutError:
                    await self._write(s, b"421 4.4.2 hostile.test Error: timeout exceeded\r\n")
                    s.closed = True
                    s.writer.close()
                    return None
            else:
                line = await s.reader.readuntil(b"\r\n")
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            return None
        return line[:-2]

    async def _read_data(self, s: Session) -> bytes | None:
        if not self.read_rate:
            try:
                data = await s.reader.readuntil(b"\r\n.\r\n")
            except (asyncio.IncompleteReadError, ConnectionError, OSError):
                return None
        else:
            data = b""
            while not data.endswith(b"\r\n.\r\n"):
                try:
                    chunk = await s.reader.readexactly(1)
                except (asyncio.IncompleteReadError, ConnectionError, OSError):
                    return None
                data += chunk
                await asyncio.sleep(1.0 / self.read_rate)
        body = data[: -len(b".\r\n")]
        return re.sub(rb"(?m)^\.\.", b".", body) if b"\n.." in body or body.startswith(b"..") else body

    def _record(self, s: Session, data: bytes) -> dict[str, Any]:
        entry = {
            "mail_from": s.mail_from or "",
            "rcpt_tos": list(s.rcpt_tos),
            "data": data,
            "conn": s.number,
            "answered": None,
            "at": time.monotonic(),
        }
        self.accepted.append(entry)
        if self.out is not None:
            name = f"{os.getpid()}-{len(self.accepted):06d}"
            (self.out / f"{name}.eml").write_bytes(data)
            meta = {k: v for k, v in entry.items() if k != "data"}
            (self.out / f"{name}.json").write_text(json.dumps(meta))
        return entry

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self.connections += 1
        self.open_connections += 1
        s = Session(self.connections, reader, writer)
        self._sessions.add(s)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            await self._serve(s)
        except Exception as exc:  # a fault of this test server must show
            print(f"hostile upstream: {exc!r}", flush=True)
            raise
        finally:
            self.open_connections -= 1
            self._sessions.discard(s)
            if not s.closed:
                s.writer.close()

    async def _serve(self, s: Session) -> None:
        banner = f"220 {self.hostname} ESMTP hostile\r\n".encode()
        if await self._answer(s, "CONNECT", banner, self._rule("CONNECT", s)) is None:
            return
        while not s.closed:
            line = await self._readline(s)
            if line is None:
                return
            self.commands.append((s.number, line.decode("utf-8", "replace")))
            verb = line[:4].upper().decode("ascii", "replace")
            if verb == "EHLO":
                lines = [self.hostname, *self.ehlo]
                default = "".join(
                    f"250{'-' if i < len(lines) - 1 else ' '}{text}\r\n" for i, text in enumerate(lines)
                ).encode()
                event = "EHLO"
            elif verb == "HELO":
                default, event = f"250 {self.hostname}\r\n".encode(), "HELO"
            elif verb == "MAIL":
                m = _ADDRESS.search(line)
                size = re.search(rb"(?i)\bSIZE=(\d+)", line)
                if self.max_size is not None and size and int(size.group(1)) > self.max_size:
                    s.mail_from = None
                    default = b"552 5.3.4 Message size exceeds fixed limit\r\n"
                else:
                    s.mail_from, s.rcpt_tos = (m.group(1).decode("utf-8", "replace") if m else ""), []
                    default = b"250 2.1.0 Ok\r\n"
                event = "MAIL"
            elif verb == "RCPT":
                m = _ADDRESS.search(line)
                address = m.group(1).decode("utf-8", "replace") if m else ""
                if s.mail_from is None:
                    await self._write(s, b"503 5.5.1 Error: need MAIL command\r\n")
                    continue
                rule = self._rule("RCPT", s, len(s.rcpt_tos) + 1)
                if self.refuse_rcpt and self.refuse_rcpt in address:
                    default = f"550 5.1.1 <{address}>: Recipient address rejected: User unknown\r\n".encode()
                else:
                    default = b"250 2.1.5 Ok\r\n"
                answer_text = default if rule is None or rule.text is None else rule.text
                if isinstance(answer_text, str):
                    answer_text = answer_text.encode()
                if answer_text.startswith(b"2") and (rule is None or rule.do not in ("close", "hang")):
                    s.rcpt_tos.append(address)
                if await self._answer(s, "RCPT", default, rule) is None:
                    return
                continue
            elif verb == "DATA":
                if not s.rcpt_tos:
                    await self._write(s, b"503 5.5.1 Error: need RCPT command\r\n")
                    continue
                rule = self._rule("DATA", s)
                answer = default = b"354 End data with <CR><LF>.<CR><LF>\r\n"
                if rule is not None and rule.text is not None:
                    answer = rule.text.encode() if isinstance(rule.text, str) else rule.text
                done = await self._answer(s, "DATA", default, rule)
                if done is None:
                    return
                if not answer.startswith(b"354"):
                    continue
                data = await self._read_data(s)
                if data is None:
                    return
                rule = self._rule("DOT", s)
                default = f"250 2.0.0 Ok: queued as HOSTILE{len(self.accepted) + 1}\r\n".encode()
                if self.max_size is not None and len(data) > self.max_size:
                    default = b"552 5.3.4 Message size exceeds fixed limit\r\n"
                final = default if rule is None or rule.text is None else rule.text
                if isinstance(final, str):
                    final = final.encode("utf-8")
                entry = None
                taken = rule is None or rule.do not in ("close", "hang") or rule.text is not None
                if final.startswith(b"2") and taken:
                    entry = self._record(s, data)
                self.in_flight += 1
                try:
                    answered = await self._answer(s, "DOT", default, rule)
                finally:
                    self.in_flight -= 1
                if entry is not None:
                    entry["answered"] = bool(answered)
                s.mail_from, s.rcpt_tos = None, []
                if answered is None:
                    return
                continue
            elif verb == "RSET":
                s.mail_from, s.rcpt_tos = None, []
                default, event = b"250 2.0.0 Ok\r\n", "RSET"
            elif verb == "AUTH":
                mechanism = (line.split() + [b"", b""])[1].upper().decode("ascii", "replace")
                offered = " ".join(e for e in self.ehlo if e.upper().startswith("AUTH")).upper().split()[1:]
                if mechanism in offered and mechanism == "PLAIN" and len(line.split()) > 2:
                    default = b"235 2.7.0 Authentication successful\r\n"
                else:
                    default = b"504 5.5.4 Unrecognized authentication type\r\n"
                event = "AUTH"
            elif verb == "NOOP":
                default, event = b"250 2.0.0 Ok\r\n", "NOOP"
            elif verb == "QUIT":
                rule = self._rule("QUIT", s)
                await self._answer(s, "QUIT", b"221 2.0.0 Bye\r\n", rule)
                s.closed = True
                s.writer.close()
                return
            else:
                default, event = b"502 5.5.2 Error: command not recognized\r\n", "OTHER"
            if await self._answer(s, event, default, self._rule(event, s)) is None:
                return


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", required=True)
    p.add_argument(
        "--rules", default="[]", help="JSON list of rules: {on, do, text, seconds, rate, times, ...}"
    )
    p.add_argument("--ehlo", help="JSON list of EHLO extension lines")
    p.add_argument("--idle-close", type=float)
    p.add_argument("--refuse-rcpt")
    p.add_argument("--read-rate", type=float)
    args = p.parse_args()
    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    up = HostileUpstream(
        [Rule.from_json(r) for r in json.loads(args.rules)],
        ehlo=json.loads(args.ehlo) if args.ehlo else None,
        idle_close=args.idle_close,
        refuse_rcpt=args.refuse_rcpt,
        read_rate=args.read_rate,
        out=out,
        port=args.port,
    ).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()
    up.stop()


if __name__ == "__main__":
    main()
