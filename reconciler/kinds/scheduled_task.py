"""ScheduledTask: an EventBridge rule on a schedule, with the ECS task it runs as its target.

The spec is PutRule's request (without Name) plus `target`, one PutTargets Target (Id and the
cluster's Arn are filled in). Keys may be written camelCase or as the API spells them. The
target's `ecsParameters.taskDefinitionArn` may name a TaskDefinition manifest, so a new
revision moves the schedule; `input` may be written as a mapping and is compared as JSON.

`watch` is the reconciler's own, never sent to AWS nor compared: how the schedule watchdog
judges and re-runs its runs (core/runs.py). A target that names no task group gets
`reconciler:<rule>`, so its tasks are told from every other rule's; that default is compared
as absent, so a rule written before it existed stays in sync.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.core import model, schedule
from reconciler.core.kind import PENDING_REVISION, Changed, Context, Live, Reference
from reconciler.core.manifest import LoadError, Manifest, ResourceKey
from reconciler.core.normalize import (
    Doc,
    Rule,
    clone,
    drop_default,
    each,
    key_by,
    last_segment,
    prune_empty,
    prune_in_place,
    sort_set,
    sort_set_fields,
    tags_as_map,
)
from reconciler.core.ownership import MANAGED_BY, PASCAL_TAGS
from reconciler.core.ports import AwsApi, AwsError, collect_pages, gather_limited
from reconciler.core.runs import GROUP_PREFIX, default_group, read_watch, watch_key
from reconciler.core.vocab import ClusterScope, Health
from reconciler.kinds._base import KindBase

DEFAULT_TARGET_ID = "ecs-task"
DESCRIBE_ONE_BY_ONE = 10
RULE_FIELDS = ("ScheduleExpression", "EventPattern", "State", "Description", "RoleArn")


def _target_shape() -> Any:
    return model.member_shape("events", "PutTargets", "Targets")


def _rule_shape() -> Any:
    return model.input_shape("events", "PutRule")


def _split(spec: Doc) -> tuple[Doc, Doc | None, str | None]:
    """(rule part, target part, the user's key for the target); `watch` is in neither."""
    target_key = next((k for k in spec if str(k).lower() == "target"), None)
    watch = watch_key(spec)
    rule = {k: v for k, v in spec.items() if k not in (target_key, watch)}
    target = spec.get(target_key) if target_key else None
    return rule, target if isinstance(target, dict) else None, target_key


def _input_text(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return value


def _task_definition_ref(target: Doc | None) -> str | None:
    ecs = (target or {}).get("EcsParameters") or {}
    td = ecs.get("TaskDefinitionArn")
    if isinstance(td, str) and not td.startswith("arn:") and ":" not in td:
        return td
    return None


# --- normalisation rules --------------------------------------------------------------------

def _r_tags(doc: Doc) -> None:
    tags_as_map(doc, "Tags", "Key", "Value")


def _r_rule_defaults(doc: Doc) -> None:
    drop_default(doc, "State", "ENABLED")
    drop_default(doc, "Description", "")
    if isinstance(doc.get("ScheduleExpression"), str):
        doc["ScheduleExpression"] = doc["ScheduleExpression"].strip()
    if isinstance(doc.get("RoleArn"), str):
        doc["RoleArn"] = last_segment(doc["RoleArn"])


def _r_event_pattern(doc: Doc) -> None:
    if isinstance(doc.get("EventPattern"), str):
        with contextlib.suppress(ValueError):
            doc["EventPattern"] = json.loads(doc["EventPattern"])


def _r_targets_by_id(doc: Doc) -> None:
    doc["Targets"] = key_by(doc.get("Targets"), "Id")


def _overrides(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    out = dict(value)
    containers = key_by(out.get("containerOverrides"), "name")
    if isinstance(containers, dict):
        for c in containers.values():
            if isinstance(c, dict):
                env = key_by(c.get("environment"), "name", "value")
                if isinstance(env, dict):
                    c["environment"] = env
        out["containerOverrides"] = containers
    return prune_empty(out)


def _r_input(doc: Doc) -> None:
    for t in each(doc, "Targets"):
        if isinstance(t, dict) and isinstance(t.get("Input"), str):
            with contextlib.suppress(ValueError):
                t["Input"] = _overrides(json.loads(t["Input"]))


def _r_target_refs(doc: Doc) -> None:
    for t in each(doc, "Targets"):
        if not isinstance(t, dict):
            continue
        for k in ("Arn", "RoleArn"):
            if isinstance(t.get(k), str):
                t[k] = last_segment(t[k])
        ecs = t.get("EcsParameters")
        if isinstance(ecs, dict) and isinstance(ecs.get("TaskDefinitionArn"), str):
            ecs["TaskDefinitionArn"] = ecs["TaskDefinitionArn"].rsplit("/", 1)[-1]


def _r_ecs_defaults(doc: Doc) -> None:
    for t in each(doc, "Targets"):
        ecs = t.get("EcsParameters") if isinstance(t, dict) else None
        if not isinstance(ecs, dict):
            continue
        drop_default(ecs, "TaskCount", 1)
        drop_default(ecs, "PropagateTags", "")
        drop_default(ecs, "EnableECSManagedTags", False)
        drop_default(ecs, "EnableExecuteCommand", False)
        drop_default(ecs, "PlatformVersion", "LATEST")
        vpc = (ecs.get("NetworkConfiguration") or {}).get("awsvpcConfiguration")
        drop_default(vpc, "AssignPublicIp", "DISABLED")
        sort_set_fields(vpc, "Subnets", "SecurityGroups")
        for s in each(ecs, "CapacityProviderStrategy"):
            drop_default(s, "base", 0)
        if isinstance(ecs.get("CapacityProviderStrategy"), list):
            ecs["CapacityProviderStrategy"] = sort_set(ecs["CapacityProviderStrategy"])
        sort_set_fields(ecs, "PlacementConstraints")


def _r_default_group(doc: Doc) -> None:
    for t in each(doc, "Targets"):
        ecs = t.get("EcsParameters") if isinstance(t, dict) else None
        if isinstance(ecs, dict) and str(ecs.get("Group", "")).startswith(GROUP_PREFIX):
            ecs.pop("Group")


def _r_retry_defaults(doc: Doc) -> None:
    for t in each(doc, "Targets"):
        rp = t.get("RetryPolicy") if isinstance(t, dict) else None
        drop_default(rp, "MaximumRetryAttempts", 185)
        drop_default(rp, "MaximumEventAgeInSeconds", 86400)


_ARN = "arn:aws:ecs:eu-west-1:1:"
RULES: list[Rule] = [
    Rule("sched.tags-map", "Tags compared as a map", _r_tags,
         ({"Tags": [{"Key": "b", "Value": "2"}, {"Key": "a", "Value": "1"}]},
          {"Tags": {"a": "1", "b": "2"}})),
    Rule("sched.rule-defaults", "State absent = ENABLED, Description '' = absent, expression trimmed",
         _r_rule_defaults,
         ({"State": "ENABLED", "Description": "", "ScheduleExpression": " rate(5 minutes) "},
          {"ScheduleExpression": "rate(5 minutes)"}), case=45),
    Rule("sched.event-pattern-json", "EventPattern compared as parsed JSON", _r_event_pattern,
         ({"EventPattern": '{"source": ["aws.ecs"]}'}, {"EventPattern": {"source": ["aws.ecs"]}}),
         case=46),
    Rule("sched.targets-by-id", "Targets keyed by Id", _r_targets_by_id,
         ({"Targets": [{"Id": "t", "Arn": "a"}]}, {"Targets": {"t": {"Arn": "a"}}})),
    Rule("sched.input-json", "Input compared as JSON; overrides keyed by name, env as a map",
         _r_input,
         ({"Targets": {"t": {"Input": '{"containerOverrides": [{"name": "a", "command": ["x"],'
                                      ' "environment": [{"name": "K", "value": "v"}]}]}'}}},
          {"Targets": {"t": {"Input": {"containerOverrides": {
              "a": {"command": ["x"], "environment": {"K": "v"}}}}}}}), case=48),
    Rule("sched.target-refs", "cluster, role and task definition by name / family:revision",
         _r_target_refs,
         ({"Targets": {"t": {"Arn": _ARN + "cluster/c", "RoleArn": "arn:aws:iam::1:role/r",
                             "EcsParameters": {"TaskDefinitionArn": _ARN + "task-definition/w:2"}}}},
          {"Targets": {"t": {"Arn": "c", "RoleArn": "r",
                             "EcsParameters": {"TaskDefinitionArn": "w:2"}}}}), case=50),
    Rule("sched.ecs-defaults", "TaskCount 1, tags/exec off, LATEST, DISABLED public IP, sets",
         _r_ecs_defaults,
         ({"Targets": {"t": {"EcsParameters": {
             "TaskCount": 1, "EnableExecuteCommand": False, "PlatformVersion": "LATEST",
             "NetworkConfiguration": {"awsvpcConfiguration": {
                 "Subnets": ["b", "a"], "AssignPublicIp": "DISABLED"}}}}}},
          {"Targets": {"t": {"EcsParameters": {
              "NetworkConfiguration": {"awsvpcConfiguration": {"Subnets": ["a", "b"]}}}}}}),
         case=49),
    Rule("sched.default-group", "the reconciler's own task group (reconciler:<rule>) = none",
         _r_default_group,
         ({"Targets": {"t": {"EcsParameters": {"Group": "reconciler:nightly", "TaskCount": 2}}}},
          {"Targets": {"t": {"EcsParameters": {"TaskCount": 2}}}})),
    Rule("sched.retry-defaults", "RetryPolicy defaults 185 attempts / 24 h", _r_retry_defaults,
         ({"Targets": {"t": {"RetryPolicy": {"MaximumRetryAttempts": 185,
                                             "MaximumEventAgeInSeconds": 86400}}}},
          {"Targets": {"t": {"RetryPolicy": {}}}})),
    Rule("sched.empty-is-absent", "[] / {} / null are absent", prune_in_place,
         ({"Tags": {}, "Targets": {"t": {"Arn": "c", "RetryPolicy": {}}}},
          {"Targets": {"t": {"Arn": "c"}}}), case=1),
]


class ScheduledTask(KindBase):
    kind = "ScheduledTask"
    service = "events"
    create_operation = "PutRule"
    cluster_scope = ClusterScope.REQUIRED
    import_folder = "schedules"
    inventory_type = "events:rule"
    order = 40
    atomic_create = False  # the rule, then its target
    rules = RULES
    tags = PASCAL_TAGS

    # --- pure -------------------------------------------------------------------------------

    def model_spec(self, spec: Doc) -> tuple[Doc, Doc | None]:
        rule, target, _ = _split(spec)
        rule = model.to_model_case(rule, _rule_shape())
        if target is not None:
            target = model.to_model_case(target, _target_shape())
            if "Input" in target:
                target["Input"] = _input_text(target["Input"])
        return rule, target

    def json_schema(self, builder: Any) -> dict[str, Any]:
        rule: dict[str, Any] = builder.operation("events", "PutRule",
                                                 drop=("Name", "EventBusName"), camel=True)
        target = builder.shape(_target_shape(), "events", camel=True)
        rule = dict(builder.definitions.get(rule.get("$ref", "").split("/")[-1], rule))
        props = dict(rule.get("properties", {}))
        props["target"] = {"anyOf": [target, {"type": "object"}]}
        duration = {"type": ["string", "integer"], "pattern": r"^\d+[dhms]?(\d+[hms])*$"}
        props["watch"] = {
            "description": "How the schedule's runs are watched (reconciler-only, never sent "
                           "to AWS): false to not watch it.",
            "anyOf": [{"type": "boolean", "const": False}, {
                "type": "object", "additionalProperties": False,
                "properties": {"retries": {"type": "integer", "minimum": 0, "maximum": 5},
                               "fallbackCapacityProvider": {"type": "string"},
                               "maxRuntime": duration, "tolerance": duration}}]}
        return {**rule, "properties": props, "required": ["target"]}

    def validate(self, m: Manifest) -> list[LoadError]:
        errors: list[LoadError] = []
        if not m.cluster:
            errors.append(m.error("metadata.cluster is required for this kind", ("metadata",)))
        rule, target = self.model_spec(m.spec)
        for f in ("Name", "EventBusName"):
            if f in rule:
                errors.append(m.error(f"spec.{f} is not allowed: the rule's name is metadata.name "
                                      "and it lives on the default event bus",
                                      ("spec", *model.user_path(m.spec, (f,)))))
        if "ScheduleExpression" not in rule and "EventPattern" not in rule:
            errors.append(m.error("spec.scheduleExpression is required", ("spec",)))
        for path, message in model.validate({"Name": m.name, **rule}, _rule_shape()):
            errors.append(m.error(message, ("spec", *model.user_path(m.spec, path))))
        expression = rule.get("ScheduleExpression")
        if isinstance(expression, str):
            try:
                schedule.parse(expression)
            except schedule.ScheduleError as exc:
                where = ("spec", *model.user_path(m.spec, ("ScheduleExpression",)))
                errors.append(m.error(f"spec.scheduleExpression: {exc}", where))
        watch = watch_key(m.spec)
        if watch is not None:
            for path, message in read_watch(m.spec[watch])[1]:
                errors.append(m.error(message, ("spec", watch, *path)))
        _, _, target_key = _split(m.spec)
        if target is None:
            errors.append(m.error("spec.target (the ECS task to run) is required", ("spec",)))
            return errors
        full = {"Id": DEFAULT_TARGET_ID, "Arn": "arn:aws:ecs:::cluster/x", **target}
        if "EcsParameters" not in target:
            errors.append(m.error("spec.target.ecsParameters is required", ("spec", str(target_key))))
        for path, message in model.validate(full, _target_shape()):
            where = ("spec", *model.user_path(m.spec, (str(target_key), *path)))
            errors.append(m.error(message.replace("spec.", "spec.target.", 1), where))
        return errors

    def references(self, m: Manifest) -> list[Reference]:
        _, target = self.model_spec(m.spec)
        family = _task_definition_ref(target)
        if not family:
            return []
        _, _, target_key = _split(m.spec)
        path = model.user_path(m.spec, (str(target_key), "EcsParameters", "TaskDefinitionArn"))
        return [Reference(ResourceKey("TaskDefinition", family), ("spec", *path))]

    def desired(self, m: Manifest, ctx: Context) -> Doc:
        rule, target = self.model_spec(m.spec)
        tags = {**self.tags.read(rule.get("Tags")), **ctx.ownership_tags()}
        doc: Doc = {k: v for k, v in rule.items() if k != "Tags"}
        doc["Tags"] = self.tags.write(tags)
        t = dict(target or {})
        t.setdefault("Id", DEFAULT_TARGET_ID)
        t["Arn"] = ctx.cluster_arn(str(m.cluster))
        ecs = dict(t.get("EcsParameters") or {})
        ecs.setdefault("Group", default_group(m.name))
        family = _task_definition_ref(t)
        if family:
            ecs["TaskDefinitionArn"] = ctx.refs.resolve(ResourceKey("TaskDefinition", family),
                                                        PENDING_REVISION)
        t["EcsParameters"] = ecs
        doc["Targets"] = [t]
        return doc

    # --- effects ----------------------------------------------------------------------------

    async def _tags(self, aws: AwsApi, arn: str, ctx: Context | None) -> list[Doc]:
        """A rule's tags: from the inventory when it lists the rule, else asked for."""
        owned = await ctx.owned.tags(arn) if ctx is not None and ctx.owned is not None else None
        if owned is not None:
            return list(self.tags.write(owned))
        resp = await aws.call("events", "list_tags_for_resource", ResourceARN=arn)
        return list(resp.get("Tags", []))

    async def _live(self, aws: AwsApi, rule: Doc, ctx: Context | None = None) -> Live:
        targets, tags = await gather_limited(
            aws.call("events", "list_targets_by_rule", Rule=rule["Name"]),
            self._tags(aws, rule["Arn"], ctx),
        )
        spec = model.project(rule, _rule_shape())
        spec.pop("Name", None)
        spec.pop("EventBusName", None)
        spec["Tags"] = tags
        spec["Targets"] = [model.project(t, _target_shape()) for t in targets.get("Targets", [])]
        cluster = next((last_segment(t.get("Arn", "")) for t in spec["Targets"]), None)
        return Live(ResourceKey(self.kind, rule["Name"], cluster), rule["Arn"], spec,
                    self.tags.read(spec["Tags"]), raw=rule)

    async def _rules(self, aws: AwsApi, names: Sequence[str] | None) -> list[Doc]:
        if names is not None and len(names) <= DESCRIBE_ONE_BY_ONE:
            async def one(name: str) -> Doc | None:
                try:
                    return await aws.call("events", "describe_rule", Name=name)
                except AwsError as exc:
                    if exc.code == "ResourceNotFoundException":
                        return None
                    raise
            found = await gather_limited(*(one(n) for n in names))
            return [r for r in found if r]
        rules = await collect_pages(aws, "events", "list_rules", "Rules",
                                    token=("NextToken", "NextToken"), Limit=100)
        wanted = set(names) if names is not None else None
        return [r for r in rules if wanted is None or r["Name"] in wanted]

    async def fetch(
        self, aws: AwsApi, manifests: Sequence[Manifest], ctx: Context,
        known: Mapping[ResourceKey, Live],
    ) -> dict[ResourceKey, Live]:
        keys = [m.key for m in manifests]
        if not keys:
            return {}
        by_name = {k.name: k for k in keys}
        rules = await self._rules(aws, sorted(by_name))
        lives = await gather_limited(*(self._live(aws, r, ctx) for r in rules))
        out = {}
        for live in lives:
            key = by_name[live.key.name]
            live.key = key
            out[key] = live
        return out

    async def describe_arns(self, aws: AwsApi, arns: Sequence[str], ctx: Context) -> list[Live]:
        """Rules by ARN (`...:rule/NAME` on the default bus)."""
        rules = await self._rules(aws, sorted({a.rsplit("/", 1)[-1] for a in arns}))
        return list(await gather_limited(*(self._live(aws, r, ctx) for r in rules)))

    async def list_owned(self, aws: AwsApi, owner: str, clusters: Sequence[str]) -> list[Live]:
        rules = await self._rules(aws, None)

        async def owned(rule: Doc) -> Live | None:
            tags = await aws.call("events", "list_tags_for_resource", ResourceARN=rule["Arn"])
            if self.tags.read(tags.get("Tags")).get(MANAGED_BY) != owner:
                return None
            return await self._live(aws, rule)

        return [lv for lv in await gather_limited(*(owned(r) for r in rules)) if lv]

    async def _put_rule(self, aws: AwsApi, key: ResourceKey, desired: Doc, tags: bool) -> str:
        params = {k: desired[k] for k in RULE_FIELDS if k in desired}
        if isinstance(params.get("EventPattern"), dict):
            params["EventPattern"] = json.dumps(params["EventPattern"])
        if tags:
            params["Tags"] = desired.get("Tags", [])
        resp = await aws.call("events", "put_rule", Name=key.name, **params)
        return str(resp["RuleArn"])

    async def _put_targets(self, aws: AwsApi, key: ResourceKey, desired: Doc) -> None:
        resp = await aws.call("events", "put_targets", Rule=key.name, Targets=desired["Targets"])
        if resp.get("FailedEntryCount"):
            failed = resp.get("FailedEntries") or [{}]
            raise AwsError("events:put_targets", str(failed[0].get("ErrorCode", "")),
                           str(failed[0].get("ErrorMessage", "")))

    async def create(self, aws: AwsApi, key: ResourceKey, desired: Doc, ctx: Context) -> str:
        arn = await self._put_rule(aws, key, desired, tags=True)
        await self._put_targets(aws, key, desired)
        return arn

    async def update(
        self, aws: AwsApi, key: ResourceKey, desired: Doc, live: Live, fields: Changed, ctx: Context
    ) -> str:
        if fields & set(RULE_FIELDS):
            await self._put_rule(aws, key, desired, tags=False)
        if "Targets" in fields:
            await self._put_targets(aws, key, desired)
            keep = {t["Id"] for t in desired["Targets"]}
            extra = [t["Id"] for t in live.spec.get("Targets", []) if t.get("Id") not in keep]
            if extra:
                await aws.call("events", "remove_targets", Rule=key.name, Ids=extra)
        if "Tags" in fields:
            await self.sync_tags(aws, live.arn, desired, live)
        return live.arn

    async def delete(self, aws: AwsApi, live: Live) -> None:
        """Targets first: EventBridge refuses to delete a rule that still has targets."""
        resp = await aws.call("events", "list_targets_by_rule", Rule=live.key.name)
        ids = [t["Id"] for t in resp.get("Targets", [])]
        if ids:
            await aws.call("events", "remove_targets", Rule=live.key.name, Ids=ids)
        await aws.call("events", "delete_rule", Name=live.key.name)

    def health(self, live: Live | None) -> tuple[Health, str]:
        if live is None:
            return Health.MISSING, "not in AWS"
        if live.raw.get("State") == "DISABLED":
            return Health.SUSPENDED, "the rule is disabled"
        if not live.spec.get("Targets"):
            return Health.DEGRADED, "the rule has no target"
        return Health.HEALTHY, ""

    def to_manifest(self, live: Live, names: Mapping[str, str]) -> tuple[str, str | None, Doc]:
        """The rule with its one target on the cluster as `target`, naming its task
        definition by family when that revision is imported too."""
        spec = clone(live.spec)
        self.tags.strip(spec)
        targets = spec.pop("Targets", [])
        target = next((t for t in targets if last_segment(t.get("Arn", "")) == live.key.cluster),
                      targets[0] if targets else {})
        target.pop("Arn", None)
        ecs = target.get("EcsParameters") or {}
        if isinstance(ecs.get("TaskDefinitionArn"), str):
            ecs["TaskDefinitionArn"] = names.get(ecs["TaskDefinitionArn"], ecs["TaskDefinitionArn"])
        if isinstance(target.get("Input"), str):
            with contextlib.suppress(ValueError):
                target["Input"] = json.loads(target["Input"])
        spec["target"] = target
        return live.key.name, live.key.cluster, spec

    async def discover(self, aws: AwsApi, cluster: Live, found: Mapping[str, Sequence[Live]],
                       ctx: Context) -> list[Live]:
        """The rules whose targets run tasks on this cluster."""
        names = await collect_pages(aws, "events", "list_rule_names_by_target", "RuleNames",
                                    token=("NextToken", "NextToken"), TargetArn=cluster.arn)
        manifests = [Manifest(self.kind, n, {}, "(import)", 1, cluster=cluster.key.name)
                     for n in sorted(set(names))]
        lives = await self.fetch(aws, manifests, ctx, {})
        return [lives[k] for k in sorted(lives, key=str)]
