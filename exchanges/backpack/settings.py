"""Backpack settings (``PERPFLOW_BACKPACK__*``): endpoint overrides and the ED25519 API key pair.

The request policy's settings (``request_timeout_s``, ``max_attempts``, ...) are the same for every venue
(``exchanges.policy.RequestSettings``), and so is the account's ``fees`` for the simulator
(``exchanges.fees.FeeSettings``).
"""

from __future__ import annotations

from pydantic import SecretStr

from exchanges.fees import FeeSettings
from exchanges.policy import RequestSettings


class BackpackSettings(RequestSettings, FeeSettings):
    endpoint: str | None = None
    ws_endpoint: str | None = None
    api_key: str | None = None
    api_secret: SecretStr | None = None
