"""Marketing mail to several recipients: one upstream copy per recipient.

Each copy carries its recipient's own signed List-Unsubscribe token (and return path, and a DKIM signature
over them), so it cannot be one message for all. The client's transaction stays one SMTP transaction:
every recipient is taken at RCPT (the upstream is asked about each one there, in one probing transaction,
so its refusals reach the client recipient by recipient), and at the end of DATA the probe is rolled back
and the copies go, concurrently over the upstream pool (at most `upstream_pool_size` at once), each in a
transaction of its own that `Sending` sees through as any other: intent first, outcome after, a retry of
a copy already relayed not sent again.

The client hears one answer for them all:

- 250 when every copy was taken upstream (or had been, by an earlier attempt);
- 451 when some copies failed for now (the upstream away, a deferral, no time left): the client sends the
  message again, and the copies already taken are not sent twice (they are known by Message-ID and
  recipient, as any retry is; a message without a Message-ID cannot be told from a new one, and its
  copies go again);
- when some copies were taken and the others refused for good (none failed for now), 250 once a delivery
  status notification naming the refused recipients has gone upstream to the envelope sender (dsn.py),
  as an MTA does: a refusal would have the client bounce the message for the recipients who received it
  too, and a 451 would have it retry a refusal for days (451 if the notice cannot be sent);
- when every copy was refused for good, the upstream's refusal.

Copies are made (signed) only when one may go: at most `upstream_pool_size` at once in the whole process,
so memory does not grow with the recipients or the clients. The copies still waiting when `deadline`
passes (below the ten minutes a client waits after its final dot, RFC 5321 4.5.3.2.6) are not sent:
they count as failed for now.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from ..addresses import normalize_email
from ..model import Decision
from ..store import new_id
from . import dsn
from .actions import Action
from .holding import Held
from .outgoing import Outgoing
from .sending import Sending
from .upstream import Relay

log = logging.getLogger("gateway.mail")


@dataclass(frozen=True)
class Notice:
    """Who hears of copies refused for good, and what of the message the notice quotes (its head)."""

    sender: str  # the client's envelope sender ("" for the null sender)
    hostname: str
    original: bytes


@dataclass(frozen=True)
class Copy:
    address: str  # as the client wrote it at RCPT
    options: tuple[str, ...]  # its RCPT parameters
    mail_from: str  # the envelope sender upstream (its own return path when the gateway makes them)
    decision: Decision  # what it becomes if the upstream takes it
    message: Callable[[], Awaitable[bytes]]  # the copy's bytes, made when it is its turn


def per_recipient(
    message: Outgoing,
    recipients: Sequence[str],
    asked: Sequence[tuple[str, Sequence[str]]],
    first_id: str | None,
    decision: Callable[[str], Decision],
    return_path: Callable[[str], str | None],
    mail_from: str,
) -> list[Copy]:
    """The copies of `message`: one per recipient (normalized), each RCPT'd as the client wrote it (`asked`:
    the probe's recipients with their options), its decision's id fixed now (the first may have been
    named already by the probe's return path) so its own return path can name it."""
    written = {normalize_email(a): (a, tuple(o)) for a, o in asked}
    copies = []
    for n, recipient in enumerate(recipients):
        decision_id = first_id if n == 0 and first_id else new_id()
        address, options = written.get(recipient, (recipient, ()))

        def bytes_of(one: tuple[str, ...] = (recipient,)) -> Awaitable[bytes]:
            return message.for_recipients(one)

        copies.append(
            Copy(
                address,
                options,
                return_path(decision_id) or mail_from,
                replace(decision(recipient), id=decision_id),
                bytes_of,
            )
        )
    return copies


DEADLINE = 540.0  # seconds for all the copies of one message (a client waits 600 for its answer)
_LATE = Action(451, "4.4.7 Not sent in time: the other copies took too long")
_FAILED = Action(451, "4.3.0 Internal error, try again later")
_limits: dict[tuple[int, int], asyncio.Semaphore] = {}  # copies being made or sent, process-wide


async def fan_out(
    sending: Sending,
    relay: Relay,
    copies: Sequence[Copy],
    options: Sequence[str],
    *,
    hold: float,
    at_once: int,
    message_id: str,
    notice: Notice,
    deadline: float = DEADLINE,
) -> Action:
    loop = asyncio.get_running_loop()
    key = (id(loop), max(1, at_once))
    if key not in _limits:
        _limits.clear()  # another event loop's (a test's): of no use to this one
        _limits[key] = asyncio.Semaphore(key[1])
    limit = _limits[key]
    now, until = copies[0].decision.at, loop.time() + deadline

    async def one(copy: Copy) -> Action:
        async with limit:
            if loop.time() > until:
                return _LATE
            upstream = Held(relay, copy.mail_from, tuple(options), hold)
            upstream.recipients = [(copy.address, copy.options)]  # begun when it sends (MAIL, RCPT, DATA)
            return await sending.send(upstream, await copy.message(), [copy.decision], now, notice.sender)

    found = await asyncio.gather(*(one(c) for c in copies), return_exceptions=True)
    for answer in found:
        if isinstance(answer, BaseException) and not isinstance(answer, Exception):
            raise answer  # cancelled: the stop
    answers = [a if isinstance(a, Action) else _FAILED for a in found]
    refused = [(c, a) for c, a in zip(copies, answers) if a.code != 250]
    if not refused or len(refused) == len(answers) or any(a.code < 500 for _, a in refused):
        return combined(answers, bool(message_id), queued=sending.queue is not None)
    return await _reported(relay, copies, refused, notice, bool(message_id))


async def _reported(
    relay: Relay,
    copies: Sequence[Copy],
    refused: list[tuple[Copy, Action]],
    notice: Notice,
    retry_known: bool,
) -> Action:
    """Some copies taken, the others refused for good: a DSN to the sender for those (dsn.py), then 250."""
    taken, total = len(copies) - len(refused), len(copies)
    if not notice.sender:  # a notification about a notification is never sent (RFC 5321 4.5.5)
        log.warning("%d of %d copies refused for good; no notice to a null sender", len(refused), total)
        return Action(250, f"2.0.0 Accepted upstream: {taken} of {total} copies; {len(refused)} refused")
    data = dsn.report(
        hostname=notice.hostname,
        sender=notice.sender,
        failed=[(c.address, a.code, a.text) for c, a in refused],
        delivered=taken,
        original=notice.original,
        arrived=copies[0].decision.at,
    )
    sent = await dsn.send(relay, notice.sender, data)
    if sent is None:  # the upstream refuses the notice for good: the refusal, as before (no endless 451)
        return combined([a for _, a in refused] + [Action(250, "")] * taken, retry_known)
    if sent:
        log.info("%d of %d copies refused for good: reported to <%s>", len(refused), total, notice.sender)
        return Action(
            250,
            f"2.0.0 Accepted upstream: {taken} of {total} copies; {len(refused)} refused for good, "
            "reported to the sender in a delivery status notification",
        )
    again = (
        "the copies taken are not sent again"
        if retry_known
        else "without a Message-ID the copies taken go again"
    )
    return Action(
        451,
        f"4.3.0 {len(refused)} of {total} copies refused for good and the notice of it could not be sent "
        f"for now; try again: {again}",
    )


def combined(answers: Sequence[Action], retry_known: bool, queued: bool = False) -> Action:
    """One reply for the copies' answers (the module's docstring); `queued`: taken by the queue."""
    failed = [a for a in answers if a.code != 250]
    if not failed:
        how = "Queued" if queued else "Accepted upstream"
        return Action(250, f"2.0.0 {how}: {len(answers)} copies, one per recipient")
    taken = len(answers) - len(failed)
    if all(a.code >= 500 for a in failed):  # refused for good, nothing to retry
        why = " ".join(failed[0].text.split())[:160]
        if not taken:
            return failed[0]
        return Action(
            failed[0].code, f"{why} ({len(failed)} of {len(answers)} copies refused; {taken} delivered)"
        )
    again = (
        f"the {taken} taken are not sent again"
        if retry_known
        else "without a Message-ID the copies taken go again"
    )
    why = " ".join(failed[0].text.split())[:120]
    return Action(
        451, f"4.3.0 {len(failed)} of {len(answers)} copies not taken upstream ({why}); try again: {again}"
    )
