"""Paradex settings (``PERPFLOW_PARADEX__*``): environment, endpoint overrides, Starknet credentials.

The request policy's settings (``request_timeout_s``, ``max_attempts``, ...) are the same for every venue
(``exchanges.policy.RequestSettings``), and so is the account's ``fees`` for the simulator
(``exchanges.fees.FeeSettings``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import SecretStr

from exchanges.fees import FeeSettings
from exchanges.policy import RequestSettings


class ParadexSettings(RequestSettings, FeeSettings):
    env: Literal["testnet", "prod"] = "testnet"
    endpoint: str | None = None  # override the REST base URL (a fake venue on loopback)
    ws_endpoint: str | None = None
    l1_address: str | None = None
    l2_private_key: SecretStr | None = None
    l2_address: str | None = None
