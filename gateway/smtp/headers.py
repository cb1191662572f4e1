"""Header changes on relayed mail, done on the raw bytes so the body goes out exactly as it came in.

Added at the top (newest first, as relays do): Received, then List-Unsubscribe and List-Unsubscribe-Post
for marketing mail that lacks them, then X-Compliance-Violations in monitor mode. Removed: every
X-Gateway-* header (internal instructions to the gateway), with its continuation lines.
"""

from __future__ import annotations

from ..content.mime import blank_line

INTERNAL_PREFIX = b"x-gateway-"


def split_head(raw: bytes) -> tuple[bytes, bytes]:
    """(header block with its line breaks, everything from the blank line on)."""
    at = blank_line(raw)
    return (raw, b"") if at is None else (raw[: at[0]], raw[at[0] :])


def _strip_internal(head: bytes) -> bytes:
    if INTERNAL_PREFIX not in head.lower():
        return head
    kept, dropping = [], False
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t"):
            if not dropping:
                kept.append(line)
            continue
        dropping = line.lower().startswith(INTERNAL_PREFIX)
        if not dropping:
            kept.append(line)
    return b"".join(kept)


def fold(name: str, value: str) -> bytes:
    """One header field, folded after commas so no line passes 78 characters where avoidable."""
    parts = [p.strip() for p in value.split(",")] if name.lower() in ("list-unsubscribe",) else [value]
    lines, current = [], f"{name}: {parts[0]}"
    for part in parts[1:]:
        if len(current) + len(part) + 2 > 78:
            lines.append(current + ",")
            current = " " + part
        else:
            current += ", " + part
    lines.append(current)
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def rewrite(raw: bytes, added: list[tuple[str, str]]) -> bytes:
    head, rest = split_head(raw)
    return b"".join(fold(n, v) for n, v in added) + _strip_internal(head) + rest
