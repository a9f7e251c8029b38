"""SpotFleet against moto: found by ownership tags, autoscaled capacity left alone, replace.

One applied estate per test; each test goes through its steps in order (a step starts where
the one before left AWS, in sync with git)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import REGION, cli, cli_json


@pytest.fixture
def ec2(examples: Path) -> Any:
    """The example estate applied; an EC2 client."""
    assert cli("apply", str(examples)).exit_code == 0
    return boto3.client("ec2", region_name=REGION)


def _fleets(ec2: Any) -> list[dict[str, Any]]:
    return [f for f in ec2.describe_spot_fleet_requests()["SpotFleetRequestConfigs"]
            if f["SpotFleetRequestState"] in ("submitted", "active", "modifying")]


def test_found_by_tags_autoscaled_capacity_left_alone_hand_edit_healed(
    ec2: Any, examples: Path
) -> None:
    """The fleet is found by its ownership tags (in sync after apply); a target capacity set
    by autoscaling is ignored and kept by apply; an in-place change by hand is exactly that
    drift, healed without replacing the fleet."""
    [fleet] = _fleets(ec2)
    tags = {t["Key"]: t["Value"] for t in fleet["Tags"]}
    assert tags["reconciler:name"] == "accounting-prd-spot"
    assert tags["reconciler:managed-by"] == "accounting-reconciler"
    assert tags["team"] == "accounting"
    assert cli("diff", str(examples)).exit_code == 0

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


def test_launch_change_is_a_replace_then_prune_leaves_unowned_fleets(
    ec2: Any, examples: Path
) -> None:
    """A launch specification change replaces the fleet only with --allow-replace and moves
    its ScalableTarget to the new fleet; pruning the fleet's manifest then leaves a
    hand-made fleet alone."""
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

    ec2.request_spot_fleet(SpotFleetRequestConfig={
        "IamFleetRole": "arn:aws:iam::123456789012:role/fleet", "TargetCapacity": 1,
        "AllocationStrategy": "lowestPrice",
        "LaunchSpecifications": [{"ImageId": "ami-12c6146b", "InstanceType": "t3.small"}]})
    path.unlink()
    result = cli("apply", str(examples), "--prune")
    assert result.exit_code == 0, result.output
    [left] = _fleets(ec2)
    assert left["SpotFleetRequestConfig"]["LaunchSpecifications"][0]["InstanceType"] == "t3.small"
