"""Extended (X10) settings (``PERPFLOW_EXTENDED__*``): endpoint overrides, API key, Stark key pair, vault.

The request policy's settings (``request_timeout_s``, ``max_attempts``, ...) are the same for every venue
(``exchanges.policy.RequestSettings``), and so is the account's ``fees`` for the simulator
(``exchanges.fees.FeeSettings``).
"""

from __future__ import annotations

from pydantic import SecretStr

from exchanges.fees import FeeSettings
from exchanges.policy import RequestSettings


class ExtendedSettings(RequestSettings, FeeSettings):
    endpoint: str | None = None
    ws_endpoint: str | None = None
    api_key: SecretStr | None = None
    stark_private_key: SecretStr | None = None
    stark_public_key: str | None = None
    vault_id: str | None = None
