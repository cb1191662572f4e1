"""Group commit: callers that write while a write is in flight wait together and share the next one.

One transaction (one fsync) then carries many callers' rows, so durability costs a fraction of a disk
flush per message however many messages are in flight. Each caller gets its own item's result, or the
exception the write raised.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    def __init__(self, write: Callable[[list[T]], Awaitable[Sequence[R]]]) -> None:
        """`write(items)` stores the items in one transaction and returns one result per item."""
        self._write = write
        self._pending: list[tuple[T, asyncio.Future[R] | None]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        """Returns once the item is written (with its result), or raises why it was not."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        self._kick()
        return await future

    async def submit_many(self, items: Sequence[T]) -> list[R]:
        """Several items, in the same batch (or batches), each with its result; the first failure raised."""
        loop = asyncio.get_running_loop()
        futures: list[asyncio.Future[R]] = []
        for item in items:
            futures.append(loop.create_future())
            self._pending.append((item, futures[-1]))
        self._kick()
        results = await asyncio.gather(*futures, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return results  # type: ignore[return-value]  # no exception among them

    def submit_nowait(self, item: T) -> None:
        """Written with the next batch; nobody waits (what fails is the write function's to report)."""
        self._pending.append((item, None))
        self._kick()

    def _kick(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                results = await self._write([item for item, _ in batch])
            except Exception as exc:  # every waiter hears why; the drain goes on with the next batch
                for _, future in batch:
                    if future is not None and not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results):
                if future is not None and not future.done():
                    future.set_result(result)

    async def flush(self) -> None:
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)
