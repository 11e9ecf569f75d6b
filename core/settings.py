"""Settings from the environment and ``.env`` (prefix ``PERPFLOW_``, nested with ``__``).

Credentials are ``SecretStr``: their ``repr`` and ``str`` print ``**********``, so a settings
object can be logged without leaking a key. Invalid values fail at start: ``get_settings`` raises a
``ConfigError`` naming the variable (``PERPFLOW_SEED``), what was wrong and the allowed values, which
the CLI prints as one line. Numbers use ``core.decimals``' strict types (``1_0`` is not 10).

Venue sections (``PERPFLOW_<VENUE>__*``) are declared by each venue package and added by
``exchanges.settings.Settings``; this core model knows no venue.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.decimals import PlainInt
from core.errors import ConfigError

ENV_PREFIX = "PERPFLOW_"


class LlmSettings(BaseModel):
    """An OpenAI-compatible chat endpoint (Qwen by default): ``PERPFLOW_LLM__BASE_URL`` etc."""

    base_url: str | None = None  # OpenAI-compatible endpoint; None = statistical reviewer
    api_key: SecretStr | None = None
    api_key_block: str | None = None  # name of a Prefect Secret block holding the key (when api_key is unset)
    model: str = "qwen-plus"
    # json_schema is served by some models only; "auto" tries it and falls back to json_object on a refusal.
    response_format: Literal["auto", "json_schema", "json_object"] = "auto"
    enable_thinking: bool | None = False  # Qwen: sent in the body; None (env: empty) = not sent (other vendors)
    timeout_s: float = Field(default=60.0, gt=0, le=600)
    max_retries: int = Field(default=2, ge=0, le=10)  # 429/5xx/connection retries by the client, with backoff
    temperature: float = Field(default=0.0, ge=0, le=2)

    @field_validator("enable_thinking", mode="before")
    @classmethod
    def _unset(cls, value: object) -> object:
        """``PERPFLOW_LLM__ENABLE_THINKING=`` (empty) or ``omit``: do not send the switch at all."""
        return None if isinstance(value, str) and value.strip().lower() in ("", "omit", "none", "null") else value


class SentimentSettings(BaseModel):
    """Sentiment sources (``PERPFLOW_SENTIMENT__*``). An empty URL turns a source off; tests and the
    demo point both URLs at the loopback fake (tasks/fakes/sentiment.py), never at the internet."""

    fear_greed_url: str = "https://api.alternative.me/fng/"
    long_short_url: str = "https://fapi.binance.com/futures/data/globalLongShortAccountRatio"
    long_short_quote: str = "USDT"  # the endpoint's symbol is <SYMBOL><quote>, e.g. BTCUSDT
    symbols: list[str] = Field(default_factory=lambda: ["BTC", "ETH", "SOL"], min_length=1)
    funding_venues: list[str] = Field(default_factory=lambda: ["paradex", "grvt"])  # read via the venue contract
    timeout_s: float = Field(default=5.0, gt=0, le=120)
    retries: int = Field(default=2, ge=0, le=10)  # transient errors only (timeouts, 429, 5xx)
    backoff_s: float = Field(default=1.0, ge=0, le=60)  # first retry delay, doubled each time
    max_retry_after_s: float = Field(default=30.0, ge=0, le=600)  # a longer Retry-After gives up instead
    fear_greed_ttl_s: float = Field(default=3600.0, ge=0)  # cache: re-fetch no sooner than this
    long_short_ttl_s: float = Field(default=300.0, ge=0)
    funding_ttl_s: float = Field(default=300.0, ge=0)
    fear_greed_max_age_s: float = Field(default=36 * 3600.0, gt=0)  # older data is stale: neutral
    long_short_max_age_s: float = Field(default=2 * 3600.0, gt=0)
    funding_max_age_s: float = Field(default=2 * 3600.0, gt=0)


class InsightsSettings(BaseModel):
    """Shared-insights statistics (``PERPFLOW_INSIGHTS__*``)."""

    window_days: float = Field(default=7.0, gt=0, le=365)  # outcomes older than this are not counted
    confidence: float = Field(default=0.95, gt=0.5, lt=1)  # level of the Wilson bounds and the blackout test
    min_trades: int = Field(default=10, ge=1)  # a combo needs this many outcomes before it can be blocked
    block_hours: float = Field(default=24.0, gt=0, le=24 * 30)  # how long a statistical block lasts
    blackout_min_sample: int = Field(default=20, ge=1)  # outcomes in an hour before it can be a blackout
    blackout_hours: float = Field(default=24.0, gt=0, le=24 * 30)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_nested_delimiter="__",
                                      env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    venue_mode: Literal["sim", "live"] = "sim"
    seed: PlainInt = Field(default=7, ge=0)
    llm: LlmSettings = LlmSettings()
    sentiment: SentimentSettings = SentimentSettings()
    insights: InsightsSettings = InsightsSettings()

    @property
    def journal_dir(self) -> Path:
        return self.data_dir / "journal"

    @property
    def warehouse_path(self) -> Path:
        return self.data_dir / "warehouse.duckdb"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def insights_path(self) -> Path:
        return self.data_dir / "shared_insights.json"


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
