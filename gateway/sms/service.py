"""The SMS door's one path, whichever API a text came through: judge, then refuse, hold or send.

    facts (one read) -> rules -> refused (422 / Twilio 400)
                              -> held until the calling window opens or the client's send_at (202)
                              -> a place under the frequency caps, claimed atomically in the store
                                 -> provider -> sent (201) | provider failed (502/503, place given back)

Every text gets one decision (relayed, rejected, deferred, failed, monitored), durable before the client
hears that a text was sent or held. A held text keeps its decision id and is judged again when it goes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from ..addresses import phone_info
from ..config import Config, Sender
from ..decisions import DecisionLog
from ..model import Category, Channel, Decision, SmsMessage, Verdict, Violation
from ..pipeline import Pipeline
from ..policy import evaluate_sms
from ..policy.codes import FREQUENCY_CAP, QUIET_HOURS
from ..policy.disposition import Fate
from ..policy.sms import next_allowed_time
from ..store import Store, StoreError, new_id
from ..store.base import ClaimResult, DeferredText, Fields, SendClaim, field_text
from ..store.group import GroupCommit
from .messages import detail, held_sid
from .providers import Provider, ProviderRefused, ProviderUnavailable, Sent

log = logging.getLogger("gateway.sms")

MAX_BODY = 1600  # characters, as Twilio's limit for one message
_EXCERPT = 120


class SentButNotRecorded(StoreError):
    """The provider took the text, then the store failed: the text must not be sent again."""


@dataclass(frozen=True)
class SmsRequest:
    sender: str
    to: str
    body: str
    category: Category | None = None  # None: the sender's own category
    from_number: str | None = None  # None: the sender's first sms_from number
    fields: Fields = field(default_factory=dict)  # further provider fields, passed on untouched
    send_at: datetime | None = None  # the client's own schedule
    api: str = "v1"


@dataclass(frozen=True)
class SmsOutcome:
    id: str  # the decision's id
    verdict: Verdict
    violations: tuple[Violation, ...] = ()
    fields: Fields = field(default_factory=dict)  # what went (or would go) to the provider
    sent: Sent | None = None
    send_at: datetime | None = None  # when held
    failure: ProviderRefused | ProviderUnavailable | None = None

    @property
    def status(self) -> str:
        """What the API reports: a monitored text was relayed."""
        return Verdict.RELAYED.value if self.verdict is Verdict.MONITORED else self.verdict.value


class SmsService:
    def __init__(
        self, config: Config, store: Store, decisions: DecisionLog, provider: Provider, metrics=None
    ) -> None:
        self.config, self.store, self.decisions, self.provider = config, store, decisions, provider
        self.metrics = metrics
        self.pipeline = Pipeline(config, store)
        self._claims: GroupCommit[SendClaim, ClaimResult] = GroupCommit(store.claim_sends)

    # -- fields ------------------------------------------------------------------------------------------

    @staticmethod
    def provider_fields(request: SmsRequest, sender: Sender) -> Fields:
        """Twilio's Messages fields for this text: To, From (or the sender's messaging service), Body, then
        the client's other fields as given."""
        fields: Fields = {"To": request.to.strip(), "Body": request.body}
        from_number = request.from_number or (sender.sms_from[0] if sender.sms_from else None)
        if from_number:
            fields["From"] = from_number
        if sender.messaging_service_sid and "MessagingServiceSid" not in request.fields:
            fields["MessagingServiceSid"] = sender.messaging_service_sid
        for key, value in request.fields.items():
            fields.setdefault(key, value)
        return fields

    # -- one text ---------------------------------------------------------------------------------------

    async def send(self, request: SmsRequest, now: datetime | None = None) -> SmsOutcome:
        """Judge and act on a text from a client. Raises StoreError when the facts cannot be read or a
        hold cannot be stored (the door answers 503: never a pass without the facts)."""
        return await self._process(request, now or datetime.now(UTC), new_id(), held=None)

    async def send_held(self, text: DeferredText, now: datetime | None = None) -> SmsOutcome:
        """A held text whose time has come: judged again (suppressions and consent as they are now)."""
        fields = dict(text.fields)
        request = SmsRequest(
            sender=text.sender,
            to=text.recipient,
            body=text.body,
            category=text.category,
            from_number=text.from_number,
            fields=fields,
            api=text.api,
        )
        return await self._process(request, now or datetime.now(UTC), text.id, held=text)

    async def _process(
        self, request: SmsRequest, now: datetime, decision_id: str, held: DeferredText | None
    ) -> SmsOutcome:
        sender = self.config.sender(request.sender)
        category = request.category or sender.settings.category
        fields = self.provider_fields(request, sender)
        at = request.send_at if request.send_at and request.send_at > now else now
        result = await self.pipeline.check_sms(
            request.sender, request.to, request.body, category, at, field_text(fields, "From")
        )
        message, violations = result.message, result.evaluation.violations
        codes = {v.code for v in violations}
        phone = phone_info(message.to)
        disposition = self.config.disposition(request.sender)
        fate = disposition.fate(violations)

        if codes == {QUIET_HOURS.name} and sender.defer_quiet_hours and phone is not None:
            opens = next_allowed_time(phone, self.config.policy, at)
            if opens is not None:
                return await self._hold(message, fields, request, decision_id, now, opens, held)
        if fate is Fate.REFUSE:
            return await self._finish(message, decision_id, now, Verdict.REJECTED, violations, fields, held)
        if at > now:
            return await self._hold(message, fields, request, decision_id, now, at, held)

        claim: ClaimResult | None = None
        count: tuple[SendClaim, ...] = ()
        if message.category is Category.MARKETING and phone is not None:
            caps = tuple((c.limit, c.hours) for c in result.caps)
            sending = SendClaim(
                Channel.SMS,
                message.to,
                message.sender,
                message.category,
                now,
                caps,
                disposition.refuses(FREQUENCY_CAP.name),
            )
            if not caps:
                count = (sending,)  # no cap to race for: counted with the decision, in its commit
            else:
                claim = await self._claims.submit(sending)
                if claim.send_id is None:  # another text took the last place since the facts were read
                    facts = {message.to: replace(result.facts, recent_sends=claim.recent)}
                    judged_at = max((now, *claim.recent))  # another process's clock may run a little ahead
                    again = tuple(
                        v
                        for v in evaluate_sms(
                            message, facts, sender.settings, self.config.policy, judged_at
                        ).violations
                        if v.code == FREQUENCY_CAP.name
                    )
                    again = again or (
                        FREQUENCY_CAP.violation("the cap on marketing texts to this number is reached"),
                    )
                    return await self._finish(
                        message, decision_id, now, Verdict.REJECTED, again, fields, held
                    )
        started = time.perf_counter()
        try:
            sent = await self.provider.send(message.sender, message.category, fields)
        except (ProviderRefused, ProviderUnavailable) as exc:
            self._observe(started, "refused" if isinstance(exc, ProviderRefused) else "unavailable")
            return await self._failed(message, decision_id, now, violations, fields, held, claim, exc)
        self._observe(started, "sent")
        verdict = Verdict.MONITORED if fate is Fate.MONITOR else Verdict.RELAYED
        try:
            return await self._finish(
                message, decision_id, now, verdict, violations, fields, held, sent=sent, sends=count
            )
        except StoreError as exc:
            if sent.outbox is None:  # the provider has it: say so, so that nobody sends it again
                raise SentButNotRecorded(f"text {decision_id} went to {self.provider.name}: {exc}") from exc
            # an outbox text lives only in the store: not stored means not sent
            return await self._failed(
                message,
                decision_id,
                now,
                violations,
                fields,
                held,
                claim,
                ProviderUnavailable(f"outbox: {exc}"),
            )

    def _observe(self, started: float, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.provider_seconds.labels(self.provider.name, outcome).observe(
                time.perf_counter() - started
            )

    async def _failed(
        self,
        message: SmsMessage,
        decision_id: str,
        now: datetime,
        violations: tuple[Violation, ...],
        fields: Fields,
        held: DeferredText | None,
        claim: ClaimResult | None,
        exc: ProviderRefused | ProviderUnavailable,
    ) -> SmsOutcome:
        if claim is not None and claim.send_id is not None:
            await self.store.release_send(claim.send_id)
        log.warning("provider %s failed for text %s: %s", self.provider.name, decision_id, exc)
        if held is not None and isinstance(exc, ProviderUnavailable) and held.attempts <= len(RETRY_DELAYS):
            retry_at = (
                now + RETRY_DELAYS[held.attempts - 1]
            )  # held: the provider's outage is not the client's
            await self.store.finish_deferred(held.id, "pending", str(exc), send_at=retry_at)
            return SmsOutcome(
                decision_id, Verdict.DEFERRED, violations, fields, send_at=retry_at, failure=exc
            )
        return await self._finish(
            message, decision_id, now, Verdict.FAILED, violations, fields, held, failure=exc
        )

    async def _hold(
        self,
        message: SmsMessage,
        fields: Fields,
        request: SmsRequest,
        decision_id: str,
        now: datetime,
        send_at: datetime,
        held: DeferredText | None,
    ) -> SmsOutcome:
        if held is not None:  # judged again and still early (a rule changed, or a clock): hold it longer
            await self.store.finish_deferred(held.id, "pending", "window not open yet", send_at=send_at)
            return SmsOutcome(decision_id, Verdict.DEFERRED, fields=fields, send_at=send_at)
        text = DeferredText(
            id=decision_id,
            created_at=now,
            send_at=send_at,
            sender=message.sender,
            recipient=message.to,
            from_number=field_text(fields, "From"),
            body=message.body,
            category=message.category,
            fields=_extra(fields),
            api=request.api,
        )
        await self.store.add_deferred(text)
        decision = self._decision(
            message, decision_id, now, Verdict.DEFERRED, (), f"held until {send_at.isoformat()}"
        )
        await self.decisions.record(
            [
                replace(
                    decision,
                    message_id=held_sid(decision_id),
                    origin=text.from_number or "",
                    detail=detail(fields, "scheduled", now),
                )
            ]
        )
        return SmsOutcome(decision_id, Verdict.DEFERRED, fields=fields, send_at=send_at)

    async def _finish(
        self,
        message: SmsMessage,
        decision_id: str,
        now: datetime,
        verdict: Verdict,
        violations: tuple[Violation, ...],
        fields: Fields,
        held: DeferredText | None,
        *,
        sent: Sent | None = None,
        failure: Exception | None = None,
        sends: tuple[SendClaim, ...] = (),
    ) -> SmsOutcome:
        upstream = sent.provider_id if sent else str(failure) if failure else ""
        decision = self._decision(message, decision_id, now, verdict, violations, upstream)
        if held is not None or sent is not None:  # a text its client was given a sid for
            decision = replace(
                decision,
                message_id=held_sid(decision_id) if held is not None else upstream,
                origin=field_text(fields, "From") or "",
                detail=detail(
                    fields,
                    sent.status if sent else verdict.value,
                    held.created_at if held is not None else now,
                    failure.code if isinstance(failure, ProviderRefused) else None,
                    str(failure) if failure else None,
                ),
            )
        if verdict in (Verdict.REJECTED, Verdict.FAILED) and held is None:
            self.decisions.record_soon([decision])  # acknowledges nothing: nobody waits for the disk
        else:
            # a text a remote provider took is in its records too: its decision need not wait for the disk
            await self.decisions.record(
                [decision],
                replace=held is not None,
                outbox=(sent.outbox,) if sent and sent.outbox else (),
                sends=sends,
                durable=not (sent and sent.outbox is None),
            )
        if held is not None:
            state = {Verdict.REJECTED: "rejected", Verdict.FAILED: "failed"}.get(verdict, "sent")
            await self.store.finish_deferred(held.id, state, upstream if failure else "")
        return SmsOutcome(
            decision_id,
            verdict,
            violations,
            fields,
            sent=sent,
            failure=failure if isinstance(failure, (ProviderRefused, ProviderUnavailable)) else None,
        )

    async def give_up(self, text: DeferredText, now: datetime, reason: str) -> None:
        """A held text that will not be sent: failed, with why."""
        message = SmsMessage(
            sender=text.sender,
            to=text.recipient,
            body=text.body,
            category=text.category,
            from_number=text.from_number,
        )
        await self.store.finish_deferred(text.id, "failed", reason)
        decision = self._decision(message, text.id, now, Verdict.FAILED, (), reason)
        fields: Fields = {"Body": text.body, **text.fields}
        await self.decisions.record(
            [
                replace(
                    decision,
                    message_id=held_sid(text.id),
                    origin=text.from_number or "",
                    detail=detail(fields, "failed", text.created_at, error_message=reason),
                )
            ],
            replace=True,
        )

    @staticmethod
    def _decision(
        message: SmsMessage,
        decision_id: str,
        now: datetime,
        verdict: Verdict,
        violations: tuple[Violation, ...],
        upstream: str,
    ) -> Decision:
        return Decision(
            id=decision_id,
            at=now,
            channel=Channel.SMS,
            sender=message.sender,
            recipient=message.to,
            category=message.category,
            verdict=verdict,
            violations=violations,
            excerpt=message.body[:_EXCERPT],
            size=len(message.body.encode("utf-8")),
            upstream=upstream,
        )

    async def close(self) -> None:
        await self._claims.flush()


def _extra(fields: Fields) -> Fields:
    """The fields a held text keeps beside its own columns (To, From and Body are stored as such)."""
    return {k: v for k, v in fields.items() if k not in ("To", "From", "Body")}


RETRY_DELAYS = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1))
