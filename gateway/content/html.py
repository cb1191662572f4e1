"""HTML to what a reader sees: visible text and links with their anchor text.

Rendering the way a mail client does: comments, <head>, <script>, <style> and hidden elements
(display:none, visibility:hidden, opacity:0, the `hidden` attribute) are not seen; a zero font size
is not taken as hiding, since layouts such as MJML set it on containers whose children reset it;
block elements and <br> break lines; inline tags join their text; image `alt` text is not text.

Built for speed on large newsletters: invisible regions are located with `str.find` and
case-sensitive expressions on a lower-cased copy (C speed), then cut out of the original in one join;
tags are removed by two substitutions. No HTML parser object, no per-tag Python code (anchors are cut
out with re.split, their hrefs read from its groups; references are decoded by a dictionary lookup each),
no per-line Python code when the text needs no more than blank lines dropped.
"""

from __future__ import annotations

import html
import re
from itertools import repeat
from operator import itemgetter

from ..model import Link

_INVISIBLE_ELEMENTS = ("head", "script", "style", "template", "title", "svg", "object", "xml", "noembed")
_INVISIBLE_START = re.compile(rf"<(?:!--|({'|'.join(_INVISIBLE_ELEMENTS)})(?![a-z0-9-]))")
# One expression per declaration, each with a literal start the engine searches for: three scans in C beat
# a str.find per keyword with a Python-level match at each hit (`display:block` is on every image), and
# beat one alternation, which the engine tries at every 'd', 'v' and 'o'.
_HIDING = tuple(map(re.compile, (r"display\s*:\s*none", r"visibility\s*:\s*hidden",
                                 r"opacity\s*:\s*0+(?:\.0+)?\s*(?:!important\s*)?(?:[;\"']|$)")))
_HIDDEN_ATTR = re.compile(r"(?:^|\s)hidden(?=[\s/>=]|$)")
_OPEN_TAG_NAME = re.compile(r"<([a-z][a-z0-9-]*)")
_QUOTED = re.compile(r"=\s*(?:\"[^\"]*\"|'[^']*')")
_ANCHOR_CLOSE = re.compile(r"</a\s*>", re.IGNORECASE)
_ANCHOR_HREF = re.compile(
    r"""<a\b(?:[^>]*?\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?[^>]*>""", re.IGNORECASE)
_OPEN, _CLOSE = "\x02", "\x03"  # anchor boundaries carried through text extraction
# Commonest in newsletters first: the alternation is tried in this order at every tag.
_BLOCK_NAMES = ("td tr table tbody p div br li h1 h2 h3 h4 h5 h6 th thead tfoot ul ol center hr blockquote pre "
                "address article aside dd dl dt fieldset figcaption figure footer form header main nav section").split()


def _by_first_letter(names: list[str]) -> str:
    """An alternation grouped by first letter (groups and names in the order given), so each '<' costs one
    branch test per first letter, not one per name."""
    def either_case(text: str) -> str:  # [dD][iI][vV]: measurably faster than re.IGNORECASE here
        return "".join(f"[{c}{c.upper()}]" if c.isalpha() else re.escape(c) for c in text)

    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(n[0], []).append(either_case(n[1:]))
    return "|".join(f"{either_case(k)}(?:{'|'.join(v)})" for k, v in groups.items())


# A block tag and the whitespace after it (which `_tidy` would take out) become a line break: the lines
# left to tidy one by one are then the lines of text, not one per tag with its indentation.
_BLOCK = re.compile(rf"</?(?:{_by_first_letter(_BLOCK_NAMES)})\b[^>]*>\s*")
_ANY_TAG = re.compile(r"<[^>]*(?:>|\Z)")
_ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\ufeff", "\u034f", "\u00ad")
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())


def _fold(doc: str) -> str:
    """Lower-cased copy with the same offsets as `doc`."""
    low = doc.lower()
    if len(low) == len(doc):
        return low
    return "".join(ch if len(ch.lower()) != 1 else ch.lower() for ch in doc)


def _element_end(low: str, name: str, start: int) -> int:
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


def _hiding_declarations(low: str) -> list[re.Match[str]]:
    return [m for declaration in _HIDING for m in declaration.finditer(low)]


