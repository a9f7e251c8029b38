"""Logging: structlog lines, readable on a terminal, JSON off one (or as --log-format says),
secrets masked on every line. The standard library's loggers (botocore, aiohttp, urllib3,
moto's werkzeug) go through the same processors, so a JSON log is JSON on every line, and an
exception is a structured field with its traceback, never a bare `exc_info: true`."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from reconciler.core.mask import mask_text

FORMATS = ("auto", "json", "console")


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v) for v in value]
    return value


def _mask_event(_logger: Any, _name: str, event: MutableMapping[str, Any]
                ) -> MutableMapping[str, Any]:
    for k, v in list(event.items()):
        event[k] = _masked(v)
    return event


# A traceback as data, without the frames' local variables (they may hold secrets); on a
# console as plain text, rendered before masking (rich's renderer would show the locals).
_TRACEBACKS = structlog.processors.ExceptionRenderer(
    structlog.tracebacks.ExceptionDictTransformer(show_locals=False))
_TRACEBACK_TEXT = structlog.processors.format_exc_info


def configure(level: str = "info", fmt: str = "auto") -> None:
    """Configure structlog and the standard library's logging once per process; logs go to
    stderr, so stdout stays the command's output. Output is line-buffered either way."""
    json_lines = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    number = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    renderer: Any = (structlog.processors.JSONRenderer() if json_lines
                     else structlog.dev.ConsoleRenderer(
                         colors=sys.stderr.isatty() and "NO_COLOR" not in os.environ))
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(number),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _TRACEBACKS if json_lines else _TRACEBACK_TEXT,
            _mask_event,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(number)
    for noisy in ("botocore", "urllib3", "aiohttp.access", "werkzeug", "watchfiles"):
        logging.getLogger(noisy).setLevel(max(number, logging.WARNING))
    for stream in (sys.stdout, sys.stderr):  # alerts printed to a pipe appear at once
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(line_buffering=True)


__all__ = ["FORMATS", "configure"]
