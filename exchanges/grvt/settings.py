"""GRVT settings (``PERPFLOW_GRVT__*``): environment, endpoint overrides, API key, signer, sub-account.

The request policy's settings (``request_timeout_s``, ``max_attempts``, ...) are the same for every venue
(``exchanges.policy.RequestSettings``), and so is the account's ``fees`` for the simulator
(``exchanges.fees.FeeSettings``).
"""

from __future__ import annotations

from typing import Literal

from pydantic import SecretStr

from exchanges.fees import FeeSettings
from exchanges.policy import RequestSettings


class GrvtSettings(RequestSettings, FeeSettings):
    env: Literal["testnet", "prod", "dev"] = "testnet"
    endpoint: str | None = None
    ws_endpoint: str | None = None
    api_key: SecretStr | None = None
    private_key: SecretStr | None = None
    trading_account_id: str | None = None
