"""Hibachi settings (``PERPFLOW_HIBACHI__*``): endpoint overrides, API key, signing key, account id.

The request policy's settings (``request_timeout_s``, ``max_attempts``, ...) are the same for every venue
(``exchanges.policy.RequestSettings``), and so is the account's ``fees`` for the simulator
(``exchanges.fees.FeeSettings``).
"""

from __future__ import annotations

from pydantic import SecretStr

from exchanges.fees import FeeSettings
from exchanges.policy import RequestSettings


class HibachiSettings(RequestSettings, FeeSettings):
    endpoint: str | None = None
    data_endpoint: str | None = None
    ws_endpoint: str | None = None
    api_key: SecretStr | None = None
    private_key: SecretStr | None = None
    account_id: str | None = None
