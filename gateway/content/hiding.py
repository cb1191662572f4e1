"""What CSS hides beyond an inline `display:none`, `visibility:hidden` or `opacity:0` (html.py cuts those):
the parts of a message a mail client does not show, as spans of the lower-cased markup to cut.

- `<style>` rules (css.py) with simple selectors that hide: `display:none`, `visibility:hidden`,
  `opacity:0`, a zero `max-height` or `height` with `overflow:hidden`; the cascade as clients apply it (an
  inline declaration beats a rule, `!important` beats both but an inline one, the more specific rule and
  then the later one win).
- Inline clipping: a zero `max-height` or `height` with `overflow:hidden` in the same style (the preheader
  trick). `mso-hide:all` alone hides only in Outlook for Windows (the bulletproof button's HTML copy has it,
  the copy Outlook shows sits in a conditional comment): it hides nothing by itself.
- A zero or near-zero font size (at most 1px; css.tiny_font), inline or from a rule, on any element: its
  text is cut, but not its descendants that set a readable size again (the layout MJML writes puts
  `font-size:0` on containers whose children reset it).
- Text whose colour cannot be read on the background behind it (css.unreadable_on), when that background
  is known: the element's own or its nearest ancestor's inline `background`, `background-color` or
  `bgcolor`, white when none. A background set by a style rule, an image or a gradient is not known: where
  the style sheet sets any background, or an image or gradient stands nearer, the colour is not judged.
  Descendants that set a colour of their own, and links (mail clients give them one), are kept.

Where something hidden keeps visible descendants, only its own text is cut, not its tags: a link around a
kept descendant stays a link. What is inside comments (Outlook's `<!--[if mso]>` blocks), `<head>`,
`<style>` and the like is not looked at (html.py cuts it whole), and a hidden element inside one already
cut is not looked at again.

Spans are found with `occurrences` scans and regular expressions on the lower-cased markup, so a newsletter
that uses none of these costs a few scans; no tree is built. Each kind of finding is bounded
(`MAX_FINDINGS`): a message with more hidden elements than any newsletter has is not judged
(`TooManyHidden`, which parsing turns into a refusal), so hostile markup cannot make a check slow.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable

from . import css
from .elements import whole_element
from .scan import occurrences
from .sheet import Sheet, tag_at, winning

Span = tuple[int, int]

_START_TAG = re.compile(r"<([a-z][a-z0-9-]*)(\s[^<>]*)?>")
# Where a declaration that may hide is looked for: exact spellings found with `occurrences` (a C scan at
# memchr speed where built; a regular expression scan costs ten times more on a large newsletter), each
# then read with the expression beside it. The spellings cover `name:value` with and without one space.
# what every inline declaration that leaves text no room needs (`_boxed_away`): a box clipped by its
# overflow, a position off the page, an indent, a clip (four scans, whatever the values are)
_CLIPPING = ("overflow", "position", "text-indent", "clip")
_TINY_FONT = ("font-size:0", "font-size: 0", "font-size:.", "font-size:1p", "font-size: 1p")
# a style's `color: x`, or the `color` attribute of <font> (not background-color nor bgcolor: `_word_at`)
_COLOUR = re.compile(r"color\s*(?::\s*([^;\"'>]+)|=\s*[\"']?([^;\"'>\s]+))")
_BGCOLOR = re.compile(r"bgcolor\s*=\s*[\"']?([^;\"'>\s]+)")
_BACKGROUND = re.compile(r"background(?:-color|-image)?\s*:\s*([^;\"'>]+)")


def _found(low: str, words: Iterable[str]) -> list[int]:
    """Where any of these exact words start, in order, once each."""
    return sorted({at for word in words for at in occurrences(low, word)})


def _declaration(low: str, at: int) -> str:
    """The declaration that starts at `at`, as written (for the evidence)."""
    end = min((i for i in (low.find(c, at) for c in ";\"'>") if i >= 0), default=len(low))
    return " ".join(low[at : min(end, at + 60)].split())


def _hex(colour: str) -> str:
    return colour if colour == "transparent" else "#" + colour


def _shown(found: dict[str, str]) -> str:
    return "; ".join(f"{p}: {v}" for p, v in found.items() if p in _REPORTED)


_REPORTED = ("display", "visibility", "opacity", "max-height", "height", "overflow", "font-size")


def _word_at(low: str, at: int) -> bool:
    """Whether the property name found at `at` starts there (not inside `line-height`, `background-color`)."""
    return at == 0 or not (low[at - 1].isalnum() or low[at - 1] in "-_")


def _hides(found: dict[str, str]) -> bool:
    """Whether these (winning) declarations hide an element."""
    if found.get("display") == "none" or found.get("visibility") in ("hidden", "collapse"):
        return True
    opacity = found.get("opacity", "")
    if opacity and css.zero_length(opacity):
        return True
    return _boxed_away(found)


def _boxed_away(found: dict[str, str]) -> bool:
    """Whether these declarations leave an element's text no room on the page: clipped to a box of 1px or
    less, clipped away, or moved 500px or more out of its box or off the page (the "visually hidden" and
    off-screen tricks; a screen reader still reads such text, a reader of the message does not see it)."""
    if css.far_negative(found.get("text-indent", "")):  # pushed out of its own box
        return True
    placed = found.get("position") in ("absolute", "fixed")
    if placed and any(css.far_negative(found.get(p, "")) for p in ("left", "top", "right")):
        return True  # off the page
    if (placed or "clip-path" in found) and css.clipped_away(
        found.get("clip", ""), found.get("clip-path", "")
    ):
        return True
    clipped = found.get("overflow") in ("hidden", "clip") or found.get("overflow-y") in ("hidden", "clip")
    return clipped and any(
        css.tiny_length(found.get(p, "x")) for p in ("max-height", "height", "max-width", "width")
    )


MAX_FINDINGS = 500  # hidden elements of one kind a message may have before it is not judged
_NEAREST_BACKGROUNDS = 200  # backgrounds looked through for the one behind an element


class TooManyHidden(ValueError):
    """More hidden elements than a message is judged with (MAX_FINDINGS of one kind)."""


class Cuts:
    """What is cut so far (sorted, as pieces), to pass over elements inside it and what must not be read:
    comments, <head>, <style>, which html.py cuts whole."""

    def __init__(self, spans: Iterable[Span] = ()) -> None:
        self.starts: list[int] = []
        self.ends: list[int] = []
        for span in sorted(spans):
            self.add(span)

    def add(self, span: Span) -> None:
        at = bisect_right(self.starts, span[0])
        self.starts.insert(at, span[0])
        self.ends.insert(at, span[1])
        if at and self.ends[at - 1] > span[1]:  # keep ends the running maximum
            self.ends[at] = self.ends[at - 1]
        for later in range(at + 1, len(self.ends)):
            if self.ends[later] >= self.ends[at]:
                break
            self.ends[later] = self.ends[at]

    def inside(self, at: int) -> bool:
        found = bisect_right(self.starts, at) - 1
        return found >= 0 and self.ends[found] > at


def _text_only(low: str, piece: Span) -> list[Span]:
    """The text of `piece` without its tags (for an element that keeps visible descendants: the tags
    around them, such as a link's, stay)."""
    start, end = piece
    found, pos = [], start
    while pos < end:
        lt = low.find("<", pos, end)
        lt = end if lt < 0 else lt
        if lt > pos:
            found.append((pos, lt))
        gt = low.find(">", lt, end)
        if gt < 0:
            break
        pos = gt + 1
    return found


def _with_holes(low: str, span: Span, keep) -> list[Span]:
    """`span` cut except the elements inside it that `keep(tag_start, tag_end, name, attribute_text)`
    says stay (outermost ones; what is inside a kept element stays with it). With any kept, only the text
    around them is cut, not the tags."""
    start, end = span
    pieces, pos, kept = [], start, False
    for m in _START_TAG.finditer(low, low.find(">", start) + 1, end):
        if m.start() < pos:
            continue
        if keep(m.start(), m.end(), m.group(1), m.group(2) or ""):
            pieces.append((pos, m.start()))
            pos = whole_element(low, m.start(), m.group(1), m.end())[1]
            kept = True
    pieces.append((pos, end))
    pieces = [p for p in pieces if p[1] > p[0]]
    return [t for p in pieces for t in _text_only(low, p)] if kept else pieces


def css_spans(low: str, why: list[tuple[Span, str]] | None = None, cuts: Cuts | None = None) -> list[Span]:
    """The spans of `low` that the CSS above hides; with `why`, each span and what hides it are added to
    it too (for the console's evidence: the rules only need the spans). `cuts`: what is cut already
    (comments, <head>, <style>...): nothing inside it is looked at."""
    spans: list[Span] = []
    cuts = cuts or Cuts()

    def cut(pieces: list[Span], reason: str) -> None:
        spans.extend(pieces)
        for piece in pieces:
            cuts.add(piece)
        if why is not None:
            why.extend((piece, reason) for piece in pieces)

    def counted(found: list, kind: str) -> list:
        if len(found) > MAX_FINDINGS:
            raise TooManyHidden(f"more than {MAX_FINDINGS:,} elements hidden by {kind}")
        return found

    sheet = Sheet(low)
    tiny: list[tuple[int, int, str]] = []  # elements whose font size is near zero
    readable_rules = [
        r for r in sheet.rules if css.tiny_font(r.declarations.get("font-size", ("", 0))[0]) is False
    ]
    backgrounds = _Backgrounds(low, sheet) if "color" in low else None
    if sheet.rules:
        for start, tag_end, name, attrs, rules in counted(list(sheet.elements(low)), "style rules"):
            if cuts.inside(start):
                continue
            found = winning(rules, attrs.style)
            if _hides(found):
                cut(
                    hidden_element(low, start, name, tag_end, found.get("visibility") == "hidden"),
                    f"a <style> rule ({_shown(found)})",
                )
            elif css.tiny_font(found.get("font-size", "")):
                tiny.append((start, tag_end, name))
            elif (
                backgrounds and "color" in found and backgrounds.unreadable(css.colour(found["color"]), start)
            ):
                cut(
                    _with_holes(low, whole_element(low, start, name, tag_end), _own_colour),
                    f"a <style> rule's text colour {found['color']} on the background behind it",
                )
    # (common words, in style sheets too: the suspects are many, each costs a lookup; what is bounded is
    # what they hide)
    boxed: list[tuple[int, int, str, int]] = []
    for at in _found(low, _CLIPPING):
        if not _word_at(low, at) or cuts.inside(at):
            continue
        tag = tag_at(low, at)
        if tag is None or cuts.inside(tag[0]) or (boxed and boxed[-1][0] == tag[0]):
            continue
        if _boxed_away(winning((), css.attributes(low[tag[0] : tag[1]]).style)):
            boxed.append(
                (tag[0], tag[1], tag[2], at)
            )  # (html.py cuts what display, visibility, opacity hide)
    for start, tag_end, name, at in counted(boxed, "clipping"):
        if not cuts.inside(start):
            cut([whole_element(low, start, name, tag_end)], f"clipped ({_declaration(low, at)})")
    for at in counted(occurrences(low, "<details"), "closed details"):
        tag = tag_at(low, at + 1)
        if tag is not None and not cuts.inside(at) and not re.search(r"\sopen\b", low[at : tag[1]]):
            span = whole_element(low, at, "details", tag[1])
            cut(_with_holes(low, span, lambda s, e, name, rest: name == "summary"), "a closed <details>")
    for at in counted(_found(low, _TINY_FONT), "a font size near zero"):
        tag = tag_at(low, at)
        if tag is not None and css.tiny_font(
            css.declarations(css.attributes(low[tag[0] : tag[1]]).style).get("font-size", ("", 0))[0]
        ):
            tiny.append(tag)

    def resets_size(start: int, end: int, name: str, rest: str) -> bool:
        if "font-size" in rest:
            size = css.declarations(css.attributes(rest).style).get("font-size")
            if size is not None:
                return css.tiny_font(size[0]) is not True
        if readable_rules and ("class" in rest or "id" in rest):
            attrs = css.attributes(rest)
            return any(r.selector[-1].matches(name, attrs) for r in readable_rules)
        return False

    for start, tag_end, name in sorted(tiny):
        if not cuts.inside(start):
            cut(
                _with_holes(low, whole_element(low, start, name, tag_end), resets_size),
                "a font size near zero",
            )
    if backgrounds is not None:
        _unreadable_colours(low, backgrounds, cuts, cut, counted)
    return spans


class _Backgrounds:
    """The inline backgrounds of the message (`background`, `background-color`, `bgcolor`), to tell the
    colour behind any element: its own, else its nearest ancestor's, else white; "unknown" when a style
    rule may set it (the sheet sets some background) or an image or gradient stands nearer."""

    def __init__(self, low: str, sheet: Sheet) -> None:
        self.low = low
        by_tag: dict[int, tuple[int, int, str, str]] = {}  # tag start -> (start, end, name, colour)
        for word, pattern in (("bgcolor", _BGCOLOR), ("background", _BACKGROUND)):  # a style's beats bgcolor
            for at in occurrences(low, word):
                value = pattern.match(low, at)
                tag = tag_at(low, at) if value else None
                if tag is None or value is None:
                    continue
                text = value.group(1)
                found = "unknown" if ("url(" in text or "gradient" in text) else css.background_colour(text)
                if found is not None:
                    by_tag[tag[0]] = (tag[0], tag[1], tag[2], found)
        self.tags = sorted(by_tag.values())
        self.starts = [t[0] for t in self.tags]
        self.ruled = any("background" in p for r in sheet.rules for p in r.declarations) or any(
            "background" in block for block in sheet.blocks
        )
        self.colours = {b[3] for b in self.tags if b[3] != "unknown"} | {"ffffff"}
        self._ends: dict[int, int] = {}

    def behind(self, at: int) -> str:
        """The background colour behind the element whose start tag begins at `at`, or "unknown"."""
        index = bisect_right(self.starts, at)
        for start, tag_end, name, found in reversed(self.tags[max(0, index - _NEAREST_BACKGROUNDS) : index]):
            if start == at:
                return found
            if self.ruled:  # a rule may set a nearer one
                return "unknown"
            if start not in self._ends:
                self._ends[start] = whole_element(self.low, start, name, tag_end)[1]
            if self._ends[start] > at:
                return found
        return "unknown" if self.ruled or index > _NEAREST_BACKGROUNDS else "ffffff"

    def unreadable(self, text: str | None, at: int) -> bool:
        behind = self.behind(at)
        return text is not None and behind != "unknown" and css.unreadable_on(text, behind)


def _own_colour(start: int, end: int, name: str, rest: str) -> bool:
    """Kept inside an element whose colour cannot be read: what sets a colour of its own, and links (mail
    clients give them one), but not what takes the unreadable one on (`color: inherit`, `currentcolor`)."""
    own = [m.group(1) or m.group(2) for m in _COLOUR.finditer(rest) if _word_at(rest, m.start())]
    if any(c.strip() in ("inherit", "currentcolor", "unset") for c in own):
        return False
    return name == "a" or bool(own)


def _visible_again(start: int, end: int, name: str, rest: str) -> bool:
    """Kept inside a `visibility:hidden` element: a descendant that sets `visibility:visible`."""
    return (
        "visible" in rest
        and css.declarations(css.attributes(rest).style).get("visibility", ("",))[0] == "visible"
    )


def hidden_element(low: str, start: int, name: str, tag_end: int, visibility: bool) -> list[Span]:
    """The spans a hidden element covers: all of it, but for `visibility:hidden` (which a descendant may
    undo) its descendants set `visible` again."""
    span = whole_element(low, start, name, tag_end)
    return (
        _with_holes(low, span, _visible_again)
        if visibility and "visible" in low[span[0] : span[1]]
        else [span]
    )


def _unreadable_colours(low: str, backgrounds: _Backgrounds, cuts: Cuts, cut, counted) -> None:
    """Elements whose inline colour cannot be read on the background behind them (module docstring)."""
    offsets = occurrences(low, "color")  # (background ones too: a few more suspects)
    colours: dict[str, str | None] = {}
    for spelled in {low[at : at + 40] for at in offsets}:
        declared = _COLOUR.match(spelled)
        colours[spelled] = css.colour(declared.group(1) or declared.group(2)) if declared else None
    suspects = {
        c
        for c in colours.values()
        if c is not None and any(css.unreadable_on(c, b) for b in backgrounds.colours)
    }
    if not suspects:
        return
    found = [at for at in offsets if colours[low[at : at + 40]] in suspects and _word_at(low, at)]
    for at in counted(found, "their colour"):
        tag = tag_at(low, at)
        if tag is None or cuts.inside(tag[0]):
            continue
        text = colours[low[at : at + 40]]
        if not backgrounds.unreadable(text, tag[0]):
            continue
        reason = f"text colour {_hex(text or '')} on background {_hex(backgrounds.behind(tag[0]))}"
        cut(_with_holes(low, whole_element(low, tag[0], tag[2], tag[1]), _own_colour), reason)
