"""Recipient addresses: normalization, hashing, validity, and what a phone number tells us.

Emails are compared lower-case; phone numbers in strict E.164. The hash (SHA-256 of the normalized
form) is what the store indexes, so a suppression survives erasure of the plain address.

A North American number's time zones come from gateway/data/nanp_zones.toml (every zone its area code's
territory spans), phonenumbers' answer only for codes that table lacks (toll-free, the Caribbean).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from types import MappingProxyType
from typing import Any

import phonenumbers
from phonenumbers import PhoneNumberType
from phonenumbers import timezone as phone_timezone

from .model import Channel

_LOCAL_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\u0080-\U0010ffff-]+"
_LOCAL = rf"(?:{_LOCAL_ATOM}(?:\.{_LOCAL_ATOM})*|\"(?:[^\"\\\r\n]|\\.)+\")"
_LABEL = (
    r"(?:[A-Za-z0-9\u0080-\U0010ffff](?:[A-Za-z0-9\u0080-\U0010ffff-]{0,61}[A-Za-z0-9\u0080-\U0010ffff])?)"
)
_EMAIL_RE = re.compile(rf"{_LOCAL}@(?:{_LABEL}\.)+{_LABEL}")
_MAILBOX_RE = re.compile(rf"{_LOCAL}@(?:{_LABEL}(?:\.{_LABEL})*|\[[0-9A-Fa-f.:IPv]{{1,64}}\])")
_E164_SHAPE = re.compile(r"\+[1-9][0-9]{6,14}")


def normalize_email(address: str) -> str:
    return address.strip().strip("<>").strip().lower()


# Unicode's format characters: direction overrides and isolates (an address that shows as another one:
# "rtl\u202emoc.live@example.com" reads "rtlmoc.elpmaxe@evil.com"), zero-width joiners and marks
_FORMAT = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]")


def is_valid_email(address: str) -> bool:
    """RFC 5321 mailbox with a dotted domain; non-ASCII allowed (SMTPUTF8, IDN), but no invisible format
    character (RFC 6530 leaves them to policy: no mailbox provider issues them)."""
    if len(address) > 254 or not _EMAIL_RE.fullmatch(address) or _FORMAT.search(address):
        return False
    local, _, domain = address.rpartition("@")
    return len(local) <= 64 and not domain.rsplit(".", 1)[-1].isdigit()


def is_mailbox(address: str) -> bool:
    """RFC 5321 4.1.2's Mailbox: a local part (dot-string or quoted) @ a domain or an address literal;
    single-label domains too (root@localhost). What a reverse-path other than <> must be."""
    return len(address) <= 320 and _MAILBOX_RE.fullmatch(address) is not None


def normalize_phone(number: str) -> str:
    """The E.164 form of a number, or the input stripped when it cannot be parsed."""
    info = phone_info(number.strip())
    return info.e164 if info else number.strip()


def normalize(channel: Channel, address: str) -> str:
    return normalize_email(address) if channel is Channel.EMAIL else normalize_phone(address)


def address_hash(normalized: str) -> str:
    return hashlib.sha256(normalized.encode("utf-8", "surrogatepass")).hexdigest()


def looks_hashed(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


@dataclass(frozen=True, slots=True)
class PhoneInfo:
    e164: str
    number_type: int
    time_zones: tuple[str, ...]  # IANA zones the number may be in (see phone_info); empty when unknown
    nanp_area_code: str | None = None  # the three digits after +1 of a North American number

    def __post_init__(self) -> None:
        if self.nanp_area_code is None and self.e164.startswith("+1") and len(self.e164) == 12:
            object.__setattr__(self, "nanp_area_code", self.e164[2:5])

    @property
    def toll_free(self) -> bool:
        return self.number_type == PhoneNumberType.TOLL_FREE


def _parse_e164(number: str) -> phonenumbers.PhoneNumber | None:
    """The parsed number when `number` is valid and exactly its own E.164 form, else None."""
    if not _E164_SHAPE.fullmatch(number):
        return None
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    if phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) != number:
        return None
    return parsed


def is_e164(number: str) -> bool:
    """Strict E.164 validity alone, uncached: for bulk work such as imports."""
    return _parse_e164(number) is not None


# The table of area codes' zones: package data (pyproject.toml), read with importlib.resources.
NANP_ZONES_FILE = "gateway/data/nanp_zones.toml"
_AREA_CODE = re.compile(r"[2-9][0-9]{2}")
_REGION = re.compile(r"[A-Z]{2}")
_ENTRY_KEYS = {"region", "zones", "library", "note"}


class NanpZonesError(ValueError):
    """gateway/data/nanp_zones.toml is not what parse_nanp_zones accepts; the message names the entry."""


def _zone_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(z, str) for z in value)


def _entry_problem(code: str, entry: object) -> str | None:
    """What is wrong with one [npa.NXX] table, or None."""
    import zoneinfo  # here, like tomllib and importlib.resources below: the table is read on first use

    if not _AREA_CODE.fullmatch(code):
        return "is not a geographic area code (three digits, the first 2-9)"
    if not isinstance(entry, dict):
        return "is not a table"
    if unknown := sorted(set(entry) - _ENTRY_KEYS):
        return f"has unknown keys {', '.join(unknown)} (allowed: {', '.join(sorted(_ENTRY_KEYS))})"
    region, zones, library = entry.get("region"), entry.get("zones"), entry.get("library", [])
    if not isinstance(region, str) or not _REGION.fullmatch(region):
        return f"region {region!r} is not a two-letter code such as FL or ON"
    if not _zone_list(zones) or not zones:
        return "zones must be a non-empty list of IANA zone names"
    if len(set(zones)) != len(zones):
        return f"zones {zones} lists a zone twice"
    for zone in zones:
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return f"zone {zone!r} is not an IANA time zone known here"
    if not (_zone_list(library) or (isinstance(library, list) and all(_zone_list(x) for x in library))):
        return "library must be a list of zone names, or a list of such lists"
    if not isinstance(entry.get("note", ""), str):
        return "note must be a string"
    return None


def parse_nanp_zones(text: str, source: str = NANP_ZONES_FILE) -> dict[str, tuple[str, ...]]:
    """Area code -> IANA zones, from the text of gateway/data/nanp_zones.toml; NanpZonesError naming the
    entry when any of it is wrong (every zone a ZoneInfo key, every key an area code, every region two
    letters)."""
    import tomllib

    try:
        document: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise NanpZonesError(f"{source}: not valid TOML: {e}") from None
    if unknown := sorted(set(document) - {"source", "npa"}):
        raise NanpZonesError(f"{source}: unknown tables {', '.join(unknown)} (only [source] and [npa.NXX])")
    if not isinstance(document.get("source"), dict):
        raise NanpZonesError(f"{source}: no [source] table naming where the zones come from")
    table = document.get("npa")
    if not isinstance(table, dict) or not table:
        raise NanpZonesError(f"{source}: no [npa.NXX] tables")
    for code, entry in table.items():
        if problem := _entry_problem(code, entry):
            raise NanpZonesError(f"{source}: [npa.{code}] {problem}")
    _REGIONS[source] = {code: entry["region"] for code, entry in table.items()}
    return {code: tuple(entry["zones"]) for code, entry in table.items()}


_REGIONS: dict[str, dict[str, str]] = {}  # by source: each area code's region, as parse_nanp_zones read it


@cache
def nanp_zones() -> Mapping[str, tuple[str, ...]]:
    """The table of gateway/data/nanp_zones.toml, read and checked once, on first use: parsing it takes
    about 10 ms, too dear for every import of this module (each CLI command, each worker)."""
    from importlib import resources

    package, _, name = NANP_ZONES_FILE.partition("/")
    return MappingProxyType(parse_nanp_zones(resources.files(package).joinpath(name).read_text("utf-8")))


def nanp_region(area_code: str | None) -> str | None:
    """The state, territory or province NANPA assigns an area code to ("TX", "ON"), or None."""
    nanp_zones()
    return _REGIONS[NANP_ZONES_FILE].get(area_code or "")


@lru_cache(maxsize=50_000)
def phone_info(number: str) -> PhoneInfo | None:
    """Strict E.164: a valid number whose input is exactly its own E.164 form, else None.

    Its zones: for a North American number, those of its area code in nanp_zones(); otherwise (or for a
    code the table lacks: non-geographic ones such as 800, the Caribbean's) what phonenumbers answers.
    Cached: parsing and zone lookup are the dear part of a text's check, and numbers recur across messages.
    """
    parsed = _parse_e164(number)
    if parsed is None:
        return None
    zones = nanp_zones().get(number[2:5]) if parsed.country_code == 1 else None
    if zones is None:
        zones = tuple(
            z for z in phone_timezone.time_zones_for_number(parsed) if z != phone_timezone.UNKNOWN_TIMEZONE
        )
    return PhoneInfo(
        e164=number,
        number_type=phonenumbers.number_type(parsed),
        time_zones=zones,
    )


def parse_address(channel: Channel, text: str) -> str:
    """The normalized address, or ValueError saying why it is not one."""
    if channel is Channel.EMAIL:
        address = normalize_email(text)
        if not is_valid_email(address):
            raise ValueError(f"{text!r} is not a valid email address")
        return address
    number = text.strip()
    if not is_e164(number):
        raise ValueError(f"{text!r} is not a valid phone number in E.164 form (+15555550100)")
    return number


def channel_and_address(text: str, channel: str | None = None) -> tuple[Channel, str]:
    """An address given without its channel: email if it has an @, else a phone number (ValueError if bad)."""
    chosen = Channel(channel) if channel else (Channel.EMAIL if "@" in text else Channel.SMS)
    return chosen, parse_address(chosen, text)
