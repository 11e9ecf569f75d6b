"""The agent as the bot scaffold runs it (``tasks.botrun.run_bot``).

The agent is one kernel runner per symbol sharing one desk, plus an adviser; the scaffold gives it
what every bot gets (account lock, venues, journals, pre-trade task, artifacts, warehouse load,
final state) and this module says only what is the agent's own: who advises (``choose_ask``), how
its session is built on the open venues, what its live view shows and how its summary is read
(SQL on the warehouse, ``tasks.agent_report``).
"""

from __future__ import annotations

from typing import Any

from core.settings import get_settings
from exchanges.sim.replay import parse_replay_args
from render.tables import markdown_table
from strategies.agent.adviser import Ask
from strategies.agent.params import AgentParams
from strategies.agent.session import AgentSession, SessionResult
from strategies.base import Record
from tasks.agent import InsightsFeed, llm_ask, policy_ask
from tasks.agent_report import agent_summary, summary_rows
from tasks.botrun import Bot, Opened, Summary, Trading
from warehouse.paths import WarehousePaths

DEFAULT_POLICY = {"profit": "trend", "volume": "quick"}


def choose_ask(params: AgentParams) -> tuple[Ask, dict[str, str]]:
    """The adviser's LLM: the configured endpoint, else the mode's deterministic policy (and why).
    Returns the ask and who advises (``kind``: llm or policy; ``about``: which, in words), which the
    run records with its parameters, so its summary says whether an LLM was called at all."""
    settings = get_settings()
    if params.policy == "llm" and settings.llm.base_url:
        return llm_ask(settings.llm), {"kind": "llm", "about": f"LLM {settings.llm.model} at {settings.llm.base_url}"}
    name = DEFAULT_POLICY[params.mode]
    why = "no LLM endpoint configured (PERPFLOW_LLM__BASE_URL)" if params.policy == "llm" else f"policy={params.policy}"
    return policy_ask(name), {"kind": "policy", "about": f"deterministic '{name}' policy ({why}); no LLM called"}


def agent_view(trading: Trading) -> str:
    """The live view: open positions with their PnL, and the last decision and why."""
    assert isinstance(trading, AgentSession)
    agent = trading
    now = agent.clock.now()
    rows = [[p["symbol"], p["direction"], str(p["size"]), str(p["entry_price"]), f"{p['open_pnl_usd']:.2f}",
             f"{p['held_h']:.1f}"] for p in agent.desk.positions_view(now)]
    text = (f"# Agent {agent.run_id} ({agent.p.venue}, {agent.desk.mode} mode)\n\n"
            f"{markdown_table(['symbol', 'side', 'size', 'entry', 'open PnL', 'held h'], rows) if rows else 'flat'}\n")
    rec = agent.last_decision
    if rec is not None:
        why = rec["reason"] or (rec.get("parsed") or {}).get("thesis") or "-"
        text += f"\nLast decision: **{rec['verdict']}** {rec['action']} {rec['symbol'] or ''} — {why}\n"
    return text


def _memory_summary(outcome: SessionResult) -> Summary:
    """When the warehouse holds no load of the run: the trades the runners recorded, said so."""
    pnl = sum(float(t["pnl"]) for t in outcome.trades)
    rows = [("trades", str(len(outcome.trades))), ("net PnL (USD, after fees and funding)", f"{pnl:.6f}"),
            ("figures", "from the bot's memory: the warehouse holds no load of this run")]
    return Summary(rows, {"run_id": outcome.run_id, "trades": len(outcome.trades), "pnl": f"{pnl:.6f}",
                          "status": outcome.status, "source": "memory"})


def summarize(outcome: Any, trading: Trading) -> Summary:
    """The run's summary, SQL on the warehouse over every symbol's run (``tasks.agent_report``)."""
    assert isinstance(outcome, SessionResult)
    try:
        data = agent_summary(WarehousePaths.from_settings().published, outcome.run_id)
    except Exception:  # no warehouse to read: the run is still reported, from memory
        return _memory_summary(outcome)
    data |= {"status": outcome.status, "source": "warehouse"}
    return Summary(summary_rows(data), data, data["by_symbol_direction"] or [{"symbol": "-", "trades": 0}],
                   "agent-combos", "trades and win rate by symbol and direction")


def agent_bot(params: AgentParams, ask: Ask, adviser: dict[str, str] | None = None) -> Bot:
    """The agent on ``params.venue``: one runner per symbol sharing a desk, advised by ``ask``
    (``adviser``: who that is, as ``choose_ask`` says; recorded with the run's parameters)."""
    def build(opened: Opened) -> AgentSession:
        settings = get_settings()
        own = {f"{opened.run_id}-{s.lower()}" for s in params.symbols}
        feed = InsightsFeed(settings.insights_path, params.symbols, opened.session.clock.now, own)
        agent = AgentSession(params, opened.run_id, opened.session.venue(params.venue), opened.session.clock,
                             opened.journal, ask, outlook=feed.outlook, sentiment=feed.sentiment,
                             flow_run_id=opened.flow_run_id, adviser=adviser)
        for symbol, runner in agent.runners.items():  # a journal that fails stops its runner
            agent.recorders[symbol].on_failure = runner.fail  # type: ignore[attr-defined]
            runner.on_record = opened.on_record
        first = next(iter(agent.runners.values()))
        agent.on_decision = lambda rec: opened.on_record(first, Record("decision", rec))
        return agent

    return Bot("agent", (params.venue,), tuple(params.symbols), build=build, summarize=summarize, view=agent_view,
               progress=lambda agent: agent.progress() if isinstance(agent, AgentSession) else None,
               live_key="agent-progress", progress_key="agent-run-progress",
               replay=parse_replay_args(params.replay))
