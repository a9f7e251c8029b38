"""Every AWS operation the reconciler calls is allowed by deploy/iam-policy.json.

Two checks, neither depending on the order or the subset of tests run: `pytest_sessionfinish`
in tests/conftest.py compares everything the whole run called (every test, every xdist
worker) with the policy and fails the run naming what is missing; and the test here runs a
representative workload of its own, so it checks something when it runs alone."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import boto3

from reconciler.aws.client import Aws
from reconciler.controller.lease import Lease
from reconciler.embedded import EmbeddedAws
from reconciler.kinds import load_tree
from reconciler.sync.run import Options, PassResult, run
from tests.conftest import EXAMPLES, REGION, ensure_lease_table, not_in_policy, seed_for

# Writes the workload below must make, one or more per kind: a workload that quietly stopped
# reaching AWS would otherwise pass with nothing to check.
EXPECTED = {
    "ecs:create_cluster", "ecs:tag_resource", "ecs:register_task_definition",
    "ecs:create_service", "ecs:update_service", "ecs:delete_service", "ecs:delete_cluster",
    "events:put_rule", "events:put_targets", "events:delete_rule",
    "application-autoscaling:register_scalable_target",
    "application-autoscaling:put_scaling_policy",
    "application-autoscaling:put_scheduled_action",
    "application-autoscaling:deregister_scalable_target",
    "ec2:request_spot_fleet", "ec2:cancel_spot_fleet_requests",
    "dynamodb:put_item", "dynamodb:delete_item",
}


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


async def _workload(root: Path, aws: Aws) -> list[PassResult]:
    """Create, update, replace, prune, adopt and diff the example estate; hold the lease."""
    passes = [await run(load_tree(root), aws, Options(apply=True))]
    _edit(root / "apps/worker/service.yaml", "desiredCount: 1", "desiredCount: 3")
    _edit(root / "schedules/batches.yaml", "state: ENABLED", "state: DISABLED")
    _edit(root / "apps/api/autoscaling.yaml", "maxCapacity: 12\n  policies",
          "maxCapacity: 20\n  policies")
    _edit(root / "apps/api/task-definition.yaml", "value: info", "value: debug")
    _edit(root / "capacity/spot-fleet.yaml", "instanceType: m5.large", "instanceType: m7i.large")
    passes.append(await run(load_tree(root), aws, Options(apply=True, allow_replace=True)))
    passes.append(await run(load_tree(root), aws))  # a diff: in sync now
    for f in root.rglob("*.y*ml"):
        if f.name != "reconciler.yaml":
            f.unlink()
    passes.append(await run(load_tree(root), aws, Options(apply=True, prune=True,
                                                          allow_mass_prune=True)))
    # the cluster made again by hand, as git says it: adopted (tagged), not created
    shutil.copytree(EXAMPLES / "clusters", root / "clusters", dirs_exist_ok=True)
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.create_cluster(clusterName="accounting-prd", capacityProviders=["FARGATE", "FARGATE_SPOT"],
                       defaultCapacityProviderStrategy=[
                           {"capacityProvider": "FARGATE", "base": 1, "weight": 1},
                           {"capacityProvider": "FARGATE_SPOT", "weight": 3}],
                       settings=[{"name": "containerInsights", "value": "enabled"}],
                       tags=[{"key": "team", "value": "accounting"}, {"key": "env", "value": "prd"}])
    passes.append(await run(load_tree(root), aws, Options(apply=True)))
    await ensure_lease_table(aws, "reconciler-lease")
    lease = Lease(aws, "reconciler-lease", "accounting", "a", 15.0)
    assert await lease.try_acquire()
    assert await lease.leader_url() is None
    await lease.release()
    return passes


def test_a_representative_workload_calls_only_what_the_policy_allows(
    aws: EmbeddedAws, tmp_path: Path
) -> None:
    """Create, update, replace, prune and adopt every kind against moto, then check each
    operation called (by this test alone) against deploy/iam-policy.json."""
    root = tmp_path / "manifests"
    shutil.copytree(EXAMPLES, root)
    seed_for(aws, root)
    client = Aws()
    passes = asyncio.run(_workload(root, client))
    for result in passes:
        assert result.applied is None or result.applied.ok, result.applied
    assert not passes[2].plan.pending, passes[2].plan.pending
    assert [str(c.key) for c in passes[-1].plan.adoptions] == ["Cluster/accounting-prd"]
    called = set(client.calls)
    assert called >= EXPECTED, sorted(EXPECTED - called)
    assert not_in_policy(called) == []
