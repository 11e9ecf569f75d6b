"""``GuardedRecorder``: when the journal cannot record, the bot stops instead of looping on the error.

A bot that cannot record what it does cannot prove its position afterwards, so it must stop adding
risk. Without a guard, the first failed write (disk full: ``ENOSPC``, ``EFBIG``) raised from inside
the bot's stream handlers and its stop path, so the stop itself failed, the same error was logged
again and again and the run hung until killed, positions on.

The guard delegates to the real recorder until the first ``RecordError`` or ``OSError``. Then it
logs one clear error, calls ``on_failure(detail)`` once (the runner stops: cancel everything,
flatten with reduce-only orders, finish FAILED), and from then on takes every record without
raising: each order, fill and position of the stop and flatten is logged instead ("recording what
it can": the log lines reach the Prefect UI even when the disk is full), and counted in ``lost``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from core.errors import RecordError
from core.records import CycleRecord, FundingRecord, Recorder, RiskEvent, RunEnd, RunInfo
from core.types import Fill, Order, Position

log = logging.getLogger("perpflow.record")


class GuardedRecorder:
    """A ``Recorder`` that turns the first recording failure into one stop (see the module docstring)."""

    def __init__(self, inner: Recorder, on_failure: Callable[[str], None] | None = None) -> None:
        self.inner = inner
        self.on_failure = on_failure
        self.failure: str | None = None
        self.lost = 0  # records not recorded after the failure (each was logged)

    # --- Recorder -----------------------------------------------------------------------------
    def run_started(self, info: RunInfo) -> None:
        self._call("run start", self.inner.run_started, info)

    def run_ended(self, end: RunEnd) -> None:
        self._call(f"run end {end.status}: {end.reason}", self.inner.run_ended, end)

    def order(self, order: Order) -> None:
        self._call(f"order {order.venue} {order.client_id} {order.side} {order.size} {order.status}"
                   f"{' reduce-only' if order.reduce_only else ''}", self.inner.order, order)

    async def fill(self, fill: Fill) -> None:
        if self.failure is None:
            try:
                await self.inner.fill(fill)
                return
            except (RecordError, OSError) as exc:
                self._failed(exc)
        self._lose(f"fill {fill.venue} {fill.trade_id} {fill.side} {fill.size} @ {fill.price}")

    def cycle(self, cycle: CycleRecord) -> None:
        self._call(f"cycle {cycle.cycle_no} {cycle.kind} pnl {cycle.pnl}", self.inner.cycle, cycle)

    def position(self, position: Position) -> None:
        self._call(f"position {position.venue} {position.symbol} {position.size}", self.inner.position, position)

    def risk_event(self, event: RiskEvent) -> None:
        self._call(f"risk {event.check} {event.reason}: {event.detail}", self.inner.risk_event, event)

    def funding(self, record: FundingRecord) -> None:
        self._call(f"funding {record.venue} {record.payment}", self.inner.funding, record)

    def record(self, kind: str, **fields: Any) -> None:
        """A record of a kind the journal accepts by name (a strategy's own ``Record(kind, payload)``)."""
        method = getattr(self.inner, "record", None)
        if method is not None:
            self._call(kind, lambda _: method(kind, **fields), None)

    async def flush(self) -> None:
        if self.failure is None:
            try:
                await self.inner.flush()
            except (RecordError, OSError) as exc:
                self._failed(exc)

    async def close(self) -> None:
        try:
            await self.inner.close()
        except (RecordError, OSError) as exc:
            self._failed(exc)

    def close_sync(self) -> None:
        """The journal's synchronous close, when the inner recorder has one."""
        close = getattr(self.inner, "close_sync", None)
        if close is not None:
            try:
                close()
            except (RecordError, OSError) as exc:
                self._failed(exc)

    # --- internals ----------------------------------------------------------------------------
    def _call(self, what: str, method: Callable[[Any], None], record: Any) -> None:
        if self.failure is None:
            try:
                method(record)
                return
            except (RecordError, OSError) as exc:
                self._failed(exc)
        self._lose(what)

    def _failed(self, exc: BaseException) -> None:
        if self.failure is not None:
            return
        self.failure = f"the journal cannot record ({exc}); stopping: cancel, flatten, exit"
        log.error("%s", self.failure)
        if self.on_failure is not None:
            self.on_failure(self.failure)

    def _lose(self, what: str) -> None:
        self.lost += 1
        log.warning("not recorded (journal failed): %s", what)
