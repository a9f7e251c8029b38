"""TaskDefinition reads against moto: a cold read describes each family by name, a warm one
lists and describes only revisions it has not seen, and both find the same revision."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from reconciler.aws.client import Aws
from reconciler.core.kind import Context
from reconciler.core.manifest import Manifest, manifests_in
from reconciler.kinds.task_definition import TaskDefinition
from tests.conftest import REGION

FAMILIES = ("alpha", "beta", "gamma")


def _td(family: str, cpu: str = "256") -> dict[str, Any]:
    return {"family": family, "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
            "cpu": cpu, "memory": "512",
            "containerDefinitions": [{"name": "app", "image": "nginx", "essential": True}]}


def _manifests(families: tuple[str, ...]) -> list[Manifest]:
    text = "\n---\n".join(
        f"apiVersion: reconciler/v1\nkind: TaskDefinition\nmetadata:\n  name: {f}\n"
        f"spec:\n  networkMode: awsvpc\n  requiresCompatibilities: [FARGATE]\n  cpu: '256'\n"
        f"  memory: '512'\n  containerDefinitions:\n  - name: app\n    image: nginx\n"
        for f in families)
    out = [m for m in manifests_in(text, "tds.yaml") if isinstance(m, Manifest)]
    assert len(out) == len(families)
    return out


@pytest.fixture
def registered(aws: object) -> Any:
    """Three families registered by hand on the clean moto server."""
    ecs = boto3.client("ecs", region_name=REGION)
    for f in FAMILIES:
        ecs.register_task_definition(**_td(f))
    return ecs


async def _fetch(client: Aws, families: tuple[str, ...] = FAMILIES) -> dict[str, str]:
    found = await TaskDefinition().fetch(client, _manifests(families), Context(owner="t"), {})
    return {k.name: live.arn.rsplit("/", 1)[1] for k, live in found.items()}


async def test_cold_read_describes_each_family_once_and_lists_nothing(registered: Any) -> None:
    """A first read describes each family by name once (an absent one too) and lists nothing."""
    client = Aws()
    assert await _fetch(client, (*FAMILIES, "absent")) == {f: f"{f}:1" for f in FAMILIES}
    assert client.calls == {"ecs:describe_task_definition": 4}


async def test_warm_read_lists_and_describes_only_new_revisions(registered: Any) -> None:
    """A second read lists instead of describing, and describes only a revision registered
    by hand since the first."""
    client = Aws()
    await _fetch(client)
    client.reset_counts()
    assert await _fetch(client) == {f: f"{f}:1" for f in FAMILIES}
    assert "ecs:describe_task_definition" not in client.calls
    assert client.calls["ecs:list_task_definitions"] >= 1

    registered.register_task_definition(**_td("beta", cpu="512"))  # by hand, between passes
    client.reset_counts()
    found = await TaskDefinition().fetch(client, _manifests(FAMILIES), Context(owner="t"), {})
    assert {k.name: lv.arn.rsplit("/", 1)[1] for k, lv in found.items()}["beta"] == "beta:2"
    assert client.calls["ecs:describe_task_definition"] == 1
    beta = next(lv for k, lv in found.items() if k.name == "beta")
    assert beta.spec["cpu"] == "512"


async def test_cold_and_warm_reads_agree_on_deregistered_revisions(registered: Any) -> None:
    """Cold and warm reads find the same newest ACTIVE revision when revisions were
    deregistered, and a family with none left is absent from both."""
    registered.register_task_definition(**_td("alpha", cpu="512"))
    registered.deregister_task_definition(taskDefinition="alpha:2")
    registered.deregister_task_definition(taskDefinition="gamma:1")
    expected = {"alpha": "alpha:1", "beta": "beta:1"}
    cold = Aws()
    assert await _fetch(cold) == expected
    assert await _fetch(cold) == expected  # now warm: by listing
    assert "ecs:list_task_definitions" in cold.calls
