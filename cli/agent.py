"""``perpflow agent``: run the agent flow from the command line; its options are ``AgentParams``' fields.

The options are derived from the flow's one parameter model (``cli.bots.bot_command``, as for the
hedge and grid bots), so the command line, the deployment form and the flow never disagree:
``--venue extended --symbols SOL,ETH --mode profit --days 2``. A bad value is refused before
anything runs, naming the option.
"""

from __future__ import annotations

from typing import Any

from cli.bots import bot_command
from strategies.agent.params import AgentParams


def _flow() -> Any:
    from flows.agent import agent_flow

    return agent_flow


agent_cmd = bot_command(_flow, AgentParams, "agent", """
    Run the LLM agent (a Prefect flow run) on one account and print its summary.

    The LLM proposes, rules decide: each decision interval the adviser asks for one of the actions the rules allow.

    The adviser is the LLM at PERPFLOW_LLM__BASE_URL; with none configured, or --policy rules, a deterministic policy.

    Exits are rules (stop loss, take profit, max hold, cut the loser), never the LLM's.

    --venue-mode sim trades the embedded simulator for --days virtual days; live trades the venue in your settings.

    --symbols takes SOL,ETH or is repeated. Every decision and round trip is recorded for the warehouse.
    """)
