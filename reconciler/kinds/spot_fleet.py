"""SpotFleet: an EC2 Spot Fleet request giving an ECS cluster its Spot capacity.

The spec is RequestSpotFleet's SpotFleetRequestConfig. Spot Fleet requests have no name: the
reconciler finds its own by the ownership tags it puts on the request (`reconciler:name`).
Target and on-demand capacity and the excess-capacity policy change in place; anything else is
a `replace`: request the new fleet, then cancel the old one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.core import model
from reconciler.core.ignore import IgnoreRule
from reconciler.core.kind import Changed, Context, Live
from reconciler.core.manifest import LoadError, Manifest, ResourceKey
from reconciler.core.normalize import (
    Doc,
    Rule,
    canonical_json,
    drop_default,
    each,
    prune_empty,
    prune_in_place,
    sort_set,
    tags_as_map,
)
from reconciler.core.ownership import PASCAL_MAP_TAGS, key_from_tags, name_tags
from reconciler.core.ports import AwsApi, collect_pages
from reconciler.core.vocab import Action, Health
from reconciler.kinds import _autoscaling
from reconciler.kinds._base import KindBase

LIVE_STATES = ("submitted", "active", "modifying")
IN_PLACE = frozenset({"TargetCapacity", "OnDemandTargetCapacity",
                      "ExcessCapacityTerminationPolicy", "Tags"})
FLEET_TAG_TYPE = "spot-fleet-request"


def _config_shape() -> Any:
    return model.member_shape("ec2", "RequestSpotFleet", "SpotFleetRequestConfig")


def _model(spec: Doc) -> Doc:
    return dict(model.to_model_case(spec, _config_shape()))


def _split_tags(config: Doc) -> tuple[Doc, dict[str, str]]:
    """Take the fleet request's own tags out of TagSpecifications."""
    rest = dict(config)
    tags: dict[str, str] = {}
    specs = []
    for ts in rest.pop("TagSpecifications", None) or []:
        if isinstance(ts, dict) and ts.get("ResourceType") == FLEET_TAG_TYPE:
            tags.update(PASCAL_MAP_TAGS.read(ts.get("Tags")))
        else:
            specs.append(ts)
    if specs:
        rest["TagSpecifications"] = specs
    return rest, tags


# --- normalisation rules --------------------------------------------------------------------

def _r_tags(doc: Doc) -> None:
    tags_as_map(doc, "Tags", "Key", "Value")


def _r_defaults(doc: Doc) -> None:
    drop_default(doc, "AllocationStrategy", "lowestPrice")
    drop_default(doc, "OnDemandAllocationStrategy", "lowestPrice")
    drop_default(doc, "ExcessCapacityTerminationPolicy", "default", "Default")
    drop_default(doc, "InstanceInterruptionBehavior", "terminate")
    drop_default(doc, "Type", "maintain")
    drop_default(doc, "OnDemandTargetCapacity", 0)
    drop_default(doc, "ReplaceUnhealthyInstances", False)
    drop_default(doc, "TerminateInstancesWithExpiration", False)
    for runtime in ("ClientToken", "FulfilledCapacity", "OnDemandFulfilledCapacity"):
        doc.pop(runtime, None)
    if isinstance(doc.get("SpotPrice"), int | float):
        doc["SpotPrice"] = str(doc["SpotPrice"])


def _r_launch_specs(doc: Doc) -> None:
    for spec in each(doc, "LaunchSpecifications"):
        if not isinstance(spec, dict):
            continue
        drop_default(spec, "Monitoring", {"Enabled": False})
        drop_default(spec, "WeightedCapacity", 1, 1.0)
        drop_default(spec, "EbsOptimized", False)
        if isinstance(spec.get("SecurityGroups"), list):
            spec["SecurityGroups"] = sort_set(spec["SecurityGroups"])
    if isinstance(doc.get("LaunchSpecifications"), list):
        doc["LaunchSpecifications"] = sort_set(prune_empty(doc["LaunchSpecifications"]))
    for cfg in each(doc, "LaunchTemplateConfigs"):
        if isinstance(cfg, dict) and isinstance(cfg.get("Overrides"), list):
            cfg["Overrides"] = sort_set(cfg["Overrides"])


