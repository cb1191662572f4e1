"""What the email engine answers at each stage: an SMTP reply code and its text, which the door writes as
it is, and the refusals, worded to name every code within the length an SMTP reply may have."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Action:
    """What the door answers: an SMTP reply code and its text (enhanced status code first). 2xx accepts,
    4xx defers (the client tries again later), 5xx refuses."""

    code: int
    text: str

    @property
    def accepted(self) -> bool:
        return 200 <= self.code < 300

    def line(self) -> str:
        return f"{self.code} {self.text}"


MAIL_OK = Action(250, "2.1.0 OK")
BAD_SENDER = Action(501, "5.1.7 Bad sender address syntax: control characters or bytes that are not UTF-8")
BAD_RECIPIENT = Action(
    501, "5.1.3 Bad recipient address syntax: control characters or bytes that are not UTF-8"
)
RCPT_OK = Action(250, "2.1.5 OK")
STORE_DOWN = Action(451, "4.3.0 Compliance store unavailable, try again later")
UPSTREAM_DOWN = Action(451, "4.4.1 Upstream unavailable, try again later")
NEED_AUTH = Action(530, "5.7.0 Authentication required")
OWN_ADDRESSES_ALONE = Action(
    452,
    "4.5.3 Mail to the gateway's own addresses goes in a transaction of its own: send the other recipients "
    "in another",
)

REPLY_TEXT = 500  # RFC 5321 4.5.3.1.5: a reply line is 512 octets with its code and CRLF


def cut(text: str) -> str:
    """A reply's text within the octets of a reply line, cut at a character, "..." where it was cut."""
    raw = text.encode()
    return text if len(raw) <= REPLY_TEXT else raw[: REPLY_TEXT - 3].decode(errors="ignore") + "..."


def fitted(prefix: str, found: Sequence[tuple[str, str]], form: str) -> str:
    """A refusal naming every code, each followed by its reason (`form`, e.g. ": %s"), the reasons cut
    short as much as it takes for the line to fit in an SMTP reply."""
    lines = [prefix + "; ".join(code + form % why for code, why in found)]
    for room in (200, 120, 60, 30, 0):
        if len(lines[-1].encode()) <= REPLY_TEXT:
            break
        lines.append(
            prefix
            + "; ".join(
                code + (form % (why if len(why) <= room else why[: max(room - 3, 0)] + "...") if room else "")
                for code, why in found
            )
        )
    return lines[-1]