def _invisible_spans(low: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    pos = 0  # one scan for comments and all the names (a str.find per name would be a full scan each)
    for m in _INVISIBLE_START.finditer(low):
        if m.start() < pos:
            continue  # inside one already cut: a comment in a <style>, a '<style' in a comment or a script
        if m.group(1) is None:  # a comment
            end = low.find("-->", m.end())
            pos = len(low) if end < 0 else end + 3
            spans.append((m.start(), pos))
            continue
        open_end = low.find(">", m.end())
        open_end = len(low) if open_end < 0 else open_end + 1
        pos = _element_end(low, m.group(1), open_end)
        spans.append((m.start(), pos))
    covered = 0  # hits inside an element already cut need no second look (and no second scan)
    for m in sorted(_hiding_declarations(low), key=lambda m: m.start()):
        if m.start() < covered:
            continue
        tag_start = low.rfind("<", 0, m.start())
        if tag_start < 0 or low.rfind(">", tag_start, m.start()) >= 0:
            continue  # in text, not in a tag's attributes
        tag_end = low.find(">", m.start())
        tag_end = len(low) if tag_end < 0 else tag_end + 1
        name_match = _OPEN_TAG_NAME.match(low, tag_start)
        if not name_match:
            continue
        spans.append(_whole_element(low, tag_start, name_match.group(1), tag_end))
        covered = spans[-1][1]
    pos = 0
    while (at := low.find("hidden", pos)) >= 0:
        pos = at + 6
        tag_start = low.rfind("<", 0, at)
        if tag_start < 0 or low.rfind(">", tag_start, at) >= 0:
            continue
        name_match = _OPEN_TAG_NAME.match(low, tag_start)
        tag_end = low.find(">", at)
        tag_end = len(low) if tag_end < 0 else tag_end + 1
        if name_match and _HIDDEN_ATTR.search(_QUOTED.sub("=", low[name_match.end() : tag_end - 1])):
            spans.append(_whole_element(low, tag_start, name_match.group(1), tag_end))
            pos = max(pos, spans[-1][1])
    return spans


def _whole_element(low: str, tag_start: int, name: str, tag_end: int) -> tuple[int, int]:
    if name in _VOID or low[tag_end - 2 : tag_end] == "/>":
        return tag_start, tag_end
    return tag_start, _element_end(low, name, tag_end)


def _visible_markup(doc: str) -> str:
    low = _fold(doc)
    spans = sorted(_invisible_spans(low))
    if not spans:
        return doc
    pieces, pos = [], 0
    for start, end in spans:
        if start > pos:
            pieces.append(doc[pos:start])
        pos = max(pos, end)
    pieces.append(doc[pos:])
    return "".join(pieces)


# A character reference as html.unescape reads one. Decoding the references one by one gives what
# unescape gives for the whole text: a name it reads further (up to 32 characters of anything) is an
# entity only up to its letters and digits, and its single pass ("&amp;lt;" is "&lt;") is kept.
_REFERENCE = re.compile(r"(&(?:[a-zA-Z][a-zA-Z0-9]*;?|#[0-9]+;?|#[xX][0-9a-fA-F]+;?))")


class _Decoded(dict):
    """html.unescape of each reference met, remembered (newsletters repeat a handful of them); bounded,
    since the names come from whoever sends the mail."""

    def __missing__(self, reference: str) -> str:
        try:
            value = html.unescape(reference)
        except ValueError:  # a decimal reference longer than int() reads (4,300 digits): past U+10FFFF, and
            value = "\ufffd"  # unescape answers those with the replacement character
        if len(reference) <= 40 and len(self) < 10_000:
            self[reference] = value
        return value


_DECODED = _Decoded()


def _unescape(text: str) -> str:
    if text.count("&") == text.count("&amp;"):  # URLs with query strings, the common case, at C speed
        return text.replace("&amp;", "&")
    parts = _REFERENCE.split(text)  # text, reference, text...: a dictionary lookup per reference, in C
    parts[1::2] = map(_DECODED.__getitem__, parts[1::2])
    return "".join(parts)


def _text(fragment: str) -> str:
    """Visible text of markup whose invisible parts are already gone, still to be tidied."""
    if "<" in fragment:
        fragment = _ANY_TAG.sub("", _BLOCK.sub("\n", fragment))
    if "&" in fragment:
        fragment = _unescape(fragment)
    for ch in _ZERO_WIDTH:
        if ch in fragment:
            fragment = fragment.replace(ch, "")
    return fragment


# Whitespace other than the space and the line break, as str.split() knows it (all below U+3001).
_OTHER_SPACES = "".join(c for c in map(chr, range(0x3001)) if c.isspace() and c not in " \n")
_OTHER_ASCII_SPACES = "".join(c for c in _OTHER_SPACES if c.isascii())


def _tidy(text: str) -> str:
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


def _other_spaces_in(text: str) -> bool:
    return any(c in text for c in (_OTHER_ASCII_SPACES if text.isascii() else _OTHER_SPACES))


_BLANK_LINES = re.compile(r"\n\n+")


def _without_blank_lines(text: str) -> str:
    if "\n\n" in text:  # one pass (halving runs with str.replace took a pass per doubling: 4 for a run of 10)
        text = _BLANK_LINES.sub("\n", text)
    return text.strip("\n")


def _marked_anchors(doc: str) -> tuple[str, list[str]]:
    """The markup with each anchor's start tag as `_OPEN` and end tag as `_CLOSE`, and the start tags'
    hrefs in document order ("" for an anchor without one), from one scan."""
    parts = _ANCHOR_HREF.split(doc)  # text, then each start tag's three href groups and the text after it
    if len(parts) == 1:
        return doc, []
    values = _OPEN.join([a or b or c or "" for a, b, c in zip(parts[1::4], parts[2::4], parts[3::4])])
    if "&" in values:  # all hrefs unescaped at once: no mark is in the markup, and no entity decodes to one
        values = _unescape(values)
    return _ANCHOR_CLOSE.sub(_CLOSE, _OPEN.join(parts[::4])), list(map(str.strip, values.split(_OPEN)))


def _anchor_texts(text: str) -> list[str]:
    """The text between each anchor's marks: up to its close mark, or the next anchor, or the end."""
    segments = text.split(_OPEN)[1:]
    return list(map(str.strip, map(itemgetter(0), map(str.partition, segments, repeat(_CLOSE)))))


def render(doc: str) -> tuple[str, tuple[Link, ...]]:
    """(visible text, links) of an HTML document or fragment."""
    for mark in (_OPEN, _CLOSE):
        if mark in doc:
            doc = doc.replace(mark, "")
    doc, hrefs = _marked_anchors(_visible_markup(doc))
    text = _tidy(_text(doc))
    if not hrefs:
        return text, ()
    links = tuple(map(tuple.__new__, repeat(Link), zip(hrefs, _anchor_texts(text))))  # Link._make, minus a call each
    text = text.replace(_OPEN, "").replace(_CLOSE, "")  # tidy but where a mark stood beside a space or alone
    return (_without_blank_lines(text) if _single_spaced(text) else _tidy(text)), links
