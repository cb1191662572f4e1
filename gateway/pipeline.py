"""One path for every message: build the `Message`, fetch the recipients' facts in one batch, run the rules.

Doors (SMTP, HTTP, CLI) call these and translate the `Evaluation` into their own protocol's answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from .addresses import normalize_email, phone_info
from .config import Config
from .content.mime import parse_email
from .model import Category, Channel, EmailContent, EmailMessage, RecipientFacts, SmsMessage, Violation
from .policy import Evaluation, envelope_violations, evaluate_email, evaluate_sms
from .policy.sms import Cap, marketing_caps
from .store import Store


@dataclass(frozen=True)
class EmailResult:
    message: EmailMessage
    evaluation: Evaluation


@dataclass(frozen=True)
class SmsResult:
    message: SmsMessage
    evaluation: Evaluation
    facts: RecipientFacts
    caps: tuple[Cap, ...] = ()  # the caps on marketing texts to this number (none for other categories)


class Pipeline:
    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.store = store

    async def check_email(
        self, sender: str, raw: bytes, at: datetime, recipients: Sequence[str] | None = None
    ) -> EmailResult:
        """Judge one message; recipients default to its To and Cc addresses."""
        content = parse_email(raw)
        people = tuple(dict.fromkeys(normalize_email(r) for r in (recipients or content.to_addresses)))
        facts = await self.email_facts(sender, people, at)
        return self.judge_email(sender, content, people, facts, at)

    async def email_facts(
        self, sender: str, recipients: Sequence[str], at: datetime
    ) -> dict[str, RecipientFacts]:
        """What the store knows about these recipients for this sender, in one batched read."""
        return await self.store.facts(Channel.EMAIL, sender, recipients, at)

    def envelope(self, sender: str, facts: RecipientFacts, at: datetime) -> tuple[Violation, ...]:
        """The recipient rules alone, as the email engine asks them at RCPT TO (the message's category is
        the sender's until its content is read)."""
        settings = self.config.sender(sender).settings
        return envelope_violations(Channel.EMAIL, facts, settings.category, settings, self.config.policy, at)

    def judge_email(
        self,
        sender: str,
        content: EmailContent,
        recipients: Sequence[str],
        facts: Mapping[str, RecipientFacts],
        at: datetime,
    ) -> EmailResult:
        """The rules on a parsed message whose recipients' facts are already at hand (read at RCPT time)."""
        message = EmailMessage(sender=sender, recipients=tuple(recipients), content=content)
        settings = self.config.sender(sender).settings
        return EmailResult(message, evaluate_email(message, facts, settings, self.config.policy, at))

    def _caps(self, message: SmsMessage, at: datetime) -> tuple[Cap, ...]:
        phone = phone_info(message.to)
        if message.category is not Category.MARKETING or phone is None:
            return ()
        return marketing_caps(phone, self.config.policy, at)

    async def check_sms(
        self,
        sender: str,
        to: str,
        body: str,
        category: Category | None,
        at: datetime,
        from_number: str | None = None,
    ) -> SmsResult:
        settings = self.config.sender(sender).settings
        message = SmsMessage(
            sender=sender,
            to=to.strip(),
            body=body,
            category=category or settings.category,
            from_number=from_number,
        )
        caps = self._caps(message, at)
        history = max((cap.hours for cap in caps), default=0)  # most texts: no cap, no sends to read
        facts = await self.store.facts(Channel.SMS, sender, [message.to], at, history)
        if phone_info(message.to) is not None:  # Do-Not-Call and the Reassigned Numbers Database
            known = facts.get(message.to) or RecipientFacts(message.to)
            facts = {**facts, message.to: replace(known, dnc=await self.store.dnc_facts(message.to))}
        return SmsResult(
            message,
            evaluate_sms(message, facts, settings, self.config.policy, at),
            facts.get(message.to) or RecipientFacts(message.to),
            caps,
        )
