"""``perpflow agent``: its options are AgentParams' fields; bad input is refused naming the option,
before anything runs (no Prefect server is started for a refusal)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from cli.agent import parse_options
from cli.app import app


@pytest.mark.parametrize(("args", "message"), [
    (["--venue", "extended", "--symbols", "SOL,DOGE"], "--symbols: Value error, DOGE not traded on extended; "
                                                       "allowed: BTC, ETH, SOL"),
    (["--take-profit-pct", "0"], "--take-profit-pct: Input should be greater than 0"),
    (["--stop-loss-pct", "30", "--leverage", "5"], "stop_loss_pct: 30.0% is not below the position's margin"),
    (["--min-hold-min", "600", "--max-hold-h", "5"], "min_hold_min: 600.0 min is longer than max_hold_h"),
    (["--burn-budget-usd", "90", "--burn-threshold-usd", "50"], "burn_budget_usd: 90 is above the banked profit"),
    (["--bogus", "1"], "--bogus is not an agent option"),
    (["--days"], "--days needs a value"),
])
def test_bad_input_is_refused_naming_the_option(args: list[str], message: str) -> None:
    out = CliRunner().invoke(app, ["agent", *args])
    assert out.exit_code == 2, out.output
    assert message.replace("Value error, ", "") in out.output and "Traceback" not in out.output


def test_options_are_the_parameter_model() -> None:
    assert parse_options(["--venue=extended", "--symbols", "SOL,ETH", "--burn", "true", "--lock-timeout", "5"]) \
        == {"venue": "extended", "symbols": "SOL,ETH", "burn": "true", "lock_timeout": "5"}
    helped = CliRunner().invoke(app, ["agent", "--help"]).output
    for option in ("--max-size-usd", "--cut-loser-after-h", "--burn-budget-usd", "--maker-timeout-s"):
        assert option in helped
