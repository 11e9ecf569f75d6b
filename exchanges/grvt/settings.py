"""GRVT settings (``PERPFLOW_GRVT__*``): environment, endpoint overrides, API key, signer, sub-account."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, SecretStr


class GrvtSettings(BaseModel):
    env: Literal["testnet", "prod", "dev"] = "testnet"
    endpoint: str | None = None
    ws_endpoint: str | None = None
    api_key: SecretStr | None = None
    private_key: SecretStr | None = None
    trading_account_id: str | None = None
