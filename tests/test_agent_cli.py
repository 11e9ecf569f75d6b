"""``perpflow agent``: its options are AgentParams' fields (derived by ``cli.bots.bot_command``, as
for the hedge and grid bots); bad input is refused naming the option, before anything runs: no
Prefect server, no journal, no warehouse, no order."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.app import app
from strategies.agent.params import AgentParams


@pytest.mark.parametrize(("args", "message"), [
    (["--venue", "extended", "--symbols", "SOL,DOGE"], "error: --symbols: DOGE not traded on extended; "
                                                       "allowed: BTC, ETH, SOL"),
    (["--venue", "hibachi", "--symbols", "SOL", "--symbols", "XRP"], "error: --symbols: XRP not traded on hibachi"),
    (["--take-profit-pct", "0"], "error: --take-profit-pct: Input should be greater than 0"),
    (["--take-profit-pct", "-4"], "error: --take-profit-pct: Input should be greater than 0"),
    (["--stop-loss-pct", "30", "--leverage", "5"], "error: --stop-loss-pct: 30.0% is not below the position's "
                                                   "margin (20% at leverage 5)"),
    (["--volume-stop-loss-pct", "11", "--leverage", "10"], "error: --volume-stop-loss-pct: 11.0% is not below"),
    (["--min-hold-min", "600", "--max-hold-h", "5"], "error: --min-hold-min: 600.0 min is longer than max_hold_h"),
    (["--burn-budget-usd", "90", "--burn-threshold-usd", "50"], "error: --burn-budget-usd: 90 is above the banked "
                                                                "profit"),
    (["--size-usd", "5000"], "error: --size-usd: 5000 is above max_size_usd (1000)"),
    (["--venue", "paradex"], "error: --venue:"),
    (["--days", "1e3"], "--days"),
    (["--bogus", "1"], "No such option: --bogus"),
])
def test_bad_input_is_refused_naming_the_option(args: list[str], message: str, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from core.settings import get_settings

    monkeypatch.setenv("PERPFLOW_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(app, ["agent", *args], terminal_width=240)
    finally:
        get_settings.cache_clear()
    assert out.exit_code == 2, out.output
    assert message in out.output and "Traceback" not in out.output
    assert list(tmp_path.iterdir()) == []  # nothing ran: no journal, no warehouse, no order


def test_options_are_the_parameter_model_and_help_explains_them() -> None:
    helped = CliRunner().invoke(app, ["agent", "--help"], env={"COLUMNS": "240"}).output
    for name, field in AgentParams.model_fields.items():
        option = "--" + name.replace("_", "-")
        assert option in helped, option
        assert field.description, f"{name} has no description for --help"
        assert field.description.split()[0] in helped
    assert "--no-maker-first" in helped and "--no-burn" in helped  # a switch can be turned off
    assert "default: SOL, ETH, BTC" in helped  # a list's default is shown too
    assert "PERPFLOW_LLM__BASE_URL" in helped and "--policy rules" in helped


def test_the_command_line_values_reach_the_model_as_typed() -> None:
    from cli.bots import model_options

    names = [p.name for p in model_options(AgentParams)]
    assert names == list(AgentParams.model_fields)  # one declaration: no option the model does not have
    assert AgentParams(symbols=["sol,eth", "btc"]).symbols == ("SOL", "ETH", "BTC")  # comma list or repeated
