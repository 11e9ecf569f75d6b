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
