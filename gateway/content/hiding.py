"""What CSS hides beyond an inline `display:none`, `visibility:hidden` or `opacity:0` (html.py cuts those):
the parts of a message a mail client does not show, as spans of the lower-cased markup to cut.

- `<style>` rules (css.py) with simple selectors that hide: `display:none`, `visibility:hidden`,
  `opacity:0`, a zero `max-height` or `height` with `overflow:hidden`, `mso-hide:all`; the cascade as
  clients apply it (an inline declaration beats a rule, `!important` beats both but an inline one, the more
  specific rule and then the later one win).
- Inline clipping: a zero `max-height` or `height` with `overflow:hidden` in the same style, or
  `mso-hide:all` (the preheader trick).
- A zero or near-zero font size (at most 1px; css.tiny_font), inline or from a rule, on any element: its
  text is cut, but not its descendants that set a readable size again (the layout MJML writes puts
  `font-size:0` on containers whose children reset it).
- Text whose colour cannot be read on the nearest background behind it (css.unreadable_on): the
  element's inline `color` against its own or its nearest ancestor's inline `background`,
  `background-color` or `bgcolor` (white when none). Its descendants that set a colour of their own, and
  links (mail clients give them a colour of their own), are kept.

Spans are found with regular expressions and `str.find` on the lower-cased markup, so a newsletter that
uses none of these costs a few scans; no tree is built.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from . import css
from .elements import OPEN_TAG_NAME, VOID, whole_element
from .scan import occurrences

Span = tuple[int, int]

_STYLE_BLOCK = re.compile(r"<style\b[^>]*>(.*?)(?:</style\s*>|\Z)", re.DOTALL)
_START_TAG = re.compile(r"<([a-z][a-z0-9-]*)(\s[^>]*)?>")
_ANY_TAG = re.compile(r"<(/?)([a-z][a-z0-9-]*)(\s[^>]*)?>")
# Where a declaration that may hide is looked for: exact spellings found with `occurrences` (a C scan at
# memchr speed where built; a regular expression scan costs ten times more on a large newsletter), each
# then read with the expression beside it. The spellings cover `name:value` with and without one space.
_CLIPPING = ("height:0", "height: 0", "mso-hide")  # ("height:0" finds "max-height:0" too)
_CLIP = re.compile(r"(?:max-)?height\s*:\s*0|mso-hide\s*:\s*all")
_TINY_FONT = ("font-size:0", "font-size: 0", "font-size:.", "font-size:1p", "font-size: 1p")
_COLOUR = re.compile(r"color\s*:\s*([^;\"'>]+)")  # (not background-color: `_word_at`)
_BGCOLOR = re.compile(r"bgcolor\s*=\s*[\"']?([^;\"'>\s]+)")
_BACKGROUND = re.compile(r"background(?:-color)?\s*:\s*([^;\"'>]+)")


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


_REPORTED = ("display", "visibility", "opacity", "max-height", "height", "overflow", "mso-hide", "font-size")


def _word_at(low: str, at: int) -> bool:
    """Whether the property name found at `at` starts there (not inside `line-height`, `background-color`)."""
    return at == 0 or not (low[at - 1].isalnum() or low[at - 1] in "-_")


def _tag_at(low: str, at: int) -> tuple[int, int, str] | None:
    """The start tag holding offset `at` in its attributes: (its start, its end, its name)."""
    start = low.rfind("<", 0, at)
    if start < 0 or low.rfind(">", start, at) >= 0:
        return None
    name = OPEN_TAG_NAME.match(low, start)
    if name is None:
        return None
    end = low.find(">", at)
    return start, len(low) if end < 0 else end + 1, name.group(1)


def _hides(found: dict[str, str]) -> bool:
    """Whether these (winning) declarations hide an element."""
    if found.get("display") == "none" or found.get("visibility") in ("hidden", "collapse"):
        return True
    if found.get("mso-hide") == "all":
        return True
    opacity = found.get("opacity", "")
    if opacity and css.zero_length(opacity):
        return True
    clipped = found.get("overflow") in ("hidden", "clip") or found.get("overflow-y") in ("hidden", "clip")
    return clipped and any(css.zero_length(found.get(p, "x")) for p in ("max-height", "height"))


def _winning(rules: Iterable[tuple[tuple[int, int, int], int, css.Rule]], inline: str) -> dict[str, str]:
    """Each property's value after the cascade: (specificity, order) among rules, inline above rules
    unless a rule's is !important and the inline one is not."""
    best: dict[str, tuple[tuple, str]] = {}
    for specificity, order, rule in rules:
        for prop, (value, important) in rule.declarations.items():
            rank = (int(important), 0, specificity, order)
            if prop not in best or rank >= best[prop][0]:
                best[prop] = (rank, value)
    for prop, (value, important) in css.declarations(inline).items():
        rank = (int(important), 1, (0, 0, 0), 0)
        if prop not in best or rank >= best[prop][0]:
            best[prop] = (rank, value)
    return {prop: value for prop, (_, value) in best.items()}


