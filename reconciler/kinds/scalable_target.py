"""ScalableTarget: Application Auto Scaling for a service's desired count or a Spot Fleet's
target capacity, with its scaling policies and scheduled actions.

The spec is RegisterScalableTarget's request; the target is named by manifest
(`service: api` in `metadata.cluster`, or `spotFleet: name`) or by its raw identity
(`serviceNamespace`, `resourceId`, `scalableDimension`). `policies` are PutScalingPolicy
requests and `scheduledActions` PutScheduledAction requests, without the target's identity;
in the comparison form they are maps by name, so the plan's diff names the policy or action
that changed and an update writes exactly those.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from reconciler.core import model
from reconciler.core.kind import PENDING_ID, Changed, Context, Live, Reference
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
from reconciler.core.ownership import PASCAL_MAP_TAGS, key_from_tags, name_tags
from reconciler.core.ports import AwsApi, collect_pages, gather_limited
from reconciler.core.vocab import ClusterScope
from reconciler.kinds._autoscaling import (
    ECS_DIMENSION,
    FLEET_DIMENSION,
    IDENTITY,
    PAGE,
    describe_targets,
    fleet_name,
    pick,
    register_part,
    shape,
)
from reconciler.kinds._base import KindBase

TARGET_FIELDS = ("MinCapacity", "MaxCapacity", "SuspendedState")
PER_TARGET_LIMIT = 10
SERVICE = "application-autoscaling"
# (spec key as users write it, the operation, the name field, the comparison-form map)
CHILDREN = (("policies", "PutScalingPolicy", "PolicyName", "Policies"),
            ("scheduledactions", "PutScheduledAction", "ScheduledActionName", "ScheduledActions"))


def _items(spec: Doc, name: str, op: str) -> list[Doc]:
    items = pick(spec, name)
    if not isinstance(items, list):
        return []
    return [model.to_model_case(i, shape(op)) if isinstance(i, dict) else i for i in items]


def identity(
    m: Manifest, ctx: Context | None = None, known: Mapping[ResourceKey, Live] | None = None
) -> tuple[str, str, str] | None:
    """(namespace, resource id, dimension) of the target, or None if it cannot be known yet."""
    service = pick(m.spec, "service")
    fleet = pick(m.spec, "spotfleet")
    if isinstance(service, str):
        return "ecs", f"service/{m.cluster}/{service}", ECS_DIMENSION
    if isinstance(fleet, str):
        fleet_id: str | None = None
        if known is not None:
            live = known.get(ResourceKey("SpotFleet", fleet))
            fleet_id = live.arn if live else None
        elif ctx is not None:
            fleet_id = ctx.refs.resolve(ResourceKey("SpotFleet", fleet), PENDING_ID)
        return ("ec2", f"spot-fleet-request/{fleet_id}", FLEET_DIMENSION) if fleet_id else None
    reg = register_part(m.spec)
    if all(isinstance(reg.get(k), str) for k in IDENTITY):
        return reg["ServiceNamespace"], reg["ResourceId"], reg["ScalableDimension"]
    return None


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


class ScalableTarget(KindBase):
    kind = "ScalableTarget"
    service = SERVICE
    create_operation = "RegisterScalableTarget"
    import_folder = "autoscaling"
    inventory_type = "application-autoscaling:scalable-target"
    order = 50
    fetch_wave = 1
    cluster_scope = ClusterScope.ALLOWED
    named_by_tags = True
    atomic_create = False  # the target, then its policies and scheduled actions
    rules = RULES
    replace_only = frozenset(IDENTITY)
    tags = PASCAL_MAP_TAGS
    import_after = ("Service",)

    # --- Spec -------------------------------------------------------------------------------

    def json_schema(self, builder: Any) -> dict[str, Any]:
        reg = builder.operation(SERVICE, "RegisterScalableTarget", camel=True, drop=("Tags",))
        props = dict(reg.get("properties", {}))
        props["tags"] = props["Tags"] = {"type": "object",
                                         "additionalProperties": {"type": "string"}}
        props["service"] = {"type": "string", "description": "A Service manifest's name"}
        props["spotFleet"] = {"type": "string", "description": "A SpotFleet manifest's name"}
        for key, op, _name, _field in CHILDREN:
            camel = {"policies": "policies", "scheduledactions": "scheduledActions"}[key]
            props[camel] = {"type": "array",
                            "items": builder.operation(SERVICE, op, camel=True, drop=IDENTITY)}
        return {**reg, "properties": props}

    def wave(self, manifests: Sequence[Manifest]) -> int:
        """Targets on services can be read at once; on Spot Fleets, after the fleets."""
        return 1 if any(fleet_name(m) for m in manifests) else 0

    def validate(self, m: Manifest) -> list[LoadError]:
        errors: list[LoadError] = []
        named = [k for k in ("service", "spotfleet") if pick(m.spec, k) is not None]
        reg = register_part(m.spec)
        raw_identity = [k for k in IDENTITY if k in reg]
        if len(named) > 1 or (named and raw_identity):
            errors.append(m.error("name the target once: service, spotFleet, or resourceId",
                                  ("spec",)))
        if pick(m.spec, "service") is not None and not m.cluster:
            errors.append(m.error("metadata.cluster is required with spec.service",
                                  ("metadata",)))
        if not named and len(raw_identity) != len(IDENTITY):
            errors.append(m.error("spec.service, spec.spotFleet, or serviceNamespace + "
                                  "resourceId + scalableDimension is required", ("spec",)))
        placeholder = {"ServiceNamespace": "ecs", "ResourceId": "service/c/s",
                       "ScalableDimension": ECS_DIMENSION}
        for path, message in model.validate({**placeholder, **reg},
                                            shape("RegisterScalableTarget")):
            errors.append(m.error(message, ("spec", *model.user_path(m.spec, path))))
        for key, op, name_field, _field in CHILDREN:
            raw = pick(m.spec, key)
            if raw is not None and not isinstance(raw, list):
                errors.append(m.error(f"spec.{key} must be a list", ("spec",)))
                continue
            seen: set[str] = set()
            for i, item in enumerate(_items(m.spec, key, op)):
                base = model.user_path(m.spec, (key, i))
                value = {**placeholder, **item} if isinstance(item, dict) else item
                for path, message in model.validate(value, shape(op)):
                    errors.append(m.error(message.replace("spec", f"spec.{base[0]}[{i}]", 1),
                                          ("spec", *model.user_path(m.spec, (*base, *path)))))
                item_name = item.get(name_field) if isinstance(item, dict) else None
                if item_name in seen:
                    errors.append(m.error(f"duplicate {name_field} {item_name!r}",
                                          ("spec", *base)))
                if isinstance(item_name, str):
                    seen.add(item_name)
        return errors

    def references(self, m: Manifest) -> list[Reference]:
        refs: list[Reference] = []
        service = pick(m.spec, "service")
        fleet = pick(m.spec, "spotfleet")
        if isinstance(service, str):
            refs.append(Reference(ResourceKey("Service", service, m.cluster),
                                  ("spec", *model.user_path(m.spec, ("service",)))))
        if isinstance(fleet, str):
            refs.append(Reference(ResourceKey("SpotFleet", fleet),
                                  ("spec", *model.user_path(m.spec, ("spotfleet",)))))
        return refs

    def desired(self, m: Manifest, ctx: Context) -> Doc:
        reg = register_part(m.spec)
        ident = identity(m, ctx=ctx)
        if ident:
            reg.update(zip(IDENTITY, ident, strict=True))
        reg["Tags"] = {**self.tags.read(reg.get("Tags")), **ctx.ownership_tags(),
                       **name_tags(m)}
        for key, op, _name, field in CHILDREN:
            reg[field] = _items(m.spec, key, op)
        return reg

    def to_manifest(self, live: Live, names: Mapping[str, str]) -> tuple[str, str | None, Doc]:
        """A target on a service is written as `service:` in the service's cluster."""
        spec = {k: v for k, v in live.spec.items() if k not in IDENTITY}
        self.tags.strip(spec)
        _, cluster, service = str(live.raw.get("ResourceId", "")).split("/", 2)
        spec["service"] = service
        spec["policies"] = spec.pop("Policies", [])
        spec["scheduledActions"] = spec.pop("ScheduledActions", [])
        return service, cluster, spec

    # --- Reader -----------------------------------------------------------------------------

    async def _children(self, aws: AwsApi, targets: Sequence[Doc]) -> tuple[list[Doc], list[Doc]]:
        """Policies and scheduled actions of the targets: per target when few, else by page."""
        scopes: list[dict[str, Any]]
        if len(targets) <= PER_TARGET_LIMIT:
            scopes = [{k: t[k] for k in IDENTITY} for t in targets]
        else:
            scopes = [{"ServiceNamespace": ns}
                      for ns in sorted({t["ServiceNamespace"] for t in targets})]
        policies, actions = await gather_limited(
            gather_limited(*(collect_pages(
                aws, "application-autoscaling", "describe_scaling_policies", "ScalingPolicies",
                token=PAGE, MaxResults=50, **scope) for scope in scopes)),
            gather_limited(*(collect_pages(
                aws, "application-autoscaling", "describe_scheduled_actions", "ScheduledActions",
                token=PAGE, MaxResults=50, **scope) for scope in scopes)))
        return [p for r in policies for p in r], [a for r in actions for a in r]

    async def _tags(self, aws: AwsApi, arn: str, ctx: Context | None) -> Doc:
        """A target's tags: from the inventory when it lists the target, else asked for."""
        owned = await ctx.owned.tags(arn) if ctx is not None and ctx.owned is not None else None
        if owned is not None:
            return {"Tags": owned}
        return await aws.call("application-autoscaling", "list_tags_for_resource",
                              ResourceARN=arn)

    async def _lives(self, aws: AwsApi, targets: Sequence[Doc], ctx: Context | None = None
                     ) -> dict[tuple[str, str, str], Live]:
        policies, actions = await self._children(aws, targets)
        tags = await gather_limited(*(self._tags(aws, t["ScalableTargetARN"], ctx)
                                      for t in targets))

        def ident_of(d: Doc) -> tuple[str, str, str]:
            return d["ServiceNamespace"], d["ResourceId"], d["ScalableDimension"]

        out = {}
        for t, tag_resp in zip(targets, tags, strict=True):
            ident = ident_of(t)
            spec = model.project(t, shape("RegisterScalableTarget"))
            spec["Tags"] = tag_resp.get("Tags", {})
            spec["Policies"] = [model.project(p, shape("PutScalingPolicy"))
                                for p in policies if ident_of(p) == ident]
            spec["ScheduledActions"] = [model.project(a, shape("PutScheduledAction"))
                                        for a in actions if ident_of(a) == ident]
            out[ident] = Live(ResourceKey(self.kind, t["ResourceId"]), t["ScalableTargetARN"],
                              spec, self.tags.read(spec["Tags"]), raw=t)
        return out

    async def fetch(self, aws: AwsApi, manifests: Sequence[Manifest], ctx: Context,
                    known: Mapping[ResourceKey, Live]) -> dict[ResourceKey, Live]:
        idents = {m.key: identity(m, known=known) for m in manifests}
        wanted = [i for i in idents.values() if i]
        if not wanted:
            return {}
        lives = await self._lives(aws, await describe_targets(aws, wanted), ctx)
        out = {}
        for key, ident in idents.items():
            if ident and ident in lives:
                live = lives[ident]
                live.key = key
                out[key] = live
        return out

    async def list_owned(self, aws: AwsApi, owner: str, clusters: Sequence[str]) -> list[Live]:
        targets: list[Doc] = []
        for ns in ("ecs", "ec2"):
            targets.extend(await collect_pages(
                aws, "application-autoscaling", "describe_scalable_targets", "ScalableTargets",
                token=PAGE, ServiceNamespace=ns, MaxResults=50))
        owned = []
        for lv in (await self._lives(aws, targets)).values():
            key = key_from_tags(self.kind, lv.tags)
            if lv.owner() == owner and key is not None:
                lv.key = key
                owned.append(lv)
        return owned

    async def describe_arns(self, aws: AwsApi, arns: Sequence[str], ctx: Context) -> list[Live]:
        """Targets by ARN: AWS reads them by namespace only, so the owned ones are listed
        (a prune or an orphan is rare, and this is paged, not per target)."""
        wanted = set(arns)
        targets: list[Doc] = []
        for ns in ("ecs", "ec2"):
            targets.extend(t for t in await collect_pages(
                aws, "application-autoscaling", "describe_scalable_targets", "ScalableTargets",
                token=PAGE, ServiceNamespace=ns, MaxResults=50) if t["ScalableTargetARN"] in wanted)
        out = []
        for lv in (await self._lives(aws, targets, ctx)).values():
            key = key_from_tags(self.kind, lv.tags)
            if key is not None:
                lv.key = key
                out.append(lv)
        return out

    async def discover(self, aws: AwsApi, cluster: Live, found: Mapping[str, Sequence[Live]],
                       ctx: Context) -> list[Live]:
        """The scalable targets of the cluster's services."""
        services = [lv.key.name for lv in found.get("Service", ())]
        idents = [("ecs", f"service/{cluster.key.name}/{s}", ECS_DIMENSION) for s in services]
        lives = await self._lives(aws, await describe_targets(aws, idents))
        return [lives[i] for i in sorted(lives)]

    # --- Writer -----------------------------------------------------------------------------

    async def _register(self, aws: AwsApi, desired: Doc, tags: bool) -> str:
        params = {k: desired[k] for k in (*IDENTITY, *TARGET_FIELDS, "RoleARN") if k in desired}
        if tags:
            params["Tags"] = desired.get("Tags", {})
        resp = await aws.call("application-autoscaling", "register_scalable_target", **params)
        return str(resp.get("ScalableTargetARN", ""))

    async def _put_children(self, aws: AwsApi, desired: Doc, live: Live | None,
                            changed: Changed | None) -> None:
        """Write the policies and scheduled actions the plan found changed (all of them on
        create); delete those git no longer has."""
        ident = {k: desired[k] for k in IDENTITY}
        for _key, _op, name_field, field in CHILDREN:
            want = {i[name_field]: i for i in desired.get(field, [])}
            have = {i[name_field]: i for i in (live.spec.get(field, []) if live else [])}
            names = None if changed is None else changed.keys_under(field)
            if changed is not None and field not in changed:
                continue
            for name in sorted(set(want) | set(have) if names is None else names):
                if name in want:
                    await self._put_child(aws, field, {**want[name], **ident})
                elif name in have:
                    await self._delete_child(aws, field, name, ident)

    async def _put_child(self, aws: AwsApi, field: str, request: Doc) -> None:
        if field == "Policies":
            await aws.call("application-autoscaling", "put_scaling_policy", **request)
        else:
            await aws.call("application-autoscaling", "put_scheduled_action", **request)

    async def _delete_child(self, aws: AwsApi, field: str, name: str, ident: Doc) -> None:
        if field == "Policies":
            await aws.call("application-autoscaling", "delete_scaling_policy", PolicyName=name,
                           **ident)
        else:
            await aws.call("application-autoscaling", "delete_scheduled_action",
                           ScheduledActionName=name, **ident)

    async def create(self, aws: AwsApi, key: ResourceKey, desired: Doc, ctx: Context) -> str:
        arn = await self._register(aws, desired, tags=True)
        await self._put_children(aws, desired, None, None)
        return arn

    async def update(self, aws: AwsApi, key: ResourceKey, desired: Doc, live: Live,
                     fields: Changed, ctx: Context) -> str:
        if fields & set(TARGET_FIELDS):
            await self._register(aws, desired, tags=False)
        await self._put_children(aws, desired, live, fields)
        if "Tags" in fields:
            await self.sync_tags(aws, live.arn, desired, live)
        return live.arn

    async def delete(self, aws: AwsApi, live: Live) -> None:
        """Policies and scheduled actions first, then the target (reverse of creation)."""
        ident = {k: live.raw[k] for k in IDENTITY}
        for _key, _op, name_field, field in CHILDREN:
            for item in live.spec.get(field, []):
                await self._delete_child(aws, field, item[name_field], ident)
        await aws.call("application-autoscaling", "deregister_scalable_target", **ident)
