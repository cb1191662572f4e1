"""Suppression lists as CSV: streaming import (any size, flat memory) and export in the same shape.

Import takes a header row naming any of the export columns (`address` is enough; `email`, `phone`,
`number` and `sender` are accepted as synonyms), or a bare list of addresses with no header.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

from ..addresses import address_hash
from ..model import Channel, Reason, Suppression
from ..reports import cell, uncell
from ..store.base import to_text
from . import checks
from .checks import ListsError

COLUMNS = ("channel", "address", "address_hash", "scope", "reason", "source", "created_at", "expires_at")
_SYNONYMS = {"email": "address", "phone": "address", "number": "address", "sender": "scope"}


@dataclass(frozen=True)
class ImportDefaults:
    channel: Channel | None
    scope: str
    reason: Reason
    source: str
    at: datetime
    known_scopes: frozenset[str]


class _RowReader:
    """Turns one CSV row (a list) into a Suppression, looking columns up by position; each value goes
    through the same checks as a change from any door (checks.py)."""

    def __init__(self, names: list[str], d: ImportDefaults) -> None:
        self.d = d
        self.at = {name: i for i, name in enumerate(names) if name in COLUMNS}

    def _get(self, values: list[str], column: str) -> str:
        i = self.at.get(column)
        return uncell(values[i].strip()) if i is not None and i < len(values) else ""

    def entry(self, values: list[str]) -> Suppression:
        d, get = self.d, self._get
        chosen = checks.channel(get(values, "channel").lower()) or d.channel
        raw_address = get(values, "address")
        if chosen is None and not raw_address:  # an address tells its own (email if it has an @)
            raise ListsError("BAD_CHANNEL", "no channel (add a channel column or give --channel)")
        scope = checks.scope(get(values, "scope") or d.scope, d.known_scopes)
        reason = checks.reason(get(values, "reason"), d.reason) or d.reason
        given_hash = get(values, "address_hash").lower()
        address: str | None = None
        if raw_address:
            if reason in checks.PERMANENT_REASONS:
                raise ListsError(
                    "BAD_REASON", "an erased entry keeps only the hash: give address_hash, not address"
                )
            chosen, address = checks.address(raw_address, chosen)
            ahash = address_hash(address)
            if given_hash and given_hash != ahash:
                raise ListsError("INVALID_ADDRESS", "address_hash does not match address")
        elif given_hash:
            ahash = checks.hashed_address(given_hash)
            assert chosen is not None
        else:
            raise ListsError("MISSING_ADDRESS", "no address (and no 64-hex-digit address_hash)")
        return Suppression(
            channel=chosen,
            address_hash=ahash,
            address=address,
            scope=scope,
            reason=reason,
            source=checks.text(get(values, "source"), "source", checks.MAX_SOURCE) or d.source,
            created_at=checks.when(get(values, "created_at"), "created_at") or d.at,
            expires_at=checks.when(get(values, "expires_at"), "expires_at"),
        )


def read_suppressions(stream: TextIO, defaults: ImportDefaults) -> Iterator[Suppression | str]:
    """Entries from a CSV stream; a row that is not valid comes out as "line N: why" instead."""
    reader = csv.reader(stream)
    lines = _readable(reader)
    first = next(lines, None)
    while isinstance(first, str):  # an unreadable first line: reported, and the next one is the first
        yield first
        first = next(lines, None)
    if first is None:
        return
    names = [_SYNONYMS.get(c.strip().lower(), c.strip().lower()) for c in first]
    if "address" not in names and "address_hash" not in names:
        names = ["address"]
        rows: Iterable[list[str] | str] = _prepend(first, lines)
    else:
        rows = lines
    parse = _RowReader(names, defaults).entry
    for values in rows:
        if isinstance(values, str):
            yield values
            continue
        if not values or not any(values):
            continue
        try:
            yield parse(values)
        except ValueError as exc:
            yield f"line {reader.line_num}: {exc}"


def _readable(reader) -> Iterator[list[str] | str]:
    """The reader's rows; one the csv module cannot read (a field over its limit, say) as "line N: why",
    and the reading goes on with the next line: an import never stops half-way with its first batches in."""
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield f"line {reader.line_num}: not readable as CSV: {exc}"
            continue
        yield values


def _prepend(first: list[str], rest: Iterable[list[str] | str]) -> Iterator[list[str] | str]:
    yield first
    yield from rest


def suppression_row(s: Suppression) -> tuple[str, ...]:
    """One entry in COLUMNS order, as export writes it and import reads it back."""
    return (
        s.channel.value,
        str(cell(s.address or "")),  # `=cmd|'/c calc'!A1@example.com` is a valid address, not a formula
        s.address_hash,
        s.scope,
        s.reason.value,
        str(cell(s.source)),  # the words of a STOP text, say: never a formula in a spreadsheet
        to_text(s.created_at) or "",
        to_text(s.expires_at) or "",
    )


def open_text(path: str) -> TextIO:
    """A CSV file as text; '-' is standard input. Undecodable bytes become U+FFFD, flagged per row."""
    if path == "-":
        import sys

        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", errors="replace", newline="")
    return open(path, encoding="utf-8-sig", errors="replace", newline="")
