"""The embedded default: a moto server on 127.0.0.1 standing in for AWS.

This adapter is the only place that knows it talks to moto. moto has measured gaps
(shared/MOTO.md); each is closed here, by making moto behave like AWS, so that the reconciler's
core never branches on moto. Each patch has a test (tests/test_embedded.py) that fails once
moto itself behaves, so the patch can be dropped.
"""

from __future__ import annotations

import logging
import os
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

DUMMY_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
DEFAULT_REGION = "eu-west-1"

# CreateService parameters moto drops (MOTO.md gap 1); UpdateService keeps them.
_DROPPED_ON_CREATE = (
    "deploymentConfiguration",
    "enableExecuteCommand",
    "capacityProviderStrategy",
    "healthCheckGracePeriodSeconds",
    "enableECSManagedTags",
    "availabilityZoneRebalancing",
    "placementConstraints",
    "placementStrategy",
    "serviceConnectConfiguration",
    "volumeConfigurations",
)

_patched = False
_patch_lock = threading.Lock()
# (class, attribute) -> what moto shipped there (None: moto has no such operation)
_ORIGINALS: dict[tuple[Any, str], Any] = {}


def _replace(cls: Any, name: str, fn: Any) -> None:
    _ORIGINALS.setdefault((cls, name), cls.__dict__.get(name))
    setattr(cls, name, fn)


def _snake(name: str) -> str:
    out = ""
    for ch in name:
        out += f"_{ch.lower()}" if ch.isupper() else ch
    return out


def _service_defaults(params: dict[str, Any], cluster: Any) -> dict[str, Any]:
    """What AWS fills into a new service that moto leaves out (NORMALIZATION.md 31-40)."""
    filled: dict[str, Any] = {}
    daemon = params.get("schedulingStrategy") == "DAEMON"
    dc = dict(params.get("deploymentConfiguration") or {})
    dc.setdefault("maximumPercent", 100 if daemon else 200)
    dc.setdefault("minimumHealthyPercent", 0 if daemon else 100)
    dc.setdefault("deploymentCircuitBreaker", {"enable": False, "rollback": False})
    filled["deploymentConfiguration"] = dc
    filled["enableExecuteCommand"] = bool(params.get("enableExecuteCommand", False))
    filled["enableECSManagedTags"] = bool(params.get("enableECSManagedTags", False))
    filled["healthCheckGracePeriodSeconds"] = int(params.get("healthCheckGracePeriodSeconds", 0))
    filled["availabilityZoneRebalancing"] = params.get("availabilityZoneRebalancing", "ENABLED")
    strategy = params.get("capacityProviderStrategy")
    if not strategy and not params.get("launchType"):
        strategy = list(getattr(cluster, "default_capacity_provider_strategy", None) or [])
    if strategy:
        filled["capacityProviderStrategy"] = [
            {"base": 0, **s} for s in strategy
        ]
        filled["launchType"] = None
    launch = params.get("launchType")
    uses_fargate = launch == "FARGATE" or any(
        str(s.get("capacityProvider", "")).startswith("FARGATE") for s in strategy or []
    )
    if uses_fargate:
        filled["platformVersion"] = params.get("platformVersion") or "LATEST"
    nc = params.get("networkConfiguration")
    if isinstance(nc, dict) and isinstance(nc.get("awsvpcConfiguration"), dict):
        vpc = {"assignPublicIp": "DISABLED", **nc["awsvpcConfiguration"]}
        filled["networkConfiguration"] = {**nc, "awsvpcConfiguration": vpc}
    for k in ("placementConstraints", "placementStrategy", "serviceConnectConfiguration",
              "volumeConfigurations"):
        if k in params:
            filled[k] = params[k]
    return filled


def _fill_container_defaults(td: Any) -> None:
    """What AWS fills into container definitions on register that moto leaves out."""
    mode = td.network_mode or "bridge"
    for c in td.container_definitions:
        for p in c.get("portMappings") or []:
            p.setdefault("protocol", "tcp")
            if "containerPort" in p and "containerPortRange" not in p:
                p.setdefault("hostPort", p["containerPort"] if mode in ("awsvpc", "host") else 0)
        hc = c.get("healthCheck")
        if isinstance(hc, dict):
            hc.setdefault("interval", 30)
            hc.setdefault("retries", 3)
            hc.setdefault("timeout", 5)


