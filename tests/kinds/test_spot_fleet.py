"""SpotFleet against moto: found by ownership tags, autoscaled capacity left alone, replace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import REGION, cli, cli_json


@pytest.fixture
def ec2(examples: Path) -> Any:
    assert cli("apply", str(examples)).exit_code == 0
    return boto3.client("ec2", region_name=REGION)


def _fleets(ec2: Any) -> list[dict[str, Any]]:
    return [f for f in ec2.describe_spot_fleet_requests()["SpotFleetRequestConfigs"]
            if f["SpotFleetRequestState"] in ("submitted", "active", "modifying")]


def test_fleet_is_found_by_its_tags(ec2: Any, examples: Path) -> None:
    [fleet] = _fleets(ec2)
    tags = {t["Key"]: t["Value"] for t in fleet["Tags"]}
    assert tags["reconciler:name"] == "accounting-prd-spot"
    assert tags["reconciler:managed-by"] == "accounting-reconciler"
    assert tags["team"] == "accounting"
    assert cli("diff", str(examples)).exit_code == 0


def test_autoscaled_target_capacity_is_not_drift(ec2: Any, examples: Path) -> None:
    [fleet] = _fleets(ec2)
    ec2.modify_spot_fleet_request(SpotFleetRequestId=fleet["SpotFleetRequestId"],
                                  TargetCapacity=6)
    code, out = cli_json("diff", str(examples))
    assert code == 0, out
    assert {"kind": "SpotFleet", "name": "accounting-prd-spot", "cluster": None,
            "path": "spec.TargetCapacity",
            "reason": "owned by Application Auto Scaling (ScalableTarget/accounting-prd-spot)"
            } in out["ignored"]
    assert cli("apply", str(examples)).exit_code == 0
    assert _fleets(ec2)[0]["SpotFleetRequestConfig"]["TargetCapacity"] == 6


def test_in_place_change_by_hand_is_drift_and_healed(ec2: Any, examples: Path) -> None:
    [fleet] = _fleets(ec2)
    ec2.modify_spot_fleet_request(SpotFleetRequestId=fleet["SpotFleetRequestId"],
                                  OnDemandTargetCapacity=1)
    code, out = cli_json("diff", str(examples))
    assert code == 2
    [change] = out["changes"]
    assert change["action"] == "update"
    assert [d["path"] for d in change["diff"]] == ["spec.OnDemandTargetCapacity"]
    assert cli("apply", str(examples)).exit_code == 0
    [same] = _fleets(ec2)
    assert same["SpotFleetRequestId"] == fleet["SpotFleetRequestId"]
    assert cli("diff", str(examples)).exit_code == 0


def test_launch_change_is_a_replace_that_moves_the_scalable_target(
    ec2: Any, examples: Path
) -> None:
    [old] = _fleets(ec2)
    path = examples / "capacity/spot-fleet.yaml"
    path.write_text(path.read_text().replace("instanceType: m5.large", "instanceType: m7i.large"))
    _code, out = cli_json("diff", str(examples))
    assert {(c["kind"], c["action"]) for c in out["changes"]} == {
        ("SpotFleet", "replace"), ("ScalableTarget", "replace")}
    refused = cli("apply", str(examples))
    assert refused.exit_code == 1 and "--allow-replace" in refused.output
    assert [f["SpotFleetRequestId"] for f in _fleets(ec2)] == [old["SpotFleetRequestId"]]
    assert cli("apply", str(examples), "--allow-replace").exit_code == 0
    [new] = _fleets(ec2)
    assert new["SpotFleetRequestId"] != old["SpotFleetRequestId"]
    aas = boto3.client("application-autoscaling", region_name=REGION)
    rids = {t["ResourceId"] for t in aas.describe_scalable_targets(
        ServiceNamespace="ec2")["ScalableTargets"]}
    assert rids == {f"spot-fleet-request/{new['SpotFleetRequestId']}"}
    assert cli("diff", str(examples)).exit_code == 0


def test_unowned_fleets_are_left_alone(ec2: Any, examples: Path) -> None:
    ec2.request_spot_fleet(SpotFleetRequestConfig={
        "IamFleetRole": "arn:aws:iam::123456789012:role/fleet", "TargetCapacity": 1,
        "AllocationStrategy": "lowestPrice",
        "LaunchSpecifications": [{"ImageId": "ami-12c6146b", "InstanceType": "t3.small"}]})
    (examples / "capacity/spot-fleet.yaml").unlink()
    result = cli("apply", str(examples), "--prune")
    assert result.exit_code == 0, result.output
    [left] = _fleets(ec2)
    assert left["SpotFleetRequestConfig"]["LaunchSpecifications"][0]["InstanceType"] == "t3.small"