RULES: list[Rule] = [
    Rule("fleet.tags-map", "Tags compared as a map", _r_tags,
         ({"Tags": [{"Key": "a", "Value": "1"}]}, {"Tags": {"a": "1"}})),
    Rule("fleet.defaults",
         "lowestPrice, maintain, terminate, default excess policy, 0 on-demand = absent",
         _r_defaults,
         ({"AllocationStrategy": "lowestPrice", "Type": "maintain", "OnDemandTargetCapacity": 0,
           "InstanceInterruptionBehavior": "terminate", "TargetCapacity": 2, "SpotPrice": 0.1,
           "FulfilledCapacity": 2.0},
          {"TargetCapacity": 2, "SpotPrice": "0.1"})),
    Rule("fleet.launch-specifications",
         "launch specifications a set; monitoring off, weight 1 = absent",
         _r_launch_specs,
         ({"LaunchSpecifications": [
             {"ImageId": "ami-2", "InstanceType": "m5.large", "WeightedCapacity": 1.0,
              "Monitoring": {"Enabled": False}, "SecurityGroups": []},
             {"ImageId": "ami-1", "InstanceType": "m5.large"}]},
          {"LaunchSpecifications": [{"ImageId": "ami-1", "InstanceType": "m5.large"},
                                    {"ImageId": "ami-2", "InstanceType": "m5.large"}]})),
    Rule("fleet.empty-is-absent", "[] / {} / null are absent", prune_in_place,
         ({"TagSpecifications": [], "TargetCapacity": 1}, {"TargetCapacity": 1}), case=1),
]