def _patch_application_autoscaling() -> None:
    """moto's Application Auto Scaling has no tagging (MOTO gap: TagResource,
    UntagResource, ListTagsForResource, Tags on RegisterScalableTarget) and its
    DescribeScalableTargets NextToken repeats the second page forever."""
    import json

    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse, _build_target

    original_register = ApplicationAutoScalingResponse.register_scalable_target
    original_deregister = ApplicationAutoScalingResponse.deregister_scalable_target

    def store(self: Any) -> dict[str, dict[str, str]]:
        backend = self.applicationautoscaling_backend
        if not hasattr(backend, "reconciler_tags"):
            backend.reconciler_tags = {}
        tags: dict[str, dict[str, str]] = backend.reconciler_tags
        return tags

    def register(self: Any) -> str:
        body: str = original_register(self)
        arn = json.loads(body)["ScalableTargetARN"]
        tags = self._get_param("Tags")
        if tags and arn not in store(self):
            store(self)[arn] = dict(tags)
        return body

    def deregister(self: Any) -> str:
        backend = self.applicationautoscaling_backend
        ident = (self._get_param("ServiceNamespace"), self._get_param("ResourceId"),
                 self._get_param("ScalableDimension"))
        for t in backend.describe_scalable_targets(ident[0], [ident[1]], ident[2]):
            store(self).pop(t.arn, None)
        return str(original_deregister(self))

    def tag_resource(self: Any) -> str:
        store(self).setdefault(self._get_param("ResourceARN"), {}).update(
            self._get_param("Tags") or {})
        return "{}"

    def untag_resource(self: Any) -> str:
        tags = store(self).setdefault(self._get_param("ResourceARN"), {})
        for k in self._get_param("TagKeys") or []:
            tags.pop(k, None)
        return "{}"

    def list_tags_for_resource(self: Any) -> str:
        return json.dumps({"Tags": store(self).get(self._get_param("ResourceARN"), {})})

    def describe_scalable_targets(self: Any) -> str:
        self._validate_params()
        found = self.applicationautoscaling_backend.describe_scalable_targets(
            self._get_param("ServiceNamespace"), self._get_param("ResourceIds"),
            self._get_param("ScalableDimension"))
        size = self._get_int_param("MaxResults") or 50
        start = int(self._get_param("NextToken") or 0)
        page = found[start : start + size]
        token = str(start + size) if start + size < len(found) else None
        return json.dumps({"ScalableTargets": [_build_target(t) for t in page],
                           "NextToken": token})

    cls = ApplicationAutoScalingResponse
    _replace(cls, "register_scalable_target", register)
    _replace(cls, "deregister_scalable_target", deregister)
    _replace(cls, "tag_resource", tag_resource)
    _replace(cls, "untag_resource", untag_resource)
    _replace(cls, "list_tags_for_resource", list_tags_for_resource)
    _replace(cls, "describe_scalable_targets", describe_scalable_targets)


def _patch_spot_fleet() -> None:
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

    _replace(SpotFleets, "request_spot_fleet", request_spot_fleet)
    _replace(SpotFleets, "modify_spot_fleet_request", modify_spot_fleet_request)
    _replace(SpotFleetRequest, "spot_fleet_request_config", property(spot_fleet_request_config))


