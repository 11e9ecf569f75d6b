"""The accounts' fee rates: a venue setting and a bot parameter, charged by the simulator, shown in
the summary; live adapters read the account's own rates (tests/test_venue_conformance.py)."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from cli.app import app
from core.errors import ConfigError
from core.records import MemoryRecorder
from core.types import Liquidity
from exchanges.connect import open_venues, sim_fees
from exchanges.fees import FeeRates, parse_fee_rates
from strategies.hedge.bot import HedgeBot
from strategies.hedge.config import HedgeConfig
from strategies.hedge.result import summarize, summary_rows


def test_rates_are_maker_taker_bps_in_plain_decimals_only() -> None:
    assert parse_fee_rates("-0.3/1.9", "f") == FeeRates(D("-0.00003"), D("0.00019"))
    assert parse_fee_rates(" 0.3 / 4.5 ", "f").bps() == "0.3/4.5"
    for bad, why in (("1e2/3", "plain decimals"), ("nan/1", "plain decimals"), ("0.3", "maker/taker"),
                     ("1,5/3", "plain decimals"), ("0.3/450", "outside"), ("1/-2", "negative")):
        with pytest.raises(ConfigError) as err:
            parse_fee_rates(bad, "hedge_fees")
        assert err.value.field == "hedge_fees" and why in str(err.value), bad


def test_a_bot_parameter_is_refused_in_live_mode_and_malformed_values_are_named() -> None:
    with pytest.raises(ValidationError, match="a live run trades at the accounts' own rates"):
        HedgeConfig(hedge_fees="-0.3/1.9", venue_mode="live")
    with pytest.raises(ValidationError, match="hedge_fees"):
        HedgeConfig(hedge_fees="0.3e1/2")
    with pytest.raises(ConfigError, match="fees: a live run"):
        open_venues("live", ("paradex",), ("SOL",), seed=1, fees={"paradex": FeeRates(D(0), D(0))})


def test_the_cli_refuses_malformed_rates_before_any_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = CliRunner().invoke(app, ["hedge", "--hedge-fees", "1e2/3"], terminal_width=200)
    assert out.exit_code == 2 and "--hedge-fees" in out.output and "plain decimals" in out.output, out.output


def test_the_venue_setting_applies_unless_the_run_gives_its_own(monkeypatch: pytest.MonkeyPatch,
                                                               tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env
    monkeypatch.setenv("PERPFLOW_GRVT__FEES", "-0.3/1.9")
    assert sim_fees(("paradex", "grvt"), None) == {"grvt": FeeRates(D("-0.00003"), D("0.00019"))}
    given = {"grvt": FeeRates(D("0.1"), D("0.2"))}
    assert sim_fees(("paradex", "grvt"), None, given) == given
    monkeypatch.setenv("PERPFLOW_GRVT__FEES", "cheap")
    with pytest.raises(ConfigError) as err:
        sim_fees(("grvt",), None)
    assert err.value.field == "grvt.fees"


def test_the_simulator_charges_the_given_rates_and_the_summary_shows_them() -> None:
    cfg = HedgeConfig(ticker="SOL", size=D("0.1"), iterations=1, seed=3, hedge_mode="market",
                      primary_fees="-0.5/4.5", hedge_fees="0.2/1.9")
    session = open_venues("sim", (cfg.primary, cfg.hedge), (cfg.ticker,), seed=cfg.seed, fees=cfg.fee_rates())
    recorder = MemoryRecorder()
    runner = HedgeBot(cfg, "fees-run", session.venue(cfg.primary), session.venue(cfg.hedge), recorder,
                         session.clock)

    async def main():  # type: ignore[no-untyped-def]
        try:
            return await runner.run()
        finally:
            await session.close()

    result = session.clock.run(main)
    assert result.status == "COMPLETED", result.reason
    rates = {cfg.primary: FeeRates(D("-0.00005"), D("0.00045")), cfg.hedge: FeeRates(D("0.00002"), D("0.00019"))}
    assert recorder.fills and {f.venue for f in recorder.fills} == {cfg.primary, cfg.hedge}
    for f in recorder.fills:
        rate = rates[f.venue].maker if f.liquidity is Liquidity.MAKER else rates[f.venue].taker
        assert abs(f.fee - f.price * f.size * rate) < D("0.00000001"), f
    rows = dict(summary_rows(summarize(result)))
    assert rows["fee rates maker/taker"] == f"{cfg.primary} -0.5/4.5 bps, {cfg.hedge} 0.2/1.9 bps"
