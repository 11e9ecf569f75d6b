"""Hibachi settings (``PERPFLOW_HIBACHI__*``): endpoint overrides, API key, signing key, account id.

- ``endpoint``: the trade API (default https://api.hibachi.xyz); ``data_endpoint``: the market data
  API (default https://data-api.hibachi.xyz); ``ws_endpoint``: the trade API's WebSocket base, for
  ``/ws/account`` (default: derived from ``endpoint``). The market WebSocket is the data API's.
- ``api_key``: the API key (sent as ``Authorization``); ``private_key``: the signing key, ``0x`` +
  64 hex digits for a trustless (wallet) account, the HMAC secret for an exchange-managed one;
  ``account_id``: the account's number. Either secret may be ``prefect-secret:<block>``.

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
