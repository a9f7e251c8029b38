"""EC2 Spot Fleet requests as AWS keeps them, where moto forgets part of the request."""

from __future__ import annotations

from typing import Any

from reconciler.embedded.patches import replace


def patch() -> None:
    """moto keeps only part of a Spot Fleet request (MOTO.md gap 8): it needs
    AllocationStrategy, forgets Type, OnDemandTargetCapacity, the interruption behaviour and
    the excess-capacity policy, and cannot modify on-demand capacity. Keep the request's
    extra fields on the fleet and return them as AWS does."""
    from moto.ec2.models.spot_requests import SpotFleetRequest
    from moto.ec2.responses.spot_fleets import SpotFleets

    kept = ("Type", "OnDemandTargetCapacity", "InstanceInterruptionBehavior",
            "ExcessCapacityTerminationPolicy", "ReplaceUnhealthyInstances",
            "TerminateInstancesWithExpiration", "OnDemandAllocationStrategy", "ValidFrom",
            "ValidUntil", "Context", "InstancePoolsToUseCount", "SpotMaxTotalPrice",
            "OnDemandMaxTotalPrice", "LoadBalancersConfig", "TargetCapacityUnitType")
    original_request = SpotFleets.request_spot_fleet
    original_modify = SpotFleets.modify_spot_fleet_request
    original_config: Any = SpotFleetRequest.__dict__["spot_fleet_request_config"]

    def request_spot_fleet(self: Any) -> Any:
        config = self._get_param("SpotFleetRequestConfig", {})
        defaulted = "AllocationStrategy" not in config
        config.setdefault("AllocationStrategy", "lowestPrice")  # the parsed request, shared
        result: Any = original_request(self)
        fleet_id = result.result["SpotFleetRequestId"]
        fleet = self.ec2_backend.spot_fleet_requests[fleet_id]
        fleet.reconciler_extra = {
            "Type": "maintain", "ExcessCapacityTerminationPolicy": "default",
            "InstanceInterruptionBehavior": "terminate",
            **{k: config[k] for k in kept if k in config},
        }
        if defaulted:
            fleet.allocation_strategy = "lowestPrice"
        return result

    def modify_spot_fleet_request(self: Any) -> Any:
        fleet = self.ec2_backend.spot_fleet_requests[self._get_param("SpotFleetRequestId")]
        if self._get_param("TargetCapacity") is None:  # moto needs it; AWS keeps the current one
            self.params["TargetCapacity"] = fleet.target_capacity
        result = original_modify(self)
        extra = getattr(fleet, "reconciler_extra", {})
        for k in ("OnDemandTargetCapacity", "ExcessCapacityTerminationPolicy", "Context"):
            if self._get_param(k) is not None:
                extra[k] = self._get_param(k)
        fleet.reconciler_extra = extra
        return result

    def spot_fleet_request_config(self: Any) -> dict[str, Any]:
        config: dict[str, Any] = original_config.fget(self)
        return {**getattr(self, "reconciler_extra", {}), **config}

    replace(SpotFleets, "request_spot_fleet", request_spot_fleet)
    replace(SpotFleets, "modify_spot_fleet_request", modify_spot_fleet_request)
    replace(SpotFleetRequest, "spot_fleet_request_config", property(spot_fleet_request_config))


