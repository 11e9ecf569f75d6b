"""The ``agent`` flow: an LLM-advised directional bot on one account (Hibachi or Extended).

One flow run is one bot run, in the bot scaffold (``tasks/botrun.py``): account lock (one bot per
account), pre-trade task, progress and summary artifacts, warehouse load, final state. Inside the
run, one kernel runner per symbol shares one desk; every decision interval the adviser (the
``agent-advise`` task; without an endpoint configured, the mode's deterministic policy, said so in
the log) proposes and the rules decide; exits are rules. The summary is SQL on the warehouse. The
parameters are ``AgentParams``' fields.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger
from pydantic import ValidationError

from strategies.agent.params import AgentParams
from tasks.agent_bot import agent_bot, choose_ask
from tasks.botrun import bad_params, params_flow, run_bot


@flow(name="agent", description="LLM-advised directional bot on one account: allowed actions in code, one adviser "
                                "call per interval, exits by rules, shared insights.", log_prints=False)
@params_flow(AgentParams)
def agent_flow(**params: Any) -> Any:
    """One agent run on one account for ``days`` (virtual days on the simulator)."""
    try:
        p = AgentParams(**params)
    except ValidationError as exc:
        return bad_params(exc)
    ask, adviser = choose_ask(p)
    get_run_logger().info("agent on %s (%s), symbols %s, %s mode; adviser: %s", p.venue, p.venue_mode,
                          ",".join(p.symbols), p.mode, adviser["about"])
    return run_bot(p, agent_bot(p, ask, adviser))
