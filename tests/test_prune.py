"""Pruning: only owned resources, only when asked, never a mass deletion by accident.

What prune plans from what it is given is pure (`plan_prune`, `prune_guard`: tests/core and
the property over 600 live objects below); what it is given is each kind's read of what
carries this controller's ownership tag, checked against moto for every kind here, with
hand-made and foreign-owned resources of every kind beside the owned estate."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import boto3

from reconciler.aws.client import Aws
from reconciler.core.kind import Live
from reconciler.core.manifest import ResourceKey
from reconciler.core.ownership import MANAGED_BY
from reconciler.core.plan import plan_prune, prune_guard
from reconciler.core.vocab import Action, ClusterScope
from reconciler.kinds import REGISTRY, load_tree
from tests.conftest import REGION, cli, cli_json

OWNER = "accounting-reconciler"
FOREIGN = {MANAGED_BY: "someone-else"}
ROLE = "arn:aws:iam::123456789012:role/e"


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def _empty(root: Path) -> None:
    """Every manifest removed from git; reconciler.yaml stays."""
    for f in root.rglob("*.y*ml"):
        if f.name != "reconciler.yaml":
            f.unlink()


def _hand_made(ecs: Any, n: int) -> dict[str, int]:
    """`n` resources of every kind made by hand in the same account, half of them tagged as
    another controller's, and a hand-made service inside the owned cluster; none of them is
    this controller's. Returns how many of each kind were made."""
    events = boto3.client("events", region_name=REGION)
    aas = boto3.client("application-autoscaling", region_name=REGION)
    ec2 = boto3.client("ec2", region_name=REGION)
    hand = ecs.create_cluster(clusterName="hand")["cluster"]["clusterArn"]
    ecs.create_service(cluster="accounting-prd", serviceName="hand-made",
                       taskDefinition="accounting-api", desiredCount=0)
    for i in range(n):
        foreign = i % 2 == 1
        ecs_tags = [{"key": k, "value": v} for k, v in FOREIGN.items()] if foreign else []
        tags = [{"Key": k, "Value": v} for k, v in FOREIGN.items()] if foreign else []
        ecs.create_cluster(clusterName=f"hand-{i}", **({"tags": ecs_tags} if ecs_tags else {}))
        td = ecs.register_task_definition(
            family=f"hand-{i}", containerDefinitions=[{"name": "a", "image": "nginx",
                                                       "memory": 64}],
            **({"tags": ecs_tags} if ecs_tags else {}))["taskDefinition"]["taskDefinitionArn"]
        ecs.create_service(cluster="hand", serviceName=f"hand-{i}", taskDefinition=td,
                           desiredCount=0, **({"tags": ecs_tags} if ecs_tags else {}))
        events.put_rule(Name=f"hand-{i}", ScheduleExpression="rate(1 hour)",
                        **({"Tags": tags} if tags else {}))
        events.put_targets(Rule=f"hand-{i}", Targets=[{
            "Id": "t", "Arn": hand, "RoleArn": ROLE, "EcsParameters": {"TaskDefinitionArn": td}}])
        aas.register_scalable_target(
            ServiceNamespace="ecs", ResourceId=f"service/hand/hand-{i}",
            ScalableDimension="ecs:service:DesiredCount", MinCapacity=0, MaxCapacity=1,
            **({"Tags": FOREIGN} if foreign else {}))
        ec2.request_spot_fleet(SpotFleetRequestConfig={
            "IamFleetRole": "arn:aws:iam::123456789012:role/fleet", "TargetCapacity": 0,
            "AllocationStrategy": "lowestPrice",
            "LaunchSpecifications": [{"ImageId": "ami-12c6146b", "InstanceType": "t3.small"}],
            **({"TagSpecifications": [{"ResourceType": "spot-fleet-request", "Tags": tags}]}
               if tags else {})})
    return {"Cluster": n + 1, "TaskDefinition": n, "Service": n + 1, "ScheduledTask": n,
            "ScalableTarget": n, "SpotFleet": n}


