"""Paradex settings (``PERPFLOW_PARADEX__*``): environment, endpoint overrides, Starknet credentials."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, SecretStr


class ParadexSettings(BaseModel):
    env: Literal["testnet", "prod"] = "testnet"
    endpoint: str | None = None  # override the REST base URL (a fake venue on loopback)
    ws_endpoint: str | None = None
    l1_address: str | None = None
    l2_private_key: SecretStr | None = None
    l2_address: str | None = None
