"""The one port through which kinds reach AWS, as gitops-engine's sync sees only
`ResourceOperations`: a small Protocol that `reconciler.aws.Aws` implements and that tests can
implement with plain data. Kinds import this module, never boto3.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol


class AwsError(Exception):
    """An AWS call failed for good (after the adapter's retries). Match on `code`, never on
    the message: messages change, codes are the API's contract."""

    def __init__(self, operation: str, code: str, message: str) -> None:
        super().__init__(f"{operation}: {code}: {message}")
        self.operation = operation
        self.code = code
        self.message = message


class Fenced(AwsError):
    """A write not sent: this process may not write now (it is stopping, or it does not hold
    the lease with a safety margin left). Nothing reached AWS."""

    def __init__(self, operation: str) -> None:
        super().__init__(operation, "Fenced",
                         "not sent: this replica is stopping or does not hold the lease")


class AwsApi(Protocol):
    """What a kind may do with AWS: call an operation, follow its pages, read many ids in
    batches, and ask who and where it is. Describes of immutable objects may be kept in
    `cache` by ARN for the life of the adapter."""

    cache: dict[str, Any]

    @property
    def region(self) -> str: ...

    @property
    def partition(self) -> str: ...

    async def account_id(self) -> str: ...

    async def call(self, service: str, operation: str, /, **params: Any) -> dict[str, Any]: ...

    def pages(
        self, service: str, operation: str, token_in: str, token_out: str, /, **params: Any
    ) -> AsyncIterator[dict[str, Any]]: ...

    async def batched(
        self, scope: str, ids: Iterable[str], size: int,
        fetch: Callable[[list[str]], Awaitable[Mapping[str, Any]]],
    ) -> dict[str, Any]: ...

    def recall(self, arn: str) -> dict[str, Any] | None:
        """A describe answer kept for an immutable resource (across processes, where the
        endpoint guarantees that an ARN is never reused)."""
        ...

    def keep(self, arn: str, answer: dict[str, Any]) -> None:
        """Keep the describe answer of an immutable resource for `recall`."""
        ...


async def gather_limited(*aws: Any) -> list[Any]:
    """asyncio.gather, re-raising the first error after every task has finished (so no call
    is left running unobserved when one of its siblings fails)."""
    results = await asyncio.gather(*aws, return_exceptions=True)
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return list(results)


async def collect_pages(aws: AwsApi, service: str, operation: str, field: str, /,
                        token: tuple[str, str] = ("nextToken", "nextToken"),
                        **params: Any) -> list[Any]:
    """Every item of `field` across all pages of a listing."""
    out: list[Any] = []
    async for page in aws.pages(service, operation, token[0], token[1], **params):
        out.extend(page.get(field, []))
    return out


__all__ = ["AwsApi", "AwsError", "Fenced", "collect_pages", "gather_limited"]
