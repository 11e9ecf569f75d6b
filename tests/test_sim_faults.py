"""Each injectable fault of the simulator, provoked through the venue contract."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

import pytest

from core.errors import OrderRejected, VenueTimeout
from core.reasons import Reason
from core.types import Fill, OrderStatus, Side
from exchanges.sim.faults import Faults
from tests.simkit import model_world, run


def test_reject_probability_refuses_orders() -> None:
    w = model_world(("paradex",), faults={"paradex": Faults(reject_prob=1.0)})
    v = w.venue("paradex")

    async def main() -> None:
        bbo = await v.bbo("SOL")
        with pytest.raises(OrderRejected) as err:
            await v.place_limit("SOL", Side.BUY, bbo.bid, D("0.1"), client_id="c1", post_only=True)
        assert err.value.reason is Reason.REJECTED
        assert await v.open_orders() == []
        w.exchanges["paradex"].faults.reject_prob = 0.0  # switchable at runtime
        o = await v.place_limit("SOL", Side.BUY, bbo.bid, D("0.1"), client_id="c2", post_only=True)
        assert o.status is OrderStatus.OPEN

    run(w, main)


@pytest.mark.parametrize("placed", [True, False])
def test_request_timeout_leaves_the_order_unknown_until_looked_up(placed: bool) -> None:
    faults = Faults(timeout_prob=1.0, timeout_after_accept_prob=1.0 if placed else 0.0, request_timeout_s=3.0)
    w = model_world(("paradex",), faults={"paradex": faults})
    v = w.venue("paradex")

    async def main() -> None:
        faults.timeout_prob = 0.0
        bbo = await v.bbo("SOL")
        faults.timeout_prob = 1.0
        t0 = w.clock.now()
        with pytest.raises(VenueTimeout):
            await v.place_limit("SOL", Side.BUY, bbo.bid - D("0.5"), D("0.1"), client_id="maybe", post_only=True)
        assert w.clock.now() - t0 >= 3.0
        faults.timeout_prob = 0.0
        found = await v.order("SOL", client_id="maybe")
        assert (found is not None) is placed

    run(w, main)


def test_stream_drop_reconnects_and_recovers_missed_fills_exactly_once() -> None:
    w = model_world(("paradex",))
    v = w.venue("paradex")
    ex = w.exchanges["paradex"]
    got: list[Fill] = []

    async def main() -> None:
        stream = v.stream_fills()

        async def read() -> None:
            async for f in stream:
                got.append(f)

        reader = asyncio.create_task(read())
        await asyncio.sleep(1)
        await v.place_market("SOL", Side.BUY, D("0.5"), client_id="before", max_slippage_bps=D(50))
        await asyncio.sleep(1)
        ex.drop_streams()  # every fill until the resubscription completes is lost on the wire
        await v.place_market("SOL", Side.SELL, D("0.3"), client_id="during", max_slippage_bps=D(50))
        await asyncio.sleep(2)
        await v.place_market("SOL", Side.SELL, D("0.2"), client_id="after", max_slippage_bps=D(50))
        await asyncio.sleep(1)
        reader.cancel()
        assert stream.reconnects == 1
        assert stream.caught_up >= 1  # "during" came back over REST

    run(w, main)
    venue_fills = ex.fills_since(0, None)
    assert {f.client_id for f in got} == {"before", "during", "after"}
    assert sorted(f.key for f in got) == sorted(f.key for f in venue_fills)  # all of them, each once
    assert len(got) == len({f.key for f in got})


def test_stale_feed_freezes_market_data_while_the_market_moves() -> None:
    w = model_world(("paradex",))
    v = w.venue("paradex")
    ex = w.exchanges["paradex"]

    async def main() -> None:
        updates: list[float] = []

        async def watch() -> None:
            async for _ in v.stream_bbo("SOL"):
                updates.append(w.clock.now())

        task = asyncio.create_task(watch())
        await asyncio.sleep(2)
        start = w.clock.now()
        ex.faults.stale_until = start + 30
        frozen = await v.bbo("SOL")
        await asyncio.sleep(20)
        assert await v.bbo("SOL") == frozen  # REST shows the frozen book ...
        live = ex.slots["SOL"].market.top()
        assert (live[0], live[2]) != (frozen.bid / ex.slots["SOL"].tick, frozen.ask / ex.slots["SOL"].tick)
        assert not [t for t in updates if start + 0.5 < t < start + 30]  # ... and the stream is silent
        await asyncio.sleep(15)
        assert [t for t in updates if t > start + 30]  # then it comes back
        task.cancel()

    run(w, main)


def test_wrong_position_reads_disagree_with_the_account() -> None:
    w = model_world(("paradex",), faults={"paradex": Faults(wrong_position_prob=1.0)})
    v = w.venue("paradex")
    ex = w.exchanges["paradex"]

    async def main() -> None:
        await v.place_market("SOL", Side.BUY, D("1"), client_id="b", max_slippage_bps=D(50))
        reads = [(await v.position("SOL")).size for _ in range(5)]
        truth = ex.account.positions["SOL"]
        assert truth == D("1")
        assert all(r != truth for r in reads)
        ex.faults.wrong_position_prob = 0.0
        assert (await v.position("SOL")).size == truth

    run(w, main)


def test_hard_executable_size_limit() -> None:
    w = model_world(("paradex",), faults={"paradex": Faults(exec_size_cap=D("0.2"))})
    v = w.venue("paradex")

    async def main() -> None:
        big = await v.place_market("SOL", Side.BUY, D("0.5"), client_id="big", max_slippage_bps=D(50))
        assert big.filled == 0 and big.reject_reason == Reason.INSUFFICIENT_LIQUIDITY
        small = await v.place_market("SOL", Side.BUY, D("0.2"), client_id="small", max_slippage_bps=D(50))
        assert small.filled == D("0.2")

    run(w, main)


def test_random_stream_drops_are_survived() -> None:
    w = model_world(("paradex",), faults={"paradex": Faults(stream_drop_per_hour=360.0)})  # ~every 10 s
    v = w.venue("paradex")

    async def main() -> None:
        stream = v.stream_bbo("SOL")
        n = 0
        async for _ in stream:
            n += 1
            if w.clock.now() - w.clock.start > 120:
                break
        assert stream.reconnects >= 3
        assert n > 100

    run(w, main)
