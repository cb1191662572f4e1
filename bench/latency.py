"""Where the time goes at one connection: each SMTP step's reply time, through the gateway and through a
Postfix relay, one message after another (a new connection each, as smtp-source sends), to the same sink.

    .venv/bin/python bench/latency.py [--messages 300] [--size 5000] [--workers 2]

Prints, per step (connect and banner, EHLO, MAIL, RCPT, DATA, the final dot, QUIT), the median and p90 in
milliseconds for both. The gateway asks the upstream about the recipient at RCPT, and relays before it
answers the final dot; Postfix answers the dot once the message is in its queue and relays afterwards.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "tests"))

from policy import newsletter
from smtp import running

STEPS = ("connect", "ehlo", "mail", "rcpt", "data", "dot", "quit")


def _reply(sock: socket.socket, buffer: bytearray) -> bytes:
    """One whole reply (its last line has a space after the code)."""
    while True:
        end = buffer.find(b"\r\n")
        while end >= 0:
            line = bytes(buffer[: end + 2])
            del buffer[: end + 2]
            if len(line) >= 4 and line[3:4] == b" ":
                return line
            end = buffer.find(b"\r\n")
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        buffer += chunk


def one(port: int, data: bytes, n: int) -> list[float]:
    times, buffer = [], bytearray()
    start = time.perf_counter()
    sock = socket.create_connection(("127.0.0.1", port))
    try:
        for step, command in zip(
            STEPS,
            (
                None,
                b"EHLO bench.example\r\n",
                b"MAIL FROM:<news@news.acme.example>\r\n",
                f"RCPT TO:<reader{n}@example.com>\r\n".encode(),
                b"DATA\r\n",
                data + b".\r\n",
                b"QUIT\r\n",
            ),
        ):
            if command is not None:
                sock.sendall(command)
            reply = _reply(sock, buffer)
            if reply[:1] not in (b"2", b"3"):
                raise SystemExit(f"{step}: {reply!r}")
            now = time.perf_counter()
            times.append((now - start) * 1000)
            start = now
    finally:
        sock.close()
    return times


def run(port: int, data: bytes, count: int) -> list[list[float]]:
    return [one(port, data, n) for n in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--size", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--queue", action="store_true", help="smtp.queue = true")
    args = parser.parse_args()
    data = newsletter(args.size).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    with running(args.workers, queue=args.queue) as (_tmp, _sink, port, _gateway, postfix):
        results = {}
        for name, target in (("gateway", port), ("postfix", postfix.port)):
            run(target, data, 20)  # warm up
            results[name] = run(target, data, args.messages)
    print(f"{'step':>8} {'gateway median':>15} {'p90':>6} {'postfix median':>15} {'p90':>6}   (ms)")
    for i, step in enumerate((*STEPS, "total")):
        cells = []
        for name in ("gateway", "postfix"):
            values = sorted(sum(r) if step == "total" else r[i] for r in results[name])
            cells.append((statistics.median(values), values[int(len(values) * 0.9)]))
        (gm, g90), (pm, p90) = cells
        print(f"{step:>8} {gm:>15.3f} {g90:>6.3f} {pm:>15.3f} {p90:>6.3f}")
    print(f"({args.messages} messages of {args.size // 1000} KB, one connection each, one after another)")


if __name__ == "__main__":
    main()
