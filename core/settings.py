"""Settings from the environment and ``.env`` (prefix ``PERPFLOW_``, nested with ``__``).

Credentials are ``SecretStr``: their ``repr`` and ``str`` print ``**********``, so a settings
object can be logged without leaking a key. Invalid values fail at start with pydantic's
message naming the field and the allowed values.

Venue sections (``PERPFLOW_<VENUE>__*``) are declared by each venue package and added by
``exchanges.settings.Settings``; this core model knows no venue.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class LlmSettings(BaseModel):
    base_url: str | None = None  # OpenAI-compatible endpoint; None = statistical reviewer
    api_key: SecretStr | None = None
    model: str = "qwen-plus"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PERPFLOW_", env_nested_delimiter="__",
                                      env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    venue_mode: Literal["sim", "live"] = "sim"
    seed: int = Field(default=7, ge=0)
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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
