"""The venue registry: venue packages are found by looking, and unknown names list the allowed ones."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from core.errors import ConfigError
from exchanges import registry
from exchanges.settings import Settings


def test_every_venue_folder_is_registered_with_its_settings_section(monkeypatch: pytest.MonkeyPatch) -> None:
    assert {"paradex", "grvt"} <= set(registry.names(live=True)) <= set(registry.names())
    assert set(registry.names(fake=True)) >= {"paradex", "grvt"}
    for spec in registry.specs():
        monkeypatch.setenv(spec.env_name("endpoint"), f"http://127.0.0.1:1/{spec.name}")
        section = getattr(Settings(_env_file=None), spec.name)  # type: ignore[call-arg]
        assert section.endpoint == f"http://127.0.0.1:1/{spec.name}"


def test_unknown_or_partial_venues_name_the_field_and_the_allowed_ones() -> None:
    with pytest.raises(ConfigError) as err:
        registry.get("kraken", field="--venue")
    assert err.value.field == "--venue" and f"allowed: {', '.join(registry.names())}" in str(err.value)
    partial = [s.name for s in registry.specs() if s.adapter is None]
    for name in partial:
        with pytest.raises(ConfigError, match="not a venue with a live adapter; allowed: "):
            registry.get(name, live=True)


def test_env_lines_spell_the_settings_a_user_would_export() -> None:
    spec = registry.get("grvt")
    lines = spec.env_lines(spec.settings(api_key=SecretStr("k-123456"), trading_account_id="7"))
    assert lines["PERPFLOW_GRVT__API_KEY"] == "k-123456" and lines["PERPFLOW_GRVT__TRADING_ACCOUNT_ID"] == "7"
    assert "PERPFLOW_GRVT__ENDPOINT" not in lines  # unset settings are left out
    assert spec.secrets(spec.settings(api_key=SecretStr("k-123456"))) == ["k-123456"]


@pytest.mark.parametrize("name", registry.names(live=True))
def test_a_missing_credential_stops_before_anything_connects_naming_the_setting(name: str) -> None:
    from exchanges.connect import open_live

    spec = registry.get(name)
    settings = Settings(_env_file=None, **{name: spec.settings(endpoint="http://127.0.0.1:9")})  # type: ignore[call-arg]
    with pytest.raises(ConfigError) as err:
        open_live((name,), settings)
    assert err.value.field.startswith(f"{name}.")


@pytest.mark.parametrize("name", registry.names(live=True))
async def test_a_malformed_key_stops_before_anything_connects_naming_the_setting(name: str) -> None:
    """Every credential present but every key malformed, the endpoint a closed port: the adapter must
    refuse at start naming the setting (a connection attempt would fail as unavailable instead)."""
    from core.clock import RealClock

    spec = registry.get(name)
    fields: dict[str, object] = {"endpoint": "http://127.0.0.1:9", "ws_endpoint": "ws://127.0.0.1:9"}
    for field, info in spec.settings.model_fields.items():
        if field in fields or field == "fees" or info.default is not None:
            continue
        fields[field] = SecretStr("not-a-key") if "SecretStr" in str(info.annotation) else "1"
    sub = spec.settings(**fields)
    assert spec.adapter is not None
    spec.check(sub)  # every credential is there ...
    venue = spec.adapter(sub, RealClock())
    try:
        with pytest.raises(ConfigError) as err:
            await venue.start()  # ... but a key is malformed
        assert err.value.field.startswith(f"{name}.") and "not-a-key" not in str(err.value)
    finally:
        await venue.close()


def test_no_code_outside_a_venue_folder_names_a_venue() -> None:
    """A venue name as a string literal (docstrings aside) only in its own folder and the simulator's
    profile data; everything else asks the registry. The one holdout (core settings, below the
    registry's layer) is listed, so a new one fails this test."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    names = set(registry.names())
    holdouts = {"core/settings.py"}  # core cannot import exchanges (its sentiment funding venues)
    found = []
    for top in ("core", "strategies", "tasks", "flows", "cli", "server", "render", "warehouse", "exchanges"):
        for path in (root / top).rglob("*.py"):
            rel = path.relative_to(root).as_posix()
            parts = rel.split("/")
            if rel in holdouts or (parts[0] == "exchanges" and len(parts) > 2 and parts[1] in names | {"sim"}):
                continue
            tree = ast.parse(path.read_text())
            docs = {id(n.body[0].value) for n in ast.walk(tree)
                    if isinstance(n, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                    and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
            found += [f"{rel}:{n.lineno} {n.value!r}" for n in ast.walk(tree)
                      if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs
                      and (n.value.lower() in names or n.value.lower().split(",")[0] in names)]
    assert not found, found
