"""HTML to what a reader sees: visible text and links with their anchor text.

Regular expressions over the whole document (they run in C, so a 100 KB newsletter takes well under
a millisecond), rendering the way a mail client does: comments, <head>, <script>, <style> and hidden
elements (display:none, visibility:hidden, the `hidden` attribute, zero size or opacity) are not
seen; block elements and <br> break lines; inline tags join their text; image `alt` text is not text.
"""

from __future__ import annotations

import html
import re

from ..model import Link

_FLAGS = re.IGNORECASE | re.DOTALL
_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)|<!\[CDATA\[.*?(?:\]\]>|\Z)|<![^>]*>|<\?[^>]*>", re.DOTALL)
_INVISIBLE_BLOCK = re.compile(
    r"<(head|script|style|template|title|xml|svg|object)\b[^>]*>.*?(?:</\1\s*>|\Z)", _FLAGS
)
_HIDDEN_CANDIDATE = re.compile(
    r"<([a-z][a-z0-9-]*)\b([^>]*?(?:none|hidden|font-size|opacity)[^>]*)>", re.IGNORECASE
)
_QUOTED = re.compile(r"""=\s*(?:"[^"]*"|'[^']*')""")
_STYLE = re.compile(r"""\bstyle\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
_HIDING_STYLE = re.compile(
    r"(?:^|;)\s*(?:display\s*:\s*none|visibility\s*:\s*hidden"
    r"|font-size\s*:\s*0+(?:\.0+)?(?:px|pt|em|rem|%)?|opacity\s*:\s*0+(?:\.0+)?)\s*(?:!important\s*)?(?:;|$)",
    re.IGNORECASE,
)
_HIDDEN_ATTR = re.compile(r"(?:^|\s)hidden(?:\s|=|/|$)", re.IGNORECASE)
_TAG_NAME = re.compile(r"<(/?)([a-z][a-z0-9-]*)\b[^>]*?(/?)>", re.IGNORECASE)
_ANCHOR = re.compile(r"<a\b([^>]*)>(.*?)(?:</a\s*>|(?=<a\b)|\Z)", _FLAGS)
_HREF = re.compile(r"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+))""", re.IGNORECASE)
_BLOCK = re.compile(
    r"</?(?:address|article|aside|blockquote|br|center|dd|div|dl|dt|fieldset|figcaption|figure|footer|form"
    r"|h[1-6]|header|hr|li|main|nav|ol|p|pre|section|table|tbody|td|tfoot|th|thead|tr|ul)\b[^>]*>",
    re.IGNORECASE,
)
_ANY_TAG = re.compile(r"<[^>]*(?:>|\Z)")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u200b\u200c\u200d\ufeff\u034f]+")
_NEWLINES = re.compile(r"\s*\n\s*")
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())


def _hides(attrs: str) -> bool:
    """True when a tag's own attributes keep it from being seen."""
    style = _STYLE.search(attrs)
    if style and _HIDING_STYLE.search(style.group(1) if style.group(1) is not None else style.group(2)):
        return True
    return bool(_HIDDEN_ATTR.search(_QUOTED.sub("=", attrs)))


def _remove_hidden(doc: str) -> str:
    """Cut every element whose own attributes hide it, with all it contains."""
    pieces: list[str] = []
    pos = 0
    while (m := _HIDDEN_CANDIDATE.search(doc, pos)) is not None:
        if not _hides(m.group(2)):
            pieces.append(doc[pos : m.end()])
            pos = m.end()
            continue
        pieces.append(doc[pos : m.start()])
        name = m.group(1).lower()
        pos = m.end()
        if name in _VOID or m.group(0).endswith("/>"):
            continue
        depth = 1
        for t in _TAG_NAME.finditer(doc, pos):
            if t.group(2).lower() != name or t.group(3):
                continue
            depth += -1 if t.group(1) else 1
            if depth == 0:
                pos = t.end()
                break
        else:
            pos = len(doc)
    pieces.append(doc[pos:])
    return "".join(pieces)


def _text(fragment: str) -> str:
    """Visible text of markup with invisible parts already removed."""
    text = _BLOCK.sub("\n", fragment)
    text = _ANY_TAG.sub("", text)
    if "&" in text:
        text = html.unescape(text)
    text = _SPACES.sub(" ", text)
    return _NEWLINES.sub("\n", text).strip()


def _href(attrs: str) -> str:
    m = _HREF.search(attrs)
    if not m:
        return ""
    raw = m.group(1) if m.group(1) is not None else m.group(2) if m.group(2) is not None else m.group(3)
    return html.unescape(raw).strip()


def render(doc: str) -> tuple[str, tuple[Link, ...]]:
    """(visible text, links) of an HTML document or fragment."""
    doc = _COMMENT.sub("", doc)
    doc = _INVISIBLE_BLOCK.sub("", doc)
    doc = _remove_hidden(doc)
    links = tuple(Link(url=_href(m.group(1)), text=_text(m.group(2))) for m in _ANCHOR.finditer(doc))
    return _text(doc), links
