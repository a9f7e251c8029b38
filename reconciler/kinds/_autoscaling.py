"""What Service, SpotFleet and ScalableTarget share about Application Auto Scaling: how a
ScalableTarget manifest names its target, and which resources a scalable target manages
live (batched, and shared between the kinds that ask in the same pass). A helper module of
the kinds, not a kind."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reconciler.core import model
from reconciler.core.manifest import Manifest
from reconciler.core.normalize import Doc
from reconciler.core.ports import AwsApi, collect_pages, gather_limited

KIND = "ScalableTarget"
SERVICE = "application-autoscaling"
ECS_DIMENSION = "ecs:service:DesiredCount"
FLEET_DIMENSION = "ec2:spot-fleet-request:TargetCapacity"
IDENTITY = ("ServiceNamespace", "ResourceId", "ScalableDimension")
EXTRA_KEYS = ("service", "spotfleet", "policies", "scheduledactions")
DESCRIBE_BATCH = 50
PAGE = ("NextToken", "NextToken")


def shape(op: str) -> Any:
    return model.input_shape(SERVICE, op)


def pick(spec: Doc, name: str) -> Any:
    """A spec key, however its case is written."""
    return next((v for k, v in spec.items() if str(k).lower() == name), None)


def register_part(spec: Doc) -> Doc:
    """The RegisterScalableTarget request inside a ScalableTarget spec, in the model's case."""
    rest = {k: v for k, v in spec.items() if str(k).lower() not in EXTRA_KEYS}
    return dict(model.to_model_case(rest, shape("RegisterScalableTarget")))


def targets(m: Manifest, namespace: str) -> list[str]:
    """Resource ids a ScalableTarget manifest names in `namespace`, from git alone."""
    service = pick(m.spec, "service")
    if namespace == "ecs" and isinstance(service, str):
        return [f"service/{m.cluster}/{service}"]
    reg = register_part(m.spec)
    if reg.get("ServiceNamespace") == namespace and isinstance(reg.get("ResourceId"), str):
        return [str(reg["ResourceId"])]
    return []


def fleet_name(m: Manifest) -> str | None:
    fleet = pick(m.spec, "spotfleet")
    return fleet if isinstance(fleet, str) else None


async def describe_targets(aws: AwsApi, idents: Sequence[tuple[str, str, str]]) -> list[Doc]:
    """The registered targets among `idents`, 50 resource ids a call; the services'
    autoscaling check asks for the same ids in the same pass and shares the calls."""
    by_ns: dict[str, list[str]] = {}
    for ns, rid, _dim in idents:
        by_ns.setdefault(ns, []).append(rid)

    def fetcher(ns: str) -> Any:
        async def fetch(rids: list[str]) -> dict[str, list[Doc]]:
            out: dict[str, list[Doc]] = {}
            for t in await collect_pages(aws, "application-autoscaling",
                                         "describe_scalable_targets", "ScalableTargets",
                                         token=PAGE, ServiceNamespace=ns, ResourceIds=rids,
                                         MaxResults=50):
                out.setdefault(t["ResourceId"], []).append(t)
            return out
        return fetch

    found = await gather_limited(*(
        aws.batched(f"application-autoscaling:describe_scalable_targets:{ns}", sorted(rids),
                    DESCRIBE_BATCH, fetcher(ns))
        for ns, rids in by_ns.items()))
    wanted = set(idents)
    return [t for by_rid in found for ts in by_rid.values() for t in ts
            if (t["ServiceNamespace"], t["ResourceId"], t["ScalableDimension"]) in wanted]


async def managed_resource_ids(aws: AwsApi, namespace: str, resource_ids: Sequence[str],
                               dimension: str) -> set[str]:
    """Which of these resources Application Auto Scaling manages now."""
    found = await describe_targets(aws, [(namespace, r, dimension) for r in resource_ids])
    return {t["ResourceId"] for t in found}


__all__ = ["ECS_DIMENSION", "FLEET_DIMENSION", "IDENTITY", "KIND", "describe_targets",
           "fleet_name", "managed_resource_ids", "pick", "register_part", "shape", "targets"]
