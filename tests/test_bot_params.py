"""One parameter model per bot is the single declaration (hedge, grid, agent): the flow's parameter
schema (what the server validates and the UI form shows) has exactly the model's fields with their
bounds and descriptions and submittable defaults, and the command's options are the same fields."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from prefect.utilities.callables import parameter_schema
from pydantic import BaseModel
from typer.testing import CliRunner

from cli.app import app
from cli.bots import model_options, option_name

BOTS = [("hedge", "flows.hedge:hedge_flow", "strategies.hedge.config:HedgeConfig"),
        ("grid", "flows.grid:grid_flow", "strategies.grid.params:GridParams"),
        ("agent", "flows.agent:agent_flow", "strategies.agent.params:AgentParams")]
BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "enum", "const", "minItems")


def load(path: str) -> Any:
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


def bounds(prop: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for branch in prop.get("anyOf", [prop]):
        out |= {k: branch[k] for k in BOUNDS if k in branch}
    return out


@pytest.mark.parametrize(("bot", "flow", "model"), BOTS)
def test_the_flow_form_is_the_parameter_model(bot: str, flow: str, model: str) -> None:
    m: type[BaseModel] = load(model)
    props = parameter_schema(load(flow)).model_dump()["properties"]
    fields = m.model_json_schema()["properties"]
    assert list(props) == list(m.model_fields), bot  # the same fields, in the model's order
    for name, prop in props.items():
        assert prop.get("description"), f"{bot}: {name} has no description for the UI form"
        assert bounds(prop) == bounds(fields[name]), (bot, name)
        numeric = any(b.get("type") in ("number", "integer") for b in prop.get("anyOf", [prop]))
        if numeric and prop.get("default") is not None:  # the UI can submit its own defaults
            assert isinstance(prop["default"], (int, float)), (bot, name, prop["default"])


@pytest.mark.parametrize(("bot", "flow", "model"), BOTS)
def test_the_commands_options_are_the_parameter_model(bot: str, flow: str, model: str) -> None:
    m: type[BaseModel] = load(model)
    assert [p.name for p in model_options(m)] == list(m.model_fields)
    helped = CliRunner().invoke(app, [bot, "--help"], env={"COLUMNS": "250"}).output
    for name in m.model_fields:
        assert option_name(m, name) in helped, (bot, name)
