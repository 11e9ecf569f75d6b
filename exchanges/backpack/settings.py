"""Backpack settings (``PERPFLOW_BACKPACK__*``): endpoint overrides and the ED25519 API key pair."""

from __future__ import annotations

from pydantic import BaseModel, SecretStr


class BackpackSettings(BaseModel):
    endpoint: str | None = None
    ws_endpoint: str | None = None
    api_key: str | None = None
    api_secret: SecretStr | None = None
