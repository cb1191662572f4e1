"""Fast search of long message text for short phrases.

Python's regex engine scans quickly only from a literal prefix; a pattern that opens with a word
boundary or an alternation of common letters tries every position of a 100 KB newsletter. An
`AnchoredPattern` names literals that every match contains, finds them with `str.find` (C speed) and
runs the pattern only in a small window around each. Text is searched lower-cased.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class AnchoredPattern:
    pattern: re.Pattern[str]  # compiled without IGNORECASE: it runs on lower-cased text
    anchors: tuple[str, ...]  # lower-case literals, one of which every match contains
    reach: int  # how far a match may extend beyond its anchor, either side

    @classmethod
    def of(cls, pattern: str, anchors: tuple[str, ...], reach: int) -> AnchoredPattern:
        return cls(re.compile(pattern), tuple(a.lower() for a in anchors), reach)

    def finditer(self, low: str) -> Iterator[re.Match[str]]:
        if len(low) <= 4 * self.reach:  # short text: one plain scan is cheaper than the anchors
            yield from self.pattern.finditer(low)
            return
        seen: set[tuple[int, int]] = set()
        for anchor in self.anchors:
            pos = 0
            while (at := low.find(anchor, pos)) >= 0:
                pos = at + 1
                start, end = max(0, at - self.reach), min(len(low), at + len(anchor) + self.reach)
                for m in self.pattern.finditer(low, start, end):
                    if m.span() not in seen:
                        seen.add(m.span())
                        yield m

    def search(self, low: str) -> re.Match[str] | None:
        return next(self.finditer(low), None)


def phrases(words: tuple[str, ...]) -> AnchoredPattern | None:
    """Any of these phrases, case-insensitive, not inside a longer word."""
    if not words:
        return None
    parts = []
    for p in sorted(words, key=len, reverse=True):
        body = r"\s+".join(re.escape(w) for w in p.lower().split())
        lead = r"(?<!\w)" if p[:1].isalnum() else ""
        tail = r"(?!\w)" if p[-1:].isalnum() else ""
        parts.append(lead + body + tail)
    anchors = tuple(dict.fromkeys(p.lower().split()[0] for p in words))
    return AnchoredPattern.of("|".join(parts), anchors, max(len(p) for p in words) * 2 + 8)