def _specificity(selector: tuple[css.Compound, ...]) -> tuple[int, int, int]:
    return (
        sum(c.id is not None for c in selector),
        sum(len(c.classes) for c in selector),
        sum(c.tag is not None for c in selector),
    )


class _Sheet:
    """The message's style rules that may hide, and which elements they reach."""

    def __init__(self, low: str) -> None:
        self.rules: list[css.Rule] = []
        for at in occurrences(low, "<style"):
            block = _STYLE_BLOCK.match(low, at)
            if block:
                self.rules += css.rules(block.group(1))
        self.descendant = any(len(r.selector) > 1 for r in self.rules)

    def matching(
        self, tag: str, attrs: css.Attributes, ancestors: list[tuple[str, css.Attributes]] | None
    ) -> list[tuple[tuple[int, int, int], int, css.Rule]]:
        found = []
        for order, rule in enumerate(self.rules):
            *outer, subject = rule.selector
            if not subject.matches(tag, attrs):
                continue
            if outer and not _has_ancestors(rule, ancestors or []):
                continue
            found.append((_specificity(rule.selector), order, rule))
        return found

    def elements(self, low: str) -> Iterable[tuple[int, int, str, css.Attributes, list]]:
        """(start, end of start tag, name, attributes, matching rules) of each element a rule reaches."""
        if not self.descendant:
            yield from self._named(low)
            return
        stack: list[tuple[str, css.Attributes]] = []
        pattern = _ANY_TAG
        for m in pattern.finditer(low):
            if self.descendant:
                closing, name, rest = m.group(1), m.group(2), m.group(3) or ""
                if closing:
                    while stack and stack.pop()[0] != name:
                        pass
                    continue
            else:
                name, rest = m.group(1), m.group(2) or ""
            attrs = css.attributes(rest) if ("class" in rest or "id" in rest or "style" in rest) else _NONE
            rules = self.matching(name, attrs, stack)
            if rules:
                yield m.start(), m.end(), name, attrs, rules
            if self.descendant and name not in VOID and not rest.endswith("/"):
                stack.append((name, attrs))

    def _named(self, low: str) -> Iterable[tuple[int, int, str, css.Attributes, list]]:
        """Without descendant selectors: only the tags naming a rule's class, id or type are read (found by
        one scan for those names), not every tag of the message."""
        names = {n for r in self.rules for n in (*r.selector[-1].classes, r.selector[-1].id) if n}
        types = {r.selector[-1].tag for r in self.rules if r.selector[-1].tag}
        if any(not (c.classes or c.id or c.tag) for r in self.rules for c in r.selector[-1:]):
            types = {"[a-z][a-z0-9-]*"}  # a universal selector: every tag
        alternatives = [f"[\\s\"'=]{re.escape(n)}(?=[\\s\"'>])" for n in sorted(names)]
        alternatives += [f"<(?:{'|'.join(sorted(types))})(?=[\\s/>])"] if types else []
        seen: set[int] = set()
        for m in re.finditer("|".join(alternatives), low):
            tag = _tag_at(low, m.start() + 1)
            if tag is None or tag[0] in seen:
                continue
            seen.add(tag[0])
            rest = low[tag[0] + 1 + len(tag[2]) : tag[1] - 1]
            attrs = css.attributes(rest)
            rules = self.matching(tag[2], attrs, None)
            if rules:
                yield tag[0], tag[1], tag[2], attrs, rules


_NONE = css.Attributes(None, frozenset(), "")


def _has_ancestors(rule: css.Rule, ancestors: list[tuple[str, css.Attributes]]) -> bool:
    """Whether the rule's outer compounds match the subject's ancestors (outermost first), read from the
    subject outwards: a `>` wants the very next ancestor, a space any further one."""
    *outer, _ = rule.selector
    pos = len(ancestors) - 1
    for compound, child in zip(reversed(outer), reversed(rule.child)):
        if child:
            if pos < 0 or not compound.matches(*ancestors[pos]):
                return False
        else:
            while pos >= 0 and not compound.matches(*ancestors[pos]):
                pos -= 1
            if pos < 0:
                return False
        pos -= 1
    return True


def _with_holes(low: str, span: Span, keep) -> list[Span]:
    """`span` cut except the elements inside it that `keep(tag_start, tag_end, name, attribute_text)`
    says stay (outermost ones; what is inside a kept element stays with it)."""
    start, end = span
    pieces, pos = [], start
    for m in _START_TAG.finditer(low, low.find(">", start) + 1, end):
        if m.start() < pos:
            continue
        if keep(m.start(), m.end(), m.group(1), m.group(2) or ""):
            pieces.append((pos, m.start()))
            pos = whole_element(low, m.start(), m.group(1), m.end())[1]
    pieces.append((pos, end))
    return [p for p in pieces if p[1] > p[0]]


