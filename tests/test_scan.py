"""The renderer's C scans (gateway/content/_scan.c) against the regular expressions they replace.

Each C function must return exactly what its reference in scan.py returns, on any str: markup pieces that
sit on the edges of the expressions (quotes that never close, a '>' inside an href, tags cut short, names
that are prefixes of others, spaces the re module counts as \\s) mixed with characters of every width.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gateway.content import html, scan

# C against its reference: scripts/test's pass without the extensions (GATEWAY_NO_EXTENSIONS) deselects these
compiled = pytest.mark.c_extension


def test_the_c_scans_are_built():
    """pip install builds _scan.c; the extension is optional there (no compiler: the expressions run), so
    here a failed build must show. Only GATEWAY_NO_EXTENSIONS excuses it."""
    if os.environ.get("GATEWAY_NO_EXTENSIONS"):
        assert not scan.COMPILED
    else:
        assert scan.COMPILED, "gateway/content/_scan.c was not built: see pip's output for the compiler error"


PIECES = [
    "<",
    ">",
    "/",
    "<a",
    "<A",
    "</a",
    "</A",
    "<a>",
    "</a>",
    "</a \n>",
    "<a href=",
    "<a HREF = ",
    "href",
    "HREF",
    "=",
    '"',
    "'",
    " ",
    "  ",
    "\n",
    "\t",
    "\r\n",
    "\x0b",
    "\x1c",
    "\x85",
    "\xa0",
    "\u2003",
    "\u3000",
    "\u2028",
    "<div",
    "<div>",
    "</div>",
    "<DIV class=x>",
    "<divx>",
    "<td>",
    "<th",
    "<thead>",
    "<h1>",
    "<h7>",
    "<br/>",
    "<blockquote>",
    "<blockquotes>",
    "<p_x>",
    "<p-x>",
    "<pé>",
    "<address",
    "<a\u212a>",
    "<!--",
    "-->",
    "<!-- c -->",
    "<style>",
    "</style>",
    "<script",
    "<svg",
    "<svg-x>",
    "<title>",
    "<head>",
    "<xml",
    "<noembed>",
    "<object1>",
    "display",
    "display:none",
    "display : none",
    "visibility:hidden",
    "opacity:0",
    "opacity: 0.0;",
    "opacity:00.00 !important'",
    "opacity:0.5",
    "opacity:0\n",
    "opacity:0x",
    "!important",
    ":",
    ";",
    ".",
    "0",
    "none",
    "hidden",
    "hid",
    "den",
    "x",
    "é",
    "ü",
    "İ",
    "\u212a",
    "ſ",
    "_",
    "-",
    "1",
    "😀",
    "\x02",
    "\x03",
    "&",
    "&amp;",
    "&lt",
    "&#39;",
    "&#x27;",
    "&#x;",
    "&#",
    "&notit;",
    "&bogus;",
    "&Aacute",
    "text",
    "Shop now",
    "https://x.example/?a=1&amp;b=2",
]
markup = st.lists(st.sampled_from(PIECES), max_size=40).map("".join)


# Documents on the edges of each expression, besides the random ones.
EDGES = [
    '<a href="x>y">t</a>',
    '<a title="</a>" href=u>t</a><a',
    "<div title='<a href=x>'>",
    "<a href='unterminated>text</a> <a href=ok>",
    "</a> no start tag </A >",
    "<x <div>text>",
    "<div",
    "<td-x> <thead > <th\u3000> </h1\n>\t\xa0 next",
    "<!-- <style> --> <svg-x> <svg> <head-x><head1><head>",
    "opacity:0\n",
    "opacity:0 \n",
    "opacity : 000.000 !important  ;display:none visibility:\u3000hidden",
    "hhh",
    "  a  b \n\n c\u3000d\x85\n\n",
    "&amp;&amp;lt; &#x; &#12345678901234567890; &ampx &notit;",
]
NAMES = sorted(scan.REFERENCE)


def arguments(name: str, text: str) -> tuple:
    if name == "replace_references":
        return text, html._DECODED
    if name == "occurrences":
        return text, "hidden"
    return (text,)


def agree(name: str, doc: str) -> None:
    """The C function and its expressions give the same, for the document as it is and lower-cased (the
    form the invisible-region scans are given)."""
    for text in (doc, html._fold(doc)):
        args = arguments(name, text)
        assert getattr(scan._scan, name)(*args) == scan.REFERENCE[name](*args), (name, text)


@compiled
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("doc", EDGES)
def test_edges(name, doc):
    agree(name, doc)


@compiled
@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=400, deadline=None)
@given(doc=markup)
def test_random_markup(name, doc):
    agree(name, doc)


@compiled
@settings(max_examples=300, deadline=None)
@given(doc=markup, word=st.sampled_from(["display", "a", "<", "&amp;", "hh"]))
@example(doc="hhh", word="hh")
def test_occurrences_of_other_words(doc, word):
    assert scan._scan.occurrences(doc, word) == scan.REFERENCE["occurrences"](doc, word)


@compiled
def test_wrong_arguments_are_type_errors_not_crashes():
    for name in ("anchors", "strip_tags", "invisible_starts", "hiding_starts", "tidy", "ascii_lower_or_none"):
        with pytest.raises(TypeError):
            getattr(scan._scan, name)(b"<a href=x>")
    with pytest.raises(TypeError):
        scan._scan.replace_references("&amp;", None)
    with pytest.raises(ValueError):
        scan._scan.occurrences("x", "\u00e9")


@compiled
def test_large_documents_agree():
    """Whole newsletters, and the same with characters of two and four bytes mixed in."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    from policy import newsletter

    for size in (5_000, 50_000):
        doc = newsletter(size).split(b"\r\n\r\n", 1)[1].decode()
        for text in (
            doc,
            doc.replace("Trail", "Tr\u00e4il"),
            doc.replace("jacket", "jacket \u2014"),
            doc.replace("Shop", "Shop \U0001f600"),
        ):
            for name in NAMES:
                args = arguments(name, text)
                assert getattr(scan, name)(*args) == scan.REFERENCE[name](*args), name


@compiled
@pytest.mark.parametrize("text", ["a=1&amp;b=2&amp;c", "&amp;", "x&amp;&lt;y", "&amp", "&ampx&amp;"])
def test_references_with_any_mapping(text):
    """The one-pass path for texts whose only references are "&amp;" answers what the mapping says."""

    class Mapping(dict):
        def __missing__(self, reference):
            return "<" + reference + ">"

    for decoded in (html._DECODED, Mapping(), Mapping({"&amp;": "AND"})):
        assert scan._scan.replace_references(text, decoded) == scan.REFERENCE["replace_references"](
            text, decoded
        )
