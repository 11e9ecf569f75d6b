"""An agent run on one account: one kernel runner per symbol, one desk, one decision loop.

Every ``decision_interval`` (per mode) the loop computes the allowed actions from the desk and
the outlook (shared insights), builds the inputs from prices seen before that moment, asks the
adviser (``ask``: the LLM client task, or a deterministic policy), records the decision and
delivers an accepted one to its symbol's runner as a signal. When the run's time is up, every
open trade exits by the ``run_end`` rule, then the runners stop (and flatten whatever is left).
The session does no I/O of its own beyond the runners': ``ask``, ``outlook`` and ``sentiment``
are handed in, so a test, a backtest and the flow run the same loop.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from core.clock import Clock
from core.errors import OrderRejected
from core.reasons import Reason
from core.records import Recorder
from exchanges.base import Venue
from prompts import agent as prompt
from strategies.agent.adviser import Ask, advise
from strategies.agent.desk import CloseAll, Complete, Desk, FundingPaid, Outlook
from strategies.agent.exits import ExitRule
from strategies.agent.inputs import build_inputs, digest, market_view
from strategies.agent.params import AgentParams
from strategies.agent.strategy import AgentStrategy
from strategies.preflight import PreTradeError, Problem
from strategies.runtime.runner import Runner, RunOutcome

log = logging.getLogger("perpflow.agent")


@dataclass
class SessionResult:
    run_id: str
    outcomes: dict[str, RunOutcome]
    decisions: list[dict[str, Any]] = field(default_factory=list)
    trades: list[dict[str, Any]] = field(default_factory=list)
    mode_changes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> str:
        statuses = {o.status for o in self.outcomes.values()}
        for s in ("FAILED", "CANCELLED"):
            if s in statuses:
                return s
        return "COMPLETED"

    @property
    def reason(self) -> str:
        """Each symbol's run's reason, ``SOL: run complete; flat; ETH: ...``."""
        return "; ".join(f"{s}: {o.reason}" for s, o in self.outcomes.items())


class AgentSession:
    def __init__(self, params: AgentParams, run_id: str, venue: Venue, clock: Clock,
                 recorders: Callable[[str], Recorder], ask: Ask, *, outlook: Callable[[], Outlook] = Outlook,
                 sentiment: Callable[[], Mapping[str, Any] | None] = lambda: None,
                 on_decision: Callable[[dict[str, Any]], None] | None = None,
                 flow_run_id: str | None = None, adviser: Mapping[str, str] | None = None) -> None:
        self.p = params
        self.run_id = run_id
        self.venue = venue
        self.clock = clock
        self.ask = ask
        self.outlook = outlook
        self.sentiment = sentiment
        self.on_decision = on_decision
        self.desk = Desk(params, {}, run_id=run_id, client_prefix="a" + run_id.replace("-", "")[:10], now=clock.now())
        self.strategies = {s: AgentStrategy(params, s, self.desk, adviser) for s in params.symbols}
        self.recorders = {s: recorders(self.symbol_run_id(s)) for s in params.symbols}
        self.runners = {s: Runner(self.strategies[s], self.symbol_run_id(s), [venue], self.recorders[s], clock,
                                  flow_run_id=flow_run_id) for s in params.symbols}
        self.decisions: list[dict[str, Any]] = []
        self._n = 0
        self._started: float | None = None
        self._funding_seen: set[tuple[str, float]] = set()

    def symbol_run_id(self, symbol: str) -> str:
        return f"{self.run_id}-{symbol.lower()}"

    @property
    def main_recorder(self) -> Recorder:
        """The journal decisions go to (the first symbol's run)."""
        return self.recorders[self.p.symbols[0]]

    async def preflight(self) -> dict[str, Any]:
        """Every symbol's pre-trade check (``PreTradeError`` refuses the run before any order). A
        symbol the venue does not list is a refusal naming ``symbols``, whatever the venue's words."""
        checks: dict[str, Any] = {}
        unlisted: list[str] = []
        for s, r in self.runners.items():
            try:
                checks[s] = await r.preflight()
            except OrderRejected as exc:
                if exc.reason is not Reason.UNKNOWN_SYMBOL:
                    raise
                unlisted.append(s)
        if unlisted:
            raise PreTradeError([Problem("symbols", Reason.UNKNOWN_SYMBOL,
                                         f"{', '.join(unlisted)} not listed on {self.p.venue}")])
        return checks

    # --- what the scaffold drives (``tasks.botrun.Trading``) -------------------------------------
    @property
    def cancel_requested(self) -> bool:
        return any(r.cancel_requested for r in self.runners.values())

    @cancel_requested.setter
    def cancel_requested(self, value: bool) -> None:
        for r in self.runners.values():
            r.cancel_requested = value

    def request_stop(self, *, flatten: bool, status: str = "CANCELLED", reason: Reason = Reason.CANCELLED_BY_USER,
                     detail: str = "") -> None:
        """Stop every symbol's runner (orders cancelled, then flatten or leave); the decision loop
        ends with them."""
        for r in self.runners.values():
            r.request_stop(flatten=flatten, status=status, reason=reason, detail=detail)

    def progress(self) -> float | None:
        """Share of the run's time gone (0..1)."""
        if self._started is None:
            return None
        return min(1.0, max(0.0, (self.clock.now() - self._started) / (self.p.days * 86_400)))

    @property
    def last_decision(self) -> dict[str, Any] | None:
        return self.decisions[-1] if self.decisions else None

    async def run(self) -> SessionResult:
        first = self.desk.start_notes
        tasks = {s: asyncio.create_task(r.run(), name=f"agent-{s}") for s, r in self.runners.items()}
        funding: asyncio.Task[None] | None = None
        try:
            await self._wait_trading(tasks)
            self._stop_on_signals()
            funding = asyncio.create_task(self._funding_loop(), name="agent-funding")
            for note in first:
                self._record(self.main_recorder, note.kind, note.payload)
            self._started = self.clock.now()
            end = self._started + self.p.days * 86_400
            while self.clock.now() < end and not any(t.done() for t in tasks.values()):
                await self.decide()
                step = min(self.desk.decision_interval_s, max(0.0, end - self.clock.now()))
                await asyncio.wait(list(tasks.values()), timeout=step, return_when=asyncio.FIRST_COMPLETED)
            for s, r in self.runners.items():
                if not tasks[s].done():
                    r.signal(CloseAll(ExitRule.RUN_END))
            for _ in range(240):  # exits are taker orders: they finish in seconds
                if not self.desk.trades or all(t.done() for t in tasks.values()):
                    break
                await asyncio.sleep(0.5)
            await self.collect_funding()
            for s, r in self.runners.items():
                if not tasks[s].done():
                    r.signal(Complete())
            await asyncio.wait(list(tasks.values()), timeout=120, return_when=asyncio.ALL_COMPLETED)
        finally:
            if funding is not None:
                funding.cancel()
                await asyncio.gather(funding, return_exceptions=True)
            for s, r in self.runners.items():
                if not tasks[s].done():  # only runners still going: a finished one would log a stop nobody asked for
                    r.request_stop(flatten=True)
            done = await asyncio.gather(*tasks.values(), return_exceptions=True)
        outcomes: dict[str, RunOutcome] = {}
        for s, res in zip(tasks, done, strict=True):
            if isinstance(res, BaseException):
                raise res
            outcomes[s] = res
        trades = [p for o in outcomes.values() for p in o.records.get("agent_trade", [])]
        modes = [*(n.payload for n in first), *(p for o in outcomes.values() for p in o.records.get("mode_change", []))]
        return SessionResult(self.run_id, outcomes, self.decisions, trades, modes)

    def _stop_on_signals(self) -> None:
        """SIGTERM/SIGINT (Prefect cancelling the run, Ctrl-C) stop every symbol's runner, not only
        the one whose handler the loop kept last (each runner installs its own as it starts)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, lambda: self.request_stop(flatten=True))
            except (ValueError, RuntimeError, NotImplementedError):  # not the main thread
                return

    async def collect_funding(self) -> int:
        """Hand every funding settlement not seen yet to its symbol's runner (the desk charges the
        open trade, the run records it); returns how many. Venues that report settlements (the
        simulator's ``funding_payments``) only: a live venue's funding is in its own account."""
        payments = getattr(self.venue, "funding_payments", None)
        if payments is None:
            return 0
        n = 0
        for f in await payments(self._started or 0.0):
            key = (f.symbol, f.ts)
            if key in self._funding_seen or f.symbol not in self.runners:
                continue
            self._funding_seen.add(key)
            self.runners[f.symbol].signal(FundingPaid(f.symbol, f.rate, f.position, f.payment, f.ts))
            n += 1
        return n

    async def _funding_loop(self) -> None:
        """Collect each funding settlement a second after it happens (the venue says when the next
        one is), so it reaches the trade that was open when it was charged."""
        if getattr(self.venue, "funding_payments", None) is None:
            return
        while True:
            rate = await self.venue.funding_rate(self.p.symbols[0])
            after = rate.next_ts if rate.next_ts is not None else self.clock.now() + rate.interval_s
            await asyncio.sleep(max(1.0, after - self.clock.now() + 1.0))
            await self.collect_funding()

    async def _wait_trading(self, tasks: Mapping[str, asyncio.Task[RunOutcome]]) -> None:
        while True:
            if all(r.kernel is not None and r.kernel.mode != "idle" for r in self.runners.values()):
                return
            if any(t.done() for t in tasks.values()):
                return
            await asyncio.sleep(0.05)

    def _record(self, recorder: Recorder, kind: str, payload: dict[str, Any]) -> None:
        record = getattr(recorder, "record", None)
        if record is not None:
            record(kind, **payload)

    def guard_allows(self) -> bool:
        return all(r.kernel is not None and r.kernel.mode == "trading" and r.kernel.guard.may_add_risk
                   for r in self.runners.values())

    async def decide(self) -> dict[str, Any]:
        """One adviser call (or a skip), recorded; an accepted decision goes to its runner. The call
        runs in a thread: the runners' streams go on meanwhile (virtual time waits for it)."""
        now = self.clock.now()
        outlook = self.outlook()
        allowed = self.desk.allowed(now, outlook, guard_allows=self.guard_allows())
        views = []
        for s, st in self.strategies.items():
            h = st.history
            if h.ts:
                views.append(market_view(s, now, h.ts, h.mid, spread_bps=float(self.desk.bbos[s].spread_bps)
                                         if s in self.desk.bbos else None))
        self._n += 1
        inputs = build_inputs(now, views, allowed=allowed.as_dict(), mode=self.desk.mode,
                              positions=self.desk.positions_view(now), pnl_today_usd=float(self.desk.pnl_today(now)),
                              sentiment=self.sentiment(), insights=_insights_view(outlook),
                              max_size_usd=float(self.p.max_size_usd))
        rules = self.p.rules(self.desk.mode)
        messages = prompt.messages(inputs, venue=self.p.venue, mode=self.desk.mode,
                                   max_size_usd=float(self.p.max_size_usd),
                                   exit_table=f"SL {rules.stop_loss_pct}%, TP {rules.take_profit_pct}%, "
                                              f"max hold {rules.max_hold_s / 3600:g} h")
        advice = await asyncio.to_thread(
            advise, decision_id=f"{self.run_id}-d{self._n}", now=now, venue=self.p.venue, mode=self.desk.mode,
            inputs=inputs, inputs_digest=digest(inputs), prompt_hash=prompt.prompt_hash(), messages=messages,
            allowed=allowed, outlook=outlook, ask=self.ask, max_size_usd=self.p.max_size_usd,
            default_size_usd=self.p.size_usd)
        rec = advice.record
        self.decisions.append(rec)
        self._record(self.main_recorder, "decision", rec)
        if self.on_decision is not None:
            self.on_decision(rec)
        if advice.signal is not None:
            symbol = advice.signal.accepted.symbol or self.p.symbols[0]
            if symbol in self.runners:
                self.runners[symbol].signal(advice.signal)
        return rec


def _insights_view(outlook: Outlook) -> dict[str, Any] | None:
    if not (outlook.blocked or outlook.blackout or outlook.others or outlook.calibration.buckets):
        return None
    return {"blocked": sorted(outlook.blocked), "blackout_now": outlook.blackout,
            "others_hold": {s: sorted(d) for s, d in outlook.others.items()},
            "calibration": outlook.calibration.as_rows()}
