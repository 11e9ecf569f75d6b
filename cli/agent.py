"""``perpflow agent``: run the agent flow from the command line.

The options are the fields of ``AgentParams`` (the flow's one parameter model), so the command
line, the deployment form and the flow never disagree: ``--venue extended --symbols SOL,ETH
--mode profit --days 2``. A bad value is refused before anything runs, naming the option.
"""

from __future__ import annotations

from typing import Any

import typer
from pydantic import ValidationError

from core.errors import ConfigError
from server.flow_api import ServerUnavailable
from strategies.agent.params import AgentParams


def _options_help() -> str:
    lines = []
    for name, f in AgentParams.model_fields.items():
        default = f.default if not isinstance(f.default, tuple) else ",".join(f.default)
        lines.append(f"--{name.replace('_', '-')} (default {default}): {f.description or ''}".rstrip(": "))
    return "\n\n".join(lines)


def parse_options(args: list[str]) -> dict[str, Any]:
    """``--key value`` / ``--key=value`` pairs into AgentParams fields."""
    known = set(AgentParams.model_fields)
    out: dict[str, Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--"):
            raise typer.BadParameter(f"unexpected argument {arg!r}; options look like --days 2")
        key, eq, value = arg[2:].partition("=")
        name = key.replace("-", "_")
        if name not in known:
            raise typer.BadParameter(f"--{key} is not an agent option; allowed: "
                                     + ", ".join(f"--{k.replace('_', '-')}" for k in sorted(known)))
        if not eq:
            if i + 1 >= len(args) or args[i + 1].startswith("--"):
                raise typer.BadParameter(f"--{key} needs a value")
            value = args[i + 1]
            i += 1
        out[name] = value
        i += 1
    return out


def agent_cmd(ctx: typer.Context) -> None:
    """Run the LLM agent (a Prefect flow run) on one account and print its summary."""
    try:
        params = AgentParams(**parse_options(list(ctx.args)))
    except typer.BadParameter as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except ValidationError as exc:
        for err in exc.errors():
            field = ".".join(str(x) for x in err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            typer.echo(f"error: --{field.replace('_', '-')}: {msg}" if field else f"error: {msg}", err=True)
        raise typer.Exit(2) from None
    from cli.bots import print_summary, run_flow
    from flows.agent import agent_flow

    try:  # the bots' one way to run a flow: the account's limit made, the local server or a temporary one
        status, message, summary = run_flow(agent_flow, AgentParams, params.model_dump())
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except ServerUnavailable as exc:
        typer.echo(f"error: {exc}; no order was sent", err=True)
        raise typer.Exit(1) from None
    if summary and "rows" in summary:
        print_summary(summary)
    typer.echo(f"\n{status}: {message}")
    if status != "COMPLETED":
        raise typer.Exit(1)


agent_cmd.__doc__ = f"{agent_cmd.__doc__}\n\nOptions (the agent's parameters):\n\n{_options_help()}"
AGENT_CONTEXT = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": ["--help"]}
