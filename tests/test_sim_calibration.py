"""The grvt profile reproduces the GRVT market-order table of the product notes:
ETH 0.01/0.1/0.2 fill at >= 95%; 0.5 and 1.0 fail or fill only partially, although the
displayed top of book is large."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchanges.sim.probe import fill_rates
from tests.simkit import model_world, run

ORDERS_PER_SIZE = 40


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_grvt_eth_market_orders_fill_by_size_like_the_notes(seed: int) -> None:
    w = model_world(("grvt",), ("ETH",), seed=seed)
    sizes = [D("0.01"), D("0.1"), D("0.2"), D("0.5"), D("1.0")]

    async def main():
        top = await w.venue("grvt").bbo("ETH")
        assert min(top.bid_size, top.ask_size) > 50  # a big displayed top of book ...
        return await fill_rates(w, "grvt", "ETH", sizes, ORDERS_PER_SIZE)

    rates = {r.size: r for r in run(w, main)}
    for small in sizes[:3]:
        assert rates[small].orders >= 20
        assert rates[small].fill_rate >= 0.95, rates[small]
    for large in sizes[3:]:
        assert rates[large].full == 0, rates[large]  # ... that 0.5 and 1.0 ETH never fully get


def test_paradex_fills_the_same_sizes_fully() -> None:
    w = model_world(("paradex",), ("ETH",), seed=1)
    rates = run(w, lambda: fill_rates(w, "paradex", "ETH", [D("0.5"), D("1.0")], 20))
    assert all(r.fill_rate == 1.0 for r in rates)
