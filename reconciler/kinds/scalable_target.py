"""ScalableTarget: Application Auto Scaling for a service's desired count or a Spot Fleet's
target capacity, with its scaling policies and scheduled actions.

The spec is RegisterScalableTarget's request; the target is named by manifest
(`service: api` in `metadata.cluster`, or `spotFleet: name`) or by its raw identity
(`serviceNamespace`, `resourceId`, `scalableDimension`). `policies` are PutScalingPolicy
requests and `scheduledActions` PutScheduledAction requests, without the target's identity.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from reconciler.aws.client import Aws, gather_limited
from reconciler.core import model
from reconciler.core.manifest import LoadError, Manifest, ResourceKey
from reconciler.core.normalize import (
    Doc,
    Rule,
    drop_default,
    each,
    key_by,
    prune_in_place,
    sort_set,
    tags_as_map,
)
from reconciler.kinds.base import Context, Kind, Live, key_from_tags, name_tags, tag_map

ECS_DIMENSION = "ecs:service:DesiredCount"
FLEET_DIMENSION = "ec2:spot-fleet-request:TargetCapacity"
IDENTITY = ("ServiceNamespace", "ResourceId", "ScalableDimension")
TARGET_FIELDS = ("MinCapacity", "MaxCapacity", "SuspendedState")
EXTRA_KEYS = ("service", "spotfleet", "policies", "scheduledactions")
DESCRIBE_BATCH = 50
PER_TARGET_LIMIT = 10


def _shape(op: str) -> Any:
    return model.input_shape("application-autoscaling", op)


def _pick(spec: Doc, name: str) -> Any:
    return next((v for k, v in spec.items() if str(k).lower() == name), None)


def _register_part(spec: Doc) -> Doc:
    rest = {k: v for k, v in spec.items() if str(k).lower() not in EXTRA_KEYS}
    return dict(model.to_model_case(rest, _shape("RegisterScalableTarget")))


def _items(spec: Doc, name: str, op: str) -> list[Doc]:
    items = _pick(spec, name)
    if not isinstance(items, list):
        return []
    return [model.to_model_case(i, _shape(op)) if isinstance(i, dict) else i for i in items]


def identity(
    m: Manifest, ctx: Context | None = None, known: Mapping[ResourceKey, Live] | None = None
) -> tuple[str, str, str] | None:
    """(namespace, resource id, dimension) of the target, or None if it cannot be known yet."""
    spec = m.spec
    service = _pick(spec, "service")
    fleet = _pick(spec, "spotfleet")
    if isinstance(service, str):
        return "ecs", f"service/{m.cluster}/{service}", ECS_DIMENSION
    if isinstance(fleet, str):
        fleet_id: str | None = None
        if known is not None:
            live = known.get(ResourceKey("SpotFleet", fleet))
            fleet_id = live.arn if live else None
        elif ctx is not None:
            fleet_id = ctx.refs.spot_fleet(fleet)
        return ("ec2", f"spot-fleet-request/{fleet_id}", FLEET_DIMENSION) if fleet_id else None
    reg = _register_part(spec)
    if all(isinstance(reg.get(k), str) for k in IDENTITY):
        return reg["ServiceNamespace"], reg["ResourceId"], reg["ScalableDimension"]
    return None


def targets(m: Manifest, namespace: str) -> list[str]:
    """Resource ids a ScalableTarget manifest names in `namespace`, from git alone."""
    service = _pick(m.spec, "service")
    if namespace == "ecs" and isinstance(service, str):
        return [f"service/{m.cluster}/{service}"]
    reg = _register_part(m.spec)
    if reg.get("ServiceNamespace") == namespace and isinstance(reg.get("ResourceId"), str):
        return [str(reg["ResourceId"])]
    return []


def fleet_name(m: Manifest) -> str | None:
    fleet = _pick(m.spec, "spotfleet")
    return fleet if isinstance(fleet, str) else None


def _instant(value: Any) -> Any:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, datetime):
        v = value if value.tzinfo else value.replace(tzinfo=UTC)
        return v.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
        return _instant(parsed)
    return value


# --- normalisation rules --------------------------------------------------------------------


def _r_tags(doc: Doc) -> None:
    tags_as_map(doc, "Tags", "Key", "Value")


def _r_role(doc: Doc) -> None:
    doc.pop("RoleARN", None)


_CLUSTER_ARN = re.compile(r"^service/arn:[^/]+:cluster/([^/]+)/(.+)$")


def _r_resource_id(doc: Doc) -> None:
    rid = doc.get("ResourceId")
    if isinstance(rid, str):
        m = _CLUSTER_ARN.match(rid)
        if m:
            doc["ResourceId"] = f"service/{m.group(1)}/{m.group(2)}"


def _r_suspended(doc: Doc) -> None:
    state = doc.get("SuspendedState")
    for k in ("DynamicScalingInSuspended", "DynamicScalingOutSuspended", "ScheduledScalingSuspended"):
        drop_default(state, k, False)


def _r_policies(doc: Doc) -> None:
    doc["Policies"] = key_by(doc.get("Policies"), "PolicyName")
    for p in each(doc, "Policies"):
        if not isinstance(p, dict):
            continue
        for k in IDENTITY:
            p.pop(k, None)
        tt = p.get("TargetTrackingScalingPolicyConfiguration")
        if isinstance(tt, dict):
            drop_default(tt, "DisableScaleIn", False)
            cms = tt.get("CustomizedMetricSpecification")
            if isinstance(cms, dict) and isinstance(cms.get("Dimensions"), list):
                cms["Dimensions"] = sort_set(cms["Dimensions"])
        step = p.get("StepScalingPolicyConfiguration")
        if isinstance(step, dict) and isinstance(step.get("StepAdjustments"), list):
            for adj in step["StepAdjustments"]:
                for bound in ("MetricIntervalLowerBound", "MetricIntervalUpperBound"):
                    if isinstance(adj.get(bound), int | float):
                        adj[bound] = float(adj[bound])
            step["StepAdjustments"] = sort_set(step["StepAdjustments"])


def _r_scheduled_actions(doc: Doc) -> None:
    doc["ScheduledActions"] = key_by(doc.get("ScheduledActions"), "ScheduledActionName")
    for a in each(doc, "ScheduledActions"):
        if not isinstance(a, dict):
            continue
        for k in IDENTITY:
            a.pop(k, None)
        drop_default(a, "Timezone", "UTC", "Etc/UTC")
        for k in ("StartTime", "EndTime"):
            if k in a:
                a[k] = _instant(a[k])


RULES: list[Rule] = [
    Rule(
        "scaling.tags-map",
        "Tags compared as a map",
        _r_tags,
        ({"Tags": {"b": "2", "reconciler:revision": "abc"}}, {"Tags": {"b": "2"}}),
    ),
    Rule(
        "scaling.role-ignored",
        "RoleARN is replaced by the service-linked role",
        _r_role,
        ({"RoleARN": "arn:aws:iam::1:role/x", "MinCapacity": 1}, {"MinCapacity": 1}),
        case=52,
    ),
    Rule(
        "scaling.resource-id",
        "ResourceId with a cluster ARN = with its name",
        _r_resource_id,
        ({"ResourceId": "service/arn:aws:ecs:eu-west-1:1:cluster/c/api"}, {"ResourceId": "service/c/api"}),
        case=53,
    ),
    Rule(
        "scaling.suspended-false",
        "SuspendedState false = absent",
        _r_suspended,
        (
            {"SuspendedState": {"DynamicScalingInSuspended": False, "ScheduledScalingSuspended": True}},
            {"SuspendedState": {"ScheduledScalingSuspended": True}},
        ),
        case=55,
    ),
    Rule(
        "scaling.policies",
        "Policies by name; DisableScaleIn false; step adjustments a set",
        _r_policies,
        (
            {
                "Policies": [
                    {
                        "PolicyName": "cpu",
                        "ResourceId": "x",
                        "TargetTrackingScalingPolicyConfiguration": {
                            "TargetValue": 50,
                            "DisableScaleIn": False,
                        },
                    },
                    {
                        "PolicyName": "step",
                        "StepScalingPolicyConfiguration": {
                            "StepAdjustments": [
                                {"MetricIntervalLowerBound": 10, "ScalingAdjustment": 2},
                                {
                                    "MetricIntervalLowerBound": 0,
                                    "MetricIntervalUpperBound": 10,
                                    "ScalingAdjustment": 1,
                                },
                            ]
                        },
                    },
                ]
            },
            {
                "Policies": {
                    "cpu": {"TargetTrackingScalingPolicyConfiguration": {"TargetValue": 50}},
                    "step": {
                        "StepScalingPolicyConfiguration": {
                            "StepAdjustments": [
                                {
                                    "MetricIntervalLowerBound": 0.0,
                                    "MetricIntervalUpperBound": 10.0,
                                    "ScalingAdjustment": 1,
                                },
                                {"MetricIntervalLowerBound": 10.0, "ScalingAdjustment": 2},
                            ]
                        }
                    },
                }
            },
        ),
        case=55,
    ),
    Rule(
        "scaling.scheduled-actions",
        "Scheduled actions by name; Timezone UTC; times as instants",
        _r_scheduled_actions,
        (
            {
                "ScheduledActions": [
                    {
                        "ScheduledActionName": "peak",
                        "Timezone": "UTC",
                        "StartTime": "2026-01-01T01:00:00+01:00",
                    }
                ]
            },
            {"ScheduledActions": {"peak": {"StartTime": "2026-01-01T00:00:00Z"}}},
        ),
        case=54,
    ),
    Rule(
        "scaling.empty-is-absent",
        "[] / {} / null are absent",
        prune_in_place,
        ({"Policies": {}, "MinCapacity": 1}, {"MinCapacity": 1}),
        case=1,
    ),
]


class ScalableTarget(Kind):
    kind = "ScalableTarget"
    service = "application-autoscaling"
    create_operation = "RegisterScalableTarget"
    order = 50
    fetch_wave = 1
    cluster_allowed = True
    named_by_tags = True
    rules = RULES
    replace_fields = frozenset(IDENTITY)
    tag_keys = ("Key", "Value")
    tag_params = ("ResourceARN", "Tags", "TagKeys")
    tags_as_dict = True
    tags_field = "Tags"

    # --- pure -------------------------------------------------------------------------------

    def json_schema(self, builder: Any) -> dict[str, Any]:
        reg = builder.operation(
            "application-autoscaling", "RegisterScalableTarget", camel=True, drop=("Tags",)
        )
        props = dict(reg.get("properties", {}))
        props["tags"] = props["Tags"] = {"type": "object", "additionalProperties": {"type": "string"}}
        props["service"] = {"type": "string", "description": "A Service manifest's name"}
        props["spotFleet"] = {"type": "string", "description": "A SpotFleet manifest's name"}
        props["policies"] = {
            "type": "array",
            "items": builder.operation(
                "application-autoscaling", "PutScalingPolicy", camel=True, drop=IDENTITY
            ),
        }
        props["scheduledActions"] = {
            "type": "array",
            "items": builder.operation(
                "application-autoscaling", "PutScheduledAction", camel=True, drop=IDENTITY
            ),
        }
        return {**reg, "properties": props}

    def wave(self, manifests: Sequence[Manifest]) -> int:
        """Targets on services can be read at once; on Spot Fleets, after the fleets."""
        return 1 if any(fleet_name(m) for m in manifests) else 0

    def validate(self, m: Manifest) -> list[LoadError]:
        errors: list[LoadError] = []
        named = [k for k in ("service", "spotfleet") if _pick(m.spec, k) is not None]
        reg = _register_part(m.spec)
        raw_identity = [k for k in IDENTITY if k in reg]
        if len(named) > 1 or (named and raw_identity):
            errors.append(m.error("name the target once: service, spotFleet, or resourceId", ("spec",)))
        if _pick(m.spec, "service") is not None and not m.cluster:
            errors.append(m.error("metadata.cluster is required with spec.service", ("metadata",)))
        if not named and len(raw_identity) != len(IDENTITY):
            errors.append(
                m.error(
                    "spec.service, spec.spotFleet, or serviceNamespace + resourceId"
                    " + scalableDimension is required",
                    ("spec",),
                )
            )
        placeholder = {
            "ServiceNamespace": "ecs",
            "ResourceId": "service/c/s",
            "ScalableDimension": ECS_DIMENSION,
        }
        for path, message in model.validate({**placeholder, **reg}, _shape("RegisterScalableTarget")):
            errors.append(m.error(message, ("spec", *model.user_path(m.spec, path))))
        for name, op, key in (
            ("policies", "PutScalingPolicy", "PolicyName"),
            ("scheduledactions", "PutScheduledAction", "ScheduledActionName"),
        ):
            raw = _pick(m.spec, name)
            if raw is not None and not isinstance(raw, list):
                errors.append(m.error(f"spec.{name} must be a list", ("spec",)))
                continue
            seen: set[str] = set()
            for i, item in enumerate(_items(m.spec, name, op)):
                base = model.user_path(m.spec, (name, i))
                for path, message in model.validate(
                    {**placeholder, **item} if isinstance(item, dict) else item, _shape(op)
                ):
                    errors.append(
                        m.error(
                            message.replace("spec", f"spec.{base[0]}[{i}]", 1),
                            ("spec", *model.user_path(m.spec, (*base, *path))),
                        )
                    )
                item_name = item.get(key) if isinstance(item, dict) else None
                if item_name in seen:
                    errors.append(m.error(f"duplicate {key} {item_name!r}", ("spec", *base)))
                if isinstance(item_name, str):
                    seen.add(item_name)
        return errors

    def references(self, m: Manifest) -> list[tuple[ResourceKey, tuple[str | int, ...]]]:
        refs: list[tuple[ResourceKey, tuple[str | int, ...]]] = []
        service = _pick(m.spec, "service")
        fleet = _pick(m.spec, "spotfleet")
        if isinstance(service, str):
            refs.append(
                (
                    ResourceKey("Service", service, m.cluster),
                    ("spec", *model.user_path(m.spec, ("service",))),
                )
            )
        if isinstance(fleet, str):
            refs.append(
                (ResourceKey("SpotFleet", fleet), ("spec", *model.user_path(m.spec, ("spotfleet",))))
            )
        return refs

    def desired(self, m: Manifest, ctx: Context) -> Doc:
        reg = _register_part(m.spec)
        ident = identity(m, ctx=ctx)
        if ident:
            reg.update(zip(IDENTITY, ident, strict=True))
        reg["Tags"] = {**tag_map(reg.get("Tags"), "Key", "Value"), **ctx.ownership_tags(), **name_tags(m)}
        reg["Policies"] = _items(m.spec, "policies", "PutScalingPolicy")
        reg["ScheduledActions"] = _items(m.spec, "scheduledactions", "PutScheduledAction")
        return reg

    # --- effects ----------------------------------------------------------------------------

    async def _describe_targets(self, aws: Aws, idents: Sequence[tuple[str, str, str]]) -> list[Doc]:
        """The registered targets among `idents`, 50 resource ids a call; the services'
        autoscaling check asks for the same ids in the same pass and shares the calls."""
        by_ns: dict[str, list[str]] = {}
        for ns, rid, _dim in idents:
            by_ns.setdefault(ns, []).append(rid)

        def fetcher(ns: str) -> Any:
            async def fetch(rids: list[str]) -> dict[str, list[Doc]]:
                out: dict[str, list[Doc]] = {}
                for t in await self._pages(aws, "application-autoscaling",
                                           "describe_scalable_targets", "ScalableTargets",
                                           ServiceNamespace=ns, ResourceIds=rids):
                    out.setdefault(t["ResourceId"], []).append(t)
                return out
            return fetch

        found = await gather_limited(*(
            aws.batched(f"application-autoscaling:describe_scalable_targets:{ns}", sorted(rids),
                        DESCRIBE_BATCH, fetcher(ns))
            for ns, rids in by_ns.items()))
        wanted = set(idents)
        return [t for by_rid in found for targets in by_rid.values() for t in targets
                if (t["ServiceNamespace"], t["ResourceId"], t["ScalableDimension"]) in wanted]

    async def _pages(self, aws: Aws, service: str, op: str, field: str, **params: Any) -> list[Doc]:
        out: list[Doc] = []
        async for page in aws.pages(service, op, "NextToken", "NextToken", MaxResults=50, **params):
            out.extend(page.get(field, []))
        return out

    async def _children(self, aws: Aws, targets: Sequence[Doc]) -> tuple[list[Doc], list[Doc]]:
        """Policies and scheduled actions of the targets: per target when few, else by page."""
        if len(targets) <= PER_TARGET_LIMIT:
            calls = []
            for t in targets:
                ident = {k: t[k] for k in IDENTITY}
                calls.append(
                    self._pages(
                        aws,
                        "application-autoscaling",
                        "describe_scaling_policies",
                        "ScalingPolicies",
                        **ident,
                    )
                )
                calls.append(
                    self._pages(
                        aws,
                        "application-autoscaling",
                        "describe_scheduled_actions",
                        "ScheduledActions",
                        **ident,
                    )
                )
            results = await gather_limited(*calls)
            policies = [p for r in results[0::2] for p in r]
            actions = [a for r in results[1::2] for a in r]
            return policies, actions
        namespaces = sorted({t["ServiceNamespace"] for t in targets})
        results = await gather_limited(
            *(
                self._pages(
                    aws,
                    "application-autoscaling",
                    "describe_scaling_policies",
                    "ScalingPolicies",
                    ServiceNamespace=ns,
                )
                for ns in namespaces
            ),
            *(
                self._pages(
                    aws,
                    "application-autoscaling",
                    "describe_scheduled_actions",
                    "ScheduledActions",
                    ServiceNamespace=ns,
                )
                for ns in namespaces
            ),
        )
        n = len(namespaces)
        return ([p for r in results[:n] for p in r], [a for r in results[n:] for a in r])

    async def _lives(self, aws: Aws, targets: Sequence[Doc]) -> dict[tuple[str, str, str], Live]:
        policies, actions = await self._children(aws, targets)
        tags = await gather_limited(
            *(
                aws.call(
                    "application-autoscaling", "list_tags_for_resource", ResourceARN=t["ScalableTargetARN"]
                )
                for t in targets
            )
        )
        out = {}
        for t, tag_resp in zip(targets, tags, strict=True):
            ident = (t["ServiceNamespace"], t["ResourceId"], t["ScalableDimension"])
            spec = model.project(t, _shape("RegisterScalableTarget"))
            spec["Tags"] = tag_resp.get("Tags", {})
            spec["Policies"] = [
                model.project(p, _shape("PutScalingPolicy"))
                for p in policies
                if (p["ServiceNamespace"], p["ResourceId"], p["ScalableDimension"]) == ident
            ]
            spec["ScheduledActions"] = [
                model.project(a, _shape("PutScheduledAction"))
                for a in actions
                if (a["ServiceNamespace"], a["ResourceId"], a["ScalableDimension"]) == ident
            ]
            out[ident] = Live(
                ResourceKey(self.kind, t["ResourceId"]),
                t["ScalableTargetARN"],
                spec,
                tag_map(spec["Tags"]),
                raw=t,
            )
        return out

    async def fetch(
        self,
        aws: Aws,
        manifests: Sequence[Manifest],
        ctx: Context,
        known: Mapping[ResourceKey, Live],
    ) -> dict[ResourceKey, Live]:
        idents = {m.key: identity(m, known=known) for m in manifests}
        wanted = [i for i in idents.values() if i]
        if not wanted:
            return {}
        lives = await self._lives(aws, await self._describe_targets(aws, wanted))
        out = {}
        for key, ident in idents.items():
            if ident and ident in lives:
                live = lives[ident]
                live.key = key
                out[key] = live
        return out

    async def list_owned(self, aws: Aws, owner: str, clusters: Sequence[str]) -> list[Live]:
        targets: list[Doc] = []
        for ns in ("ecs", "ec2"):
            targets.extend(
                await self._pages(
                    aws,
                    "application-autoscaling",
                    "describe_scalable_targets",
                    "ScalableTargets",
                    ServiceNamespace=ns,
                )
            )
        lives = await self._lives(aws, targets)
        owned = []
        for lv in lives.values():
            key = key_from_tags(self.kind, lv.tags)
            if lv.owner() == owner and key is not None:
                lv.key = key
                owned.append(lv)
        return owned

    def _ident(self, desired: Doc) -> dict[str, Any]:
        return {k: desired[k] for k in IDENTITY}

    async def _register(self, aws: Aws, desired: Doc, tags: bool) -> str:
        params = {k: desired[k] for k in (*IDENTITY, *TARGET_FIELDS, "RoleARN") if k in desired}
        if tags:
            params["Tags"] = desired.get("Tags", {})
        resp = await aws.call("application-autoscaling", "register_scalable_target", **params)
        return str(resp.get("ScalableTargetARN", ""))

    async def _put_children(
        self, aws: Aws, desired: Doc, live: Live | None, only: set[str] | None = None
    ) -> None:
        ident = self._ident(desired)
        have_p = {p["PolicyName"]: p for p in (live.spec.get("Policies", []) if live else [])}
        have_a = {
            a["ScheduledActionName"]: a for a in (live.spec.get("ScheduledActions", []) if live else [])
        }
        want_p = {p["PolicyName"]: p for p in desired.get("Policies", [])}
        want_a = {a["ScheduledActionName"]: a for a in desired.get("ScheduledActions", [])}
        norm = self.normalize
        if only is None or "Policies" in only:
            for name, p in want_p.items():
                if name not in have_p or norm({"Policies": [p]}) != norm({"Policies": [have_p[name]]}):
                    await aws.call("application-autoscaling", "put_scaling_policy", **{**p, **ident})
            for name in have_p.keys() - want_p.keys():
                await aws.call("application-autoscaling", "delete_scaling_policy", PolicyName=name, **ident)
        if only is None or "ScheduledActions" in only:
            for name, a in want_a.items():
                if name not in have_a or norm({"ScheduledActions": [a]}) != norm(
                    {"ScheduledActions": [have_a[name]]}
                ):
                    await aws.call("application-autoscaling", "put_scheduled_action", **{**a, **ident})
            for name in have_a.keys() - want_a.keys():
                await aws.call(
                    "application-autoscaling", "delete_scheduled_action", ScheduledActionName=name, **ident
                )

    async def create(self, aws: Aws, key: ResourceKey, desired: Doc, ctx: Context) -> str:
        arn = await self._register(aws, desired, tags=True)
        await self._put_children(aws, desired, None)
        return arn

    async def update(
        self, aws: Aws, key: ResourceKey, desired: Doc, live: Live, fields: set[str], ctx: Context
    ) -> str:
        if fields & set(TARGET_FIELDS):
            await self._register(aws, desired, tags=False)
        await self._put_children(aws, desired, live, only=fields)
        if "Tags" in fields:
            await self.sync_tags(aws, live.arn, desired, live)
        return live.arn

    async def delete(self, aws: Aws, live: Live) -> None:
        """Policies and scheduled actions first, then the target (reverse of creation)."""
        ident = {k: live.raw[k] for k in IDENTITY}
        for p in live.spec.get("Policies", []):
            await aws.call(
                "application-autoscaling", "delete_scaling_policy", PolicyName=p["PolicyName"], **ident
            )
        for a in live.spec.get("ScheduledActions", []):
            await aws.call(
                "application-autoscaling",
                "delete_scheduled_action",
                ScheduledActionName=a["ScheduledActionName"],
                **ident,
            )
        await aws.call("application-autoscaling", "deregister_scalable_target", **ident)


async def managed_resource_ids(
    aws: Aws, namespace: str, resource_ids: Sequence[str], dimension: str
) -> set[str]:
    """Which of these resources Application Auto Scaling manages now (batched by 50)."""
    kind = ScalableTarget()
    found = await kind._describe_targets(aws, [(namespace, r, dimension) for r in resource_ids])
    return {t["ResourceId"] for t in found}
