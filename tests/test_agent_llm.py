"""The adviser against the loopback OpenAI-compatible fake (real HTTP, the project's LLM client):
a valid answer becomes a signal, a malformed one is repaired once, an answer naming what the rules
did not allow is refused twice and the adviser abstains, an endpoint that keeps failing is an
abstention naming the setting; the key never reaches the decision record."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import pytest

from core.settings import LlmSettings
from core.types import BBO
from exchanges.sim.profiles import load_profiles
from strategies.agent.adviser import Advice, advise
from strategies.agent.desk import Desk, Outlook
from strategies.agent.params import AgentParams
from tasks.agent import llm_ask
from tasks.fakes.llm import FakeLlm
from tasks.fakes.thread import in_thread

KEY = "sk-agent-0123456789abcdef"
T0 = 1_767_571_200.0


@pytest.fixture
def fake() -> Iterator[FakeLlm]:
    with in_thread(FakeLlm(api_key=KEY)) as f:
        yield f


def ask_once(fake: FakeLlm, outlook: Outlook | None = None) -> Advice:
    p = AgentParams(venue="extended", symbols=("SOL", "ETH"))
    vp = load_profiles().venue("extended")
    desk = Desk(p, {s: vp.instrument(s) for s in p.symbols}, run_id="r", client_prefix="a", now=T0)
    desk.on_bbo(BBO("extended", "SOL", Decimal("150.00"), Decimal(5), Decimal("150.02"), Decimal(5), T0), T0)
    outlook = outlook or Outlook()
    settings = LlmSettings(base_url=fake.base_url, api_key=KEY, timeout_s=5.0, max_retries=1)
    return advise(decision_id="d1", now=T0, venue="extended", mode="profit", inputs={"x": 1}, inputs_digest="dg",
                  prompt_hash="ph", messages=[{"role": "user", "content": "Decide. Answer in JSON."}],
                  allowed=desk.allowed(T0, outlook), outlook=outlook, ask=llm_ask(settings, as_task=False),
                  max_size_usd=p.max_size_usd, default_size_usd=p.size_usd)


GOOD = {"action": "open_short", "symbol": "SOL", "size_usd": 700.0, "confidence": 0.72, "stop_loss_pct": 4.0,
        "take_profit_pct": 9.0, "thesis": "funding rich, momentum fading"}


def test_a_valid_answer_becomes_a_signal_with_its_cost(fake: FakeLlm) -> None:
    fake.answer(GOOD)
    a = ask_once(fake)
    assert a.signal is not None and a.signal.accepted.symbol == "SOL" and a.signal.accepted.size_usd == Decimal(700)
    r = a.record
    assert r["verdict"] == "accepted" and r["llm_called"] and not r["repaired"] and r["confidence"] == 0.72
    assert r["prompt_tokens"] > 0 and r["latency_ms"] > 0 and json.loads(r["answer"]) == GOOD
    assert fake.bodies[0]["enable_thinking"] is False
    assert KEY not in json.dumps(r, default=str)


def test_a_malformed_answer_is_repaired_once(fake: FakeLlm) -> None:
    fake.malformed('{"action": "open_short", "symbol": ').answer(GOOD)
    a = ask_once(fake)
    assert a.signal is not None and a.record["repaired"] and len(fake.bodies) == 2


def test_an_answer_outside_the_allowed_actions_is_refused_and_the_adviser_abstains(fake: FakeLlm) -> None:
    fake.answer(GOOD).answer(GOOD)
    a = ask_once(fake, Outlook(blocked=frozenset({"SOL_SHORT"})))
    assert a.signal is None and a.record["verdict"] == "abstain" and a.record["repaired"]
    assert "open_short is not allowed for SOL" in a.record["reason"]
    doge = dict(GOOD, symbol="DOGE")
    fake.answer(doge).answer(doge)
    b = ask_once(fake)
    assert b.signal is None and "symbol: 'DOGE' is not allowed; allowed: SOL, ETH" in b.record["reason"]


def test_an_endpoint_that_keeps_failing_is_an_abstention_naming_the_setting(fake: FakeLlm) -> None:
    for _ in range(4):
        fake.error(503)
    a = ask_once(fake)
    assert a.signal is None and a.record["verdict"] == "abstain" and a.record["reason"].startswith("llm.base_url")
