"""Capture every log record, fully formatted, to prove no secret reaches a log line."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

LOUD = ("websockets", "websockets.client", "httpx", "httpcore", "paradex_py", "pysdk", "aiohttp", "asyncio",
        "perpflow")


class LogCapture(logging.Handler):
    """Every record, formatted with its traceback, as a handler would write it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@contextmanager
def everything_logged(names: Iterable[str] = LOUD) -> Iterator[LogCapture]:
    """The root logger and ``names`` at DEBUG, every record captured; levels restored after."""
    loggers = [logging.getLogger(), *(logging.getLogger(n) for n in names)]
    levels = [lg.level for lg in loggers]
    capture = LogCapture()
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(capture)
    try:
        yield capture
    finally:
        logging.getLogger().removeHandler(capture)
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
