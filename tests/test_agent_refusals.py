"""Bad input to the agent, end to end: the command line runs the flow on a Prefect server and an
LLM (a loopback fake) that names a symbol the run does not trade, and a deployment's parameters
that disagree. Each is refused naming the field, with no traceback, and no order the rules did
not allow is placed. (The option-by-option refusals before anything runs: tests/test_agent_cli.py.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.app import app
from flows.agent import agent_flow
from tasks.account import ensure_account_limit
from tasks.fakes.llm import FakeLlm
from tasks.fakes.thread import in_thread
from warehouse.query import df

KEY = "sk-refusal-0123456789abcdef"


@pytest.fixture
def rogue_llm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, FakeLlm]]:
    """An LLM that always wants a symbol the run does not trade: DOGE (no venue has it), then BTC
    (on the venue, not in the run's list)."""
    from core.settings import get_settings

    answers = iter(["DOGE", "DOGE", "BTC", "BTC"] * 50)  # each decision asks twice (one repair)

    def responder(body: dict[str, Any]) -> str:
        return json.dumps({"action": "open_long", "symbol": next(answers), "size_usd": 400.0, "confidence": 0.9,
                           "thesis": "wants what it may not have"})

    with in_thread(FakeLlm(api_key=KEY, responder=responder)) as fake:
        monkeypatch.setenv("PERPFLOW_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("PERPFLOW_LLM__BASE_URL", fake.base_url)
        monkeypatch.setenv("PERPFLOW_LLM__API_KEY", KEY)
        get_settings.cache_clear()
        yield tmp_path, fake
        get_settings.cache_clear()


def test_an_llm_answer_naming_a_symbol_not_allowed_is_refused_and_places_no_order(
        rogue_llm: tuple[Path, FakeLlm], prefect_harness: None) -> None:
    data_dir, fake = rogue_llm
    out = CliRunner().invoke(app, ["agent", "--venue", "extended", "--symbols", "SOL,ETH", "--mode", "volume",
                                   "--days", "0.02", "--lock-timeout", "5"])
    assert out.exit_code == 0, out.output
    assert "Traceback" not in out.output and KEY not in out.output
    assert "COMPLETED" in out.output
    wh = data_dir / "warehouse.duckdb"
    decisions = df("SELECT verdict, reason, llm_called FROM decisions ORDER BY ts", path=wh)
    assert len(decisions) >= 2 and len(fake.bodies) >= 2 and decisions["llm_called"].all()
    assert set(decisions["verdict"]) == {"abstain"}
    reasons = list(decisions["reason"])
    assert any("symbol: 'DOGE' is not allowed; allowed: SOL, ETH" in r for r in reasons), reasons
    assert any("symbol: 'BTC' is not allowed; allowed: SOL, ETH" in r for r in reasons), reasons
    assert "decisions accepted / abstained" in out.output
    # the rules allowed nothing, so nothing was sent: no order, no fill, no round trip
    for table in ("orders", "fills", "agent_trades"):
        assert df(f"SELECT count(*) AS n FROM {table}", path=wh)["n"][0] == 0, table


@pytest.mark.parametrize(("params", "field", "says"), [
    ({"venue": "hibachi", "symbols": ("SOL", "DOGE")}, "symbols", "DOGE not traded on hibachi; allowed: BTC, ETH, SOL"),
    ({"min_hold_min": 600.0, "max_hold_h": 5.0}, "min_hold_min", "longer than max_hold_h"),
    ({"stop_loss_pct": 25.0, "leverage": 5}, "stop_loss_pct", "is not below the position's margin"),
    ({"burn_budget_usd": 80, "burn_threshold_usd": 50}, "burn_budget_usd", "above the banked profit"),
    ({"venue": "extended", "symbols": ("XRP",)}, "symbols", "XRP not traded on extended"),
    # a bound the parameter schema states: Prefect's own validation of the flow's parameters
    ({"take_profit_pct": 0}, "take_profit_pct", "Input should be greater than 0"),
])
def test_deployment_parameters_that_disagree_fail_the_run_naming_the_field(
        params: dict[str, Any], field: str, says: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        prefect_harness: None) -> None:
    from core.settings import get_settings

    monkeypatch.setenv("PERPFLOW_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    ensure_account_limit("sim-hibachi")
    state = agent_flow(**params, return_state=True)
    get_settings.cache_clear()
    assert state.is_failed()
    assert state.message.startswith(("invalid parameters (no order was sent): ",
                                     "Validation of flow parameters failed"))
    assert f"{field}: " in state.message and says in state.message
    assert "Traceback" not in state.message
    assert not (tmp_path / "journal").exists() or not list((tmp_path / "journal").glob("*.jsonl"))
