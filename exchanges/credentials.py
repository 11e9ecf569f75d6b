"""Venue credentials: from settings (``.env``) or Prefect Secret blocks, and kept out of logs.

A credential setting may hold the secret itself or a reference ``prefect-secret:<block-name>``;
the reference is resolved with ``prefect.blocks.system.Secret`` when the venue starts, so a
deployment can keep keys in Prefect instead of in a file.

SDKs log generously (grvt-pysdk logs its session cookie and request headers; websockets logs
handshake headers at DEBUG), so every logger handed to an SDK carries a ``SecretRedactor``: a
filter that replaces each known secret in the formatted record (message, arguments and
traceback) before any handler sees it.
"""

from __future__ import annotations

import logging
import traceback

from pydantic import SecretStr

from core.errors import ConfigError

PREFECT_SECRET_PREFIX = "prefect-secret:"
REDACTED = "***"
_MIN_SECRET_LEN = 6  # shorter strings would redact ordinary words


def is_prefect_reference(value: SecretStr | str | None) -> bool:
    raw = value.get_secret_value() if isinstance(value, SecretStr) else value
    return bool(raw) and raw.startswith(PREFECT_SECRET_PREFIX)  # type: ignore[union-attr]


async def resolve_secret(value: SecretStr | None, field: str) -> SecretStr | None:
    """The secret itself, loading it from a Prefect Secret block when ``value`` refers to one.

    Errors name the field and the block, never the secret.
    """
    if value is None or not is_prefect_reference(value):
        return value
    name = value.get_secret_value()[len(PREFECT_SECRET_PREFIX):].strip()
    if not name:
        raise ConfigError(field, f"'{PREFECT_SECRET_PREFIX}' needs a block name")
    from prefect.blocks.system import Secret

    try:
        block = await Secret.aload(name)
    except Exception as exc:  # the block is missing or the API unreachable; say which, not why in full
        raise ConfigError(field, f"Prefect Secret block {name!r} could not be loaded "
                                 f"({type(exc).__name__})") from None
    secret = block.get()
    if not isinstance(secret, str) or not secret:
        raise ConfigError(field, f"Prefect Secret block {name!r} does not hold a string")
    return SecretStr(secret)


class SecretRedactor(logging.Filter):
    """Replaces known secrets in log records. Attach it to every logger an SDK writes to.

    Records created on a logger pass that logger's filters only, so the filter goes on the
    exact logger objects handed to the SDK and to websockets (not on a parent).
    """

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def add(self, secret: str | None) -> None:
        """Remember a secret (and, for hex keys, its other spellings)."""
        if not secret or len(secret) < _MIN_SECRET_LEN:
            return
        self._secrets.add(secret)
        body = secret[2:] if secret[:2].lower() == "0x" else secret
        if all(c in "0123456789abcdefABCDEF" for c in body):
            self._secrets.update({body, body.lower(), body.upper(), "0x" + body.lower()})

    def redact(self, text: str) -> str:
        for s in self._secrets:
            if s in text:
                text = text.replace(s, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
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


def redacting_logger(name: str, redactor: SecretRedactor) -> logging.Logger:
    """A logger that never lets ``redactor``'s secrets through (idempotent)."""
    logger = logging.getLogger(name)
    if redactor not in logger.filters:
        logger.addFilter(redactor)
    return logger
