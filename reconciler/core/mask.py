"""Keeping secrets out of every diff, log line and message.

Pure. Masked: every value of a task definition's `secrets`, environment values whose names
look like credentials, and values that look like credentials wherever they are.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "(sensitive)"

SENSITIVE_NAME = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|"
    r"credential|auth|session[_-]?key|signing[_-]?key|client[_-]?key|dsn|"
    r"connection[_-]?string|webhook)",
    re.IGNORECASE,
)
SENSITIVE_VALUE = re.compile(
    r"(AKIA|ASIA)[0-9A-Z]{16}"          # AWS access key ids
    r"|://[^/\s:@]+:[^/\s@]+@"           # credentials inside a URL
    r"|-----BEGIN [A-Z ]*PRIVATE KEY"
    r"|xox[abposr]-[0-9A-Za-z-]+"        # Slack tokens
    r"|gh[pousr]_[0-9A-Za-z]{20,}"       # GitHub tokens
)


def sensitive_name(name: str) -> bool:
    return bool(SENSITIVE_NAME.search(name))


def _mask_scalar(value: Any) -> Any:
    if isinstance(value, str) and SENSITIVE_VALUE.search(value):
        return MASK
    return value


def mask(value: Any, path: tuple[Any, ...] = ()) -> Any:
    """A copy of `value` (found at `path` in a comparison-form document) with secrets masked."""
    parent = path[-1] if path else None
    grandparent = path[-2] if len(path) > 1 else None
    if grandparent == "secrets" or (grandparent == "environment" and sensitive_name(str(parent))):
        return MASK if value is not None else value
    if parent == "secrets":
        return _mask_map(value, lambda _k: True)
    if parent == "environment":
        return _mask_map(value, sensitive_name)
    if isinstance(value, dict):
        return {k: mask(v, (*path, k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_list_item(v, path) for v in value]
    return _mask_scalar(value)


def _mask_list_item(item: Any, path: tuple[Any, ...]) -> Any:
    """Request-shaped lists: [{name, value}] environment and [{name, valueFrom}] secrets."""
    parent = path[-1] if path else None
    if isinstance(item, dict) and "name" in item:
        if parent == "secrets":
            return {**item, **{k: MASK for k in ("valueFrom", "value") if k in item}}
        if parent == "environment" and sensitive_name(str(item["name"])) and "value" in item:
            return {**item, "value": MASK}
    return mask(item, path)


def _mask_map(value: Any, hide: Any) -> Any:
    if isinstance(value, dict):
        return {k: (MASK if hide(str(k)) else _mask_scalar(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_list_item(v, ("secrets" if hide("x") else "environment",)) for v in value]
    return value


def mask_text(text: str) -> str:
    """Mask credential-looking substrings in free text (log lines, error messages)."""
    return SENSITIVE_VALUE.sub(MASK, text)
