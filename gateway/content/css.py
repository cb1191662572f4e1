"""The little CSS the renderer reads to decide visibility: a message's `<style>` rules (simple selectors
only), declarations, sizes and colours. Regular expressions, no CSS parser object: a newsletter's style
sheet is read in microseconds, and one without any property that can hide is not read at all.

Selectors understood: type, `.class`, `#id`, attributes (`[data-role]`, `[data-role="postal"]`, with `=`,
`~=`, `^=`, `$=`, `*=`), `:first-child` and `:last-child` on the subject, their compounds (`td.footer`, `.a.b`,
`p#x`, `.footer p:last-child`), lists (`a, b`), descendant and child combinators (`.footer a`, `td > p.x`). A
rule with any other selector (`+`, `~`, other pseudo-classes) is left out: it could only hide something the
renderer then shows (a false refusal is avoided; a trick built on those is not caught). `@media` blocks apply only when they name no condition
beyond `all` or `screen` (a `print` or `max-width` block does not hide anything in a reader's view of the
message as a whole); other at-rules are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# Properties whose values can hide content; a style sheet mentioning none of them is not parsed.
HIDING_WORDS = (
    "display", "visibility", "opacity", "height", "width", "mso-hide", "font-size", "color", "clip",
    "text-indent", "position",
)  # fmt: skip

_COMMENT = re.compile(r"/\*.*?(?:\*/|\Z)", re.DOTALL)
# A property name only where one can start (after neither a letter nor a hyphen: one try per word, so a long
# run of letters is read once, not once per letter), then its value up to the next `;`.
_DECLARATION = re.compile(r"(?<![-a-z])([-a-z]+)\s*:\s*([^;]*)")
_IMPORTANT = re.compile(r"\s*!\s*important\s*$")
_COMPOUND = re.compile(
    r"([a-z][a-z0-9-]*|\*)?((?:[.#][-_a-z0-9]+|\[[^\]\[]+\])*)((?::(?:first|last)-child)*)$"
)
_ATTRIBUTE_TEST = re.compile(
    r"\[\s*([-_a-z0-9:]+)\s*(?:([~^$*]?=)\s*(?:\"([^\"]*)\"|'([^']*)'|([-_a-z0-9.:/]+))\s*)?\]"
)
_ANY_ATTRIBUTE = re.compile(r"""([a-z][-_a-z0-9:]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?""")
_SIMPLE_MEDIA = re.compile(r"@media\s+(?:only\s+)?(?:all|screen)(?:\s*,\s*(?:only\s+)?(?:all|screen))*\s*$")


@dataclass(frozen=True, slots=True)
class Compound:
    tag: str | None
    id: str | None
    classes: frozenset[str]
    tests: tuple[tuple[str, str, str], ...] = ()  # attribute tests: (name, operator or "", value)
    position: tuple[str, ...] = ()  # "first-child", "last-child"

    def matches(self, tag: str, attrs: Attributes) -> bool:
        return (
            (self.tag is None or self.tag == tag)
            and (self.id is None or attrs.id == self.id)
            and self.classes <= attrs.classes
            and (not self.tests or all(_passes(test, attrs.all()) for test in self.tests))
        )


def _passes(test: tuple[str, str, str], found: dict[str, str]) -> bool:
    name, operator, value = test
    if name not in found:
        return False
    have = found[name]
    return {
        "": True,
        "=": have == value,
        "~=": value in have.split(),
        "^=": bool(value) and have.startswith(value),
        "$=": bool(value) and have.endswith(value),
        "*=": bool(value) and value in have,
    }[operator]


@dataclass(frozen=True, slots=True)
class Rule:
    selector: tuple[Compound, ...]  # outermost first, the subject last
    declarations: dict[str, tuple[str, bool]]  # property -> (value, !important)
    child: tuple[bool, ...] = ()  # between each compound and the next: `>` (True) or a space


@dataclass(frozen=True, slots=True)
class Attributes:
    id: str | None
    classes: frozenset[str]
    style: str
    text: str = ""  # the start tag's attribute text, for attribute selectors

    def all(self) -> dict[str, str]:
        return {
            m.group(1): m.group(2) or m.group(3) or m.group(4) or ""
            for m in _ANY_ATTRIBUTE.finditer(self.text)
        }


_ATTRIBUTE = re.compile(r"""\b(class|id|style)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+))""")


def attributes(tag_text: str) -> Attributes:
    """The class, id and style of a (lower-cased) start tag's attribute text."""
    found = {m.group(1): m.group(2) or m.group(3) or m.group(4) or "" for m in _ATTRIBUTE.finditer(tag_text)}
    return Attributes(
        found.get("id"), frozenset(found.get("class", "").split()), found.get("style", ""), tag_text
    )


