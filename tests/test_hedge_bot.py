"""The hedge bot on the simulator: a normal run, and each safety layer provoked."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal as D

import pytest

from core.reasons import Reason
from core.types import Liquidity, OrderType, Side
from exchanges.sim.faults import Faults
from strategies.guard import DailyPnl
from strategies.preflight import PreTradeError
from tests.hedgekit import BotRun, until

SOL = {"ticker": "SOL", "size": D("0.1")}


def test_maker_maker_run_completes_flat_with_cycles_priced_from_fills() -> None:
    bot = BotRun(iterations=3, **SOL)
    res = bot.run()
    assert res.status == "COMPLETED", res.reason
    assert bot.position("paradex") == 0 and bot.position("grvt") == 0
    assert [c.kind for c in res.cycles] == ["open", "close"] * 3
    fills = bot.recorder.fills
    for c in res.cycles:
        legs = [f for f in fills if f.venue == "paradex" and c.started <= f.ts <= c.ended]
        vwap = sum(f.price * f.size for f in legs) / sum(f.size for f in legs)
        assert c.primary_price == vwap  # the fill's price, never the quote
        assert c.size == D("0.1") and c.status in ("ok", "recovered")
        assert c.hedge_price is not None and c.edge_bps is not None and c.hedge_latency_ms is not None
        assert c.pnl == c.gross_pnl - c.primary_fee - c.hedge_fee
    assert all(f.client_id for f in fills) and all(o.client_id for o in bot.recorder.orders)
    assert max(abs(n) for _, n in bot.net_trace) <= D("0.1")  # never more than one order unhedged


def test_maker_and_taker_legs_follow_the_modes() -> None:
    bot = BotRun(iterations=2, hedge_mode="market", primary_mode="bbo", **SOL)
    res = bot.run()
    assert res.status == "COMPLETED"
    liq = {(f.venue, f.liquidity) for f in bot.recorder.fills}
    assert ("paradex", Liquidity.MAKER) in liq and ("grvt", Liquidity.TAKER) in liq
    assert ("grvt", Liquidity.MAKER) not in liq


@pytest.mark.parametrize(("cfg", "expect"), [
    ({"ticker": "ETH", "size": D("0.5")}, "above what grvt ETH really executes"),  # the notes' failure
    ({"ticker": "SOL", "size": D("0.15")}, "not a multiple of grvt SOL's size step 0.1"),
    ({"ticker": "SOL", "size": D("0.05")}, "below paradex SOL's minimum order value 10"),
    ({"ticker": "SOL", "size": D("0.1"), "max_position": D("2000")}, "USD available"),
])
def test_pre_trade_validation_refuses_before_any_order(cfg: dict, expect: str) -> None:
    bot = BotRun(**cfg)
    with pytest.raises(PreTradeError, match=expect):
        bot.run()
    assert all(not ex.orders for ex in bot.world.exchanges.values())  # zero orders sent


def test_consecutive_hedge_failures_flatten_and_fail() -> None:
    # GRVT executes nothing: every hedge fails; after 3 the bot flattens with reduce-only IOC.
    bot = BotRun(iterations=5, hedge_mode="market", faults={"grvt": Faults(exec_size_cap=D(0))}, **SOL)
    res = bot.run()
    assert res.status == "FAILED" and "HEDGE_FAILURES" in res.reason
    assert bot.position("paradex") == 0 and bot.position("grvt") == 0
    flatten = [o for o in bot.recorder.orders if "-f" in o.client_id and o.venue == "paradex"]
    assert flatten and all(o.reduce_only and o.type is OrderType.MARKET for o in flatten)
    primaries = {o.client_id for o in bot.recorder.orders if o.venue == "paradex" and "-p" in o.client_id}
    assert len(primaries) <= 3  # one cycle, no endless build/emergency-close loop
    states = [(e.state_from, e.state_to, e.reason) for e in res.risk_events if e.state_to]
    assert ("ACTIVE", "REDUCING", Reason.HEDGE_FAILURES) in states
    assert res.hedge_failures == 3


def test_one_glitchy_position_read_never_stops_the_bot() -> None:
    async def glitch_once(world, runner) -> None:
        await until(lambda: runner.kernel is not None and runner.strategy.cycle_no >= 2)
        world.exchanges["paradex"].faults.wrong_position_offset = D("5")
        world.exchanges["paradex"].faults.wrong_position_next = 1

    bot = BotRun(iterations=4, reconcile_interval=3.0, **SOL)
    res = bot.run(glitch_once)
    assert res.status == "COMPLETED", res.reason
    suspects = [e for e in res.risk_events if e.check == "reconcile" and e.reason is Reason.POSITION_MISMATCH]
    assert len(suspects) == 1 and not suspects[0].state_to


def test_a_confirmed_position_mismatch_reduces_and_flattens() -> None:
    async def adl(world, runner) -> None:  # the venue moves our position without telling the streams
        await until(lambda: runner.kernel is not None and runner.strategy.cycle_no >= 2)
        world.exchanges["grvt"].external_position_change("SOL", D("0.3"), world.clock.now())

    bot = BotRun(iterations=20, reconcile_interval=3.0, **SOL)
    res = bot.run(adl)
    assert res.status == "FAILED" and "POSITION_MISMATCH" in res.reason
    assert any(e.state_to == "REDUCING" and e.reason is Reason.POSITION_MISMATCH for e in res.risk_events)
    assert bot.position("paradex") == 0 and bot.position("grvt") == 0


def test_daily_loss_limit_from_real_fills_and_fees() -> None:
    bot = BotRun(iterations=30, hedge_mode="market", primary_mode="market", daily_loss_limit=D("0.05"), **SOL)
    res = bot.run()
    assert res.status == "FAILED" and "DAILY_LOSS_LIMIT" in res.reason
    [stop] = [e for e in res.risk_events if e.state_to == "REDUCING"]
    assert "today's PnL" in stop.detail and stop.reason is Reason.DAILY_LOSS_LIMIT
    assert len(res.cycles) < 60  # it stopped early
    assert bot.position("paradex") == 0 and bot.position("grvt") == 0


def test_daily_pnl_counts_fees_and_resets_at_utc_midnight() -> None:
    from core.types import Fill

    t = datetime(2026, 3, 1, 23, 59, tzinfo=UTC).timestamp()
    d = DailyPnl(t)
    d.on_fill(Fill("paradex", "o", "c", "t1", "SOL", Side.BUY, D(100), D(1), D("0.5"), Liquidity.TAKER, t))
    assert d.pnl({"paradex": D(99)}) == D("-1.5")  # 1 USD lost on the price, 0.5 in fees
    assert not d.roll(t + 30, {"paradex": D(99)})
    assert d.roll(t + 61, {"paradex": D(99)})  # a new UTC day
    assert d.pnl({"paradex": D(99)}) == 0
    assert d.pnl({"paradex": D(101)}) == D(2)  # the open position counts from the day's start


def test_a_run_across_utc_midnight_resets_its_daily_pnl() -> None:
    start = datetime(2026, 3, 1, 23, 59, 40, tzinfo=UTC).timestamp()
    bot = BotRun(iterations=6, start=start, **SOL)
    res = bot.run()
    assert res.status == "COMPLETED"
    assert res.ended > start + 20  # it did cross midnight
    assert any(e.check == "daily_loss" and "reset" in e.detail for e in res.risk_events)


def test_max_position_bounds_building() -> None:
    bot = BotRun(iterations=4, build_to=5, max_position=D("0.2"), **SOL)
    seen: list[D] = []

    async def watch(world, runner) -> None:
        import asyncio
        while True:
            seen.append(bot.position("paradex"))
            await asyncio.sleep(0.05)

    res = bot.run(watch)
    assert res.status == "COMPLETED"
    assert max(seen) == D("0.2")  # built up to the limit, never beyond
    kinds = [c.kind for c in res.cycles]
    assert kinds[:4] == ["open", "open", "close", "close"]


def test_stream_drops_reconnect_without_losing_or_double_hedging(caplog: pytest.LogCaptureFixture) -> None:
    faults = {"paradex": Faults(stream_drop_per_hour=300), "grvt": Faults(stream_drop_per_hour=300)}
    bot = BotRun(iterations=8, faults=faults, **SOL)
    res = bot.run()
    assert res.status == "COMPLETED", res.reason
    assert bot.world.exchanges["paradex"].drops >= 2
    assert bot.position("paradex") == 0 and bot.position("grvt") == 0
    venue_fills = [f for ex in bot.world.exchanges.values() for f in ex.fill_log]
    assert sorted(f.key for f in bot.recorder.fills) == sorted(f.key for f in venue_fills)  # none lost, none twice
    assert "missing from the streams" not in caplog.text  # the streams' own catch-up recovered them
    hedged = sum(f.size for f in venue_fills if f.venue == "grvt")
    primary = sum(f.size for f in venue_fills if f.venue == "paradex")
    assert hedged == primary  # every primary fill hedged exactly once
    assert max(abs(n) for _, n in bot.net_trace) <= D("0.1")


@pytest.mark.parametrize("hedged", [False, True])
def test_restart_reconciles_what_a_killed_run_left(hedged: bool) -> None:
    """A run killed mid-cycle leaves a position and resting orders; the next run for the
    account reads the venues first, then flattens (unhedged) or unwinds (hedged) cleanly."""
    async def killed_run_left(world, runner) -> None:
        p, g = world.venue("paradex"), world.venue("grvt")
        await p.place_market("SOL", Side.BUY, D("0.1"), client_id="dead-p1", max_slippage_bps=D(20))
        n = 0
        while hedged and (await g.position("SOL")).size == 0:  # GRVT may execute nothing: retry
            n += 1
            await g.place_market("SOL", Side.SELL, D("0.1"), client_id=f"dead-h{n}", max_slippage_bps=D(20))
        bbo = await p.bbo("SOL")
        await p.place_limit("SOL", Side.BUY, bbo.bid - D("0.5"), D("0.1"), client_id="dead-p2", post_only=True)

    bot = BotRun(iterations=2, **SOL)
    res = bot.run(before=killed_run_left)
    assert res.status == "COMPLETED", res.reason
    [restart] = [e for e in res.risk_events if e.reason is Reason.RESTART_RECONCILE]
    assert ("unwinding" if hedged else "flattening") in restart.detail
    assert bot.world.exchanges["paradex"].find(None, "dead-p2").status.value == "CANCELLED"
    assert bot.position("paradex") == 0 and bot.position("grvt") == 0
    assert [c.kind for c in res.cycles].count("open") == 2


@pytest.mark.parametrize("on_cancel", ["flatten", "leave"])
def test_cancelling_cancels_orders_then_flattens_or_leaves(on_cancel: str) -> None:
    async def cancel_when_positioned(world, runner) -> None:
        await until(lambda: bot.position("paradex") != 0 and bot.position("grvt") != 0
                    and not runner.strategy.hedge_busy(runner.kernel.ctx))
        runner.request_stop(flatten=on_cancel == "flatten")

    bot = BotRun(iterations=10, on_cancel=on_cancel, **SOL)
    res = bot.run(cancel_when_positioned)
    assert res.status == "CANCELLED"
    assert bot.open_orders() == 0
    assert any(e.reason is Reason.CANCELLED_BY_USER and e.state_to for e in res.risk_events)
    if on_cancel == "flatten":
        assert bot.position("paradex") == 0 and bot.position("grvt") == 0
    else:
        assert bot.position("paradex") == D("0.1") and bot.position("grvt") == D("-0.1")
        assert res.positions == {"paradex": D("0.1"), "grvt": D("-0.1")}
