"""State calling-hour and frequency rules shipped as defaults, keyed by area code.

Applied in the recipient's local time on top of the federal window; the strictest applicable wins.
A config can override any of them by name or add its own (`[[policy.state]]`).
"""

from __future__ import annotations

from datetime import time

from .settings import HoursRule, Window

_8_TO_8 = (Window(time(8, 0), time(20, 0)),)

FLORIDA = HoursRule(
    name="FL",
    citation="Fla. Stat. 501.059(8)",
    windows=_8_TO_8,
    marketing_cap=3,
    cap_hours=24,
    area_codes=frozenset(
        [
            "239",
            "305",
            "321",
            "324",
            "352",
            "386",
            "407",
            "448",
            "561",
            "645",
            "656",
            "689",
            "727",
            "728",
            "754",
            "772",
            "786",
            "813",
            "850",
            "863",
            "904",
            "941",
            "954",
        ]
    ),
)
OKLAHOMA = HoursRule(
    name="OK",
    citation="Okla. Stat. tit. 15, 775C.4",
    windows=_8_TO_8,
    marketing_cap=3,
    cap_hours=24,
    area_codes=frozenset(["405", "539", "572", "580", "918"]),
)
MARYLAND = HoursRule(
    name="MD",
    citation="Md. Code, Com. Law 14-4503",
    windows=_8_TO_8,
    marketing_cap=3,
    cap_hours=24,
    area_codes=frozenset(["227", "240", "301", "410", "443", "667"]),
)
WASHINGTON = HoursRule(
    name="WA",
    citation="RCW 80.36.390",
    windows=_8_TO_8,
    area_codes=frozenset(["206", "253", "360", "425", "509", "564"]),
)
TEXAS = HoursRule(
    name="TX",
    citation="Tex. Bus. & Com. Code 301.051",
    windows=(
        Window(time(9, 0), time(21, 0), frozenset(range(6))),
        Window(time(12, 0), time(21, 0), frozenset({6})),
    ),
    area_codes=frozenset(
        [
            "210",
            "214",
            "254",
            "281",
            "325",
            "346",
            "361",
            "409",
            "430",
            "432",
            "469",
            "512",
            "682",
            "713",
            "726",
            "737",
            "806",
            "817",
            "830",
            "832",
            "903",
            "915",
            "936",
            "940",
            "945",
            "956",
            "972",
            "979",
        ]
    ),
)

DEFAULT_STATE_RULES = (FLORIDA, OKLAHOMA, MARYLAND, WASHINGTON, TEXAS)
