"""Extended (X10) settings (``PERPFLOW_EXTENDED__*``): endpoint overrides, API key, Stark key pair, vault,
and the order terms perpflow signs (expiry, taker-fee cap).

The request policy's settings (``request_timeout_s``, ``max_attempts``, ...) are the same for every venue
(``exchanges.policy.RequestSettings``), and so is the account's ``fees`` for the simulator
(``exchanges.fees.FeeSettings``).

Why the order terms are settings: every Extended order carries a signed expiry (the SDK's default is
one hour, after which a resting quote silently disappears) and a signed maximum taker fee (the SDK's
default 0.05%). perpflow sets both explicitly: ``order_ttl_s`` on every order, renewed
``renew_before_s`` before it runs out, and the account's own taker rate as the cap, refused before any
order when the venue charges the account more than ``max_taker_fee_bps``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field, SecretStr

from exchanges.fees import FeeSettings
from exchanges.policy import RequestSettings

MAX_ORDER_TTL_S = 28 * 86_400  # perpflow's bound on an order's life (the fake refuses longer ones too)


class ExtendedSettings(RequestSettings, FeeSettings):
    network: Literal["mainnet", "testnet"] = "mainnet"
    endpoint: str | None = None  # REST base, ending in /api/v1
    ws_endpoint: str | None = None  # stream base, ending in /stream.extended.exchange/v1
    api_key: SecretStr | None = None
    stark_private_key: SecretStr | None = None
    stark_public_key: str | None = None
    vault_id: str | None = None
    order_ttl_s: float = Field(86_400.0, ge=60, le=MAX_ORDER_TTL_S,
                               description="seconds an order lives: the expiry signed into every order")
    renew_before_s: float = Field(3_600.0, ge=0,
                                  description="a resting order is replaced with a fresh expiry this long before it "
                                              "runs out (0: never renewed)")
    max_taker_fee_bps: Decimal = Field(Decimal(5), ge=0, le=100,
                                       description="highest taker rate (bps) perpflow signs as an order's fee cap")
