"""Finding a postal address in what a reader sees (15 U.S.C. 7704(a)(5)(A)(iii), 16 CFR 316.2(p)).

A configured address is compiled once into a tolerant pattern: case, punctuation and line breaks
between its words do not matter, nor do the usual USPS spellings (Street/St, Suite/Ste/#, PO Box/P.O.
Box/Post Office Box, PMB/#, state names/codes, ZIP or ZIP+4, a trailing country).
"""

from __future__ import annotations

import re

from .textsearch import AnchoredPattern

_SEP = r"[\W_]*"
_STREET_TYPES: tuple[tuple[str, ...], ...] = (
    ("street", "st", "str"),
    ("saint", "st"),
    ("avenue", "ave", "av"),
    ("boulevard", "blvd"),
    ("road", "rd"),
    ("drive", "dr"),
    ("lane", "ln"),
    ("court", "ct"),
    ("place", "pl"),
    ("square", "sq"),
    ("parkway", "pkwy"),
    ("highway", "hwy"),
    ("terrace", "ter"),
    ("circle", "cir"),
    ("trail", "trl"),
    ("way", "wy"),
    ("plaza", "plz"),
    ("center", "ctr", "centre"),
    ("expressway", "expy"),
    ("freeway", "fwy"),
    ("turnpike", "tpke"),
    ("route", "rte"),
    ("alley", "aly"),
    ("crossing", "xing"),
    ("heights", "hts"),
    ("point", "pt"),
)
_VARIANTS: tuple[tuple[str, ...], ...] = _STREET_TYPES + (
    ("suite", "ste", "#"),
    ("apartment", "apt", "#"),
    ("unit", "#"),
    ("room", "rm", "#"),
    ("floor", "fl"),
    ("building", "bldg"),
    ("department", "dept"),
    ("pmb", "#"),
    ("north", "n"),
    ("south", "s"),
    ("east", "e"),
    ("west", "w"),
    ("northeast", "ne"),
    ("northwest", "nw"),
    ("southeast", "se"),
    ("southwest", "sw"),
    ("mount", "mt"),
    ("fort", "ft"),
)
STATES = {
    "AL": "Alabama",
    "AK": "Alaska",
    "AZ": "Arizona",
    "AR": "Arkansas",
    "CA": "California",
    "CO": "Colorado",
    "CT": "Connecticut",
    "DE": "Delaware",
    "DC": "District of Columbia",
    "FL": "Florida",
    "GA": "Georgia",
    "HI": "Hawaii",
    "ID": "Idaho",
    "IL": "Illinois",
    "IN": "Indiana",
    "IA": "Iowa",
    "KS": "Kansas",
    "KY": "Kentucky",
    "LA": "Louisiana",
    "ME": "Maine",
    "MD": "Maryland",
    "MA": "Massachusetts",
    "MI": "Michigan",
    "MN": "Minnesota",
    "MS": "Mississippi",
    "MO": "Missouri",
    "MT": "Montana",
    "NE": "Nebraska",
    "NV": "Nevada",
    "NH": "New Hampshire",
    "NJ": "New Jersey",
    "NM": "New Mexico",
    "NY": "New York",
    "NC": "North Carolina",
    "ND": "North Dakota",
    "OH": "Ohio",
    "OK": "Oklahoma",
    "OR": "Oregon",
    "PA": "Pennsylvania",
    "RI": "Rhode Island",
    "SC": "South Carolina",
    "SD": "South Dakota",
    "TN": "Tennessee",
    "TX": "Texas",
    "UT": "Utah",
    "VT": "Vermont",
    "VA": "Virginia",
    "WA": "Washington",
    "WV": "West Virginia",
    "WI": "Wisconsin",
    "WY": "Wyoming",
    "PR": "Puerto Rico",
    "GU": "Guam",
    "VI": "Virgin Islands",
    "AS": "American Samoa",
    "MP": "Northern Mariana Islands",
}
_STATE_NAME_TO_CODE = {name.lower(): code.lower() for code, name in STATES.items()}
_STATE_NAME_RE = re.compile(
    r"\b(" + "|".join(re.escape(n) for n in sorted(_STATE_NAME_TO_CODE, key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)
_PO_BOX = re.compile(r"\b(?:p\.?\s*o\.?|post\s+office)\s*box\b", re.IGNORECASE)
_PO_BOX_TEXT = r"(?:p[\W_]*o[\W_]*box|post[\W_]*office[\W_]*box)"
_COUNTRY_TAIL = re.compile(
    r"[\W_]*(?:u\.?s\.?a?\.?|united\s+states(?:\s+of\s+america)?|america)[\W_]*$", re.IGNORECASE
)
_TOKEN = re.compile(r"#|[^\W_]+")
_ZIP = re.compile(r"\d{5}")
_ZIP4 = re.compile(r"\d{4}")


def _alternatives(token: str) -> list[str]:
    forms = {token}
    for group in _VARIANTS:
        if token in group:
            forms.update(group)
    code = token.upper()
    if code in STATES:
        forms.add(STATES[code].lower())
    return sorted(forms, key=len, reverse=True)


def _token_pattern(token: str) -> str:
    if token == "pobox":
        return _PO_BOX_TEXT
    parts = []
    for form in _alternatives(token):
        if form == "#":
            parts.append("#")
        else:
            words = form.split()
            parts.append(_SEP.join(re.escape(w) for w in words))
    return "(?:" + "|".join(parts) + ")"


def address_tokens(address: str) -> list[str]:
    text = _COUNTRY_TAIL.sub("", address.strip())
    text = _PO_BOX.sub(" pobox ", text)
    text = _STATE_NAME_RE.sub(lambda m: " " + _STATE_NAME_TO_CODE[m.group(1).lower()] + " ", text)
    return [t.lower() for t in _TOKEN.findall(text)]


def compile_address(address: str) -> AnchoredPattern:
    """A pattern that finds this address in visible text, however it is spelled out."""
    tokens = address_tokens(address)
    pieces: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if _ZIP.fullmatch(tok):
            plus4 = tokens[i + 1] if i + 1 < len(tokens) and _ZIP4.fullmatch(tokens[i + 1]) else None
            pieces.append(tok + (rf"(?:-?{plus4}|(?!-?\d))" if plus4 else r"(?:-?\d{4})?"))
            i += 2 if plus4 else 1
            continue
        if tok == "#" and pieces and i + 1 < len(tokens):
            # "#4" standing for Suite/Unit/PMB: the text may spell out any designator.
            pieces.append(r"(?:#|suite|ste|unit|apt|apartment|room|rm|pmb)")
        else:
            pieces.append(_token_pattern(tok))
        i += 1
    body = r"(?<![^\W_])" + (_SEP).join(pieces) + r"(?![^\W_])"
    numbers = sorted((t for t in tokens if t.isdigit()), key=len, reverse=True)
    anchors = tuple(numbers[:1]) or tuple(tokens[:1]) or ("",)
    return AnchoredPattern.of(body, anchors, reach=len(address) * 4 + 40)


_SUFFIXES = sorted(
    {form for group in _STREET_TYPES for form in group if form.isalpha()}, key=len, reverse=True
)
_STATE_CODES = "|".join(STATES)
_ANY_US_ADDRESS = re.compile(
    r"(?:(?<!\w)\d{1,6}[a-z]?(?:[ \t]+[\w.'-]+){0,5}?[ \t]+(?:" + "|".join(_SUFFIXES) + r")\b\.?"
    r"|(?<!\w)" + _PO_BOX_TEXT + r"[\W_]*\d+|(?<!\w)pmb[\W_]*\d+)"
    r"[^\n]{0,80}(?:\n[^\n]{0,80}){0,2}?[\s,]+(?:" + _STATE_CODES + r")[\s,.]+\d{5}(?:-\d{4})?(?!\d)",
    re.IGNORECASE,
)


_PROVINCES = "ab|bc|mb|nb|nl|ns|nt|nu|on|pe|qc|sk|yt"
_ANY_CANADIAN_ADDRESS = re.compile(
    r"(?:(?<!\w)\d{1,6}[a-z]?(?:[ \t]+[\w.'-]+){0,5}?[ \t]+(?:"
    + "|".join(_SUFFIXES)
    + r"|rue|chemin|boul)\b\.?"
    r"|(?<!\w)(?:" + _PO_BOX_TEXT + r"|c\.?p\.?|case\s+postale)[\W_]*\d+)"
    r"[^\n]{0,80}(?:\n[^\n]{0,80}){0,2}?[\s,]+(?:" + _PROVINCES + r")[\s,.]+"
    r"[abceghj-nprstvxy]\d[abceghj-nprstv-z][ -]?\d[abceghj-nprstv-z]\d(?![\w])",
    re.IGNORECASE,
)


def find_any_us_address(text: str) -> str | None:
    """A US street or PO Box address ending in a state and ZIP code, if the text has one."""
    m = _ANY_US_ADDRESS.search(text)
    return m.group(0) if m else None


def find_any_address(text: str) -> str | None:
    """A street or post-office-box address the reader can write to: a US one (state and ZIP code), or a
    Canadian one (province and postal code). 16 CFR 316.2(p) asks for "the sender's current street
    address" (any country's; its box and private-mailbox options are the USPS's, so US only) and CASL's
    regulations a mailing address."""
    return find_any_us_address(text) or (m.group(0) if (m := _ANY_CANADIAN_ADDRESS.search(text)) else None)
