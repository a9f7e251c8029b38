"""ScalableTarget against moto: autoscaling owns desiredCount, policies, scheduled actions.

One applied estate per test; each test goes through its steps in order (a step starts where
the one before left AWS, in sync with git)."""

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
    """The example estate applied; an Application Auto Scaling client."""
    assert cli("apply", str(examples)).exit_code == 0
    return boto3.client("application-autoscaling", region_name=REGION)


def test_applied_and_desired_count_belongs_to_autoscaling(
    examples: Path, aas: Any, ecs: Any
) -> None:
    """The target, its policy, scheduled actions and ownership tag are applied; a scaling
    event is never drift nor reverted (a real change to the service is applied around it),
    a service without autoscaling has its desiredCount as drift, until a target registered
    outside git owns it too."""
    [t] = aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"]
    assert (t["ResourceId"], t["MinCapacity"], t["MaxCapacity"]) == (API["ResourceId"], 2, 12)
    [p] = aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"]
    assert p["PolicyName"] == "cpu-60"
    names = {a["ScheduledActionName"] for a in aas.describe_scheduled_actions(
        ServiceNamespace="ecs")["ScheduledActions"]}
    assert names == {"morning-peak", "after-hours"}
    tags = aas.list_tags_for_resource(ResourceARN=t["ScalableTargetARN"])["Tags"]
    assert tags["reconciler:managed-by"] == "accounting-reconciler"

    # a scaling event on the api: not drift, not reverted
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

    # the worker has no autoscaling: its desiredCount set by hand is drift ...
    ecs.update_service(cluster="accounting-prd", service="accounting-worker", desiredCount=4)
    code, out = cli_json("diff", str(examples))
    assert code == 2
    assert [d["path"] for d in out["changes"][0]["diff"]] == ["spec.desiredCount"]
    # ... until a target registered outside git owns it
    aas.register_scalable_target(ServiceNamespace="ecs",
                                 ResourceId="service/accounting-prd/accounting-worker",
                                 ScalableDimension="ecs:service:DesiredCount",
                                 MinCapacity=1, MaxCapacity=4)
    code, out = cli_json("diff", str(examples))
    assert code == 0, out
    assert any(i["name"] == "accounting-worker" and "registered in AWS" in i["reason"]
               for i in out["ignored"])


def test_hand_edits_healed_git_changes_applied_then_pruned(examples: Path, aas: Any) -> None:
    """Hand edits to the target, a policy and a scheduled action show as exactly those fields
    and apply heals them; a change in git converges; deleting the manifest prunes the
    policies, the scheduled actions and the target."""
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

    path.unlink()
    _code, out = cli_json("diff", str(examples), "--prune")
    assert [(c["kind"], c["action"]) for c in out["changes"]] == [("ScalableTarget", "delete")]
    assert cli("apply", str(examples), "--prune").exit_code == 0
    assert aas.describe_scalable_targets(ServiceNamespace="ecs")["ScalableTargets"] == []
    assert aas.describe_scaling_policies(ServiceNamespace="ecs")["ScalingPolicies"] == []
    assert aas.describe_scheduled_actions(ServiceNamespace="ecs")["ScheduledActions"] == []
