"""The time zones of North American area codes (gateway/data/nanp_zones.toml): checked against what
phonenumbers answers, used by phone_info, and judged in calling hours (issue 22, point 4).

When phonenumbers is upgraded and test_library_answers_as_recorded fails, look again at each area code it
names (a fix, or a new mistake, of phonenumbers'; or a code it now accepts), then write the new answers into
the table's `library` fields: `python tests/test_nanp_zones.py` prints them for every code that differs.
"""

from __future__ import annotations

import re
import tomllib
from datetime import datetime
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from helpers import CORPUS, REPO
from phonenumbers import PhoneNumberType, geocoder
from phonenumbers import timezone as phone_timezone

from gateway import config as config_module
from gateway.addresses import NANP_ZONES_FILE, NanpZonesError, nanp_zones, parse_nanp_zones, phone_info
from gateway.model import Category, SmsMessage
from gateway.policy import evaluate_sms

DOCUMENT = tomllib.loads((REPO / NANP_ZONES_FILE).read_text("utf-8"))
TABLE: dict[str, dict] = DOCUMENT["npa"]
RECORDED_WITH = DOCUMENT["source"]["phonenumbers"]

PROVINCES = {"AB", "BC", "MB", "NB", "NL", "NS", "NT", "NU", "ON", "PE", "QC", "SK", "YT"}
TERRITORIES = {"PR", "VI", "GU", "MP", "AS"}  # phonenumbers gives each its own region code
GEOGRAPHIC_TYPES = {PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
# Codes that are no place, whatever type phonenumbers gives their numbers: personal communications (5XX),
# Canada's non-geographic 600, 622 and 633, US government 710, toll-free 8XX, premium 900.
NON_GEOGRAPHIC = {"456", "500", "521", "522", "533", "544", "566", "577", "588", "600", "622", "633", "700"}
NON_GEOGRAPHIC |= {"710", "800", "833", "844", "855", "866", "877", "888", "900"}
SUBSCRIBERS = ("0123", "4567", "8901", "2345")


def _number(npa: str, nxx: int, subscriber: str = "0123") -> phonenumbers.PhoneNumber:
    return phonenumbers.PhoneNumber(country_code=1, national_number=int(f"{npa}{nxx}{subscriber}"))


def _valid(npa: str, nxx: int, subscribers: tuple[str, ...] = SUBSCRIBERS) -> phonenumbers.PhoneNumber | None:
    return next(
        (n for s in subscribers if phonenumbers.is_valid_number(n := _number(npa, nxx, s))),
        None,
    )


def library_answers(npa: str) -> tuple[list[tuple[str, ...]], phonenumbers.PhoneNumber | None]:
    """Each distinct answer phonenumbers' zone data gives the valid numbers of an area code, the answer most
    exchanges get first (its data goes down to the exchange: 850-200 may be Central and 850-222 Eastern),
    and one valid number of the code (None when it accepts none).

    The zone data is asked for every exchange (time_zones_for_geographical_number, a prefix lookup), and
    whether a number is valid only once per distinct answer: asking both for all 800 exchanges of 430 codes
    would take seconds. Where phonenumbers does not count a number type as geographic (American Samoa's
    mobiles) time_zones_for_number answers every NANP zone instead; the table replaces that too."""
    by_answer: dict[tuple[str, ...], list[int]] = {}
    for nxx in range(200, 1000):
        answer = tuple(phone_timezone.time_zones_for_geographical_number(_number(npa, nxx)))
        by_answer.setdefault(answer, []).append(nxx)
    answers, probe = [], None
    for answer, exchanges in sorted(by_answer.items(), key=lambda a: (-len(a[1]), a[0])):
        valid = next((n for nxx in exchanges if (n := _valid(npa, nxx))), None)
        if valid is not None:
            answers.append(answer)
            probe = probe or valid
    return answers, probe


def _recorded(entry: dict) -> set[frozenset[str]]:
    """The answers the table records for an area code: its `library`, else exactly its zones."""
    if "library" not in entry:
        return {frozenset(entry["zones"])}
    library = entry["library"]
    if library and isinstance(library[0], str):
        return {frozenset(library)}
    return {frozenset(answer) for answer in library}


def _expected_region(region: str) -> str:
    return "CA" if region in PROVINCES else region if region in TERRITORIES else "US"


def differences() -> list[tuple[str, list[tuple[str, ...]], dict]]:
    """(area code, phonenumbers' answers, table entry) wherever the two disagree."""
    found = []
    for code, entry in TABLE.items():
        answers, probe = library_answers(code)
        region_ok = probe is None or phonenumbers.region_code_for_number(probe) == _expected_region(
            entry["region"]
        )
        if (
            {frozenset(a) for a in answers} != _recorded(entry)
            or len(answers) != len(set(answers))
            or not region_ok
        ):
            found.append((code, answers, entry))
    return found


def test_the_table_loads_whole():
    assert len(TABLE) >= 420
    assert dict(nanp_zones()) == {code: tuple(entry["zones"]) for code, entry in TABLE.items()}
    assert set(DOCUMENT["source"]) >= {"area_codes", "boundaries", "tz", "phonenumbers"}


def test_library_answers_as_recorded():
    """For every area code in the table, what phonenumbers answers for its valid numbers is what the table's
    `library` records (no `library`: exactly its zones; `[]`: no valid number at all), and phonenumbers puts
    the code in the table's country. An upgrade that fixes a mistake, makes a new one or starts accepting a
    code fails here, naming the code and both answers."""
    lines = []
    for code, answers, entry in differences():
        said = [list(a) for a in answers] if len(answers) != 1 else list(answers[0])
        recorded = entry.get("library", "(no library field: exactly its zones)")
        lines.append(
            f"{code}: phonenumbers {phonenumbers.__version__} answers {said}; the table records {recorded}"
        )
        lines.append(
            f"     (zones {entry['zones']}, region {entry['region']}, note: {entry.get('note', '')})"
        )
    assert not lines, (
        f"phonenumbers answers differently from what {NANP_ZONES_FILE} recorded from {RECORDED_WITH} "
        "(check each code, then update `library`; python tests/test_nanp_zones.py prints the new values):\n"
        + "\n".join(lines)
    )


def test_table_covers_every_geographic_area_code_phonenumbers_accepts():
    """Every area code 200-999 where phonenumbers accepts a number in the US, Canada or a US territory, of a
    geographic type, is in the table: otherwise phone_info would fall back on phonenumbers' zones for it."""
    missing = []
    for npa in map(str, range(200, 1000)):
        if npa in TABLE or npa in NON_GEOGRAPHIC:
            continue
        # a sample of exchanges finds a valid number: US and Canadian codes accept every exchange
        probe = next((n for nxx in range(200, 1000, 25) if (n := _valid(npa, nxx, ("0123",)))), None)
        if probe is None or phonenumbers.region_code_for_number(probe) not in {"US", "CA"} | TERRITORIES:
            continue
        if phonenumbers.number_type(probe) in GEOGRAPHIC_TYPES:
            where = geocoder.description_for_number(probe, "en")
            missing.append(f"{npa} ({phonenumbers.region_code_for_number(probe)}, {where})")
    assert not missing, f"geographic area codes phonenumbers accepts that {NANP_ZONES_FILE} lacks: {missing}"


def test_an_overlay_has_the_zones_of_the_area_it_overlays():
    wrong = []
    for code, entry in TABLE.items():
        if match := re.search(r"overlay of (\d{3}(?:/\d{3})*)", entry.get("note", "")):
            overlaid = match[1].split("/")
            assert all(c in TABLE for c in overlaid), f"{code} overlays codes the table lacks: {overlaid}"
            zones = {z for c in overlaid for z in TABLE[c]["zones"]}
            if set(entry["zones"]) != zones:
                wrong.append(f"{code}: {entry['zones']}, but {'/'.join(overlaid)}: {sorted(zones)}")
    assert not wrong, wrong


@pytest.mark.parametrize(
    "number, zones",
    [
        ("+16895550123", ("America/New_York",)),  # Orlando's overlay; phonenumbers says Chicago
        ("+18505550123", ("America/Chicago", "America/New_York")),  # the panhandle is both
        ("+14485550123", ("America/Chicago", "America/New_York")),  # 850's overlay; phonenumbers says Eastern
        ("+13085550123", ("America/Chicago", "America/Denver")),  # western Nebraska is Mountain
        ("+15815550123", ("America/Toronto", "America/Halifax", "America/Blanc-Sablon")),  # Magdalen Islands
    ],
)
def test_phone_info_takes_the_zones_of_the_table(number, zones):
    info = phone_info(number)
    assert info is not None
    assert info.time_zones == zones == tuple(TABLE[number[2:5]]["zones"])


def test_phone_info_indiana_evansville_is_central_too():
    zones = phone_info("+18125550123").time_zones
    assert {"America/Chicago", "America/Indiana/Indianapolis", "America/Indiana/Tell_City"} <= set(zones)


@pytest.mark.parametrize(
    "number",
    [
        "+18005551234",  # toll-free: no place, phonenumbers gives every NANP zone
        "+12423570123",  # the Bahamas: in the NANP, not in the table
        "+442071838750",  # not North American
    ],
)
def test_phone_info_asks_phonenumbers_outside_the_table(number):
    parsed = phonenumbers.parse(number)
    assert phonenumbers.is_valid_number(parsed)
    assert not (number.startswith("+1") and number[2:5] in TABLE)
    library = tuple(phone_timezone.time_zones_for_number(parsed))
    assert phone_info(number).time_zones == library


@pytest.mark.parametrize(
    "text, complaint",
    [
        (
            '[source]\n[npa.850]\nregion = "FL"\nzones = ["America/Nowhere"]',
            "[npa.850] zone 'America/Nowhere'",
        ),
        ('[source]\n[npa.850]\nregion = "FL"\nzones = ["../etc/passwd"]', "[npa.850] zone '../etc/passwd'"),
        (
            '[source]\n[npa.85]\nregion = "FL"\nzones = ["America/Chicago"]',
            "[npa.85] is not a geographic area",
        ),
        ('[source]\n[npa.150]\nregion = "FL"\nzones = ["America/Chicago"]', "[npa.150] is not a geographic"),
        (
            '[source]\n[npa.850]\nregion = "Florida"\nzones = ["America/Chicago"]',
            "[npa.850] region 'Florida'",
        ),
        ('[source]\n[npa.850]\nzones = ["America/Chicago"]', "[npa.850] region None"),
        ('[source]\n[npa.850]\nregion = "FL"\nzones = []', "[npa.850] zones must be a non-empty list"),
        ('[source]\n[npa.850]\nregion = "FL"\nzones = "America/Chicago"', "[npa.850] zones must be"),
        ('[source]\n[npa.850]\nregion = "FL"\nzones = ["America/Chicago", "America/Chicago"]', "twice"),
        ('[source]\n[npa.850]\nregion = "FL"\nzones = ["America/Chicago"]\nzone = 1', "unknown keys zone"),
        (
            '[source]\n[npa.850]\nregion = "FL"\nzones = ["America/Chicago"]\nlibrary = "x"',
            "[npa.850] library",
        ),
        ('[npa.850]\nregion = "FL"\nzones = ["America/Chicago"]', "no [source] table"),
        ("[source]\n", "no [npa.NXX] tables"),
        ("[source]\n[npa.850\n", "not valid TOML"),
    ],
)
def test_a_bad_table_is_refused_naming_the_entry(text, complaint):
    with pytest.raises(NanpZonesError) as refused:
        parse_nanp_zones(text)
    assert complaint in str(refused.value)
    assert str(refused.value).startswith(NANP_ZONES_FILE)


# Quiet hours end to end, through the rules as the pipeline runs them (evaluate_sms), for the corpus's
# marketing sender. Wednesday 2026-05-06, daylight time everywhere.
CONFIG = config_module.load(str(CORPUS / "gateway.toml"))
EASTERN, CENTRAL = ZoneInfo("America/New_York"), ZoneInfo("America/Chicago")


def _quiet_hours(to: str, at: datetime) -> str | None:
    message = SmsMessage(
        sender="acme",
        to=to,
        body="Acme: new jackets today. Reply STOP to opt out",
        category=Category.MARKETING,
    )
    evaluation = evaluate_sms(message, {}, CONFIG.sender("acme").settings, CONFIG.policy, at)
    return next((v.message for v in evaluation.violations if v.code == "QUIET_HOURS"), None)


@pytest.mark.parametrize(
    "to, local, refused_in",
    [
        # Orlando's overlay is Eastern: 20:30 there is past Florida's 8 pm (phonenumbers' Central said 19:30)
        ("+16895550123", datetime(2026, 5, 6, 20, 30, tzinfo=EASTERN), "America/New_York"),
        ("+16895550123", datetime(2026, 5, 6, 19, 30, tzinfo=EASTERN), None),
        # the panhandle: the Florida window must hold in both zones, so 20:30 Eastern (19:30 Central) is out...
        ("+18505550123", datetime(2026, 5, 6, 20, 30, tzinfo=EASTERN), "America/New_York"),
        (
            "+18502345678",
            datetime(2026, 5, 6, 20, 30, tzinfo=EASTERN),
            "America/New_York",
        ),  # a Central exchange
        ("+14485550123", datetime(2026, 5, 6, 20, 30, tzinfo=EASTERN), "America/New_York"),
        # ... and so is 08:30 Eastern, 07:30 in Pensacola
        ("+18505550123", datetime(2026, 5, 6, 8, 30, tzinfo=EASTERN), "America/Chicago"),
        ("+18505550123", datetime(2026, 5, 6, 19, 30, tzinfo=EASTERN), None),
        # Evansville is Central, 07:30 there when Indianapolis has 08:30
        ("+18125550123", datetime(2026, 5, 6, 8, 30, tzinfo=EASTERN), "America/Chicago"),
        # Scottsbluff is Mountain: 07:30 there at 08:30 in Grand Island
        ("+13085550123", datetime(2026, 5, 6, 8, 30, tzinfo=CENTRAL), "America/Denver"),
        ("+13085550123", datetime(2026, 5, 6, 9, 30, tzinfo=CENTRAL), None),
    ],
)
def test_quiet_hours_hold_in_every_zone_of_the_area_code(to, local, refused_in):
    refused = _quiet_hours(to, local)
    if refused_in is None:
        assert refused is None
    else:
        assert refused is not None and f" in {refused_in} is outside " in refused, refused


if __name__ == "__main__":
    # The `library` value of each area code phonenumbers now answers differently for, in the table's syntax.
    for code, answers, entry in differences():
        if [set(a) for a in answers] == [set(entry["zones"])]:
            print(f"[npa.{code}]\n# phonenumbers now answers exactly its zones: remove `library`\n")
        elif len(answers) == 1:
            value = "[" + ", ".join(f'"{z}"' for z in answers[0]) + "]"
        else:
            value = "[" + ", ".join("[" + ", ".join(f'"{z}"' for z in a) + "]" for a in answers) + "]"
        print(f"[npa.{code}]\nlibrary = {value}\n")
