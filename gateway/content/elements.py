"""Elements in lower-cased markup, found with `str.find` (no parser): where one ends, nesting counted."""

from __future__ import annotations

import re

OPEN_TAG_NAME = re.compile(r"<([a-z][a-z0-9-]*)")
VOID = frozenset(
    [
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    ]
)


def element_end(low: str, name: str, start: int) -> int:
    """Offset just past the element whose start tag ends at `start` (nesting counted), or the end."""
    depth, pos = 1, start
    open_tag, close_tag = "<" + name, "</" + name
    while depth:
        close = low.find(close_tag, pos)
        if close < 0:
            return len(low)
        opened = low.find(open_tag, pos, close)
        while opened >= 0:
            after = low[opened + len(open_tag) : opened + len(open_tag) + 1]
            if not after.isalnum() and after != "-":
                depth += 1
            opened = low.find(open_tag, opened + 1, close)
        depth -= 1
        pos = low.find(">", close)
        pos = len(low) if pos < 0 else pos + 1
    return pos


def whole_element(low: str, tag_start: int, name: str, tag_end: int) -> tuple[int, int]:
    if name in VOID or low[tag_end - 2 : tag_end] == "/>":
        return tag_start, tag_end
    return tag_start, element_end(low, name, tag_end)
