"""The new read path (the tagging inventory; a task definition revision carrying this
controller's desired-hash tag for what git asks is not described) against the old one
(`--verify`: every revision described): `reconciler diff` prints the same bytes, and where a
person edits AWS by hand there is no false and no missed drift."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from bench.estate import Clients, hand_edits, strip_tags
from bench.fleet import CLUSTER, write_fleet
from reconciler.aws.client import LEAF, PACED, Aws
from reconciler.aws.quotas import Pacer
from reconciler.aws.store import ENV as CACHE_ENV
from reconciler.aws.store import default_dir
from reconciler.embedded import EmbeddedAws
from reconciler.kinds import load_tree
from reconciler.sync.run import Options, run
from tests.conftest import MANIFESTS, REGION, cli, seed_for
from tests.support_hooks import fast_clock

N = 4  # services; svc-0003 has no scalable target, so git owns its desiredCount


def same_either_way(root: Path, outputs: tuple[str, ...] = ("text", "json")) -> dict[str, Any]:
    """`reconciler diff` in text and JSON, with and without --verify: byte for byte the same,
    with the same exit code. Returns the JSON plan."""
    for output in outputs:
        new = cli("diff", str(root), "--output", output)
        old = cli("diff", str(root), "--output", output, "--verify")
        assert new.exit_code in (0, 2), new.output
        assert (new.exit_code, new.output) == (old.exit_code, old.output), output
    return dict(json.loads(new.output))


def describes(root: Path, verify: bool = False) -> tuple[int, int]:
    """DescribeTaskDefinition calls of one diff pass, and the changes it plans."""
    aws = Aws()
    planned = asyncio.run(run(load_tree(root), aws, Options(verify=verify)))
    return aws.calls["ecs:describe_task_definition"], len(planned.plan.pending)


def changes(plan: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    return {(c["kind"], c["name"]): {d["path"] for d in c.get("diff", [])}
            for c in plan["changes"]}


def test_hand_edits_are_seen_exactly_and_as_verify_sees_them(tmp_path: Path,
                                                             aws: EmbeddedAws) -> None:
    root = tmp_path / "fleet"
    write_fleet(root, N)
    seed_for(aws, root)
    assert cli("apply", str(root)).exit_code == 0
    assert describes(root) == (0, 0)  # every revision trusted by its tag, nothing to do
    assert describes(root, verify=True) == (N, 0)

    # first contact: nothing carries the reconciler's tags, so every revision is described
    # (by family name: the inventory lists none of them) and everything is to be adopted
    strip_tags(Clients.to(None, REGION))
    first = same_either_way(root, ("json",))
    assert first["changes"] == [] and len(first["adopt"]) == len(load_tree(root).manifests)
    assert cli("apply", str(root)).exit_code == 0  # adopted: tagged again, hash and all

    hand_edits(Clients.to(None, REGION), ["svc-0000", "svc-0001", "svc-0002"],
               (CLUSTER, f"svc-{N - 1:04d}"))
    plan = same_either_way(root)
    image = "spec.containerDefinitions[app].image"
    assert changes(plan) == {
        # a revision registered by hand is the newest ACTIVE one: its image is drift
        ("TaskDefinition", "svc-0000"): {image},
        # the desired-hash tag edited by hand: the revision is read, and only the tag a
        # person added differs (no false drift from the hash itself)
        ("TaskDefinition", "svc-0001"): {"spec.tags"},
        # the reconciler's newest revision deregistered (the tagging index still lists it,
        # hash and all): the revision by hand under it is what runs now
        ("TaskDefinition", "svc-0002"): {image},
        # the services and the schedule move to the revisions that put git back
        ("Service", "svc-0000"): {"spec.taskDefinition"},
        ("Service", "svc-0001"): {"spec.taskDefinition"},
        ("Service", "svc-0002"): {"spec.taskDefinition"},
        ("ScheduledTask", "job-0000"): {"spec.Targets[ecs-task].EcsParameters.TaskDefinitionArn"},
        ("Service", "svc-0003"): {"spec.desiredCount"},
    }
    # only the revisions whose tag no longer vouches for them are read
    assert describes(root) == (3, len(plan["changes"]))


def test_the_example_manifests_diff_the_same_either_way(aws: EmbeddedAws) -> None:
    seed_for(aws, MANIFESTS)
    with fast_clock():  # the API's migration (a PreSync hook) runs first
        assert cli("apply", str(MANIFESTS)).exit_code == 0
    families = sorted({m.name for m in load_tree(MANIFESTS, region=REGION).manifests
                       if m.kind == "TaskDefinition"})
    hand_edits(Clients.to(None, REGION), families[:3])
    plan = same_either_way(MANIFESTS)  # and nothing else is drift
    assert {name for kind, name in changes(plan) if kind == "TaskDefinition"} == set(
        families[:3])


async def test_a_call_its_quota_made_wait_does_not_wait_again_for_a_slot(aws: EmbeddedAws
                                                                           ) -> None:
    """Past the burst, task definition reads leave at the bucket's rate; queueing them behind
    other reads for a slot would push the whole bucket's schedule back."""
    now = [0.0]

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    client = Aws(max_in_flight=1, pacer=Pacer(headroom=(1.0, 1.0), clock=lambda: now[0],
                                              sleep=sleep))
    asked: list[int] = []
    slot = client._slot

    def spy(priority: int) -> Any:
        asked.append(priority)
        return slot(priority)

    client._slot = spy  # type: ignore[method-assign]
    for _ in range(52):
        await client.call("ecs", "list_task_definitions")
    assert asked == [LEAF] * 50 + [PACED] * 2  # the documented burst is 50


def test_no_revision_is_kept_on_disk_against_an_endpoint_given_as_an_option(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A stand-in (moto, LocalStack) may give an ARN again after a reset: `--endpoint-url`
    turns the persistent cache off as AWS_ENDPOINT_URL does, unless a folder is named."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv(CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_dir() == tmp_path / "ecs-reconciler"
    assert default_dir("http://127.0.0.1:5000") is None
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "kept"))
    assert default_dir("http://127.0.0.1:5000") == tmp_path / "kept"
