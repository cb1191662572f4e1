"""HTML to what a reader sees: visible text and links with their anchor text.

Rendering the way a mail client does: comments, <head>, <script>, <style> and hidden elements
(display:none, visibility:hidden unless a descendant sets visible again, opacity:0, the `hidden`
attribute) are not seen, nor what the CSS of hiding.py hides (style rules, clipping, near-zero font sizes
that descendants do not reset, text the colour of its background); block elements and <br> break lines;
inline tags join their text; image `alt` text is not text.

Built for speed on large newsletters: invisible regions are located with `str.find` and the scans of
scan.py (regular expressions, run in C where _scan.c is built) on a lower-cased copy, then cut out of the
original in one join; anchors are marked and tags removed by two more of those scans. No HTML parser
object, no per-tag Python code (references are decoded by a dictionary lookup each), no per-line Python
code when the text needs no more than blank lines dropped.
"""

from __future__ import annotations

import html
import re
from itertools import repeat

from ..model import Link
from .elements import OPEN_TAG_NAME as _OPEN_TAG_NAME
from .elements import element_end as _element_end
from .elements import whole_element as _whole_element
from .hiding import MAX_FINDINGS, Cuts, TooManyHidden, css_spans, hidden_element
from .scan import CLOSE as _CLOSE
from .scan import OPEN as _OPEN
from .scan import (
    anchor_texts,
    anchors,
    hiding_starts,
    invisible_starts,
    lower,
    occurrences,
    replace_references,
    strip_tags,
    tidy,
)

_HIDDEN_ATTR = re.compile(r"(?:^|\s)hidden(?=[\s/>=]|$)")
_QUOTED = re.compile(r"=\s*(?:\"[^\"]*\"|'[^']*')")
_ZERO_WIDTH = ("\u200b", "\u200c", "\u200d", "\ufeff", "\u034f", "\u00ad")


def _fold(doc: str) -> str:
    """Lower-cased copy with the same offsets as `doc`."""
    low = lower(doc)
    if len(low) == len(doc):
        return low
    return "".join(ch if len(ch.lower()) != 1 else ch.lower() for ch in doc)


def _invisible_spans(low: str, why: list | None = None) -> list[tuple[int, int]]:
    """The spans of `low` a reader does not see; with `why`, the hidden ones (not <head>, <style>, comments)
    with what hides each are added to it too."""
    spans: list[tuple[int, int]] = []
    pos = 0  # one scan for comments and all the names (a str.find per name would be a full scan each)
    for start, end, name in invisible_starts(low):
        if start < pos:
            continue  # inside one already cut: a comment in a <style>, a '<style' in a comment or a script
        if name is None:  # a comment
            close = low.find("-->", end)
            pos = len(low) if close < 0 else close + 3
            spans.append((start, pos))
            continue
        open_end = low.find(">", end)
        open_end = len(low) if open_end < 0 else open_end + 1
        pos = _element_end(low, name, open_end)
        spans.append((start, pos))
    cuts = Cuts(spans)  # comments, <head>, <style>...: nothing in them is looked at
    covered = 0  # hits inside an element already cut need no second look (and no second scan)
    hits = hiding_starts(low)
    if len(hits) > MAX_FINDINGS:
        raise TooManyHidden(f"more than {MAX_FINDINGS:,} hiding declarations")
    for at in hits:
        if at < covered or cuts.inside(at):
            continue
        tag_start = low.rfind("<", 0, at)
        if tag_start < 0 or low.rfind(">", tag_start, at) >= 0:
            continue  # in text, not in a tag's attributes
        tag_end = low.find(">", at)
        tag_end = len(low) if tag_end < 0 else tag_end + 1
        name_match = _OPEN_TAG_NAME.match(low, tag_start)
        if not name_match:
            continue
        found = hidden_element(low, tag_start, name_match.group(1), tag_end, low.startswith("visibility", at))
        spans += found
        for piece in found:
            cuts.add(piece)
        if why is not None:
            why += [(piece, _declared(low, at)) for piece in found]
        if len(found) == 1:  # (with holes, what is in them is still to be looked at)
            covered = found[0][1]
    pos = 0
    for at in occurrences(low, "hidden"):
        if at < pos or cuts.inside(at):
            continue
        tag_start = low.rfind("<", 0, at)
        if tag_start < 0 or low.rfind(">", tag_start, at) >= 0:
            continue
        name_match = _OPEN_TAG_NAME.match(low, tag_start)
        tag_end = low.find(">", at)
        tag_end = len(low) if tag_end < 0 else tag_end + 1
        if name_match and _HIDDEN_ATTR.search(_QUOTED.sub("=", low[name_match.end() : tag_end - 1])):
            spans.append(_whole_element(low, tag_start, name_match.group(1), tag_end))
            cuts.add(spans[-1])
            pos = max(pos, spans[-1][1])
            if why is not None:
                why.append((spans[-1], "the hidden attribute"))
    return spans + css_spans(low, why, cuts)


def _declared(low: str, at: int) -> str:
    end = min((i for i in (low.find(c, at) for c in ";\"'>") if i >= 0), default=len(low))
    return " ".join(low[at : min(end, at + 60)].split())


def hidden_parts(doc: str, limit: int = 10) -> list[tuple[str, str]]:
    """(what hides it, its text) for each part of an HTML document a reader does not see but that holds
    text, outermost first: the console's evidence of why a link or the address did not count."""
    low = _fold(doc)
    why: list[tuple[tuple[int, int], str]] = []
    _invisible_spans(low, why)
    found, covered = [], -1
    for (start, end), reason in sorted(why, key=lambda w: (w[0][0], -w[0][1])):
        if start < covered:
            continue
        text = " ".join(_text(doc[start:end]).split())  # (render would hide it again)
        if text:
            found.append((reason, text[:160]))
            covered = end
        if len(found) == limit:
            break
    return found


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
    return replace_references(text, _DECODED)


def _text(fragment: str) -> str:
    """Visible text of markup whose invisible parts are already gone, still to be tidied."""
    if "<" in fragment:
        fragment = strip_tags(fragment)
    if "&" in fragment:
        fragment = _unescape(fragment)
    for ch in _ZERO_WIDTH:
        if ch in fragment:
            fragment = fragment.replace(ch, "")
    return fragment


def _marked_anchors(doc: str) -> tuple[str, list[str]]:
    """The markup with each anchor's start tag as `_OPEN` and end tag as `_CLOSE`, and the start tags'
    hrefs in document order ("" for an anchor without one), from one scan."""
    doc, hrefs = anchors(doc)
    values = _OPEN.join(hrefs)
    if "&" in values:  # all hrefs unescaped at once: no mark is in the markup, and no entity decodes to one
        hrefs = _unescape(values).split(_OPEN)
    return doc, list(map(str.strip, hrefs))


def render(doc: str) -> tuple[str, tuple[Link, ...]]:
    """(visible text, links) of an HTML document or fragment."""
    for mark in (_OPEN, _CLOSE):
        if mark in doc:
            doc = doc.replace(mark, "")
    doc, hrefs = _marked_anchors(_visible_markup(doc))
    text = tidy(_text(doc))
    if not hrefs:
        return text, ()
    links = tuple(
        map(tuple.__new__, repeat(Link), zip(hrefs, anchor_texts(text)))
    )  # Link._make, minus a call each
    text = text.replace(_OPEN, "").replace(_CLOSE, "")  # tidy but where a mark stood beside a space or alone
    return tidy(text), links
