"""A message's `<style>` rules that may hide (css.py reads them) and the elements they reach: which rules
match an element (type, class, id, attribute tests, descendant and child combinators, the subject's
:first-child or :last-child), and each property's value after the cascade. hiding.py decides what the
winning declarations hide."""

from __future__ import annotations

import re
from collections.abc import Iterable

from . import css
from .elements import OPEN_TAG_NAME, VOID, whole_element
from .scan import occurrences

_STYLE_BLOCK = re.compile(r"<style\b[^>]*>(.*?)(?:</style\s*>|\Z)", re.DOTALL)
_ANY_TAG = re.compile(r"<(/?)([a-z][a-z0-9-]*)(\s[^<>]*)?>")


def tag_at(low: str, at: int) -> tuple[int, int, str] | None:
    """The start tag holding offset `at` in its attributes: (its start, its end, its name)."""
    start = low.rfind("<", 0, at)
    if start < 0 or low.rfind(">", start, at) >= 0:
        return None
    name = OPEN_TAG_NAME.match(low, start)
    if name is None:
        return None
    end = low.find(">", at)
    return start, len(low) if end < 0 else end + 1, name.group(1)


def winning(rules: Iterable[tuple[tuple[int, int, int], int, css.Rule]], inline: str) -> dict[str, str]:
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
        sum(len(c.classes) + len(c.tests) + len(c.position) for c in selector),
        sum(c.tag is not None for c in selector),
    )


class Sheet:
    """The message's style rules that may hide, and which elements they reach."""

    def __init__(self, low: str) -> None:
        self.rules: list[css.Rule] = []
        self.blocks: list[str] = []
        for at in occurrences(low, "<style"):
            block = _STYLE_BLOCK.match(low, at)
            if block:
                self.blocks.append(block.group(1))
                self.rules += css.rules(block.group(1))
        self.descendant = any(len(r.selector) > 1 for r in self.rules)
        self.tested = any(c.tests for r in self.rules for c in r.selector)  # attribute selectors

    def matching(
        self,
        tag: str,
        attrs: css.Attributes,
        ancestors: list[tuple[str, css.Attributes]] | None,
        where: tuple[str, int, int] = ("", 0, 0),
    ) -> list[tuple[tuple[int, int, int], int, css.Rule]]:
        """The rules that reach the element `tag` whose start tag is where[0][where[1]:where[2]]."""
        found = []
        for order, rule in enumerate(self.rules):
            *outer, subject = rule.selector
            if not subject.matches(tag, attrs):
                continue
            if subject.position and not _placed(where, tag, subject.position):
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
            wanted = self.tested or "class" in rest or "id" in rest or "style" in rest
            attrs = css.attributes(rest) if wanted else _NONE
            rules = self.matching(name, attrs, stack, (low, m.start(), m.end()))
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
            tag = tag_at(low, m.start() + 1)
            if tag is None or tag[0] in seen:
                continue
            seen.add(tag[0])
            rest = low[tag[0] + 1 + len(tag[2]) : tag[1] - 1]
            attrs = css.attributes(rest)
            rules = self.matching(tag[2], attrs, None, (low, tag[0], tag[1]))
            if rules:
                yield tag[0], tag[1], tag[2], attrs, rules


_NONE = css.Attributes(None, frozenset(), "")
_OPENED = re.compile(r"<[a-z][^<>]*>\s*$")  # the text before an element ends with its parent's start tag
_CLOSES = re.compile(r"\s*</")  # the text after an element begins with its parent's end tag


def _start_name(tag: str) -> str:
    found = OPEN_TAG_NAME.match(tag)
    return found.group(1) if found else ""


def _placed(where: tuple[str, int, int], name: str, position: tuple[str, ...]) -> bool:
    """Whether the element is its parent's first or last element child, as `position` asks (read from the
    markup around it: what stands between it and its parent's tags is only white space)."""
    low, start, tag_end = where
    for wanted in position:
        opened = _OPENED.search(low, max(0, start - 300), start)
        if wanted == "first-child" and (opened is None or _start_name(opened.group()) in VOID):
            return False
        if wanted == "last-child" and not _CLOSES.match(low, whole_element(low, start, name, tag_end)[1]):
            return False
    return True


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
