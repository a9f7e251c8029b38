"""Pruning: only owned resources, only when asked, never a mass deletion by accident."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reconciler.kinds import load_tree
from tests.conftest import cli, cli_json


def _unowned(ecs: Any) -> None:
    """Resources made by hand in the same account and cluster: never the reconciler's."""
    ecs.create_cluster(clusterName="hand-made")
    ecs.register_task_definition(family="hand-made", containerDefinitions=[
        {"name": "a", "image": "nginx", "memory": 64}])
    ecs.create_service(cluster="accounting-prd", serviceName="hand-made",
                       taskDefinition="hand-made", desiredCount=0)


def test_prune_is_off_unless_asked(examples: Path, ecs: Any) -> None:
    assert cli("apply", str(examples)).exit_code == 0
    (examples / "apps/worker/service.yaml").unlink()
    code, out = cli_json("diff", str(examples))
    assert code == 0 and out["changes"] == []


def test_deleting_one_manifest_prunes_exactly_its_resource(examples: Path, ecs: Any) -> None:
    assert cli("apply", str(examples)).exit_code == 0
    _unowned(ecs)
    (examples / "apps/worker/service.yaml").unlink()
    code, out = cli_json("diff", str(examples), "--prune")
    assert code == 2
    assert [(c["kind"], c["name"], c["action"]) for c in out["changes"]] == [
        ("Service", "accounting-worker", "delete")]
    assert cli("apply", str(examples), "--prune").exit_code == 0
    services = ecs.describe_services(cluster="accounting-prd",
                                     services=["accounting-worker", "hand-made",
                                               "accounting-api"])["services"]
    assert {s["serviceName"]: s["status"] for s in services} == {
        "accounting-worker": "INACTIVE", "hand-made": "ACTIVE", "accounting-api": "ACTIVE"}
    assert cli("diff", str(examples), "--prune").exit_code == 0


def test_unowned_resources_survive_any_prune(examples: Path, ecs: Any) -> None:
    assert cli("apply", str(examples)).exit_code == 0
    _unowned(ecs)
    for f in examples.rglob("*.yaml"):
        if f.name != "reconciler.yaml":
            f.unlink()
    result = cli("apply", str(examples), "--prune", "--allow-mass-prune")
    assert result.exit_code == 0, result.output
    assert ecs.describe_clusters(clusters=["hand-made"])["clusters"][0]["status"] == "ACTIVE"
    svc = ecs.describe_services(cluster="accounting-prd", services=["hand-made"])["services"]
    assert svc and svc[0]["status"] == "ACTIVE"
    assert ecs.describe_task_definition(taskDefinition="hand-made")["taskDefinition"]


def test_emptying_the_folder_is_refused(examples: Path, ecs: Any) -> None:
    assert cli("apply", str(examples)).exit_code == 0
    total = len(load_tree(examples).manifests)
    for f in examples.rglob("*.yaml"):
        if f.name != "reconciler.yaml":
            f.unlink()
    result = cli("apply", str(examples), "--prune")
    assert result.exit_code == 1
    assert f"prune would delete {total} of {total} owned resources" in result.output
    assert "nothing will be deleted" in result.output
    assert len(ecs.list_services(cluster="accounting-prd")["serviceArns"]) == 2
    code, out = cli_json("diff", str(examples), "--prune")
    assert code == 1 and out["refused"]


def test_prune_from_config(examples: Path, ecs: Any) -> None:
    assert cli("apply", str(examples)).exit_code == 0
    cfg = examples / "reconciler.yaml"
    cfg.write_text(cfg.read_text().replace("prune: false", "prune: true"))
    (examples / "apps/worker/service.yaml").unlink()
    code, out = cli_json("diff", str(examples))
    assert code == 2 and out["changes"][0]["action"] == "delete"


def test_a_hundred_unowned_of_every_kind_survive(examples: Path, ecs: Any) -> None:
    """Beside the owned estate, 100 hand-made resources of every kind; even a prune of
    everything the controller owns leaves each of them alone."""
    import boto3

    from tests.conftest import REGION

    events = boto3.client("events", region_name=REGION)
    aas = boto3.client("application-autoscaling", region_name=REGION)
    ec2 = boto3.client("ec2", region_name=REGION)
    assert cli("apply", str(examples)).exit_code == 0
    ecs.create_cluster(clusterName="hand")
    cluster_arn = ecs.describe_clusters(clusters=["hand"])["clusters"][0]["clusterArn"]
    n = 100
    for i in range(n):
        ecs.create_cluster(clusterName=f"hand-{i}")
        td = ecs.register_task_definition(family=f"hand-{i}", containerDefinitions=[
            {"name": "a", "image": "nginx", "memory": 64}])["taskDefinition"]
        ecs.create_service(cluster="hand", serviceName=f"hand-{i}",
                           taskDefinition=td["taskDefinitionArn"], desiredCount=0)
        events.put_rule(Name=f"hand-{i}", ScheduleExpression="rate(1 hour)")
        events.put_targets(Rule=f"hand-{i}", Targets=[{
            "Id": "t", "Arn": cluster_arn, "RoleArn": "arn:aws:iam::123456789012:role/e",
            "EcsParameters": {"TaskDefinitionArn": td["taskDefinitionArn"]}}])
        aas.register_scalable_target(ServiceNamespace="ecs", ResourceId=f"service/hand/hand-{i}",
                                     ScalableDimension="ecs:service:DesiredCount",
                                     MinCapacity=0, MaxCapacity=1)
        ec2.request_spot_fleet(SpotFleetRequestConfig={
            "IamFleetRole": "arn:aws:iam::123456789012:role/fleet", "TargetCapacity": 0,
            "AllocationStrategy": "lowestPrice",
            "LaunchSpecifications": [{"ImageId": "ami-12c6146b", "InstanceType": "t3.small"}]})
    for f in examples.rglob("*.yaml"):
        if f.name != "reconciler.yaml":
            f.unlink()
    assert cli("apply", str(examples), "--prune").exit_code == 1  # refused: it is everything
    result = cli("apply", str(examples), "--prune", "--allow-mass-prune")
    assert result.exit_code == 0, result.output

    def active_clusters() -> int:
        arns = ecs.list_clusters()["clusterArns"]
        return sum(c["status"] == "ACTIVE" for c in ecs.describe_clusters(clusters=arns)[
            "clusters"])

    assert active_clusters() == n + 1  # the hand-made ones; the owned one is gone
    families = ecs.list_task_definition_families(status="ACTIVE")["families"]
    assert sum(f.startswith("hand-") for f in families) == n
    services = ecs.list_services(cluster="hand")["serviceArns"]
    described = [s for i in range(0, len(services), 10) for s in ecs.describe_services(
        cluster="hand", services=services[i:i + 10])["services"] if s["status"] == "ACTIVE"]
    assert len(described) == n
    rules = [r for p in events.get_paginator("list_rules").paginate() for r in p["Rules"]]
    assert sorted(r["Name"] for r in rules) == sorted(f"hand-{i}" for i in range(n))
    targets = [t for p in aas.get_paginator("describe_scalable_targets").paginate(
        ServiceNamespace="ecs") for t in p["ScalableTargets"]]
    assert len(targets) == n
    fleets = [f for f in ec2.describe_spot_fleet_requests()["SpotFleetRequestConfigs"]
              if f["SpotFleetRequestState"] == "active"]
    assert len(fleets) == n
