"""The inventory: everything this controller owns, with all its tags, from the Resource
Groups Tagging API's GetResources (100 resources a page, one chain of pages per resource
type, side by side). It replaces one tag read per resource (EventBridge rules, scalable
targets) and one describe per immutable task definition revision with a few pages.

It runs while the kinds read, and they await it only where they use it. AWS's tagging index
can lag a write by seconds and may list resources already deleted, so it only ever saves a
read: a resource it does not list is read as before, and anything it lists that a pass acts
on is confirmed by the kind's own describe.
"""

from __future__ import annotations

import asyncio

import structlog

from reconciler.core.ownership import MANAGED_BY
from reconciler.core.ports import AwsApi, AwsError

log = structlog.get_logger(__name__)

PAGE_SIZE = 100


def resource_type(arn: str) -> str:
    """`arn:aws:ecs:r:a:task-definition/web:3` -> `ecs:task-definition`."""
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return ""
    return f"{parts[2]}:{parts[5].split('/', 1)[0]}"


class Inventory:
    """`reconciler.core.kind.Owned`, read through `AwsApi`."""

    def __init__(self, aws: AwsApi, owner: str, types: list[str]) -> None:
        self._aws, self._owner = aws, owner
        self._reads: dict[str, asyncio.Task[dict[str, dict[str, str]]]] = {
            t: asyncio.create_task(self._read(t)) for t in sorted(set(types))}
        self.complete = True  # every type read without error

    async def _read(self, rtype: str) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = {}
        try:
            async for page in self._aws.pages(
                    "resourcegroupstaggingapi", "get_resources", "PaginationToken",
                    "PaginationToken", ResourceTypeFilters=[rtype], ResourcesPerPage=PAGE_SIZE,
                    TagFilters=[{"Key": MANAGED_BY, "Values": [self._owner]}]):
                for r in page.get("ResourceTagMappingList", []):
                    out[r["ResourceARN"]] = {t["Key"]: t["Value"] for t in r.get("Tags", [])}
        except AwsError as exc:  # no permission, or not supported here: read per resource
            self.complete = False
            log.warning("inventory.unavailable", resource_type=rtype, error=str(exc))
            return {}
        return out

    async def arns(self, resource_type: str) -> dict[str, dict[str, str]]:
        read = self._reads.get(resource_type)
        return dict(await read) if read is not None else {}

    async def tags(self, arn: str) -> dict[str, str] | None:
        return (await self.arns(resource_type(arn))).get(arn)

    async def close(self) -> None:
        """Finish (or stop) the reads, so no task outlives the pass."""
        for read in self._reads.values():
            if not read.done():
                read.cancel()
        await asyncio.gather(*self._reads.values(), return_exceptions=True)


__all__ = ["Inventory", "resource_type"]
