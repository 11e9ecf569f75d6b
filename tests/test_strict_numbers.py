"""A number means what it says (issue 10, point 11): sizes, prices, limits and tolerances accept only
plain decimal notation - at the CLI, the flow's parameters and settings alike - and a malformed
one is refused naming it, never read as another value, never with a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal as D
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.decimals import parse_decimal, plain_decimal, plain_int
from core.errors import ConfigError
from strategies.hedge.config import HedgeConfig

ROOT = Path(__file__).resolve().parents[1]
PERPFLOW = Path(sys.executable).parent / "perpflow"

# Each is something Python's Decimal (or int) reads as a number a trader did not type.
TYPOS = ["1e1", "1E-1", "1_0", "0.1_0", "NaN", "nan", "Infinity", "-inf", "sNaN", " 0.1", "0.1 ", "0x10", "٠.١",
         "1,5", "", "+", ".", "0.1.2", "1" * 50]


@pytest.mark.parametrize("text", ["0.1", "25", "-3", "+2.50", ".5", "10."])
def test_plain_notation_is_read_exactly(text: str) -> None:
    assert plain_decimal(text) == D(text)


@pytest.mark.parametrize("text", TYPOS)
def test_other_forms_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="plain decimal notation"):
        plain_decimal(text)
    with pytest.raises(ConfigError) as err:
        parse_decimal("size", text)
    assert str(err.value).startswith("size: ")


def test_typed_numbers_pass_when_finite_and_whole_numbers_stay_whole() -> None:
    assert plain_decimal(0.1) == D("0.1") and plain_decimal(3) == D(3) and plain_decimal(D("2.5")) == D("2.5")
    for bad in (float("nan"), float("inf"), D("NaN"), D("-Infinity"), True):
        with pytest.raises(ValueError, match="must be"):
            plain_decimal(bad)
    assert plain_int("10") == 10 and plain_int(10.0) == 10
    for bad in ("1_0", "1e1", "10.5", 10.5, " 10", True):
        with pytest.raises(ValueError, match="must be a whole number"):
            plain_int(bad)


@pytest.mark.parametrize(("field", "value"), [("size", "1e1"), ("size", "1_0"), ("daily_loss_limit", "Infinity"),
                                               ("net_delta_tolerance", "1e-2"), ("iterations", "1_0"),
                                               ("hedge_timeout", "1e1"), ("max_position", "NaN")])
def test_the_bot_config_refuses_them_naming_the_field(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as err:
        HedgeConfig(**{field: value})
    [e] = err.value.errors()
    assert e["loc"] == (field,) and "plain" in e["msg"]


def test_the_flow_parameters_refuse_them_before_a_run_starts() -> None:
    from prefect.exceptions import ParameterTypeError

    from flows.hedge import hedge_flow

    assert hedge_flow.validate_parameters({"size": "0.2"})["size"] == D("0.2")
    for params in ({"size": "1e1"}, {"iterations": "1_0"}, {"min_spread_bps": "NaN"}, {"lock_timeout": "1e3"}):
        with pytest.raises(ParameterTypeError, match="plain"):
            hedge_flow.validate_parameters(params)


def perpflow(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PERPFLOW_")}
    return subprocess.run([str(PERPFLOW), *args], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize(("option", "value"), [("--size", "1e1"), ("--iter", "1_0"),
                                                ("--min-spread-bps", "NaN")])
def test_the_cli_refuses_them_in_one_line_before_any_run(option: str, value: str, tmp_path: Path) -> None:
    out = perpflow("hedge", option, value, PERPFLOW_DATA_DIR=str(tmp_path))
    assert out.returncode == 2
    assert f"Invalid value for '{option}'" in out.stderr and "plain" in " ".join(out.stderr.split())
    assert "Traceback" not in out.stderr + out.stdout
    assert not (tmp_path / "journal").exists()  # no run, no order


def test_a_malformed_setting_is_refused_naming_it(tmp_path: Path) -> None:
    out = perpflow("hedge", "--iter", "1", PERPFLOW_DATA_DIR=str(tmp_path), PERPFLOW_SEED="1_0")
    assert out.returncode == 2
    assert out.stderr.strip() == "error: PERPFLOW_SEED: must be a whole number in plain digits like 10; got '1_0'"
    assert out.stdout == "" and not (tmp_path / "journal").exists()
    out = perpflow("warehouse", "status", PERPFLOW_DATA_DIR=str(tmp_path), PERPFLOW_VENUE_MODE="paper")
    assert out.returncode == 2 and "PERPFLOW_VENUE_MODE" in out.stderr and "'sim' or 'live'" in out.stderr
    assert "Traceback" not in out.stderr
