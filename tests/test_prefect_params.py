"""The flows' parameter schemas (what the server and the UI form validate) and prefect.yaml, without a server."""

from __future__ import annotations

import importlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.utilities.callables import parameter_schema
from typer.testing import CliRunner

from cli.app import app
from flows.hedge import hedge_flow
from flows.warehouse import warehouse_load
from strategies.hedge.config import HedgeConfig

ROOT = Path(__file__).resolve().parent.parent
BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "enum", "const")


def number_branch(prop: dict[str, Any]) -> dict[str, Any]:
    """The non-null branch of an optional property (pydantic's Decimal adds a string branch: none here)."""
    branches = [b for b in prop.get("anyOf", [prop]) if b.get("type") != "null"]
    assert len(branches) == 1, prop  # a Decimal parameter must not also accept any string
    return branches[0]


def flow_schema() -> dict[str, Any]:
    return parameter_schema(hedge_flow).model_dump()["properties"]


def bounds(prop: dict[str, Any]) -> dict[str, Any]:
    """The bounds of a property, from its number/integer/enum branch when pydantic made a union."""
    for branch in prop.get("anyOf", [prop]):
        if branch.get("type") in ("number", "integer") or "enum" in branch or "const" in branch:
            return {k: branch[k] for k in BOUNDS if k in branch}
    return {}


def test_flow_parameters_have_the_bounds_of_the_config_and_a_description() -> None:
    config = HedgeConfig.model_json_schema()["properties"]
    flow = flow_schema()
    assert set(flow) - {"lock_timeout"} <= set(config)  # every bot parameter is a config field
    for name in sorted(set(flow) - {"lock_timeout"}):
        assert bounds(flow[name]) == bounds(config[name]), name
        assert flow[name].get("description"), f"{name} has no description for the UI form"


@pytest.mark.parametrize("name", ["size", "daily_loss_limit", "net_delta_tolerance", "max_position",
                                  "min_spread_bps"])
def test_decimal_parameters_are_numbers_in_the_schema(name: str) -> None:
    assert number_branch(flow_schema()[name])["type"] == "number"


@pytest.mark.parametrize("entrypoint", ["flows.hedge:hedge_flow", "flows.grid:grid_flow"])
def test_the_ui_form_can_submit_its_own_defaults(entrypoint: str) -> None:
    """A number field's default is a number: a Decimal default shown as "0.2" made the UI refuse its
    own form ('0.2' is not of type 'number') and no run could start from it."""
    module, name = entrypoint.split(":")
    props = parameter_schema(getattr(importlib.import_module(module), name)).model_dump()["properties"]
    for field, prop in props.items():
        numeric = any(b.get("type") in ("number", "integer") for b in prop.get("anyOf", [prop]))
        if numeric and prop.get("default") is not None:
            assert isinstance(prop["default"], (int, float)), (field, prop["default"])


def test_a_number_from_the_ui_arrives_as_an_exact_decimal() -> None:
    params = hedge_flow.validate_parameters({"size": 0.1, "net_delta_tolerance": 0.01})
    assert params["size"] == Decimal("0.1") and params["net_delta_tolerance"] == Decimal("0.01")


def test_prefect_yaml_deployments_validate_against_their_flows() -> None:
    from prefect import Flow

    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    for d in spec["deployments"]:
        # A file entrypoint (flows/hedge.py:...) puts flows/ first on sys.path, where flows/warehouse.py
        # shadows the warehouse package: worker runs then fail to import. Module paths do not.
        module, _, name = d["entrypoint"].partition(":")
        assert module.startswith("flows.") and "/" not in module, d["entrypoint"]
        flow = getattr(importlib.import_module(module), name)
        assert isinstance(flow, Flow), d["entrypoint"]
        flow.validate_parameters(d.get("parameters") or {})
        assert d["work_pool"]["name"] == "perpflow"
    hedge = [d for d in spec["deployments"] if d["entrypoint"] == "flows.hedge:hedge_flow"]
    assert {(d["parameters"]["primary"], d["parameters"]["ticker"], str(d["parameters"]["size"])) for d in hedge} \
        == {("paradex", "SOL", "0.1"), ("backpack", "ETH", "0.2")}


def test_only_the_idempotent_scheduled_flow_retries_and_it_has_a_timeout() -> None:
    assert not hedge_flow.retries and hedge_flow.timeout_seconds is None  # a bot never restarts on its own
    assert warehouse_load.retries >= 1 and warehouse_load.timeout_seconds == 600


def test_cli_sim_clock_is_validated_before_any_run() -> None:
    out = CliRunner().invoke(app, ["hedge", "--sim-clock", "sundial"])
    assert out.exit_code == 2
    assert "--sim-clock" in out.output and "'virtual' or 'real'" in out.output


def test_make_serve_creates_the_account_limit_of_any_bot_deployment() -> None:
    from server.serve import account_limits

    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    limits = account_limits(spec["deployments"])
    assert {"account-sim-paradex-grvt", "account-sim-backpack-grvt"} <= set(limits)  # the hedge deployments
    assert {"account-sim-hibachi", "account-sim-extended", "account-sim-paradex"} <= set(limits)  # agents, grid
    toy = [{"entrypoint": "tests.toykit:toy_flow", "parameters": {"venue": "backpack"}}]
    assert account_limits(toy) == ["account-sim-toy-backpack"]  # a bot no code in server/ knows about
