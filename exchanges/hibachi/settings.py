"""Hibachi settings (``PERPFLOW_HIBACHI__*``): endpoint overrides, API key, signing key, account id."""

from __future__ import annotations

from pydantic import BaseModel, SecretStr


class HibachiSettings(BaseModel):
    endpoint: str | None = None
    data_endpoint: str | None = None
    ws_endpoint: str | None = None
    api_key: SecretStr | None = None
    private_key: SecretStr | None = None
    account_id: str | None = None