def declarations(style: str) -> dict[str, tuple[str, bool]]:
    """A style attribute's or rule's declarations: property -> (value, important); the last one wins."""
    found = {}
    for m in _DECLARATION.finditer(style):
        value = m.group(2)
        important = _IMPORTANT.search(value)
        found[m.group(1)] = ((value[: important.start()] if important else value).strip(), bool(important))
    return found


def _compound(text: str) -> Compound | None:
    found = _COMPOUND.match(text)
    if not found or not text:
        return None
    tag = None if found.group(1) in (None, "*") else found.group(1)
    plain = re.sub(r"\[[^\]]*\]", " ", found.group(2))
    parts = re.findall(r"([.#])([-_a-z0-9]+)", plain)
    ids = [name for kind, name in parts if kind == "#"]
    tests = []
    for bracket in re.findall(r"\[[^\]]*\]", found.group(2)):
        test = _ATTRIBUTE_TEST.fullmatch(bracket)
        if test is None:
            return None
        tests.append(
            (test.group(1), test.group(2) or "", test.group(3) or test.group(4) or test.group(5) or "")
        )
    if len(ids) > 1:
        return None
    position = tuple(p for p in found.group(3).split(":") if p)
    return Compound(
        tag, ids[0] if ids else None, frozenset(n for k, n in parts if k == "."), tuple(tests), position
    )


def _selector(text: str) -> tuple[tuple[Compound, ...], tuple[bool, ...]] | None:
    """The compounds, outermost first, and for each but the last whether the next must be its child (`>`)
    rather than any descendant (a space)."""
    chain: list[Compound] = []
    child: list[bool] = []
    pending = False
    for part in text.replace(">", " > ").split():
        if part == ">":
            if not chain or pending:
                return None
            pending = True
            continue
        compound = _compound(part)
        if compound is None or (chain and chain[-1].position):  # a position only on the subject
            return None
        if chain:
            child.append(pending)
        chain.append(compound)
        pending = False
    return (tuple(chain), tuple(child)) if chain and not pending else None


def _blocks(sheet: str) -> list[tuple[str, str]]:
    """(prelude, body) of each top-level block, at-rules' inner blocks flattened when they apply."""
    out, pos, depth, start = [], 0, 0, 0
    prelude = ""
    for m in re.finditer(r"[{}]", sheet):
        if m.group() == "{":
            if depth == 0:
                prelude, start = sheet[pos : m.start()].strip(), m.end()
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                out.append((prelude, sheet[start : m.start()]))
                pos = m.end()
            elif depth < 0:
                depth, pos = 0, m.end()
    return out


# what a sheet with any rule that may hide contains (HIDING_WORDS, with a width, a position or an indent only
# in the spellings that can hide)
_SHEET_MAY_HIDE = (
    "display", "visibility", "opacity", "height", "mso-hide", "font-size", "color", "clip", "absolute",
    "fixed", ":-", ": -", "width:0", "width: 0", "width:1p", "width: 1p", "width:.", "width: .",
)  # fmt: skip
_BODY_MAY_HIDE = re.compile(
    r"display|visibility|opacity|height|mso-hide|font-size|color|clip|absolute|fixed|:\s*-\s*\d"
    r"|width\s*:\s*(?:0|1p|0?\.\d)"
)


def _may_hide(prop: str, value: str) -> bool:
    """Whether a declaration can take part in hiding: by its name, but a width, a position or an indent
    only with a value that hides (newsletters' sheets set widths and positions everywhere)."""
    if prop in ("width", "max-width"):
        return tiny_length(value) or zero_length(value)
    if prop == "position":
        return value in ("absolute", "fixed")
    if prop in ("text-indent", "left", "top", "right"):
        return far_negative(value)
    return any(word in prop for word in HIDING_WORDS if word not in ("width", "position", "text-indent"))


def rules(sheet: str) -> list[Rule]:
    """The rules of a (lower-cased) style sheet that may hide something, in document order."""
    if not any(word in sheet for word in _SHEET_MAY_HIDE):
        return []
    sheet = _COMMENT.sub(" ", sheet)
    found: list[Rule] = []
    for prelude, body in _blocks(sheet):
        if prelude.startswith("@"):
            if _SIMPLE_MEDIA.match(prelude):
                found += rules(body)
            continue
        if not _BODY_MAY_HIDE.search(body):  # (most of a newsletter's rules: widths, paddings, fonts)
            continue
        declared = declarations(body)
        if not any(_may_hide(p, value) for p, (value, _) in declared.items()):
            continue
        for text in prelude.split(","):
            selector = _selector(text.strip())
            if selector is not None:
                found.append(Rule(selector[0], declared, selector[1]))
    return found


# -- sizes and colours --------------------------------------------------------------------------------------

_SIZE = re.compile(r"(-?\d*\.?\d+)\s*(px|pt|em|rem|%)?$")
_TINY = {"px": 1.0, "pt": 1.0, "em": 0.1, "rem": 0.1, "%": 10.0, "": 0.0}