class SpotFleet(KindBase):
    kind = "SpotFleet"
    service = "ec2"
    create_operation = "RequestSpotFleet"
    inventory_type = "ec2:spot-fleet-request"
    order = 25
    named_by_tags = True
    external_needs_live = True
    rules = RULES
    tags = PASCAL_MAP_TAGS

    def json_schema(self, builder: Any) -> dict[str, Any]:
        return dict(builder.shape(_config_shape(), "ec2", camel=True))

    def validate(self, m: Manifest) -> list[LoadError]:
        errors = []
        for path, message in model.validate(_model(m.spec), _config_shape()):
            errors.append(m.error(message, ("spec", *model.user_path(m.spec, path))))
        return errors

    def replace_fields(self, changed_fields: set[str]) -> set[str]:
        return changed_fields - IN_PLACE

    def published(self, action: Action, live: Live | None) -> str | None:
        """A fleet keeps its request id through an in-place update, not through a replace."""
        if live is not None and action in (Action.NOOP, Action.UPDATE):
            return live.arn
        return None

    def health(self, live: Live | None) -> tuple[Health, str]:
        if live is None:
            return Health.MISSING, "not in AWS"
        state = live.raw.get("SpotFleetRequestState")
        activity = live.raw.get("ActivityStatus")
        if state in ("submitted", "modifying") or activity == "pending_fulfillment":
            return Health.PROGRESSING, f"request {state}, {activity or 'pending'}"
        if activity == "error":
            return Health.DEGRADED, "the fleet reports an error (see its history)"
        return Health.HEALTHY, ""

    def desired(self, m: Manifest, ctx: Context) -> Doc:
        config, tags = _split_tags(_model(m.spec))
        config["Tags"] = {**tags, **ctx.ownership_tags(), **name_tags(m)}
        return config

    def _to_live(self, fleet: Doc) -> Live | None:
        tags = self.tags.read(fleet.get("Tags"))
        key = key_from_tags(self.kind, tags)
        if key is None:
            return None
        config = model.project(fleet.get("SpotFleetRequestConfig", {}), _config_shape())
        config, _ = _split_tags(config)
        config["Tags"] = tags
        return Live(key, fleet["SpotFleetRequestId"], config, tags, raw=fleet)

    async def _fleets(self, aws: AwsApi) -> list[Live]:
        fleets = await collect_pages(aws, "ec2", "describe_spot_fleet_requests",
                                     "SpotFleetRequestConfigs", token=("NextToken", "NextToken"),
                                     MaxResults=1000)
        lives = [self._to_live(f) for f in fleets
                 if f.get("SpotFleetRequestState") in LIVE_STATES]
        return [lv for lv in lives if lv is not None]

    async def fetch(
        self, aws: AwsApi, manifests: Sequence[Manifest], ctx: Context,
        known: Mapping[ResourceKey, Live],
    ) -> dict[ResourceKey, Live]:
        if not manifests:
            return {}
        wanted = {m.key for m in manifests}
        return {lv.key: lv for lv in await self._fleets(aws)
                if lv.key in wanted and lv.owner() == ctx.owner}

    async def orphans(self, aws: AwsApi, owned: Mapping[str, Mapping[str, str]],
                      lives: Sequence[Live], ctx: Context) -> list[Live]:
        """A fleet's live object carries its request id; the inventory its ARN."""
        twins = {lv.arn for lv in lives}
        gone = sorted(arn.rsplit("/", 1)[-1] for arn in owned)
        gone = [i for i in gone if i not in twins]
        if not gone:
            return []
        resp = await aws.call("ec2", "describe_spot_fleet_requests", SpotFleetRequestIds=gone)
        found = [self._to_live(f) for f in resp.get("SpotFleetRequestConfigs", [])
                 if f.get("SpotFleetRequestState") in LIVE_STATES]
        return [lv for lv in found if lv is not None and lv.owner() == ctx.owner]

    async def list_owned(self, aws: AwsApi, owner: str, clusters: Sequence[str]) -> list[Live]:
        return [lv for lv in await self._fleets(aws) if lv.owner() == owner]

    async def external_owners(
        self, aws: AwsApi, manifests: Sequence[Manifest], everything: Sequence[Manifest],
        known: Mapping[ResourceKey, Live],
    ) -> dict[ResourceKey, list[IgnoreRule]]:
        """TargetCapacity belongs to Application Auto Scaling when it scales the fleet."""
        in_git = {_autoscaling.fleet_name(m): m.name for m in everything
                  if m.kind == _autoscaling.KIND}
        rids = {m.key: f"spot-fleet-request/{known[m.key].arn}" for m in manifests
                if m.key in known}
        live = await _autoscaling.managed_resource_ids(aws, "ec2", sorted(rids.values()),
                                                       _autoscaling.FLEET_DIMENSION)
        out: dict[ResourceKey, list[IgnoreRule]] = {}
        for m in manifests:
            if m.name in in_git:
                why = f"owned by Application Auto Scaling (ScalableTarget/{in_git[m.name]})"
            elif rids.get(m.key) in live:
                why = "owned by Application Auto Scaling (a scalable target registered in AWS)"
            else:
                continue
            out[m.key] = [IgnoreRule("spec.TargetCapacity", why, external=True)]
        return out

    def _request(self, desired: Doc) -> Doc:
        config = {k: v for k, v in desired.items() if k != "Tags"}
        tag_specs = list(config.get("TagSpecifications") or [])
        tag_specs.append({"ResourceType": FLEET_TAG_TYPE, "Tags": [
            {"Key": k, "Value": v} for k, v in sorted(desired.get("Tags", {}).items())]})
        config["TagSpecifications"] = tag_specs
        return config

    async def create(self, aws: AwsApi, key: ResourceKey, desired: Doc, ctx: Context) -> str:
        config = self._request(desired)
        # the same request retried (after a crash or a timeout) does not make a second fleet
        config.setdefault("ClientToken", hashlib.sha256(
            f"{key}|{canonical_json(desired)}".encode()).hexdigest()[:64])
        resp = await aws.call("ec2", "request_spot_fleet", SpotFleetRequestConfig=config)
        return str(resp["SpotFleetRequestId"])

    async def update(
        self, aws: AwsApi, key: ResourceKey, desired: Doc, live: Live, fields: Changed, ctx: Context
    ) -> str:
        params = {f: desired[f] for f in sorted(fields & IN_PLACE - {"Tags"}) if f in desired}
        if "OnDemandTargetCapacity" in fields and "OnDemandTargetCapacity" not in desired:
            params["OnDemandTargetCapacity"] = 0
        if params:
            await aws.call("ec2", "modify_spot_fleet_request", SpotFleetRequestId=live.arn,
                           **params)
        if "Tags" in fields:
            want = desired.get("Tags", {})
            add = [{"Key": k, "Value": v} for k, v in sorted(want.items())
                   if live.tags.get(k) != v]
            remove = [{"Key": k} for k in live.tags
                      if k not in want and not k.startswith(("reconciler:", "aws:"))]
            if add:
                await aws.call("ec2", "create_tags", Resources=[live.arn], Tags=add)
            if remove:
                await aws.call("ec2", "delete_tags", Resources=[live.arn], Tags=remove)
        return live.arn

    async def add_tags(self, aws: AwsApi, arn: str, tags: dict[str, str]) -> None:
        await aws.call("ec2", "create_tags", Resources=[arn],
                       Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())])

    async def replace(
        self, aws: AwsApi, key: ResourceKey, desired: Doc, live: Live, ctx: Context
    ) -> str:
        """The new fleet first, so capacity never drops to nothing; then the old one goes."""
        fleet_id = await self.create(aws, key, desired, ctx)
        await self.delete(aws, live)
        return fleet_id

    async def delete(self, aws: AwsApi, live: Live) -> None:
        await aws.call("ec2", "cancel_spot_fleet_requests", SpotFleetRequestIds=[live.arn],
                       TerminateInstances=True)