def patch_moto() -> None:
    """Make moto's ECS behave like AWS where it measurably does not. Idempotent."""
    global _patched
    with _patch_lock:
        if _patched:
            return
        from moto.ecs.responses import EC2ContainerServiceResponse

        original_create = EC2ContainerServiceResponse.create_service
        original_register = EC2ContainerServiceResponse.register_task_definition
        original_update = EC2ContainerServiceResponse.update_service
        original_describe = EC2ContainerServiceResponse.describe_task_definition

        def create_service(self: Any) -> Any:
            cluster_name = str(self._get_param("cluster", "default")).split("/")[-1]
            name = self._get_param("serviceName")
            backend = self.ecs_backend
            existing = backend.services.get(f"{cluster_name}:{name}")
            if existing is not None and existing.status == "ACTIVE":
                # AWS refuses to create an ACTIVE service twice (MOTO.md gap 3).
                from moto.ecs.exceptions import InvalidParameterException

                raise InvalidParameterException("Creation of service was not idempotent.")
            result = original_create(self)
            service = backend.services[f"{cluster_name}:{name}"]
            params = {k: self._get_param(k) for k in
                      (*_DROPPED_ON_CREATE, "launchType", "schedulingStrategy",
                       "platformVersion", "networkConfiguration")}
            params = {k: v for k, v in params.items() if v is not None}
            cluster = backend.clusters.get(cluster_name)
            for key, value in _service_defaults(params, cluster).items():
                setattr(service, _snake(key), value)
            for d in service.deployments:
                d["launchType"] = service.launch_type
                d["platformVersion"] = service.platform_version
            return result

        def update_service(self: Any) -> Any:
            result = original_update(self)
            cluster_name = str(self._get_param("cluster", "default")).split("/")[-1]
            name = str(self._get_param("service")).split("/")[-1]
            service = self.ecs_backend.services.get(f"{cluster_name}:{name}")
            td = self._get_param("taskDefinition")
            if service is not None and td:
                # AWS stores the full ARN whatever form was sent (MOTO.md gap 2).
                service.task_definition = self.ecs_backend.describe_task_definition(td).arn
            return result

        def list_task_definitions(self: Any) -> Any:
            """AWS pages by 100 (MOTO gap: moto returns every ARN at once)."""
            from moto.core.responses import ActionResult

            arns = self.ecs_backend.list_task_definitions(
                self._get_param("familyPrefix"), self._get_param("status", "ACTIVE"))
            if self._get_param("sort") == "DESC":
                arns = list(reversed(arns))
            size = min(int(self._get_param("maxResults") or 100), 100)
            start = int(self._get_param("nextToken") or 0)
            page = {"taskDefinitionArns": arns[start : start + size]}
            if start + size < len(arns):
                page["nextToken"] = str(start + size)
            return ActionResult(page)

        def describe_task_definition(self: Any) -> Any:
            """By family, AWS answers the newest ACTIVE revision (MOTO gap: moto answers the
            newest revision even when it was deregistered)."""
            from moto.core.responses import ActionResult
            from moto.ecs.exceptions import TaskDefinitionNotFoundException

            family = str(self._get_param("taskDefinition")).split("/")[-1]
            if ":" in family:
                return original_describe(self)
            revisions = self.ecs_backend.task_definitions.get(family) or {}
            active = [r for r, td in revisions.items() if td.status == "ACTIVE"]
            if not active:
                raise TaskDefinitionNotFoundException()
            td = revisions[max(active)]
            resp: dict[str, Any] = {"taskDefinition": td, "failures": []}
            if "TAGS" in self._get_param("include", []):
                resp["tags"] = self.ecs_backend.list_tags_for_resource(td.arn)
            return ActionResult(resp)

        def register_task_definition(self: Any) -> Any:
            result = original_register(self)
            family = self._get_param("family")
            revisions = self.ecs_backend.task_definitions.get(family) or {}
            if revisions:
                _fill_container_defaults(revisions[max(revisions)])
            return result

        _patch_application_autoscaling()
        _patch_spot_fleet()
        _replace(EC2ContainerServiceResponse, "create_service", create_service)
        _replace(EC2ContainerServiceResponse, "update_service", update_service)
        _replace(EC2ContainerServiceResponse, "register_task_definition", register_task_definition)
        _replace(EC2ContainerServiceResponse, "list_task_definitions", list_task_definitions)
        _replace(EC2ContainerServiceResponse, "describe_task_definition", describe_task_definition)
        _patched = True


