"""Recipient addresses: normalization, hashing, validity, and what a phone number tells us.

Emails are compared lower-case; phone numbers in strict E.164. The hash (SHA-256 of the normalized
form) is what the store indexes, so a suppression survives erasure of the plain address.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

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
_E164_SHAPE = re.compile(r"\+[1-9][0-9]{6,14}")


def normalize_email(address: str) -> str:
    return address.strip().strip("<>").strip().lower()


def is_valid_email(address: str) -> bool:
    """RFC 5321 mailbox with a dotted domain; non-ASCII allowed (SMTPUTF8, IDN)."""
    if len(address) > 254 or not _EMAIL_RE.fullmatch(address):
        return False
    local, _, domain = address.rpartition("@")
    return len(local) <= 64 and not domain.rsplit(".", 1)[-1].isdigit()


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
    time_zones: tuple[str, ...]  # IANA zones the number may be in; empty when unknown
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


@lru_cache(maxsize=50_000)
def phone_info(number: str) -> PhoneInfo | None:
    """Strict E.164: a valid number whose input is exactly its own E.164 form, else None.

    Cached: parsing and zone lookup are the dear part of a text's check, and numbers recur across messages.
    """
    parsed = _parse_e164(number)
    if parsed is None:
        return None
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
