"""Extended (X10) settings (``PERPFLOW_EXTENDED__*``): endpoint overrides, API key, Stark key pair, vault."""

from __future__ import annotations

from pydantic import BaseModel, SecretStr


class ExtendedSettings(BaseModel):
    endpoint: str | None = None
    ws_endpoint: str | None = None
    api_key: SecretStr | None = None
    stark_private_key: SecretStr | None = None
    stark_public_key: str | None = None
    vault_id: str | None = None
