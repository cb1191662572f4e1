"""Plain values the gateway passes around: messages, facts, violations, decisions.

Frozen dataclasses with no I/O; every other layer speaks in these.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple

GLOBAL_SCOPE = "global"


class Channel(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"


class Category(enum.StrEnum):
    MARKETING = "marketing"  # CAN-SPAM "commercial electronic mail message"
    INFORMATIONAL = "informational"
    TRANSACTIONAL = "transactional"  # CAN-SPAM "transactional or relationship message"


class ConsentLevel(enum.IntEnum):
    """Consent levels, ordered: a higher level satisfies every lower requirement."""

    NONE = 0
    IMPLIED = 1
    EXPRESS = 2
    EXPRESS_WRITTEN = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> ConsentLevel:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(
                f"unknown consent level {text!r} (one of {', '.join(m.label for m in cls)})"
            ) from None


class ConsentBasis(enum.StrEnum):
    """What a consent record rests on, where the law gives it a term or conditions (docs/law.md)."""

    GIVEN = ""  # the person said yes (the level says how: express, express written)
    PURCHASE = "purchase"  # a purchase or transaction: an established business relationship
    INQUIRY = "inquiry"  # an inquiry or application about the seller's products
    SOFT_OPT_IN = "soft_opt_in"  # details taken during a sale or negotiation, a chance to refuse given
    PUBLISHED = "published"  # the address conspicuously published, without a statement refusing messages

    @classmethod
    def parse(cls, text: str) -> ConsentBasis:
        word = text.strip().lower().replace("-", "_")
        if word in ("", "given"):
            return cls.GIVEN
        try:
            return cls(word)
        except ValueError:
            names = ", ".join(["given", *(m.value for m in cls if m.value)])
            raise ValueError(f"unknown consent basis {text!r} (one of {names})") from None


class Reason(enum.StrEnum):
    UNSUBSCRIBE = "unsubscribe"
    STOP = "stop"
    COMPLAINT = "complaint"
    BOUNCE = "bounce"
    MANUAL = "manual"
    DNC = "dnc"
    LITIGATOR = "litigator"
    ERASED = "erased"


class Verdict(enum.StrEnum):
    RELAYED = "relayed"
    REJECTED = "rejected"
    DEFERRED = "deferred"
    FAILED = "failed"
    MONITORED = "monitored"
    UNKNOWN = "unknown"  # the gateway stopped while the upstream had the message: it may have gone
    RELAYING = "relaying"  # the intent, written before the upstream's final dot; replaced by the outcome


class Mode(enum.StrEnum):
    ENFORCE = "enforce"
    MONITOR = "monitor"


@dataclass(frozen=True, slots=True)
class Violation:
    code: str
    message: str
    recipient: str | None = None  # set for per-recipient findings (suppression, consent, address)

    def as_dict(self) -> dict[str, str]:
        out = {"code": self.code, "message": self.message}
        if self.recipient is not None:
            out["recipient"] = self.recipient
        return out


@dataclass(frozen=True, slots=True)
class Suppression:
    channel: Channel
    address_hash: str
    address: str | None  # None once erased: only the hash remains, and it still blocks
    scope: str  # GLOBAL_SCOPE or a sender name
    reason: Reason
    source: str
    created_at: datetime
    expires_at: datetime | None = None

    def active_at(self, at: datetime) -> bool:
        return self.expires_at is None or at < self.expires_at


@dataclass(frozen=True, slots=True)
class Consent:
    channel: Channel
    address_hash: str
    address: str | None
    scope: str
    level: ConsentLevel
    source: str
    evidence: str
    obtained_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    id: int | None = None
    basis: ConsentBasis = ConsentBasis.GIVEN

    def level_at(self, at: datetime) -> ConsentLevel:
        """A revoked, expired or not-yet-obtained consent counts as none."""
        if self.revoked_at is not None and self.revoked_at <= at:
            return ConsentLevel.NONE
        if self.expires_at is not None and self.expires_at <= at:
            return ConsentLevel.NONE
        if self.obtained_at > at:
            return ConsentLevel.NONE
        if self.basis is not ConsentBasis.GIVEN:  # a relationship or a publication implies consent, no more
            return min(self.level, ConsentLevel.IMPLIED)
        return self.level


@dataclass(frozen=True, slots=True)
class DncFacts:
    """Do-Not-Call: the lists a number is on, and the date of each list's copy the gateway holds."""

    listed: tuple[str, ...] = ()  # "national", or a state's code ("TX")
    copies: tuple[tuple[str, date], ...] = ()  # every list imported, with the registry's as-of date
    disconnected_since: tuple[date, ...] = ()  # the Reassigned Numbers Database said yes for these dates


@dataclass(frozen=True, slots=True)
class RecipientFacts:
    """What the store knows about one recipient, for one sender, at one moment."""

    address: str  # normalized (lower-case email, E.164 number); may be invalid
    suppressions: tuple[Suppression, ...] = ()
    consents: tuple[Consent, ...] = ()
    recent_sends: tuple[datetime, ...] = ()  # marketing sends to this address by this sender, newest first
    dnc: DncFacts | None = None  # a number's Do-Not-Call listings (read for marketing texts only)

    def consent_level(self, at: datetime) -> ConsentLevel:
        return max((c.level_at(at) for c in self.consents), default=ConsentLevel.NONE)

    def active_suppressions(self, at: datetime) -> tuple[Suppression, ...]:
        return tuple(s for s in self.suppressions if s.active_at(at))


class Link(NamedTuple):  # a tuple: a newsletter has hundreds, and a frozen dataclass is slow to make
    url: str
    text: str  # the visible anchor text (HTML) or the surrounding line (plain text)


@dataclass(frozen=True, slots=True)
class EmailContent:
    """What a reader of the message sees, plus the headers the rules need."""

    subject: str
    from_addresses: tuple[str, ...]
    sender_address: str | None
    reply_to: tuple[str, ...]
    to_addresses: tuple[str, ...]
    in_reply_to: str | None
    references: str | None
    list_unsubscribe: str | None
    list_unsubscribe_post: str | None
    visible_text: str
    links: tuple[Link, ...]
    folded_text: str  # visible_text lower-cased, what the rules search
    declared_explicit: bool
    size: int
    defects: tuple[str, ...] = ()
    message_id: str = ""  # the Message-ID's id-left@id-right, without angle brackets; "" when none
    campaign: tuple[tuple[str, str], ...] = ()  # From, List-Id and sending tools' campaign fields, decoded


@dataclass(frozen=True, slots=True)
class EmailMessage:
    sender: str
    recipients: tuple[str, ...]
    content: EmailContent


@dataclass(frozen=True, slots=True)
class SmsMessage:
    sender: str
    to: str
    body: str
    category: Category
    from_number: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    id: str
    at: datetime
    channel: Channel
    sender: str
    recipient: str
    category: Category
    verdict: Verdict
    violations: tuple[Violation, ...] = ()
    excerpt: str = ""
    size: int = 0
    upstream: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    message_id: str = ""  # email: the message's Message-ID (for retries of what was relayed)
    digest: str = ""  # email: of its subject and body, so a reused Message-ID is not taken for a retry
    origin: str = ""  # sms: the From number (or the messaging service's sid)
    detail: str = (
        ""  # sms: what Twilio's Message resource tells beyond the columns, as JSON (sms/messages.py)
    )
