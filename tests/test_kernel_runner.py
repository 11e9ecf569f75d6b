"""The generic runner with a toy strategy on the simulator: trading, the gate, a stop, a flatten."""

from __future__ import annotations

from decimal import Decimal as D

from core.reasons import Reason
from core.types import OrderType
from tests.hedgekit import until
from tests.toykit import Accumulate, run_toy


def test_a_toy_strategy_builds_its_position_then_flattens_and_completes() -> None:
    res, world, rec = run_toy(Accumulate(size=D("0.1"), target=D("0.3")))
    assert res.status == "COMPLETED", res.reason
    assert res.reason == "run complete; flat" and res.bot == "toy"
    ex = world.exchanges["paradex"]
    assert ex.account.positions.get("SOL", D(0)) == 0 and not ex.open
    bids = [o for o in rec.orders if "-b" in o.client_id]
    assert bids and all(o.post_only and o.type is OrderType.LIMIT for o in bids)
    closes = [o for o in rec.orders if "-f" in o.client_id]
    assert closes and all(o.reduce_only for o in closes)  # the kernel's flatten: reduce-only
    bought = sum(f.size for f in rec.fills if f.side == "BUY")
    assert bought >= D("0.3") and res.max_abs_net >= D("0.3")
    assert res.volume["paradex"] == sum(f.price * f.size for f in rec.fills)  # money from fills
    assert rec.runs[0].bot == "toy" and rec.ends[0].status == "COMPLETED"
    assert any(e.reason is Reason.RUN_COMPLETE and e.state_to == "HALTED" for e in res.risk_events)


def test_a_stopped_toy_cancels_its_orders_and_flattens() -> None:
    async def stop_when_long(world, runner) -> None:
        await until(lambda: runner.kernel is not None and runner.kernel.ledger.position("paradex") >= D("0.1"))
        runner.signal({"note": "an outside decision"})
        runner.request_stop(flatten=True)

    strategy = Accumulate(size=D("0.1"), target=D("5"))
    res, world, _ = run_toy(strategy, script=stop_when_long)
    assert res.status == "CANCELLED", res.reason
    assert world.exchanges["paradex"].account.positions.get("SOL", D(0)) == 0
    assert not world.exchanges["paradex"].open
    assert strategy.signals == [{"note": "an outside decision"}]
    assert any(e.reason is Reason.CANCELLED_BY_USER and e.state_to == "REDUCING" for e in res.risk_events)


def test_the_guard_denies_an_order_beyond_the_strategys_limit_and_tells_the_strategy() -> None:
    strategy = Accumulate(size=D("0.1"), target=D("1"), limit=D("0.05"))
    res, world, _ = run_toy(strategy)
    assert res.status == "FAILED" and "the guard refused" in res.reason
    [denied] = strategy.denied
    assert denied.reason is Reason.MAX_POSITION and denied.order.outcome == "DENIED"
    assert not world.exchanges["paradex"].orders  # nothing reached the venue
    gate = [e for e in res.risk_events if e.check == "gate"]
    assert gate and gate[0].reason is Reason.MAX_POSITION and "limit 0.05" in gate[0].detail
