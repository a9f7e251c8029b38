"""ScalableTarget against moto: autoscaling owns desiredCount, policies, scheduled actions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import REGION, cli, cli_json

API = {"ServiceNamespace": "ecs", "ResourceId": "service/accounting-prd/accounting-api",
       "ScalableDimension": "ecs:service:DesiredCount"}


@pytest.fixture
def aas(examples: Path) -> Any:
    assert cli("apply", str(examples)).exit_code == 0
    return boto3.client("application-autoscaling", region_name=REGION)


def test_target_policies_and_actions_applied(aas: Any) -> None:
    [t] = aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
    assert (t["ResourceId"], t["MinCapacity"], t["MaxCapacity"]) == (API["ResourceId"], 2, 12)
    [p] = aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]
    assert p["PolicyName"] == "cpu-60"
    names = {a["ScheduledActionName"] for a in aas.describe_scheduled_actions(
        ServiceNamespace="ecs")["ScheduledActions"]}
    assert names == {"morning-peak", "after-hours"}
    tags = aas.list_tags_for_resource(ResourceARN=t["ScalableTargetARN"])["Tags"]
    assert tags["reconciler:managed-by"] == "accounting-reconciler"


def test_scaling_event_is_never_drift_nor_reverted(examples: Path, aas: Any, ecs: Any) -> None:
    ecs.update_service(cluster="accounting-prd", service="accounting-api", desiredCount=9)
    code, out = cli_json("diff", str(examples))
    assert code == 0, out
    assert out["ignored"] == [{
        "kind": "Service", "name": "accounting-api", "cluster": "accounting-prd",
        "path": "spec.desiredCount",
        "reason": "owned by Application Auto Scaling (ScalableTarget/accounting-api)"}]
    text = cli("diff", str(examples)).output
    assert "ignored: desiredCount (owned by Application Auto Scaling" in text
    # a real change to the service is applied without touching desiredCount
    path = examples / "apps/api/service.yaml"
    path.write_text(path.read_text().replace("healthCheckGracePeriodSeconds: 60",
                                             "healthCheckGracePeriodSeconds: 90"))
    assert cli("apply", str(examples)).exit_code == 0
    svc = ecs.describe_services(cluster="accounting-prd", services=["accounting-api"])[
        "services"][0]
    assert (svc["desiredCount"], svc["healthCheckGracePeriodSeconds"]) == (9, 90)


def test_target_registered_outside_git_also_owns_desired_count(
    examples: Path, aas: Any, ecs: Any
) -> None:
    aas.register_scalable_target(ServiceNamespace="ecs",
                                 ResourceId="service/accounting-prd/accounting-worker",
                                 ScalableDimension="ecs:service:DesiredCount",
                                 MinCapacity=1, MaxCapacity=4)
    ecs.update_service(cluster="accounting-prd", service="accounting-worker", desiredCount=4)
    code, out = cli_json("diff", str(examples))
    assert code == 0, out
    assert any(i["name"] == "accounting-worker" and "registered in AWS" in i["reason"]
               for i in out["ignored"])


def test_without_autoscaling_desired_count_is_drift(examples: Path, aas: Any, ecs: Any) -> None:
    ecs.update_service(cluster="accounting-prd", service="accounting-worker", desiredCount=4)
    code, out = cli_json("diff", str(examples))
    assert code == 2
    assert [d["path"] for d in out["changes"][0]["diff"]] == ["spec.desiredCount"]


def test_hand_edits_show_exactly_those_fields(examples: Path, aas: Any) -> None:
    aas.register_scalable_target(**API, MinCapacity=3, MaxCapacity=12)
    aas.put_scaling_policy(PolicyName="cpu-60", PolicyType="TargetTrackingScaling", **API,
                           TargetTrackingScalingPolicyConfiguration={
                               "TargetValue": 80.0, "ScaleInCooldown": 300,
                               "ScaleOutCooldown": 60, "PredefinedMetricSpecification": {
                                   "PredefinedMetricType": "ECSServiceAverageCPUUtilization"}})
    aas.delete_scheduled_action(ScheduledActionName="after-hours", **API)
    code, out = cli_json("diff", str(examples))
    assert code == 2
    [change] = out["changes"]
    assert {d["path"] for d in change["diff"]} == {
        "spec.MinCapacity",
        "spec.Policies[cpu-60].TargetTrackingScalingPolicyConfiguration.TargetValue",
        "spec.ScheduledActions[after-hours]"}
    assert cli("apply", str(examples)).exit_code == 0
    assert cli("diff", str(examples)).exit_code == 0


def test_manifest_change_converges(examples: Path, aas: Any) -> None:
    path = examples / "apps/api/autoscaling.yaml"
    text = path.read_text().replace("maxCapacity: 12\n  policies", "maxCapacity: 20\n  policies")
    text = text.replace("targetValue: 60", "targetValue: 50")
    path.write_text(text)
    assert cli("apply", str(examples)).exit_code == 0
    [t] = aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
    assert t["MaxCapacity"] == 20
    [p] = aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]
    assert p["TargetTrackingScalingPolicyConfiguration"]["TargetValue"] == 50
    assert cli("diff", str(examples)).exit_code == 0


def test_prune_deletes_policies_then_target(examples: Path, aas: Any) -> None:
    (examples / "apps/api/autoscaling.yaml").unlink()
    _code, out = cli_json("diff", str(examples), "--prune")
    assert [(c["kind"], c["action"]) for c in out["changes"]] == [("ScalableTarget", "delete")]
    assert cli("apply", str(examples), "--prune").exit_code == 0
    assert aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"] == []
    assert aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"] == []
    assert aas.describe_scheduled_actions(ServiceNamespace="ecs")["ScheduledActions"] == []