def tiny_font(value: str) -> bool | None:
    """Whether a font-size is zero or near it (at most 1px / 1pt / 0.1em / 10%); None when unreadable
    (keywords such as `small`, calc(), ...: taken as readable)."""
    found = _SIZE.match(value.strip())
    if not found:
        return None
    return float(found.group(1)) <= _TINY[found.group(2) or ""]


def zero_length(value: str) -> bool:
    found = _SIZE.match(value.strip())
    return found is not None and float(found.group(1)) == 0


def tiny_length(value: str) -> bool:
    """A box dimension of at most 1px (or 1pt, 0.1em): room for no readable line (the "visually hidden"
    pattern's 1px box)."""
    return tiny_font(value) is True


_FAR = {"px": -500.0, "pt": -375.0, "em": -30.0, "rem": -30.0, "%": -100.0}


def far_negative(value: str) -> bool:
    """An offset that moves content out of any window: -500px or beyond (text-indent:-9999px, left:-9999px)."""
    found = _SIZE.match(value.strip())
    return found is not None and found.group(2) is not None and float(found.group(1)) <= _FAR[found.group(2)]


_RECT = re.compile(r"rect\(([^)]*)\)")
_INSET = re.compile(r"inset\(\s*(\d*\.?\d+)%")


def clipped_away(clip: str, clip_path: str) -> bool:
    """`clip: rect(0 0 0 0)` (or a 1px rectangle), `clip-path: inset(50%)` and beyond: nothing of the box
    is painted."""
    rect = _RECT.search(clip)
    if rect is not None:
        sides = [s for s in re.split(r"[\s,]+", rect.group(1).strip()) if s]
        if len(sides) == 4 and all(s == "auto" or tiny_length(s) or zero_length(s) for s in sides[:4]):
            return sides[1] != "auto" and sides[2] != "auto"  # right and bottom: where the painting stops
    inset = _INSET.search(clip_path)
    return inset is not None and float(inset.group(1)) >= 50


NAMED = {
    "white": "ffffff",
    "black": "000000",
    "red": "ff0000",
    "green": "008000",
    "blue": "0000ff",
    "yellow": "ffff00",
    "gray": "808080",
    "grey": "808080",
    "silver": "c0c0c0",
    "whitesmoke": "f5f5f5",
    "snow": "fffafa",
    "ivory": "fffff0",
    "navy": "000080",
    "orange": "ffa500",
    "purple": "800080",
    "transparent": "transparent",
}
_HEX = re.compile(r"#([0-9a-f]{3,8})\b")
_RGB = re.compile(r"rgba?\(\s*(\d+)%?\s*[, ]\s*(\d+)%?\s*[, ]\s*(\d+)%?\s*(?:[,/]\s*([\d.]+%?))?\s*\)")


@lru_cache(maxsize=4096)  # newsletters repeat a handful of colours
def colour(value: str) -> str | None:
    """A CSS colour as six hex digits, "transparent" for one that shows nothing, None when unreadable."""
    value = value.strip().removesuffix("!important").strip()
    if value in NAMED:
        return NAMED[value]
    hexed = _HEX.match(value)
    if hexed:
        digits = hexed.group(1)
        if len(digits) in (3, 4):
            if len(digits) == 4 and digits[3] == "0":
                return "transparent"
            return "".join(c * 2 for c in digits[:3])
        if len(digits) in (6, 8):
            return "transparent" if len(digits) == 8 and digits[6:] == "00" else digits[:6]
        return None
    rgb = _RGB.match(value)
    if rgb:
        alpha = rgb.group(4)
        if alpha is not None and float(alpha.rstrip("%") or 1) == 0:
            return "transparent"
        return "".join(f"{min(255, int(rgb.group(i))):02x}" for i in (1, 2, 3))
    return None


def background_colour(value: str) -> str | None:
    """The colour in a `background` shorthand or `background-color` value (`#fff url(x.png) no-repeat`)."""
    for token in re.split(r"\s+(?![^(]*\))", value.strip()):
        found = colour(token)
        if found is not None:
            return found
    return None


@lru_cache(maxsize=4096)
def _luminance(hex6: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex6[i : i + 2], 16) for i in (0, 2, 4))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


@lru_cache(maxsize=4096)
def unreadable_on(text: str, background: str) -> bool:
    """Text of this colour cannot be read on that background: transparent, or a contrast ratio (WCAG 2)
    below 1.25 (#ffffff on #ffffff is 1; #f2f2f2 on #ffffff about 1.12; #cccccc on #ffffff 1.6)."""
    if text == "transparent":
        return True
    if background == "transparent":
        return False
    high, low = sorted((_luminance(text), _luminance(background)), reverse=True)
    return (high + 0.05) / (low + 0.05) < 1.25
