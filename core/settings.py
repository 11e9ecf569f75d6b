"""Settings from the environment and ``.env`` (prefix ``PERPFLOW_``, nested with ``__``).

Credentials are ``SecretStr``: their ``repr`` and ``str`` print ``**********``, so a settings
object can be logged without leaking a key. Invalid values fail at start: ``get_settings`` raises a
``ConfigError`` naming the variable (``PERPFLOW_SEED``), what was wrong and the allowed values, which
the CLI prints as one line. Numbers use ``core.decimals``' strict types (``1_0`` is not 10).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.decimals import PlainInt
from core.errors import ConfigError

ENV_PREFIX = "PERPFLOW_"


class ParadexSettings(BaseModel):
    env: Literal["testnet", "prod"] = "testnet"
    endpoint: str | None = None  # override the REST base URL (a fake venue on loopback)
    ws_endpoint: str | None = None
    l1_address: str | None = None
    l2_private_key: SecretStr | None = None
    l2_address: str | None = None


class GrvtSettings(BaseModel):
    env: Literal["testnet", "prod", "dev"] = "testnet"
    endpoint: str | None = None
    ws_endpoint: str | None = None
    api_key: SecretStr | None = None
    private_key: SecretStr | None = None
    trading_account_id: str | None = None


class BackpackSettings(BaseModel):
    endpoint: str | None = None
    ws_endpoint: str | None = None
    api_key: str | None = None
    api_secret: SecretStr | None = None


class LlmSettings(BaseModel):
    base_url: str | None = None  # OpenAI-compatible endpoint; None = statistical reviewer
    api_key: SecretStr | None = None
    model: str = "qwen-plus"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__",
                                      env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    venue_mode: Literal["sim", "live"] = "sim"
    seed: PlainInt = Field(default=7, ge=0)
    paradex: ParadexSettings = ParadexSettings()
    grvt: GrvtSettings = GrvtSettings()
    backpack: BackpackSettings = BackpackSettings()
    llm: LlmSettings = LlmSettings()

    @property
    def journal_dir(self) -> Path:
        return self.data_dir / "journal"

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"


def setting_name(loc: tuple[int | str, ...]) -> str:
    """The environment variable of a settings field: ``("grvt", "env")`` -> ``PERPFLOW_GRVT__ENV``."""
    return ENV_PREFIX + "__".join(str(part).upper() for part in loc)


def settings_error(exc: ValidationError) -> ConfigError:
    """One ``ConfigError`` naming every malformed setting (its variable, the problem, the input)."""
    problems = []
    for e in exc.errors():
        msg = e["msg"].removeprefix("Value error, ")
        if "got " not in msg and "input" in e:
            msg += f" (got {e['input']!r})"
        problems.append((setting_name(e["loc"]), msg))
    if len(problems) == 1:
        return ConfigError(*problems[0])
    return ConfigError("settings", "; ".join(f"{name}: {msg}" for name, msg in problems))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings; a malformed one raises ``ConfigError`` naming its variable."""
    try:
        return Settings()
    except ValidationError as exc:
        raise settings_error(exc) from None
