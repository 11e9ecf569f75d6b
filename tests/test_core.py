"""Core: Decimal rounding rules, price modes, symbol mapping, clocks, settings."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal as D

import pytest
from pydantic import ValidationError

from core.clock import RealClock, VirtualClock
from core.errors import ConfigError
from core.types import BBO, Book, BookLevel, Instrument, PriceMode, Side
from exchanges.pricing import limit_price, slippage_limit
from exchanges.settings import Settings
from exchanges.symbols import from_venue_symbol, to_venue_symbol

SOL = Instrument("paradex", "SOL", "SOL-USD-PERP", D("0.001"), D("0.01"), D("0.01"), D("10"), D("10000"),
                 D("0.00003"), D("0.00045"))


def test_rounding_is_never_more_aggressive_than_asked() -> None:
    assert SOL.round_price(D("100.0019"), Side.BUY) == D("100.001")
    assert SOL.round_price(D("100.0011"), Side.SELL) == D("100.002")
    assert SOL.round_size(D("0.129")) == D("0.12")
    assert SOL.on_tick(D("100.001")) and not SOL.on_tick(D("100.0015"))
    assert SOL.on_lot(D("0.12")) and not SOL.on_lot(D("0.125"))


def test_price_modes() -> None:
    wide = BBO("paradex", "SOL", D("100.000"), D("1"), D("100.010"), D("1"), 0.0)
    tight = BBO("paradex", "SOL", D("100.000"), D("1"), D("100.001"), D("1"), 0.0)
    assert limit_price(PriceMode.BBO, Side.BUY, wide, SOL) == D("100.000")
    assert limit_price(PriceMode.BBO, Side.SELL, wide, SOL) == D("100.010")
    assert limit_price(PriceMode.BBO_MINUS_1, Side.BUY, wide, SOL) == D("99.999")
    assert limit_price(PriceMode.BBO_MINUS_1, Side.SELL, wide, SOL) == D("100.011")
    assert limit_price(PriceMode.BBO_PLUS_1, Side.BUY, wide, SOL) == D("100.001")
    assert limit_price(PriceMode.BBO_PLUS_1, Side.SELL, wide, SOL) == D("100.009")
    assert limit_price(PriceMode.BBO_PLUS_1, Side.BUY, tight, SOL) == D("100.000")  # one-tick spread: join
    assert limit_price(PriceMode.MARKET, Side.BUY, wide, SOL) is None
    assert slippage_limit(Side.BUY, wide, D("10"), SOL) == D("100.110")
    assert slippage_limit(Side.SELL, wide, D("10"), SOL) == D("99.900")


def test_book_depth_within_bps() -> None:
    book = Book("grvt", "ETH", (BookLevel(D("3000"), D("1")), BookLevel(D("2999"), D("2"))),
                (BookLevel(D("3001"), D("1")), BookLevel(D("3010"), D("5"))), 0.0)
    assert book.depth(Side.BUY, D("5")) == D("1")  # 3010 is 30 bps away
    assert book.depth(Side.SELL, D("5")) == D("3")


def test_symbols_map_per_venue_and_back() -> None:
    assert to_venue_symbol("paradex", "sol") == "SOL-USD-PERP"
    assert to_venue_symbol("grvt", "ETH") == "ETH_USDT_Perp"
    assert to_venue_symbol("backpack", "SOL") == "SOL_USDC_PERP"
    assert from_venue_symbol("grvt", "ETH_USDT_Perp") == "ETH"
    with pytest.raises(ConfigError, match="allowed: backpack, extended, grvt, hibachi, paradex"):
        to_venue_symbol("ftx", "SOL")
    with pytest.raises(ConfigError, match="is not a paradex perpetual"):
        from_venue_symbol("paradex", "ETH_USDT_Perp")


def test_virtual_clock_jumps_idle_time_and_keeps_timeouts() -> None:
    clock = VirtualClock(start=1000.0)

    async def main() -> tuple[float, bool]:
        await asyncio.sleep(3600)
        timed_out = False
        try:
            await asyncio.wait_for(asyncio.sleep(10), timeout=2)
        except TimeoutError:
            timed_out = True
        await asyncio.to_thread(time.sleep, 0.05)  # real work in a thread: virtual time stands still
        return clock.now(), timed_out

    wall = time.perf_counter()
    now, timed_out = clock.run(main)
    assert now == 1000.0 + 3602.0 and timed_out
    assert time.perf_counter() - wall < 2
    assert clock.now() == now  # remembered after the loop ends


def test_real_clock_sleeps_for_real() -> None:
    clock = RealClock()
    t0 = time.monotonic()
    clock.run(lambda: clock.sleep(0.05))
    assert time.monotonic() - t0 >= 0.05
    assert abs(clock.now() - time.time()) < 1


def test_settings_hide_secrets_and_name_bad_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PERPFLOW_GRVT__API_KEY", "very-secret-key")
    monkeypatch.setenv("PERPFLOW_VENUE_MODE", "sim")
    s = Settings(_env_file=None)
    assert s.grvt.api_key is not None and s.grvt.api_key.get_secret_value() == "very-secret-key"
    assert "very-secret-key" not in repr(s) and "very-secret-key" not in str(s.model_dump())
    monkeypatch.setenv("PERPFLOW_VENUE_MODE", "paper")
    with pytest.raises(ValidationError) as err:
        Settings(_env_file=None)
    assert "venue_mode" in str(err.value) and "'sim' or 'live'" in str(err.value)
