"""Run a bot until it finishes or its market data runs out (a replayed file ends).

On a recorded market the run cannot outlive the recording: once the file ends the replayed book
freezes, so a bot left running would wait for fills that never come. When the session says its
data has ended, the bot is stopped the way a user stop does it (orders cancelled, both venues
flattened), and the run completes with reason ``REPLAY_ENDED`` naming the file and the time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

from core.reasons import Reason

R = TypeVar("R")


class Stoppable(Protocol[R]):  # type: ignore[misc]
    async def run(self) -> R: ...

    def request_stop(self, *, flatten: bool, status: str = ..., reason: Reason = ..., detail: str = "") -> None: ...


async def run_until_data_ends(bot: Stoppable[R], data_end: Callable[[], Awaitable[str]] | None) -> R:
    """``bot.run()``; if ``data_end()`` (the session's end of data) returns first, stop the bot with
    its message and let it finish flattening."""
    if data_end is None:
        return await bot.run()
    run = asyncio.ensure_future(bot.run())
    ended = asyncio.ensure_future(data_end())
    try:
        await asyncio.wait({run, ended}, return_when=asyncio.FIRST_COMPLETED)
        if ended.done() and not run.done():
            bot.request_stop(flatten=True, status="COMPLETED", reason=Reason.REPLAY_ENDED, detail=ended.result())
        return await run
    finally:
        ended.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ended
