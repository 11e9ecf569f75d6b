"""Paradex credentials: from settings or a Prefect Secret block, and never in a log line.

A credential setting holds the secret itself or a reference ``prefect-secret:<block-name>``,
resolved with ``prefect.blocks.system.Secret`` when the venue starts.

Libraries under the adapter log what they send: websockets logs the handshake headers
(``Authorization: Bearer <jwt>``) and an elided copy of every frame (the WebSocket ``auth``
frame carries the JWT) at DEBUG. ``LogRedactor`` is a logging filter put on each of those
loggers; it removes the known secrets, anything shaped like a JWT and whatever follows the word
"bearer", before a handler sees the record.
"""

from __future__ import annotations

import logging
import re
import traceback

from pydantic import SecretStr

from core.errors import ConfigError

PREFECT_SECRET_PREFIX = "prefect-secret:"
REDACTED = "[REDACTED]"

_JWT = re.compile(r"eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]*)?")
_BEARER = re.compile(r"(?i)(bearer['\"]?\s*[:=]?\s*['\"]?)([^\s'\"},]+)(.*)")

# Every logger that can see a request, a handshake or a frame of the Paradex session. Filters
# apply only to records created on the logger itself, so each one is named, not just a parent.
SENSITIVE_LOGGERS = (
    "websockets", "websockets.client", "httpx", "httpcore", "httpcore.http11", "httpcore.connection",
    "paradex_py", "paradex_py.paradex", "paradex_py.api.api_client", "paradex_py.api.http_client",
    "paradex_py.api.ws_client", "perpflow.paradex", "perpflow.paradex.sdk", "perpflow.streams",
)


async def resolve_secret(value: SecretStr | None, field: str) -> SecretStr | None:
    """The secret itself, loaded from a Prefect Secret block when ``value`` names one.

    Errors name the field and the block, never the secret.
    """
    if value is None:
        return None
    raw = value.get_secret_value()
    if not raw.startswith(PREFECT_SECRET_PREFIX):
        return value
    name = raw[len(PREFECT_SECRET_PREFIX):].strip()
    if not name:
        raise ConfigError(field, f"'{PREFECT_SECRET_PREFIX}' must be followed by a Secret block name")
    from prefect.blocks.system import Secret

    try:
        block = await Secret.aload(name)
    except Exception as exc:  # missing block or unreachable API: say which, keep the rest out
        raise ConfigError(field, f"Prefect Secret block {name!r} could not be loaded ({type(exc).__name__})") from None
    secret = block.get()
    if not isinstance(secret, str) or not secret:
        raise ConfigError(field, f"Prefect Secret block {name!r} does not hold a string")
    return SecretStr(secret)


class LogRedactor(logging.Filter):
    """Removes secrets from log records (message, arguments, traceback)."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def add(self, secret: str | int | None) -> None:
        """Remember a secret; an int key is remembered in decimal and hex spellings."""
        if secret is None:
            return
        if isinstance(secret, int):
            spellings = {str(secret), hex(secret), hex(secret)[2:], f"{secret:064x}"}
        else:
            body = secret[2:] if secret[:2].lower() == "0x" else secret
            spellings = {secret, body, body.lower(), body.upper()}
        self._secrets.update(s for s in spellings if len(s) >= 8)

    def redact(self, text: str) -> str:
        for s in self._secrets:
            if s in text:
                text = text.replace(s, REDACTED)
        text = _JWT.sub(REDACTED, text)
        return _BEARER.sub(lambda m: m.group(1) + REDACTED, text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep the template only
            message = str(record.msg)
        record.msg, record.args = self.redact(message), None
        if record.exc_info:
            text = record.exc_text or "".join(traceback.format_exception(*record.exc_info))
            record.exc_text, record.exc_info = self.redact(text), None
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


REDACTOR = LogRedactor()


def install_redactor(redactor: LogRedactor = REDACTOR) -> None:
    """Put ``redactor`` on every logger of the Paradex session (idempotent)."""
    for name in SENSITIVE_LOGGERS:
        logger = logging.getLogger(name)
        if redactor not in logger.filters:
            logger.addFilter(redactor)