def _survivors(ecs: Any) -> dict[str, int]:
    """How many hand-made resources of every kind are still there."""
    events = boto3.client("events", region_name=REGION)
    aas = boto3.client("application-autoscaling", region_name=REGION)
    ec2 = boto3.client("ec2", region_name=REGION)
    arns = ecs.list_clusters()["clusterArns"]
    clusters = [c for c in ecs.describe_clusters(clusters=arns)["clusters"]
                if c["status"] == "ACTIVE" and c["clusterName"].startswith("hand")]
    families = [f for f in ecs.list_task_definition_families(status="ACTIVE")["families"]
                if f.startswith("hand-")]
    services = [s for c in ("hand", "accounting-prd") for s in ecs.describe_services(
        cluster=c, services=[a.rsplit("/", 1)[1] for a in ecs.list_services(cluster=c)[
            "serviceArns"]] or ["none"])["services"]
        if s["status"] == "ACTIVE" and s["serviceName"].startswith("hand")]
    rules = [r for r in events.list_rules()["Rules"] if r["Name"].startswith("hand-")]
    targets = [t for t in aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
               if t["ResourceId"].startswith("service/hand/")]
    fleets = [f for f in ec2.describe_spot_fleet_requests()["SpotFleetRequestConfigs"]
              if f["SpotFleetRequestState"] == "active"
              and f["SpotFleetRequestConfig"]["LaunchSpecifications"][0]["InstanceType"]
              == "t3.small"]
    return {"Cluster": len(clusters), "TaskDefinition": len(families), "Service": len(services),
            "ScheduledTask": len(rules), "ScalableTarget": len(targets), "SpotFleet": len(fleets)}


async def _owned_by_kind(clusters: list[str]) -> dict[str, set[ResourceKey]]:
    aws = Aws()
    return {kind.kind: {lv.key for lv in await kind.list_owned(aws, OWNER, clusters)}
            for kind in REGISTRY.values()}


def test_prune_only_when_asked_and_only_the_resource_that_left_git(
    examples: Path, ecs: Any
) -> None:
    """A service whose manifest is deleted is left alone without --prune (or `prune: true`),
    and with it exactly that service is deleted: nothing hand-made, nothing else owned."""
    assert cli("apply", str(examples)).exit_code == 0
    _hand_made(ecs, 2)
    (examples / "apps/worker/service.yaml").unlink()
    code, out = cli_json("diff", str(examples))
    assert code == 0 and out["changes"] == []  # prune is off unless asked
    code, out = cli_json("diff", str(examples), "--prune")
    assert code == 2
    assert [(c["kind"], c["name"], c["action"]) for c in out["changes"]] == [
        ("Service", "accounting-worker", "delete")]
    pruning = examples.parent / "pruning"  # the same tree with `prune: true` in reconciler.yaml
    pruning.mkdir()
    for f in examples.rglob("*"):
        if f.is_file():
            dest = pruning / f.relative_to(examples)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(f.read_text())
    _edit(pruning / "reconciler.yaml", "prune: false", "prune: true")
    code, out = cli_json("diff", str(pruning))
    assert code == 2 and [(c["name"], c["action"]) for c in out["changes"]] == [
        ("accounting-worker", "delete")]
    assert cli("apply", str(examples), "--prune").exit_code == 0
    services = ecs.describe_services(cluster="accounting-prd",
                                     services=["accounting-worker", "hand-made",
                                               "accounting-api"])["services"]
    assert {s["serviceName"]: s["status"] for s in services} == {
        "accounting-worker": "INACTIVE", "hand-made": "ACTIVE", "accounting-api": "ACTIVE"}
    assert _survivors(ecs) == {"Cluster": 3, "TaskDefinition": 2, "Service": 3,
                               "ScheduledTask": 2, "ScalableTarget": 2, "SpotFleet": 2}
    assert cli("diff", str(examples), "--prune").exit_code == 0


