"""The renderer's hot scans: each defined here by the regular expressions it applies, and run by the C
module `_scan` (built from _scan.c at install) where it is built, which returns exactly the same.

The expressions are the reference: tests/test_scan.py checks the C functions against them on random markup,
and they run wherever the C module is missing (no compiler at install) or GATEWAY_NO_EXTENSIONS is set.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

OPEN, CLOSE = "\x02", "\x03"  # anchor boundaries carried through text extraction

INVISIBLE_ELEMENTS = ("head", "script", "style", "template", "title", "svg", "object", "xml", "noembed")
_INVISIBLE_START = re.compile(rf"<(?:!--|({'|'.join(INVISIBLE_ELEMENTS)})(?![a-z0-9-]))")
# One expression per declaration, each with a literal start the engine searches for: three scans in C beat
# a str.find per keyword with a Python-level match at each hit (`display:block` is on every image), and
# beat one alternation, which the engine tries at every 'd', 'v' and 'o'.
_HIDING = tuple(
    map(
        re.compile,
        (
            r"display\s*:\s*none",
            r"visibility\s*:\s*hidden",
            r"opacity\s*:\s*0+(?:\.0+)?\s*(?:!important\s*)?(?:[;\"']|$)",
        ),
    )
)
_ANCHOR_CLOSE = re.compile(r"</a\s*>", re.IGNORECASE)
_ANCHOR_HREF = re.compile(
    r"""<a\b(?:[^>]*?\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?[^>]*>""", re.IGNORECASE
)
# Commonest in newsletters first: the alternation is tried in this order at every tag.
BLOCK_NAMES = [
    "td",
    "tr",
    "table",
    "tbody",
    "p",
    "div",
    "br",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "th",
    "thead",
    "tfoot",
    "ul",
    "ol",
    "center",
    "hr",
    "blockquote",
    "pre",
    "address",
    "article",
    "aside",
    "dd",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "header",
    "main",
    "nav",
    "section",
]


def _by_first_letter(names: list[str]) -> str:
    """An alternation grouped by first letter (groups and names in the order given), so each '<' costs one
    branch test per first letter, not one per name."""

    def either_case(text: str) -> str:  # [dD][iI][vV]: measurably faster than re.IGNORECASE here
        return "".join(f"[{c}{c.upper()}]" if c.isalpha() else re.escape(c) for c in text)

    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(n[0], []).append(either_case(n[1:]))
    return "|".join(f"{either_case(k)}(?:{'|'.join(v)})" for k, v in groups.items())


# A block tag and the whitespace after it (which tidying would take out) become a line break: the lines
# left to tidy one by one are then the lines of text, not one per tag with its indentation.
_BLOCK = re.compile(rf"</?(?:{_by_first_letter(BLOCK_NAMES)})\b[^>]*>\s*")
_ANY_TAG = re.compile(r"<[^>]*(?:>|\Z)")


def strip_tags(markup: str) -> str:
    """Block tags (and the whitespace after them) as line breaks, every other tag gone."""
    return _ANY_TAG.sub("", _BLOCK.sub("\n", markup))


def anchors(markup: str) -> tuple[str, list[str]]:
    """(markup with each anchor's start tag as OPEN and end tag as CLOSE, the start tags' hrefs as written,
    "" for an anchor without one), or (markup, []) when it has no anchor."""
    parts = _ANCHOR_HREF.split(markup)  # text, then each start tag's three href groups and the text after it
    if len(parts) == 1:
        return markup, []
    hrefs = [a or b or c or "" for a, b, c in zip(parts[1::4], parts[2::4], parts[3::4])]
    return _ANCHOR_CLOSE.sub(CLOSE, OPEN.join(parts[::4])), hrefs


def invisible_starts(low: str) -> list[tuple[int, int, str | None]]:
    """(start, end, element name) of each comment opening (name None) and start tag of an invisible element
    in a lower-cased document."""
    return [(m.start(), m.end(), m.group(1)) for m in _INVISIBLE_START.finditer(low)]


def hiding_starts(low: str) -> list[int]:
    """Where a hiding declaration (display:none, visibility:hidden, opacity:0) starts in a lower-cased
    document, in order."""
    return sorted(m.start() for declaration in _HIDING for m in declaration.finditer(low))


def occurrences(text: str, word: str) -> list[int]:
    """Where each occurrence of an ASCII `word` starts, left to right, none overlapping."""
    return [m.start() for m in re.finditer(re.escape(word), text)]


# A character reference as html.unescape reads one. Decoding the references one by one gives what
# unescape gives for the whole text: a name it reads further (up to 32 characters of anything) is an
# entity only up to its letters and digits, and its single pass ("&amp;lt;" is "&lt;") is kept.
_REFERENCE = re.compile(r"(&(?:[a-zA-Z][a-zA-Z0-9]*;?|#[0-9]+;?|#[xX][0-9a-fA-F]+;?))")


def replace_references(text: str, decoded: Mapping[str, str]) -> str:
    """`text` with each character reference replaced by `decoded[reference]`."""
    if text.count("&") == text.count("&amp;"):  # URLs with query strings, the common case, at C speed
        return text.replace("&amp;", decoded["&amp;"])
    parts = _REFERENCE.split(text)  # text, reference, text...: a lookup per reference, in C
    parts[1::2] = map(decoded.__getitem__, parts[1::2])
    return "".join(parts)


def tidy(text: str) -> str:
    """Each line's runs of whitespace as one space, no space at a line's ends, no blank lines. Any Unicode
    space counts (no-break, em, ideographic...): a reader sees a space, and a phrase split by an unusual
    one is still the phrase. Text whose only flaw is blank lines (the usual case once block tags took
    the indentation with them) is mended without splitting it into lines and words."""
    if _single_spaced(text) and not _other_spaces_in(text):
        return _without_blank_lines(text)
    return "\n".join(filter(None, map(" ".join, map(str.split, filter(None, text.split("\n"))))))


def _single_spaced(text: str) -> bool:
    """No run of spaces, and none at a line's ends (C-level scans)."""
    return not ("  " in text or " \n" in text or "\n " in text or text[:1] == " " or text[-1:] == " ")


# Whitespace other than the space and the line break, as str.split() knows it (all below U+3001).
_OTHER_SPACES = "".join(c for c in map(chr, range(0x3001)) if c.isspace() and c not in " \n")
_OTHER_ASCII_SPACES = "".join(c for c in _OTHER_SPACES if c.isascii())


def _other_spaces_in(text: str) -> bool:
    return any(c in text for c in (_OTHER_ASCII_SPACES if text.isascii() else _OTHER_SPACES))


_BLANK_LINES = re.compile(r"\n\n+")


def _without_blank_lines(text: str) -> str:
    if "\n\n" in text:  # one pass (halving runs with str.replace took a pass per doubling: 4 for a run of 10)
        text = _BLANK_LINES.sub("\n", text)
    return text.strip("\n")


def anchor_texts(text: str) -> list[str]:
    """The text between each anchor's marks, stripped: up to its CLOSE, or the next OPEN, or the end."""
    return [segment.partition(CLOSE)[0].strip() for segment in text.split(OPEN)[1:]]


def ascii_lower_or_none(text: str) -> str | None:
    """`text.lower()` if the text is ASCII, else None."""
    return text.lower() if text.isascii() else None


REFERENCE = {
    f.__name__: f
    for f in (
        strip_tags,
        anchors,
        invisible_starts,
        hiding_starts,
        occurrences,
        replace_references,
        tidy,
        ascii_lower_or_none,
        anchor_texts,
    )
}

WANTED = not os.environ.get("GATEWAY_NO_EXTENSIONS")  # set: the expressions only, C or not

try:
    if not WANTED:
        raise ImportError("GATEWAY_NO_EXTENSIONS is set")
    from gateway.content import _scan
except ImportError:
    COMPILED = False
else:
    COMPILED = True
    strip_tags, anchors, invisible_starts, hiding_starts = (
        _scan.strip_tags,
        _scan.anchors,
        _scan.invisible_starts,
        _scan.hiding_starts,
    )
    occurrences, replace_references, tidy = (
        _scan.occurrences,
        _scan.replace_references,
        _scan.tidy,
    )
    ascii_lower_or_none, anchor_texts = _scan.ascii_lower_or_none, _scan.anchor_texts


def lower(text: str) -> str:
    """`text.lower()`, eight letters at a time in C for ASCII text."""
    low = ascii_lower_or_none(text)
    return text.lower() if low is None else low
