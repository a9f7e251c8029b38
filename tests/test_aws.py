"""The AWS adapter against moto: what every request carries."""

from __future__ import annotations

from typing import Any

from reconciler import __version__
from reconciler.aws import Aws


async def test_requests_name_the_reconciler_in_the_user_agent(aws: Any) -> None:
    client = Aws()
    seen: list[str] = []
    client.client("ecs").meta.events.register(
        "before-send.ecs.ListClusters",
        lambda request, **_: seen.append(request.headers["User-Agent"].decode()
                                         if isinstance(request.headers["User-Agent"], bytes)
                                         else request.headers["User-Agent"]))
    await client.call("ecs", "list_clusters")
    assert seen and seen[0].startswith(f"ecs-reconciler/{__version__} Boto3/")
