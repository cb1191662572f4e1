"""An upstream transaction that does not keep a pooled connection for a slow client.

A client transaction holds an upstream connection from its first accepted recipient to the end of DATA.
A client that is slow between its commands, or trickles its DATA, would keep that connection (a slot of
the pool every sender shares) as long as it liked, and twenty such clients would starve every other
sender. `Held` gives the connection back (RSET: free for others at once) once it has been held for
`smtp.upstream_hold_timeout` seconds while the client was the one being waited for, and takes one again
when it next needs one: MAIL and every recipient accepted so far are sent anew, then the command at hand.
If the upstream then no longer takes the sender or one of those recipients, the client transaction is
lost as it is when the upstream goes away (451: the client sends it all again); the client already had
250 for them, so a new refusal cannot be passed on recipient by recipient.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence

from ..addresses import normalize_email
from .upstream import Relay, Reply, Transaction, UpstreamRefused, UpstreamUnavailable

log = logging.getLogger("gateway.mail")

_LETTING_GO: set[asyncio.Task] = set()  # RSETs of connections given back, kept until they are done


async def held(relay: Relay, mail_from: str, options: Sequence[str], hold: float) -> Held:
    """An upstream transaction begun now (UpstreamRefused / UpstreamUnavailable as `Relay.begin`)."""
    held = Held(relay, mail_from, tuple(options), hold)
    held._take(await relay.begin(mail_from, options))
    return held


class Held:
    def __init__(self, relay: Relay, mail_from: str, options: tuple[str, ...], hold: float) -> None:
        self.relay, self.mail_from, self.options, self.hold = relay, mail_from, options, hold
        self.recipients: list[tuple[str, tuple[str, ...]]] = []  # accepted upstream, as they were asked
        self.let_go = 0  # how many times the connection was given back (for the tests and the log)
        self._tx: Transaction | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._calling = False

    # -- the Transaction interface ------------------------------------------------------------------------

    async def add_recipient(self, address: str, options: Sequence[str]) -> Reply:
        tx = await self._again()
        reply = await self._call(tx.add_recipient(address, options))
        if reply.ok:
            self.recipients.append((address, tuple(options)))
        return reply

    async def send(self, data: bytes) -> Reply:
        tx = await self._again()
        self._stop_timer()  # the client is no longer the one being waited for
        self._tx = None  # the upstream's answer finishes it, whatever it is
        return await tx.send(data)

    async def abort(self) -> None:
        self._stop_timer()
        tx, self._tx = self._tx, None
        if tx is not None:
            await tx.abort()

    async def narrow(self, keep: set[str]) -> None:
        """Only the recipients in `keep` (normalized addresses) from now on: the transaction so far is
        rolled back, and begun anew with them when it is next needed (`send`)."""
        self.recipients = [(a, o) for a, o in self.recipients if normalize_email(a) in keep]
        await self.abort()

    # -- holding and letting go ----------------------------------------------------------------------------

    def _take(self, tx: Transaction) -> None:
        self._tx = tx
        self._timer = asyncio.get_running_loop().call_later(self.hold, self._give_back)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _give_back(self) -> None:
        self._timer = None
        if self._tx is None:
            return
        if self._calling:  # the upstream is the one being waited for: look again once it has answered
            self._timer = asyncio.get_running_loop().call_later(1.0, self._give_back)
            return
        tx, self._tx = self._tx, None
        self.let_go += 1
        log.info("upstream connection given back after %.0f s held for a slow client", self.hold)
        task = asyncio.get_running_loop().create_task(_quietly(tx.abort()))
        _LETTING_GO.add(task)
        task.add_done_callback(_LETTING_GO.discard)

    async def _again(self) -> Transaction:
        """The upstream transaction, begun anew with every recipient so far if it was given back."""
        if self._tx is not None:
            return self._tx
        try:
            tx = await self.relay.begin(self.mail_from, self.options)
        except UpstreamRefused as exc:
            raise UpstreamUnavailable(f"the upstream no longer takes the sender: {exc}") from None
        self._take(tx)
        for address, options in self.recipients:
            reply = await self._call(tx.add_recipient(address, options))
            if not reply.ok:
                await self.abort()
                raise UpstreamUnavailable(f"the upstream no longer takes <{address}>: {reply.line()}")
        return tx

    async def _call(self, call: Awaitable[Reply]) -> Reply:
        self._calling = True
        try:
            return await call
        except UpstreamUnavailable:
            self._stop_timer()
            self._tx = None  # the relay has closed it and freed its slot
            raise
        finally:
            self._calling = False


async def _quietly(call: Awaitable[None]) -> None:
    try:
        await call
    except Exception as exc:  # the connection is closed and its slot freed whatever went wrong
        log.debug("while giving an upstream connection back: %s", exc)
