"""Clocks: real time for live and paper trading, virtual time for accelerated simulation.

Bots never read ``time.time()`` or sleep on their own; they use ``asyncio`` timing (``sleep``,
``wait_for``) and ``Clock.now()``. A ``VirtualClock`` runs the same coroutines on an event loop
whose time jumps straight to the next scheduled timer whenever nothing is ready, so a simulated
day of a bot that mostly waits takes seconds, while ordering and timeouts behave exactly as in
real time.

Virtual time only makes sense for in-process venues (the simulator). Work handed to a thread
(``asyncio.to_thread``) freezes virtual time until it completes, so a slow disk write never lets
simulated timers fire early; real sockets are not supported on a virtual loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import selectors
import time
from asyncio import format_helpers
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

DEFAULT_VIRTUAL_START = datetime(2026, 1, 5, tzinfo=UTC).timestamp()
POLL_EVERY = 16  # loop turns between two polls of the real selector (the self-pipe)
_PURGE_MIN = 100  # asyncio.base_events: purge cancelled timers when there are this many
_PURGE_FRACTION = 0.5  # ... and this share of them is cancelled
_MAX_TIMEOUT = 24 * 3600  # asyncio.base_events.MAXIMUM_SELECT_TIMEOUT


class Clock(Protocol):
    """What bots and venues need to know about time."""

    virtual: bool

    def now(self) -> float:
        """Current epoch seconds (virtual or real)."""
        ...

    async def sleep(self, seconds: float) -> None: ...

    def run(self, main: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run ``main()`` to completion on an event loop that keeps this clock's time."""
        ...


class RealClock:
    virtual = False

    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def run(self, main: Callable[[], Coroutine[Any, Any, T]]) -> T:
        return asyncio.run(main())


