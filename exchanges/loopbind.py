"""Which event loop a venue's connections belong to, so a venue survives ``Clock.run`` phases.

A flow runs its phases (pre-trade checks, the bot, closing the venues) each through
``Clock.run``, and every call runs on a new event loop that is closed when the phase ends.
Sockets, HTTP sessions and locks made on one loop are dead on the next: an adapter holding them
asks ``LoopBinding.moved()`` before using them and, when it says so, forgets them and connects
again (one more login) instead of failing with "Event loop is closed".
"""

from __future__ import annotations

import asyncio


class LoopBinding:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None

    def moved(self) -> bool:
        """True when called on a new loop and the loop of the previous call has closed since (its
        connections died with it); the current loop is remembered either way."""
        loop = asyncio.get_running_loop()
        old, self._loop = self._loop, loop
        return old is not None and old is not loop and old.is_closed()


def forget_session(session: object) -> None:
    """Let go of an aiohttp session whose loop has closed: it cannot be closed any more (nothing runs
    on that loop), so it is detached and its connector marked closed (its sockets died with the
    loop); otherwise its finalizer logs "Unclosed client session" at ERROR after a run that went
    well, or after a refusal."""
    closed = getattr(session, "closed", True)
    if session is None or closed:
        return
    connector = getattr(session, "connector", None)
    session.detach()  # type: ignore[attr-defined]
    if connector is not None:
        connector._close()  # on a closed loop this only marks it closed
