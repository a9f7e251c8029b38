"""`reconciler import` on a cluster populated with plain boto3, not by the reconciler."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import yaml

from reconciler.embedded import EmbeddedAws, seed_network
from tests.conftest import REGION, cli, cli_json

SUBNETS = ["subnet-0000000000000aaa1", "subnet-0000000000000aaa2"]
GROUPS = ["sg-0000000000000aaa1"]


def populate(aws: EmbeddedAws) -> None:
    seed_network(aws.url, REGION, SUBNETS, GROUPS)
    ecs = boto3.client("ecs", region_name=REGION)
    events = boto3.client("events", region_name=REGION)
    aas = boto3.client("application-autoscaling", region_name=REGION)
    cluster = ecs.create_cluster(clusterName="legacy", capacityProviders=["FARGATE",
                                 "FARGATE_SPOT"])["cluster"]
    td = ecs.register_task_definition(
        family="legacy-web", networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
        cpu="256", memory="512", executionRoleArn="arn:aws:iam::123456789012:role/exec",
        containerDefinitions=[{
            "name": "web", "image": "nginx:1.27", "portMappings": [{"containerPort": 80}],
            "environment": [{"name": "MODE", "value": "prod"}],
            "healthCheck": {"command": ["CMD-SHELL", "curl -f localhost || exit 1"]}}],
    )["taskDefinition"]
    batch = ecs.register_task_definition(
        family="legacy-batch", networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
        cpu="512", memory="1024",
        containerDefinitions=[{"name": "job", "image": "busybox", "command": ["true"]}],
    )["taskDefinition"]
    ecs.create_service(cluster="legacy", serviceName="web", taskDefinition="legacy-web",
                       desiredCount=2, launchType="FARGATE",
                       networkConfiguration={"awsvpcConfiguration": {
                           "subnets": SUBNETS, "securityGroups": GROUPS}})
    events.put_rule(Name="legacy-nightly", ScheduleExpression="cron(0 3 * * ? *)")
    events.put_targets(Rule="legacy-nightly", Targets=[{
        "Id": "run", "Arn": cluster["clusterArn"], "RoleArn": "arn:aws:iam::123456789012:role/ev",
        "Input": json.dumps({"containerOverrides": [{"name": "job", "command": ["nightly"]}]}),
        "EcsParameters": {"TaskDefinitionArn": batch["taskDefinitionArn"], "TaskCount": 1,
                          "LaunchType": "FARGATE", "NetworkConfiguration": {
                              "awsvpcConfiguration": {"Subnets": SUBNETS,
                                                      "AssignPublicIp": "DISABLED"}}}}])
    assert td["revision"] == 1
    ident = {"ServiceNamespace": "ecs", "ResourceId": "service/legacy/web",
             "ScalableDimension": "ecs:service:DesiredCount"}
    aas.register_scalable_target(**ident, MinCapacity=2, MaxCapacity=6)
    aas.put_scaling_policy(PolicyName="cpu", PolicyType="TargetTrackingScaling", **ident,
                           TargetTrackingScalingPolicyConfiguration={
                               "TargetValue": 60.0, "PredefinedMetricSpecification": {
                                   "PredefinedMetricType": "ECSServiceAverageCPUUtilization"}})
    aas.put_scheduled_action(ScheduledActionName="peak", Schedule="cron(0 7 * * ? *)", **ident,
                             ScalableTargetAction={"MinCapacity": 4, "MaxCapacity": 6})


def test_import_then_diff_is_empty_and_minimal_and_apply_adopts(
    aws: EmbeddedAws, tmp_path: Path
) -> None:
    """Import writes minimal manifests (nothing AWS filled in, references by name) that diff
    as in sync, to adopt; applying them adopts all six without registering anything new."""
    populate(aws)
    out = tmp_path / "imported"
    result = cli("import", "--cluster", "legacy", "--out", str(out))
    assert result.exit_code == 0, result.output
    files = {p.relative_to(out).as_posix() for p in out.rglob("*.yaml")}
    assert files == {"autoscaling/web.yaml", "clusters/legacy.yaml",
                     "schedules/legacy-nightly.yaml", "task-definitions/legacy-batch.yaml",
                     "task-definitions/legacy-web.yaml", "services/web.yaml"}
    code, plan = cli_json("diff", str(out))
    assert code == 0, plan
    assert len(plan["adopt"]) == 6  # not owned yet: apply adopts them, changing nothing
    text = "\n".join(p.read_text() for p in out.rglob("*.yaml"))
    for aws_filled in ("essential", "cpu: 0", "protocol", "hostPort", "mountPoints",
                       "volumesFrom", "interval: 30", "assignPublicIp", "AssignPublicIp",
                       "maximumPercent", "deploymentCircuitBreaker", "platformVersion",
                       "propagateTags", "enableECSManagedTags", "enableExecuteCommand",
                       "schedulingStrategy", "deploymentController", "TaskCount",
                       "healthCheckGracePeriodSeconds", "availabilityZoneRebalancing",
                       "Timezone", "RoleARN", "compatibilities", "revision"):
        assert aws_filled not in text, aws_filled
    svc: dict[str, Any] = yaml.safe_load((out / "services/web.yaml").read_text())
    assert svc["spec"]["taskDefinition"] == "legacy-web"  # a reference, not an ARN
    assert svc["spec"]["desiredCount"] == 2
    sched = yaml.safe_load((out / "schedules/legacy-nightly.yaml").read_text())
    assert sched["spec"]["target"]["Input"] == {"containerOverrides": [
        {"name": "job", "command": ["nightly"]}]}

    result = cli("apply", str(out), "--output", "json")
    applied = {(a["kind"], a["name"]): a["result"] for a in json.loads(result.output)["applied"]}
    assert set(applied.values()) == {"adopted"} and len(applied) == 6
    ecs = boto3.client("ecs", region_name=REGION)
    assert ecs.list_task_definitions(familyPrefix="legacy-web")["taskDefinitionArns"][-1].endswith(
        ":1")
    code, plan = cli_json("diff", str(out))
    assert code == 0 and plan["adopt"] == []


def test_import_of_a_missing_cluster_fails(aws: EmbeddedAws, tmp_path: Path) -> None:
    """Importing a cluster that does not exist exits 1."""
    result = cli("import", "--cluster", "nope", "--out", str(tmp_path / "x"))
    assert result.exit_code == 1