class _VirtualSelector(selectors.BaseSelector):
    """A selector that, instead of blocking until the next timer, advances virtual time to it."""

    def __init__(self, loop: VirtualTimeEventLoop) -> None:
        self._real = selectors.DefaultSelector()
        self._loop = loop
        self._skipped = 0

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def get_map(self) -> Any:
        return self._real.get_map()

    def get_key(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.get_key(fileobj)

    def close(self) -> None:
        self._real.close()

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if not self._loop.threads_in_flight and timeout is not None:
            # The only file of a virtual loop is its self-pipe (signals, other threads'
            # call_soon_threadsafe, whose callbacks are queued already): polling it is a syscall per
            # loop turn. Poll it every few turns, whether virtual time stands still or moves on.
            self._skipped += 1
            if self._skipped < POLL_EVERY:
                if timeout > 0:
                    self._loop.advance_for(timeout)
                return []
        self._skipped = 0
        ready = self._real.select(0)
        if ready or (timeout is not None and timeout <= 0):
            return ready
        if timeout is None:  # no timer at all: only another thread can wake us
            return self._real.select(None)
        if self._loop.threads_in_flight:  # keep virtual time still while a thread works
            return self._real.select(min(timeout, 0.05))
        self._loop.advance_for(timeout)
        return []


class _Timer(asyncio.TimerHandle):
    """A timer that fires after every timer due at the same instant and scheduled before it.

    asyncio's timer heap orders by time only, so timers due at one instant (a fill and an order
    update published together) fire in an order that depends on every other timer in the heap:
    a change that adds or removes an unrelated timer would reorder them. Virtual time is exact, so
    such ties are common; first scheduled, first fired keeps a run's order of events its own."""

    __slots__ = ("_key",)  # (when, the loop's count of timers when it was scheduled)

    def __lt__(self, other: object) -> bool:
        # one tuple comparison in C (time, then order scheduled): the heap compares timers ~4 times each
        try:
            return self._key < other._key  # type: ignore[attr-defined, no-any-return]
        except AttributeError:
            return super().__lt__(other)  # type: ignore[operator]


_new_timer = object.__new__


def _report(h: asyncio.Handle, exc: BaseException) -> None:
    """What ``Handle._run`` does with a callback's exception."""
    cb = format_helpers._format_callback_source(h._callback, h._args)  # type: ignore[attr-defined]
    context = {"message": f"Exception in callback {cb}", "exception": exc, "handle": h}
    if h._source_traceback:  # type: ignore[attr-defined]
        context["source_traceback"] = h._source_traceback  # type: ignore[attr-defined]
    h._loop.call_exception_handler(context)  # type: ignore[attr-defined]


class VirtualTimeEventLoop(asyncio.SelectorEventLoop):
    """An asyncio loop whose ``time()`` is virtual and jumps over idle gaps."""

    def __init__(self) -> None:
        self._virtual_now = 0.0
        self._next_when: float | None = None  # the timer the next idle jump goes to
        self._timers = 0
        self.threads_in_flight = 0
        super().__init__(selector=_VirtualSelector(self))

    def call_at(self, when: float, callback: Callable[..., object], *args: Any,  # type: ignore[override]
                context: Any = None) -> asyncio.TimerHandle:
        if self._debug:
            return super().call_at(when, callback, *args, context=context)
        if when is None:
            raise TypeError("when cannot be None")
        self._check_closed()  # type: ignore[attr-defined]
        # TimerHandle.__init__'s fields, set here (not debug: no traceback): two Python calls less a timer
        timer = _new_timer(_Timer)
        timer._context = contextvars.copy_context() if context is None else context  # type: ignore[attr-defined]
        timer._loop = self  # type: ignore[attr-defined]
        timer._callback = callback  # type: ignore[attr-defined]
        timer._args = args  # type: ignore[attr-defined]
        timer._cancelled = False  # type: ignore[attr-defined]
        timer._repr = None  # type: ignore[attr-defined]
        timer._source_traceback = None  # type: ignore[attr-defined]
        timer._when = when  # type: ignore[attr-defined]
        self._timers += 1
        timer._key = (when, self._timers)
        heapq.heappush(self._scheduled, timer)  # type: ignore[attr-defined]
        timer._scheduled = True  # type: ignore[attr-defined]
        return timer

    def advance_for(self, timeout: float) -> None:
        """An idle jump: straight onto the next timer's time (not ``now + (when - now)``, which can
        miss it by a rounding step and make virtual time depend on which timers came between)."""
        when = self._next_when
        if when is not None and when - self._virtual_now == timeout:
            self._virtual_now = when
        else:
            self._virtual_now += timeout

    def time(self) -> float:
        return self._virtual_now

    def advance(self, seconds: float) -> None:
        self._virtual_now += seconds

    def _run_once(self) -> None:
        """One loop turn, in ``BaseEventLoop._run_once``'s order (drop cancelled timers, poll, move
        due timers to the ready queue, run the callbacks that were ready at the start of the turn),
        without its debug and slow-callback bookkeeping: a simulated bot day is millions of turns."""
        if self._debug:
            return super()._run_once()  # type: ignore[misc]
        scheduled = self._scheduled  # type: ignore[attr-defined]
        n = len(scheduled)
        if n > _PURGE_MIN and self._timer_cancelled_count / n > _PURGE_FRACTION:  # type: ignore[attr-defined]
            kept = []
            for h in scheduled:
                if h._cancelled:
                    h._scheduled = False
                else:
                    kept.append(h)
            heapq.heapify(kept)
            self._scheduled = scheduled = kept  # type: ignore[attr-defined]
            self._timer_cancelled_count = 0  # type: ignore[attr-defined]
        else:
            while scheduled and scheduled[0]._cancelled:
                self._timer_cancelled_count -= 1  # type: ignore[attr-defined]
                heapq.heappop(scheduled)._scheduled = False
        ready = self._ready  # type: ignore[attr-defined]
        if ready or self._stopping:  # type: ignore[attr-defined]
            timeout: float | None = 0
        elif scheduled:
            self._next_when = when = scheduled[0]._when
            timeout = min(max(0.0, when - self._virtual_now), _MAX_TIMEOUT)
        else:
            timeout = None
        sel = self._selector  # type: ignore[attr-defined]
        if not self.threads_in_flight and timeout is not None and sel._skipped + 1 < POLL_EVERY:
            sel._skipped += 1  # _VirtualSelector.select's usual turn, without the call
            if timeout > 0:
                self.advance_for(timeout)
        else:
            events = sel.select(timeout)
            if events:
                self._process_events(events)  # type: ignore[attr-defined]
        end = self._virtual_now + self._clock_resolution  # type: ignore[attr-defined]
        while scheduled and scheduled[0]._when < end:
            h = heapq.heappop(scheduled)
            h._scheduled = False
            ready.append(h)
        for _ in range(len(ready)):
            h = ready.popleft()
            if not h._cancelled:  # Handle._run, inline: one Python call less per callback
                try:
                    h._context.run(h._callback, *h._args)
                except (SystemExit, KeyboardInterrupt):
                    raise
                except BaseException as exc:
                    _report(h, exc)

    def run_in_executor(self, executor: Any, func: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        self.threads_in_flight += 1
        fut = super().run_in_executor(executor, func, *args)

        def done(_: asyncio.Future[T]) -> None:
            self.threads_in_flight -= 1

        fut.add_done_callback(done)
        return fut


class VirtualClock:
    """Accelerated time starting at ``start`` (epoch seconds); deterministic for a given run."""

    virtual = True

    def __init__(self, start: float = DEFAULT_VIRTUAL_START) -> None:
        self.start = start
        self._loop: VirtualTimeEventLoop | None = None
        self._last = 0.0

    def now(self) -> float:
        loop = self._loop  # its fields, not is_closed() and time(): asked a few times per market event
        if loop is not None and not loop._closed:  # type: ignore[attr-defined]
            return self.start + loop._virtual_now
        return self.start + self._last

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def run(self, main: Callable[[], Coroutine[Any, Any, T]]) -> T:
        loop = VirtualTimeEventLoop()
        loop.advance(self._last)
        self._loop = loop
        try:
            with asyncio.Runner(loop_factory=lambda: loop) as runner:
                return runner.run(main())
        finally:
            self._last = loop.time()
            self._loop = None


def make_clock(virtual: bool, start: float | None = None) -> RealClock | VirtualClock:
    if virtual:
        return VirtualClock(DEFAULT_VIRTUAL_START if start is None else start)
    return RealClock()

