"""Venue credentials: from settings (``.env``) or Prefect Secret blocks, and kept out of logs.

One module for every adapter. A credential setting may hold the secret itself or a reference
``prefect-secret:<block-name>``; the reference is resolved with ``prefect.blocks.system.Secret``
when the venue starts, so a deployment can keep keys in Prefect instead of in a file.

SDKs and the libraries under them log generously: grvt-pysdk logs its session cookie, websockets
logs handshake headers (``Authorization: Bearer <jwt>``, ``Cookie: gravity=...``) and an elided
copy of every frame (Paradex's ``auth`` frame carries the JWT) at DEBUG. ``SecretRedactor`` is a
logging filter that rewrites each record (message, arguments, traceback) before any handler sees
it: it replaces every secret it was given (in its usual spellings), anything shaped like a JWT,
and whatever follows the word "bearer".
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterable

from pydantic import SecretStr

from core.errors import ConfigError

PREFECT_SECRET_PREFIX = "prefect-secret:"
REDACTED = "[REDACTED]"
MIN_SECRET_LEN = 6  # shorter strings would redact ordinary words

_HEX = re.compile(r"[0-9a-fA-F]+")
_JWT = re.compile(r"eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]*)?")
_BEARER = re.compile(r"(?i)(bearer['\"]?\s*[:=]?\s*['\"]?)([^\s'\"},]+)(.*)")


def is_prefect_reference(value: SecretStr | str | None) -> bool:
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    return bool(raw) and raw.startswith(PREFECT_SECRET_PREFIX)  # type: ignore[union-attr]


async def resolve_secret(value: SecretStr | None, field: str) -> SecretStr | None:
    """The secret itself, loaded from a Prefect Secret block when ``value`` names one.

    Errors name the field and the block, never the secret.
    """
    if value is None or not is_prefect_reference(value):
        return value
    name = value.get_secret_value()[len(PREFECT_SECRET_PREFIX):].strip()
    if not name:
        raise ConfigError(field, f"'{PREFECT_SECRET_PREFIX}' must be followed by a Secret block name")
    from prefect.blocks.system import Secret

    try:
        block = await Secret.aload(name)
    except Exception as exc:  # missing block or unreachable API: say which, keep the rest out
        raise ConfigError(field, f"Prefect Secret block {name!r} could not be loaded "
                                 f"({type(exc).__name__})") from None
    secret = block.get()
    if not isinstance(secret, str) or not secret:
        raise ConfigError(field, f"Prefect Secret block {name!r} does not hold a string")
    return SecretStr(secret)


def spellings(secret: str | int) -> set[str]:
    """The ways a secret shows up in text: an int key in decimal and hex, a hex string with and
    without ``0x`` and in either case."""
    if isinstance(secret, int):
        out = {str(secret), hex(secret), hex(secret)[2:], f"{secret:064x}"}
    else:
        body = secret[2:] if secret[:2].lower() == "0x" else secret
        out = {secret, body}
        if _HEX.fullmatch(body):
            out |= {body.lower(), body.upper(), "0x" + body.lower()}
    return {s for s in out if len(s) >= MIN_SECRET_LEN}


class SecretRedactor(logging.Filter):
    """Replaces known secrets, JWTs and bearer values in log records.

    Records created on a logger pass that logger's filters only, so the filter goes on the exact
    loggers an SDK and its libraries write to (``attach``), not on a parent.
    """

    def __init__(self, mask: str = REDACTED) -> None:
        super().__init__()
        self.mask = mask
        self._secrets: list[str] = []  # longest first, so a secret's substrings never leave a tail

    def add(self, secret: str | int | None) -> None:
        """Remember a secret (with its other spellings, see ``spellings``)."""
        if secret is None or secret == "":
            return
        merged = set(self._secrets) | spellings(secret)
        self._secrets = sorted(merged, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for s in self._secrets:
            if s in text:
                text = text.replace(s, self.mask)
        text = _JWT.sub(self.mask, text)
        return _BEARER.sub(lambda m: m.group(1) + self.mask, text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the raw template only
            message = str(record.msg)
        record.msg, record.args = self.redact(message), None
        if record.exc_info:
            text = record.exc_text or "".join(traceback.format_exception(*record.exc_info))
            record.exc_text, record.exc_info = self.redact(text), None
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True

    def attach(self, names: Iterable[str]) -> None:
        """Put this filter on each named logger (idempotent)."""
        for name in names:
            logger = logging.getLogger(name)
            if self not in logger.filters:
                logger.addFilter(self)

    def detach(self, names: Iterable[str]) -> None:
        for name in names:
            logging.getLogger(name).removeFilter(self)
