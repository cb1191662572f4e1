"""A DNS server for tests, on a loopback UDP port: answers from a dict, NXDOMAIN for anything else.

    with DnsStub({("example.com", "TXT"): ["v=spf1 ip4:127.0.0.1 -all"]}) as dns:
        ... config: smtp.dns_resolver = f"127.0.0.1:{dns.port}"

Records: {(name, type): [text]} with type TXT, A, AAAA or MX ("10 mx.example.com"). Names without the
trailing dot, case-insensitive. `queries` lists what was asked, for tests that count lookups.
"""

from __future__ import annotations

import socket
import threading
from typing import Self

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


class DnsStub:
    def __init__(self, records: dict[tuple[str, str], list[str]]) -> None:
        self.records = {(n.lower().rstrip("."), t.upper()): v for (n, t), v in records.items()}
        self.queries: list[tuple[str, str]] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()

    def _answer(self, wire: bytes) -> bytes:
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        name = question.name.to_text().lower().rstrip(".")
        rdtype = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, rdtype))
        values = self.records.get((name, rdtype))
        if values:
            texts = [_quoted(v) if rdtype == "TXT" else v for v in values]
            if rdtype == "MX":  # absolute names
                texts = [t if t.endswith(".") else t + "." for t in texts]
            response.answer.append(dns.rrset.from_text(question.name, 60, "IN", rdtype, *texts))
        elif not any(n == name for n, _ in self.records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        return response.to_wire()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                wire, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                self.sock.sendto(self._answer(wire), peer)
            except Exception as exc:  # a test's malformed record: no answer, the client times out
                print(f"dns stub: no answer: {exc!r}")


def _quoted(text: str) -> str:
    """A TXT value as zone text: split into 255-byte strings, each quoted."""
    chunks = [text[i : i + 250] for i in range(0, len(text), 250)] or [""]
    return " ".join('"' + c.replace("\\", "\\\\").replace('"', '\\"') + '"' for c in chunks)
