"""An expected end is not a crash, in the worker's log either.

A deployment run executes in a worker's subprocess, where Prefect's engine reads the final state's
result, re-raises a Failed/Cancelled state's data and logs it as "Engine execution exited with
unexpected exception" with a 40-line traceback - also for a run that ended as planned (the size a
venue cannot take, parameters that disagree, a cancel), whose reasons are already the state's
message and its last ERROR line. This filter drops those records when the exception is an
``ExpectedEnd``; a real crash keeps its traceback.
"""

from __future__ import annotations

import logging

from core.errors import ExpectedEnd

ENGINE_LOGGERS = ("prefect.flow_runs", "prefect.engine", "prefect.flow_engine")


class ExpectedEndIsNotACrash(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ExpectedEnd)


def install() -> None:
    """Filter the engine's loggers (idempotent: a flow module imported twice adds nothing)."""
    for name in ENGINE_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, ExpectedEndIsNotACrash) for f in logger.filters):
            logger.addFilter(ExpectedEndIsNotACrash())
