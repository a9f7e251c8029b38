"""Which failed AWS calls to try again, and after how long.

The adapter retries itself instead of leaving it to botocore, so that a retry waits for its
turn under the pacer like any call (botocore's retries would go out unpaced, on top of the
quota) and a throttled answer slows the pacer down. What counts as retryable is botocore's
own standard policy: throttling codes and 429, transient codes, 5xx and connection errors,
and what a service model marks retryable.
"""

from __future__ import annotations

import random
from types import SimpleNamespace
from typing import Any, Literal

from botocore.exceptions import ClientError
from botocore.model import OperationModel
from botocore.retries import standard

MAX_ATTEMPTS = 10
BASE_SECONDS = 0.05
MAX_BACKOFF_SECONDS = 20.0

_RETRYABLE = standard.StandardRetryConditions(max_attempts=MAX_ATTEMPTS)
_THROTTLED = standard.OrRetryChecker(
    [standard.ThrottledRetryableChecker(), standard.ThrottlingStatusCodeChecker()])
_MODELED = standard.ModeledRetryErrorDetector()

Verdict = Literal["throttled", "transient"]


def _context(exc: BaseException, operation: OperationModel, attempt: int) -> Any:
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return standard.RetryContext(
            attempt, operation_model=operation, parsed_response=exc.response,
            # the status is what the checks read; a parsed error has no body to checksum
            http_response=SimpleNamespace(status_code=status, headers={}, content=b"")
            if status else None)
    return standard.RetryContext(attempt, operation_model=operation, caught_exception=exc)


def verdict(exc: BaseException, operation: OperationModel, attempt: int) -> Verdict | None:
    """"throttled" or "transient" when attempt `attempt` (1-based) may be tried again."""
    ctx = _context(exc, operation, attempt)
    if not _RETRYABLE.is_retryable(ctx):
        return None
    if _THROTTLED.is_retryable(ctx) or _MODELED.detect_error_type(ctx) == _MODELED.THROTTLING_ERROR:
        return "throttled"
    return "transient"


def backoff(attempt: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with full jitter: up to 0.05 s after the first attempt, doubling,
    never above 20 s."""
    r: float = (rng or random).random()
    return r * min(MAX_BACKOFF_SECONDS, BASE_SECONDS * 2.0 ** (attempt - 1))
