"""A toy strategy (one venue, a few lines) and a way to run it on the simulator: the proof that
the kernel, the runner and the flow scaffold are not the hedge bot's."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Mapping
from decimal import Decimal
from typing import Any, Literal

from prefect import flow
from pydantic import BaseModel, ConfigDict, Field

from core.clock import VirtualClock
from core.params import PositiveDecimal
from core.reasons import Reason
from core.records import MemoryRecorder
from core.types import Instrument, Side
from exchanges.sim.faults import Faults
from exchanges.sim.world import SimWorld
from strategies.base import Cancel, Context, Done, Filled, Finish, Flatten, Intent, Limits, PlaceLimit, Strategy, risk
from strategies.runtime.runner import Runner, RunOutcome
from tasks.botrun import Summary, params_flow, run_bot


class Accumulate(Strategy):
    """Buy ``target`` with post-only bids of ``size`` at the touch, then flatten and complete."""

    name = "toy"

    def __init__(self, venue: str = "paradex", symbol: str = "SOL", size: Decimal = Decimal("0.1"),
                 target: Decimal = Decimal("0.3"), limit: Decimal | None = None) -> None:
        self.venues, self.symbol, self.size, self.target = (venue,), symbol, size, target
        self.limit = limit if limit is not None else target
        self.denied: list[Done] = []
        self.signals: list[Any] = []
        self._seq = 0

    def limits(self, instruments: Mapping[str, Instrument]) -> Limits:
        return Limits(tolerance=instruments[self.venues[0]].lot / 2, max_position=self.limit,
                      daily_loss=Decimal(100))

    def public_params(self) -> dict[str, Any]:
        return {"size": str(self.size), "target": str(self.target)}

    def on_start(self, ctx: Context) -> Iterator[Intent]:
        yield from self._quote(ctx)

    def on_bbo(self, ctx: Context, bbo: Any) -> Iterator[Intent]:
        for o in ctx.open_orders(tag="bid"):
            if o.state == "LIVE" and o.price != bbo.bid:
                yield Cancel(o.venue, o.client_id)  # the book moved away: re-quote at the new touch
        yield from self._quote(ctx)

    def on_fill(self, ctx: Context, ev: Filled) -> Iterator[Intent]:
        if ctx.trading and ctx.position(self.venues[0]) >= self.target:
            yield Flatten("target reached", Reason.RUN_COMPLETE, then="COMPLETED")

    def on_order_done(self, ctx: Context, ev: Done) -> Iterator[Intent]:
        if ev.outcome == "DENIED":
            self.denied.append(ev)
            yield risk(ctx, "toy", Reason.MAX_POSITION, f"denied: {ev.detail}")
            yield Finish("FAILED", f"the guard refused: {ev.detail}")
            return
        yield from self._quote(ctx)

    def on_timer(self, ctx: Context) -> Iterator[Intent]:
        yield from self._quote(ctx)

    def on_signal(self, ctx: Context, signal: Any) -> Iterator[Intent]:
        self.signals.append(signal)
        return iter(())

    def _quote(self, ctx: Context) -> Iterator[Intent]:
        venue = self.venues[0]
        bbo = ctx.bbo(venue)
        if not ctx.trading or bbo is None or ctx.open_orders(venue) or ctx.position(venue) >= self.target:
            return
        self._seq += 1
        yield PlaceLimit(venue, "bid", Side.BUY, bbo.bid, self.size, f"{ctx.client_prefix}-b{self._seq}")


Script = Callable[[SimWorld, Runner], Awaitable[Any]]


def run_toy(strategy: Strategy, *, seed: int = 3, script: Script | None = None, limit: float = 3600,
            faults: Mapping[str, Faults] | None = None) -> tuple[RunOutcome, SimWorld, MemoryRecorder]:
    clock = VirtualClock()
    world = SimWorld(venues=strategy.venues, symbols=(strategy.symbol,), seed=seed, clock=clock, warmup=900,
                     faults=faults)
    recorder = MemoryRecorder()
    runner = Runner(strategy, "toy-run", [world.venue(v) for v in strategy.venues], recorder, clock)

    async def main() -> RunOutcome:
        watchdog = asyncio.get_running_loop().call_later(limit, lambda: runner.request_stop(flatten=True))
        task = asyncio.create_task(script(world, runner)) if script else None
        try:
            return await runner.run()
        finally:
            watchdog.cancel()
            if task is not None:
                task.cancel()
            await world.stop()

    return clock.run(main), world, recorder


class Ladder(Strategy):
    """A greedy toy: always wants ``levels`` bids of ``size``, one tick apart below the touch, and
    sells what it holds at the ask. It never checks its own exposure: the guard must."""

    name = "ladder"

    def __init__(self, venue: str = "paradex", symbol: str = "SOL", size: Decimal = Decimal("0.1"),
                 levels: int = 3, limit: Decimal = Decimal("0.25")) -> None:
        self.venues, self.symbol, self.size, self.levels, self.limit = (venue,), symbol, size, levels, limit
        self._seq = 0

    def limits(self, instruments: Mapping[str, Instrument]) -> Limits:
        self.ins = instruments[self.venues[0]]
        return Limits(tolerance=self.ins.lot / 2, max_position=self.limit)

    def on_timer(self, ctx: Context) -> Iterator[Intent]:
        venue = self.venues[0]
        bbo = ctx.bbo(venue)
        if bbo is None:
            return
        bids = ctx.open_orders(venue, "bid")
        for k in range(len(bids), self.levels):
            self._seq += 1
            yield PlaceLimit(venue, "bid", Side.BUY, bbo.bid - k * self.ins.tick, self.size,
                             f"{ctx.client_prefix}-b{self._seq}")
        held = ctx.position(venue)
        if held > 0 and not ctx.open_orders(venue, "ask"):
            self._seq += 1
            yield PlaceLimit(venue, "ask", Side.SELL, bbo.ask, self.ins.round_size(held),
                             f"{ctx.client_prefix}-a{self._seq}", reduce_only=True)


class ToyParams(BaseModel):
    """The toy bot's parameter model: what a new bot declares once."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    venue: Literal["paradex", "backpack"] = Field("paradex", description="the one venue it trades")
    symbol: Literal["SOL", "ETH"] = Field("SOL", description="the perpetual")
    size: PositiveDecimal = Field(Decimal("0.1"), description="bid size")
    target: PositiveDecimal = Field(Decimal("0.3"), description="position to build before flattening")
    venue_mode: Literal["sim"] = Field("sim", description="simulator only")
    seed: int = Field(3, ge=0, description="simulator seed")
    sim_clock: Literal["virtual", "real"] = Field("virtual", description="virtual or real time")
    lock_timeout: float = Field(60.0, ge=0, description="seconds to wait for the account")

    @property
    def account_key(self) -> str:
        return f"{self.venue_mode}-toy-{self.venue}"


def toy_summary(outcome: RunOutcome, strategy: Strategy) -> Summary:
    rows = [("status", f"{outcome.status} - {outcome.reason}"),
            ("volume", f"{sum(outcome.volume.values(), Decimal(0)):,.2f} USD")]
    return Summary(rows, {"run_id": outcome.run_id, "status": outcome.status})


@flow(name="toy")
@params_flow(ToyParams)
def toy_flow(**params: Any) -> Any:
    """A toy bot: bids until it holds its target, then flattens."""
    p = ToyParams(**params)
    return run_bot(p, Accumulate(p.venue, p.symbol, p.size, p.target), toy_summary)