def test_every_kind_lists_only_what_carries_its_ownership_tag(examples: Path, ecs: Any) -> None:
    """Beside the owned estate, hand-made resources of every kind (untagged, or tagged by
    another controller): each kind's read of what it owns finds exactly the estate, emptying
    the folder is refused as a mass prune, and the allowed mass prune deletes only the estate."""
    assert cli("apply", str(examples)).exit_code == 0
    made = _hand_made(ecs, 4)
    tree = load_tree(examples)
    in_git: dict[str, set[ResourceKey]] = {k: set() for k in REGISTRY}
    for m in tree.manifests:
        in_git[m.kind].add(m.key)
    assert asyncio.run(_owned_by_kind(["accounting-prd", "hand"])) == in_git
    total = len(tree.manifests)
    _empty(examples)
    refused = cli("apply", str(examples), "--prune")
    assert refused.exit_code == 1
    assert f"prune would delete {total} of {total} owned resources" in refused.output
    assert "nothing will be deleted" in refused.output
    assert len(ecs.list_services(cluster="accounting-prd")["serviceArns"]) == 3  # 2 + hand-made
    code, out = cli_json("diff", str(examples), "--prune")
    assert code == 1 and out["refused"]
    result = cli("apply", str(examples), "--prune", "--allow-mass-prune")
    assert result.exit_code == 0, result.output
    assert asyncio.run(_owned_by_kind(["accounting-prd", "hand"])) == {k: set() for k in REGISTRY}
    assert _survivors(ecs) == made
    assert ecs.describe_clusters(clusters=["accounting-prd"])["clusters"][0]["status"] == "INACTIVE"


def test_a_hundred_unowned_of_every_kind_are_never_pruned() -> None:
    """100 hand-made live resources of every kind (untagged or another controller's) beside
    one owned resource of every kind: a prune of everything owned deletes exactly the owned
    ones, and the guard refuses it unless a mass prune is allowed."""
    n = 100
    kinds = sorted(REGISTRY)

    def key(kind: str, name: str) -> ResourceKey:
        scoped = REGISTRY[kind].cluster_scope is not ClusterScope.NONE
        return ResourceKey(kind, name, "accounting-prd" if scoped else None)

    mine = [Live(key(k, f"owned-{k.lower()}"), f"arn:{k}:owned", {}, {MANAGED_BY: OWNER})
            for k in kinds]
    hand = [Live(key(k, f"hand-{i}"), f"arn:{k}:hand-{i}", {},
                 FOREIGN if i % 2 else {"team": "accounting"})
            for k in kinds for i in range(n)]
    everything = [*hand[: len(hand) // 2], *mine, *hand[len(hand) // 2:]]
    assert len(hand) == n * len(kinds) >= 600
    owned = [lv for lv in everything if lv.owner() == OWNER]
    assert owned == mine
    deletes = plan_prune(owned, set(), REGISTRY)
    assert {c.key for c in deletes} == {lv.key for lv in mine}
    assert {c.action for c in deletes} == {Action.DELETE}
    assert not {c.key for c in deletes} & {lv.key for lv in hand}
    reasons = prune_guard(deletes, owned, 0.25, REGISTRY)
    assert reasons[0] == (f"prune would delete {len(kinds)} of {len(kinds)} owned resources "
                          "(100% > the 25% limit)")
    assert "prune would delete every owned Cluster (1)" in reasons
    # git keeping all but one owned resource: an ordinary prune of exactly that one
    keep = {lv.key for lv in mine if lv.key.kind != "SpotFleet"}
    [one] = plan_prune(owned, keep, REGISTRY)
    assert one.key == key("SpotFleet", "owned-spotfleet")
    assert prune_guard([one], owned, 0.25, REGISTRY) == []