@contextmanager
def unpatched() -> Iterator[None]:
    """moto as it ships, for the tests that check each gap is still there."""
    patch_moto()
    patched = {where: where[0].__dict__.get(where[1]) for where in _ORIGINALS}
    for (cls, name), fn in _ORIGINALS.items():
        if fn is None:
            delattr(cls, name)
        else:
            setattr(cls, name, fn)
    try:
        yield
    finally:
        for (cls, name), fn in patched.items():
            setattr(cls, name, fn)


class EmbeddedAws:
    """A moto server on 127.0.0.1, patched to behave like AWS. `url` is its endpoint."""

    def __init__(self, port: int = 0, patched: bool = True) -> None:
        from moto.server import ThreadedMotoServer

        if patched:
            patch_moto()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.url = ""

    def start(self) -> EmbeddedAws:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        self._server.stop()

    def reset(self) -> None:
        req = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()

    def environment(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", DEFAULT_REGION),
            "AWS_REGION": os.environ.get("AWS_REGION", DEFAULT_REGION),
            **DUMMY_CREDENTIALS,
        }


@contextmanager
def embedded_aws() -> Iterator[EmbeddedAws]:
    """Start the embedded server and point the standard AWS environment at it."""
    server = EmbeddedAws().start()
    saved = {k: os.environ.get(k) for k in server.environment()}
    os.environ.update(server.environment())
    for k in ("AWS_PROFILE",):
        os.environ.pop(k, None)
    try:
        yield server
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        server.stop()


DEFAULT_ACCOUNT = "123456789012"


def seed_network(url: str, region: str, subnets: list[str], security_groups: list[str]) -> None:
    """Create the subnets and security groups that manifests name, under those exact IDs.

    moto checks that a service's subnets and security groups exist but cannot create them with
    chosen IDs, so they are created and then re-keyed in moto's in-process EC2 backend. Only
    for the embedded default and tests: on AWS the network exists already.
    """
    import boto3
    from moto.ec2.models import ec2_backends

    ec2 = boto3.client("ec2", endpoint_url=url, region_name=region, **{
        "aws_access_key_id": "testing", "aws_secret_access_key": "testing"})
    backend = ec2_backends[DEFAULT_ACCOUNT][region]
    known_subnets = {s.id for az in backend.subnets.values() for s in az.values()}
    known_groups = {g.id for groups in backend.groups.values() for g in groups.values()}
    vpc = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
    for i, wanted in enumerate(s for s in subnets if s not in known_subnets):
        sn = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.99.{i}.0/24")["Subnet"]
        zone = backend.subnets[sn["AvailabilityZone"]]
        subnet = zone.pop(sn["SubnetId"])
        subnet.id = wanted
        zone[wanted] = subnet
    for wanted in (g for g in security_groups if g not in known_groups):
        gid = ec2.create_security_group(GroupName=wanted, Description="seeded", VpcId=vpc)["GroupId"]
        group = backend.groups[vpc].pop(gid)
        group.id = wanted
        backend.groups[vpc][wanted] = group


def network_ids(value: Any) -> tuple[list[str], list[str]]:
    """Every subnet-* and sg-* string anywhere in a manifest tree, for `seed_network`."""
    subnets: set[str] = set()
    groups: set[str] = set()

    def walk(v: Any) -> None:
        if isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, str):
            if v.startswith("subnet-"):
                subnets.add(v)
            elif v.startswith("sg-"):
                groups.add(v)

    walk(value)
    return sorted(subnets), sorted(groups)


def main() -> None:
    """`python -m reconciler.embedded [PORT]`: the patched moto server in the foreground, for
    benchmarks and anything that wants AWS's stand-in in its own process."""
    import argparse
    import time

    parser = argparse.ArgumentParser(prog="python -m reconciler.embedded")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--region", default=DEFAULT_REGION)
    parser.add_argument("--subnet", action="append", default=[])
    parser.add_argument("--security-group", action="append", default=[])
    args = parser.parse_args()
    server = EmbeddedAws(port=args.port).start()
    if args.subnet or args.security_group:
        seed_network(server.url, args.region, args.subnet, args.security_group)
    print(server.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