def css_spans(low: str, why: list[tuple[Span, str]] | None = None) -> list[Span]:
    """The spans of `low` that the CSS above hides; with `why`, each span and what hides it are added to
    it too (for the console's evidence: the rules only need the spans)."""
    spans: list[Span] = []

    def cut(pieces: list[Span], reason: str) -> None:
        spans.extend(pieces)
        if why is not None:
            why.extend((piece, reason) for piece in pieces)

    sheet = _Sheet(low)
    tiny: list[tuple[int, int, str]] = []  # elements whose font size is near zero
    readable_rules = [
        r for r in sheet.rules if css.tiny_font(r.declarations.get("font-size", ("", 0))[0]) is False
    ]
    backgrounds = _Backgrounds(low) if "color" in low else None
    if sheet.rules:
        for start, tag_end, name, attrs, rules in sheet.elements(low):
            found = _winning(rules, attrs.style)
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
    for at in _found(low, _CLIPPING):
        if low.startswith("max-", at - 4, at):
            at -= 4
        if not _word_at(low, at) or not _CLIP.match(low, at):
            continue
        tag = _tag_at(low, at)
        if tag is not None and _hides(_winning((), css.attributes(low[tag[0] : tag[1]]).style)):
            cut([whole_element(low, *tag[:1], tag[2], tag[1])], f"clipped ({_declaration(low, at)})")
    for at in _found(low, _TINY_FONT):
        tag = _tag_at(low, at)
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

    for start, tag_end, name in tiny:
        cut(_with_holes(low, whole_element(low, start, name, tag_end), resets_size), "a font size near zero")
    if backgrounds is not None:
        for piece, reason in _unreadable_colours(low, backgrounds):
            cut([piece], reason)
    return spans


class _Backgrounds:
    """The inline backgrounds of the message (`background`, `background-color`, `bgcolor`), to tell the
    colour behind any element: its own, else its nearest ancestor's, else white."""

    def __init__(self, low: str) -> None:
        self.low = low
        by_tag: dict[int, tuple[int, int, str, str]] = {}  # tag start -> (start, end, name, colour)
        for word, pattern in (("bgcolor", _BGCOLOR), ("background", _BACKGROUND)):  # a style's beats bgcolor
            for at in occurrences(low, word):
                value = pattern.match(low, at)
                tag = _tag_at(low, at) if value else None
                found = css.background_colour(value.group(1)) if value else None
                if tag is not None and found is not None:
                    by_tag[tag[0]] = (tag[0], tag[1], tag[2], found)
        self.tags = sorted(by_tag.values())
        self.colours = {b[3] for b in self.tags} | {"ffffff"}
        self._ends: dict[int, int] = {}

    def behind(self, at: int) -> str:
        """The background colour behind the element whose start tag begins at `at`."""
        for start, tag_end, name, found in reversed(self.tags):
            if start > at:
                continue
            if start == at:
                return found
            if start not in self._ends:
                self._ends[start] = whole_element(self.low, start, name, tag_end)[1]
            if self._ends[start] > at:
                return found
        return "ffffff"

    def unreadable(self, text: str | None, at: int) -> bool:
        return text is not None and css.unreadable_on(text, self.behind(at))


def _own_colour(start: int, end: int, name: str, rest: str) -> bool:
    """Kept inside an element whose colour cannot be read: what sets a colour of its own, and links."""
    return name == "a" or any(_word_at(rest, m.start()) for m in _COLOUR.finditer(rest))


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


def _unreadable_colours(low: str, backgrounds: _Backgrounds) -> list[tuple[Span, str]]:
    """Elements whose inline colour cannot be read on the background behind them (module docstring)."""
    offsets = occurrences(low, "color")  # (background ones too: a few more suspects)
    colours: dict[str, str | None] = {}
    for spelled in {low[at : at + 40] for at in offsets}:
        declared = _COLOUR.match(spelled)
        colours[spelled] = css.colour(declared.group(1)) if declared else None
    suspects = {
        c
        for c in colours.values()
        if c is not None and any(css.unreadable_on(c, b) for b in backgrounds.colours)
    }
    if not suspects:
        return []
    spans: list[tuple[Span, str]] = []
    for at in offsets:
        text = colours[low[at : at + 40]]
        if text not in suspects or not _word_at(low, at):
            continue
        tag = _tag_at(low, at)
        if tag is None or not backgrounds.unreadable(text, tag[0]):
            continue
        reason = f"text colour {_hex(text)} on background {_hex(backgrounds.behind(tag[0]))}"
        spans += [
            (piece, reason)
            for piece in _with_holes(low, whole_element(low, tag[0], tag[2], tag[1]), _own_colour)
        ]
    return spans
