"""Service: an ECS service in a cluster. Changed in place with UpdateService carrying only the
fields that differ; what UpdateService cannot change is a `replace`."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from reconciler.core import model
from reconciler.core.ignore import IgnoreRule
from reconciler.core.kind import PENDING_REVISION, Changed, Context, Live, Reference
from reconciler.core.manifest import LoadError, Manifest, ResourceKey
from reconciler.core.normalize import (
    Doc,
    Rule,
    ServerChosen,
    canonical_json,
    drop_default,
    each,
    last_segment,
    prune_in_place,
    sort_set,
    sort_set_fields,
    tags_as_map,
)
from reconciler.core.ports import AwsApi, AwsError, collect_pages, gather_limited
from reconciler.core.vocab import ClusterScope, Health
from reconciler.kinds import _autoscaling
from reconciler.kinds._base import KindBase, at_least, ecs_name_errors
from reconciler.kinds._rollout import DEPLOYMENT_KEY, REVISIONS_KEY, Rollout, judge

DESCRIBE_BATCH = 10  # DescribeServices takes at most 10 names
ROLLOUT_BATCH = 20  # DescribeServiceDeployments / DescribeServiceRevisions: 20 ARNs
# A finished service deployment never changes again, nor does a service revision: each is
# described once per process.
FINISHED = frozenset({"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"})
# Answers meaning "no service-deployment API here" (a Region or a policy without it): the
# rollout is then judged from deployments[] alone.
NO_ROLLOUT_API = frozenset({"AccessDeniedException", "UnsupportedFeatureException",
                            "InvalidParameterException"})
SERVICE_LINKED_ROLE = "/aws-service-role/ecs.amazonaws.com/"

_CREATE_ONLY = (
    model.input_members("ecs", "CreateService") - model.input_members("ecs", "UpdateService")
)
REPLACE_FIELDS = frozenset(_CREATE_ONLY - {"serviceName", "cluster", "clientToken", "tags"})
# What the tasks run: a change to one of these makes ECS start a new service deployment (a
# count, tags or the deployment configuration alone do not).
DEPLOYING_FIELDS = frozenset({
    "taskDefinition", "networkConfiguration", "loadBalancers", "capacityProviderStrategy",
    "platformVersion", "launchType", "serviceConnectConfiguration", "serviceRegistries",
    "volumeConfigurations", "vpcLatticeConfigurations"})

REPLICA_DEPLOYMENT = {"maximumPercent": 200, "minimumHealthyPercent": 100}
# botocore's documented defaults of the circuit breaker's newer members and of the canary and
# linear steps (DeploymentCircuitBreaker, CanaryConfiguration, LinearConfiguration).
CIRCUIT_BREAKER_THRESHOLD = {"type": "BOUNDED_PERCENT", "value": 50}
TRAFFIC_DEFAULTS: dict[str, dict[str, float | int]] = {
    "canaryConfiguration": {"canaryPercent": 5.0, "canaryBakeTimeInMinutes": 10},
    "linearConfiguration": {"stepPercent": 10.0, "stepBakeTimeInMinutes": 6},
}
TRAFFIC_STRATEGIES = ("BLUE_GREEN", "LINEAR", "CANARY")  # need a load balancer or Service Connect
DAEMON_DEPLOYMENT = {"maximumPercent": 100, "minimumHealthyPercent": 0}
# What UpdateService is sent for a field the manifest no longer sets: AWS's default.
RESET_VALUES: dict[str, Any] = {
    "enableExecuteCommand": False,
    "enableECSManagedTags": False,
    "propagateTags": "NONE",
    "healthCheckGracePeriodSeconds": 0,
    "loadBalancers": [],
    "serviceRegistries": [],
    "placementConstraints": [],
    "placementStrategy": [],
    "platformVersion": "LATEST",
    "deploymentConfiguration": {},
    "deploymentController": {"type": "ECS"},
}


def _is_daemon(doc: Doc) -> bool:
    return doc.get("schedulingStrategy") == "DAEMON"


def _r_tags(doc: Doc) -> None:
    tags_as_map(doc)


def _r_task_definition(doc: Doc) -> None:
    td = doc.get("taskDefinition")
    if isinstance(td, str):
        doc["taskDefinition"] = td.rsplit("/", 1)[-1]


def _r_role(doc: Doc) -> None:
    role = doc.get("role")
    if isinstance(role, str):
        doc["role"] = role.rsplit("/", 1)[-1]


def _r_platform_version(doc: Doc) -> None:
    drop_default(doc, "platformVersion", "LATEST")


def _r_deployment_configuration(doc: Doc) -> None:
    dc = doc.get("deploymentConfiguration")
    if not isinstance(dc, dict):
        return
    defaults = DAEMON_DEPLOYMENT if _is_daemon(doc) else REPLICA_DEPLOYMENT
    for k, v in defaults.items():
        drop_default(dc, k, v)
    cb = dc.get("deploymentCircuitBreaker")
    drop_default(cb, "enable", False)
    drop_default(cb, "rollback", False)
    alarms = dc.get("alarms")
    if isinstance(alarms, dict):
        sort_set_fields(alarms, "alarmNames")
        drop_default(alarms, "enable", False)
        drop_default(alarms, "rollback", False)
    drop_default(dc, "strategy", "ROLLING")
    drop_default(dc, "bakeTimeInMinutes", 0)


def _r_circuit_breaker(doc: Doc) -> None:
    cb = (doc.get("deploymentConfiguration") or {}).get("deploymentCircuitBreaker")
    drop_default(cb, "resetOnHealthyTask", True)
    drop_default(cb, "thresholdConfiguration", CIRCUIT_BREAKER_THRESHOLD)


def _r_traffic_shifting(doc: Doc) -> None:
    """Canary and linear steps at AWS's documented defaults; numbers compare by value, so
    `canaryPercent: 5` is the default `5.0`."""
    dc = doc.get("deploymentConfiguration")
    if not isinstance(dc, dict):
        return
    for field, defaults in TRAFFIC_DEFAULTS.items():
        conf = dc.get(field)
        for key, value in defaults.items():
            drop_default(conf, key, value)


def _r_lifecycle_hooks(doc: Doc) -> None:
    """A hook's stages are a set (the lifecycle orders them); Lambda is the default target,
    24 hours then roll back the default timeout. The hooks themselves keep their order."""
    for hook in each(doc.get("deploymentConfiguration") or {}, "lifecycleHooks"):
        if not isinstance(hook, dict):
            continue
        drop_default(hook, "targetType", "AWS_LAMBDA")
        sort_set_fields(hook, "lifecycleStages")
        timeout = hook.get("timeoutConfiguration")
        drop_default(timeout, "timeoutInMinutes", 1440)
        drop_default(timeout, "action", "ROLLBACK")


def _r_network(doc: Doc) -> None:
    vpc = (doc.get("networkConfiguration") or {}).get("awsvpcConfiguration")
    drop_default(vpc, "assignPublicIp", "DISABLED")
    sort_set_fields(vpc, "subnets", "securityGroups")


def _r_sets(doc: Doc) -> None:
    sort_set_fields(doc, "loadBalancers", "placementConstraints", "serviceRegistries")


def _r_placement_strategy(doc: Doc) -> None:
    for s in each(doc, "placementStrategy"):
        if isinstance(s, dict) and str(s.get("field", "")).lower() in ("cpu", "memory"):
            s["field"] = str(s["field"]).upper()


def _r_capacity_providers(doc: Doc) -> None:
    for s in each(doc, "capacityProviderStrategy"):
        drop_default(s, "base", 0)
    if isinstance(doc.get("capacityProviderStrategy"), list):
        doc["capacityProviderStrategy"] = sort_set(doc["capacityProviderStrategy"])


def _r_daemon_count(doc: Doc) -> None:
    if _is_daemon(doc):
        doc.pop("desiredCount", None)


def _r_defaults(doc: Doc) -> None:
    drop_default(doc, "propagateTags", "NONE")
    drop_default(doc, "enableECSManagedTags", False)
    drop_default(doc, "enableExecuteCommand", False)
    drop_default(doc, "deploymentController", {"type": "ECS"})
    drop_default(doc, "healthCheckGracePeriodSeconds", 0)
    drop_default(doc, "schedulingStrategy", "REPLICA")
    drop_default(doc, "launchType", "")


def _r_code_deploy(doc: Doc) -> None:
    if (doc.get("deploymentController") or {}).get("type") == "CODE_DEPLOY":
        for k in ("taskDefinition", "loadBalancers", "networkConfiguration", "platformVersion"):
            doc.pop(k, None)


RULES: list[Rule] = [
    Rule("svc.tags-map", "Tags compared as a map, bookkeeping tags left out", _r_tags,
         ({"tags": [{"key": "b", "value": "2"}, {"key": "a", "value": "1"}]},
          {"tags": {"a": "1", "b": "2"}}), case=42),
    Rule("svc.code-deploy", "CODE_DEPLOY owns task definition, load balancers, network, platform",
         _r_code_deploy,
         ({"deploymentController": {"type": "CODE_DEPLOY"}, "taskDefinition": "web:3",
           "platformVersion": "1.4.0"},
          {"deploymentController": {"type": "CODE_DEPLOY"}}), case=44),
    Rule("svc.task-definition", "taskDefinition as family:revision (ARN or not)",
         _r_task_definition,
         ({"taskDefinition": "arn:aws:ecs:eu-west-1:1:task-definition/web:3"},
          {"taskDefinition": "web:3"}), case=29),
    Rule("svc.role-name", "role by name, whether given as name or ARN", _r_role,
         ({"role": "arn:aws:iam::1:role/ecsServiceRole"}, {"role": "ecsServiceRole"}), case=30),
    Rule("svc.platform-latest", "platformVersion omitted = LATEST", _r_platform_version,
         ({"platformVersion": "LATEST"}, {}), case=31),
    Rule("svc.deployment-defaults",
         "deploymentConfiguration 200/100 (DAEMON 100/0), circuit breaker and alarms off, ROLLING",
         _r_deployment_configuration,
         ({"deploymentConfiguration": {"maximumPercent": 200, "minimumHealthyPercent": 100,
                                       "deploymentCircuitBreaker": {"enable": False,
                                                                    "rollback": False},
                                       "alarms": {"alarmNames": [], "enable": False,
                                                  "rollback": False},
                                       "strategy": "ROLLING", "bakeTimeInMinutes": 0}},
          {"deploymentConfiguration": {"deploymentCircuitBreaker": {},
                                       "alarms": {"alarmNames": []}}}), case=32),
    Rule("svc.deployment-defaults-daemon", "DAEMON services default to 100/0",
         _r_deployment_configuration,
         ({"schedulingStrategy": "DAEMON",
           "deploymentConfiguration": {"maximumPercent": 100, "minimumHealthyPercent": 0}},
          {"schedulingStrategy": "DAEMON", "deploymentConfiguration": {}}), case=32),
    Rule("svc.circuit-breaker-defaults",
         "circuit breaker resets on a healthy task, trips at 50 % (BOUNDED_PERCENT)",
         _r_circuit_breaker,
         ({"deploymentConfiguration": {"deploymentCircuitBreaker": {
             "enable": True, "rollback": True, "resetOnHealthyTask": True,
             "thresholdConfiguration": {"type": "BOUNDED_PERCENT", "value": 50}}}},
          {"deploymentConfiguration": {"deploymentCircuitBreaker": {
              "enable": True, "rollback": True}}})),
    Rule("svc.traffic-shifting-defaults",
         "canary 5 % baked 10 min, linear steps of 10 % baked 6 min; numbers by value",
         _r_traffic_shifting,
         ({"deploymentConfiguration": {
             "strategy": "CANARY",
             "canaryConfiguration": {"canaryPercent": 5, "canaryBakeTimeInMinutes": 10},
             "linearConfiguration": {"stepPercent": 20.0, "stepBakeTimeInMinutes": 6}}},
          {"deploymentConfiguration": {
              "strategy": "CANARY", "canaryConfiguration": {},
              "linearConfiguration": {"stepPercent": 20.0}}})),
    Rule("svc.lifecycle-hooks",
         "hook stages are a set; Lambda target, 1440 min then ROLLBACK are the defaults",
         _r_lifecycle_hooks,
         ({"deploymentConfiguration": {"lifecycleHooks": [
             {"targetType": "AWS_LAMBDA", "hookTargetArn": "arn:aws:lambda:eu-west-1:1:function:f",
              "lifecycleStages": ["POST_TEST_TRAFFIC_SHIFT", "POST_SCALE_UP"],
              "timeoutConfiguration": {"timeoutInMinutes": 1440, "action": "ROLLBACK"}},
             {"targetType": "PAUSE", "lifecycleStages": ["POST_PRODUCTION_TRAFFIC_SHIFT"],
              "timeoutConfiguration": {"timeoutInMinutes": 60, "action": "CONTINUE"}}]}},
          {"deploymentConfiguration": {"lifecycleHooks": [
              {"hookTargetArn": "arn:aws:lambda:eu-west-1:1:function:f",
               "lifecycleStages": ["POST_SCALE_UP", "POST_TEST_TRAFFIC_SHIFT"],
               "timeoutConfiguration": {}},
              {"targetType": "PAUSE", "lifecycleStages": ["POST_PRODUCTION_TRAFFIC_SHIFT"],
               "timeoutConfiguration": {"timeoutInMinutes": 60, "action": "CONTINUE"}}]}})),
    Rule("svc.network", "assignPublicIp omitted = DISABLED; subnets, security groups are sets",
         _r_network,
         ({"networkConfiguration": {"awsvpcConfiguration": {
             "subnets": ["subnet-b", "subnet-a"], "securityGroups": ["sg-2", "sg-1"],
             "assignPublicIp": "DISABLED"}}},
          {"networkConfiguration": {"awsvpcConfiguration": {
              "subnets": ["subnet-a", "subnet-b"], "securityGroups": ["sg-1", "sg-2"]}}}),
         case=33),
    Rule("svc.sets", "loadBalancers, placementConstraints, serviceRegistries are sets", _r_sets,
         ({"loadBalancers": [{"containerName": "b", "containerPort": 80},
                             {"containerName": "a", "containerPort": 80}]},
          {"loadBalancers": [{"containerName": "a", "containerPort": 80},
                             {"containerName": "b", "containerPort": 80}]}), case=34),
    Rule("svc.placement-field-case", "placementStrategy stays ordered; cpu/memory field upper",
         _r_placement_strategy,
         ({"placementStrategy": [{"type": "spread", "field": "instanceId"},
                                 {"type": "binpack", "field": "memory"}]},
          {"placementStrategy": [{"type": "spread", "field": "instanceId"},
                                 {"type": "binpack", "field": "MEMORY"}]}), case=35),
    Rule("svc.capacity-provider-strategy", "capacityProviderStrategy is a set; base 0 = absent",
         _r_capacity_providers,
         ({"capacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 3,
                                         "base": 0},
                                        {"capacityProvider": "FARGATE", "weight": 1,
                                         "base": 1}]},
          {"capacityProviderStrategy": [{"base": 1, "capacityProvider": "FARGATE", "weight": 1},
                                        {"capacityProvider": "FARGATE_SPOT", "weight": 3}]}),
         case=37),
    Rule("svc.daemon-desired-count", "desiredCount means nothing for DAEMON services",
         _r_daemon_count,
         ({"schedulingStrategy": "DAEMON", "desiredCount": 3},
          {"schedulingStrategy": "DAEMON"}), case=38),
    Rule("svc.defaults",
         "propagateTags NONE, managed tags / exec false, ECS controller, grace 0, REPLICA",
         _r_defaults,
         ({"propagateTags": "NONE", "enableECSManagedTags": False, "enableExecuteCommand": False,
           "deploymentController": {"type": "ECS"}, "healthCheckGracePeriodSeconds": 0,
           "schedulingStrategy": "REPLICA", "launchType": "", "desiredCount": 2},
          {"desiredCount": 2}), case=39),
    Rule("svc.empty-is-absent", "[] / {} / null are absent", prune_in_place,
         ({"loadBalancers": [], "serviceRegistries": [], "deploymentConfiguration": {
             "deploymentCircuitBreaker": {}}}, {}), case=1),
]


SERVER_CHOSEN = [
    ServerChosen(("desiredCount",), "desiredCount omitted: the service keeps what it has",
                 case=38),
    ServerChosen(("capacityProviderStrategy",),
                 "no strategy given: AWS copies the cluster's default strategy", case=37),
    ServerChosen(("launchType",), "no launch type given: AWS uses the cluster's strategy",
                 case=37),
    ServerChosen(("availabilityZoneRebalancing",),
                 "ENABLED on new services, DISABLED on old ones", case=40),
    ServerChosen(("role",), "AWS uses its service-linked role", case=41),
    ServerChosen(("deploymentConfiguration", "bakeTimeInMinutes"),
                 "no bake time given: 0 for ROLLING, AWS's own choice for the traffic-shifting "
                 "strategies (not documented)"),
]


_DC = ("spec", "deploymentConfiguration")
# Documented ranges botocore's model does not state (CanaryConfiguration, LinearConfiguration,
# HookTimeoutConfiguration docstrings): (low, high, step or None).
_RANGES: dict[tuple[str, str], tuple[float, float, float | None]] = {
    ("canaryConfiguration", "canaryPercent"): (0.1, 100.0, 0.1),
    ("canaryConfiguration", "canaryBakeTimeInMinutes"): (0, 1440, None),
    ("linearConfiguration", "stepPercent"): (3.0, 100.0, 0.1),
    ("linearConfiguration", "stepBakeTimeInMinutes"): (0, 1440, None),
}
# PAUSE hooks cannot hold the stages where traffic moves (DeploymentLifecycleHook docs).
_NO_PAUSE_AT = frozenset({"TEST_TRAFFIC_SHIFT", "PRODUCTION_TRAFFIC_SHIFT"})


def _in_range(value: Any, low: float, high: float, step: float | None) -> bool:
    if not low <= value <= high:
        return False
    return step is None or abs(round(value / step) * step - value) < 1e-9


def _strategy_errors(m: Manifest) -> list[LoadError]:
    """What AWS refuses in a deployment strategy that the model cannot say: the pairing of
    strategy and its configuration, documented ranges, what traffic shifting needs."""
    dc = m.spec.get("deploymentConfiguration")
    if not isinstance(dc, dict):
        return []
    errors: list[LoadError] = []
    strategy = dc.get("strategy", "ROLLING")
    for field, wanted in (("canaryConfiguration", "CANARY"), ("linearConfiguration", "LINEAR")):
        if field in dc and strategy != wanted:
            errors.append(m.error(f"deploymentConfiguration.{field} is only valid with "
                                  f"strategy {wanted}, not {strategy}", (*_DC, field)))
    for (field, key), (low, high, step) in _RANGES.items():
        conf = dc.get(field)
        value = conf.get(key) if isinstance(conf, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool) and not _in_range(
                value, low, high, step):
            steps = f" in steps of {step}" if step else ""
            errors.append(m.error(f"deploymentConfiguration.{field}.{key} must be from {low} "
                                  f"to {high}{steps}, not {value}", (*_DC, field, key)))
    if strategy in TRAFFIC_STRATEGIES:
        controller = (m.spec.get("deploymentController") or {}).get("type", "ECS")
        if controller != "ECS":
            errors.append(m.error(f"strategy {strategy} needs the ECS deployment controller, "
                                  f"not {controller}", (*_DC, "strategy")))
        if not m.spec.get("loadBalancers") and not m.spec.get("serviceConnectConfiguration"):
            errors.append(m.error(f"strategy {strategy} shifts traffic: the service needs "
                                  "loadBalancers or serviceConnectConfiguration",
                                  (*_DC, "strategy")))
        if strategy == "BLUE_GREEN" and "bakeTimeInMinutes" not in dc:
            errors.append(m.error("strategy BLUE_GREEN needs deploymentConfiguration."
                                  "bakeTimeInMinutes", (*_DC, "strategy")))
    for i, hook in enumerate(dc.get("lifecycleHooks") or []):
        if not isinstance(hook, dict):
            continue
        where = (*_DC, "lifecycleHooks", i)
        target = hook.get("targetType", "AWS_LAMBDA")
        if target == "AWS_LAMBDA" and not hook.get("hookTargetArn"):
            errors.append(m.error("an AWS_LAMBDA lifecycle hook needs hookTargetArn", where))
        paused = sorted(set(hook.get("lifecycleStages") or []) & _NO_PAUSE_AT)
        if target == "PAUSE" and paused:
            errors.append(m.error(f"a PAUSE hook cannot hold {', '.join(paused)}", where))
        minutes = (hook.get("timeoutConfiguration") or {}).get("timeoutInMinutes")
        if isinstance(minutes, int) and not isinstance(minutes, bool) and not (
                1 <= minutes <= 20160):
            errors.append(m.error("timeoutConfiguration.timeoutInMinutes must be from 1 to "
                                  f"20160, not {minutes}",
                                  (*where, "timeoutConfiguration", "timeoutInMinutes")))
    return errors


def _td_reference(value: object) -> str | None:
    """The family a `taskDefinition` names when it names a manifest (no ARN, no revision)."""
    if isinstance(value, str) and not value.startswith("arn:") and ":" not in value:
        return value
    return None


def _client_token(key: ResourceKey, desired: Doc) -> str:
    digest = hashlib.sha256(f"{key}|{canonical_json(desired)}".encode()).hexdigest()
    return digest[:32]


# Fields AWS picks itself that a person importing a service would not write down.
NOT_WRITTEN = ("availabilityZoneRebalancing", "role")


class Service(KindBase):
    kind = "Service"
    service = "ecs"
    create_operation = "CreateService"
    identity = ("serviceName", "cluster")
    cluster_scope = ClusterScope.REQUIRED
    inventory_type = "ecs:service"
    order = 30
    rules = RULES
    server_chosen = SERVER_CHOSEN
    replace_only = REPLACE_FIELDS

    def __init__(self, sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self._sleep = sleep  # while a replaced service drains; tests hand in one that does not

    def identity_request(self, key: ResourceKey) -> Doc:
        return {"serviceName": key.name, "cluster": key.cluster}

    def validate(self, m: Manifest) -> list[LoadError]:
        errors = [*ecs_name_errors(m, m.name, "service name", ("metadata", "name")),
                  *super().validate(m)]
        for key in ("desiredCount", "healthCheckGracePeriodSeconds"):
            errors.extend(at_least(m, m.spec, key, 0, ("spec",)))
        for key in ("maximumPercent", "minimumHealthyPercent", "bakeTimeInMinutes"):
            errors.extend(at_least(m, m.spec.get("deploymentConfiguration"), key, 0,
                                   ("spec", "deploymentConfiguration")))
        return errors + _strategy_errors(m)

    def references(self, m: Manifest) -> list[Reference]:
        family = _td_reference(m.spec.get("taskDefinition"))
        if family is None:
            return []
        return [Reference(ResourceKey("TaskDefinition", family), ("spec", "taskDefinition"))]

    def desired(self, m: Manifest, ctx: Context) -> Doc:
        spec = super().desired(m, ctx)
        family = _td_reference(spec.get("taskDefinition"))
        if family is not None:
            spec["taskDefinition"] = ctx.refs.resolve(ResourceKey("TaskDefinition", family),
                                                      PENDING_REVISION)
        return spec

    def health(self, live: Live | None) -> tuple[Health, str]:
        """The rollout of its current deployment: moving is Progressing, succeeded Healthy,
        rolled back, failed or stopped Degraded (with why); no service is Missing."""
        if live is None:
            return Health.MISSING, "not in AWS"
        rollout = self.rollout(live)
        if rollout is None:
            return Health.UNKNOWN, "no primary deployment"
        return rollout.health()

    def rollout(self, live: Live) -> Rollout | None:
        """What the service's current deployment is doing (pure, from what was read)."""
        return judge(live.key, live.raw)

    def deploys(self, changed_fields: set[str]) -> bool:
        """Whether an update of these top-level fields starts a rollout."""
        return bool(changed_fields & DEPLOYING_FIELDS)

    def reverted(self, live: Live) -> str | None:
        """ECS rolled back the last deployment: why, in a sentence (None: it did not)."""
        rollout = self.rollout(live)
        return rollout.summary if rollout is not None and rollout.phase.reverted else None

    def to_manifest(self, live: Live, names: Mapping[str, str]) -> tuple[str, str | None, Doc]:
        name, cluster, spec = super().to_manifest(live, names)
        for f in NOT_WRITTEN:
            spec.pop(f, None)
        td = spec.get("taskDefinition")
        if isinstance(td, str):
            spec["taskDefinition"] = names.get(td, td)
        return name, cluster, spec

    def to_live(self, svc: Doc) -> Live:
        raw = dict(svc)
        primary: Doc = next((d for d in svc.get("deployments", []) if d.get("status") == "PRIMARY"), {})
        for k in ("serviceConnectConfiguration", "volumeConfigurations"):
            if k not in raw and k in primary:
                raw[k] = primary[k]
        role = raw.get("roleArn")
        if isinstance(role, str) and SERVICE_LINKED_ROLE not in role:
            raw["role"] = role
        spec = model.project(raw, model.input_shape("ecs", "CreateService"))
        for k in ("serviceName", "cluster", "clientToken"):
            spec.pop(k, None)
        cluster = last_segment(svc.get("clusterArn", ""))
        return Live(
            key=ResourceKey(self.kind, svc["serviceName"], cluster),
            arn=svc["serviceArn"],
            spec=spec,
            tags=self.tags.read(svc.get("tags")),
            raw=svc,
        )

    async def _describe(self, aws: AwsApi, cluster: str, names: Sequence[str]) -> list[Live]:
        """ACTIVE services of one cluster by name, 10 a call; none when the cluster is gone."""
        async def fetch(batch: list[str]) -> dict[str, Live]:
            try:
                resp = await aws.call(
                    "ecs", "describe_services", cluster=cluster, services=batch,
                    include=["TAGS"],
                )
            except AwsError as exc:
                if exc.code == "ClusterNotFoundException":
                    return {}
                raise
            return {s["serviceName"]: self.to_live(s) for s in resp.get("services", [])
                    if s.get("status") == "ACTIVE"}

        found = await aws.batched(f"ecs:describe_services:{cluster}", names, DESCRIBE_BATCH,
                                  fetch)
        return list(found.values())

    async def fetch(
        self, aws: AwsApi, manifests: Sequence[Manifest], ctx: Context,
        known: Mapping[ResourceKey, Live],
    ) -> dict[ResourceKey, Live]:
        keys = [m.key for m in manifests]
        by_cluster: dict[str, list[str]] = {}
        for k in keys:
            by_cluster.setdefault(str(k.cluster), []).append(k.name)
        results = await gather_limited(
            *(self._describe(aws, c, sorted(set(n))) for c, n in by_cluster.items())
        )
        lives = [live for chunk in results for live in chunk]
        await self._with_rollouts(aws, lives)
        return {live.key: live for live in lives}

    async def rollouts(self, aws: AwsApi, keys: Sequence[ResourceKey]
                       ) -> dict[ResourceKey, Rollout | None]:
        """The rollout of each of these services that exists (None: it has no deployment):
        what the controller polls while a rollout moves, and `reconciler rollout` waits on."""
        by_cluster: dict[str, list[str]] = {}
        for k in keys:
            by_cluster.setdefault(str(k.cluster), []).append(k.name)
        results = await gather_limited(*(self._describe(aws, c, sorted(set(n)))
                                         for c, n in sorted(by_cluster.items())))
        lives = [live for chunk in results for live in chunk]
        await self._with_rollouts(aws, lives)
        return {live.key: self.rollout(live) for live in lives}

    async def _with_rollouts(self, aws: AwsApi, lives: Sequence[Live]) -> None:
        """Add to each service's `raw` its current service deployment and the revisions it
        names (finished deployments and all revisions from the adapter's cache)."""
        arns = sorted({str(lv.raw["currentServiceDeployment"]) for lv in lives
                       if lv.raw.get("currentServiceDeployment")})
        deployments = await self._described(
            aws, arns, "describe_service_deployments", "serviceDeployments",
            "serviceDeploymentArn",
            keep=lambda d: d.get("status") in FINISHED)
        revision_arns: set[str] = set()
        for d in deployments.values():
            named = [d.get("targetServiceRevision") or {}, *(d.get("sourceServiceRevisions")
                                                              or [])]
            revision_arns.update(str(r["arn"]) for r in named if r.get("arn"))
            if (d.get("rollback") or {}).get("serviceRevisionArn"):
                revision_arns.add(str(d["rollback"]["serviceRevisionArn"]))
        revisions = await self._described(
            aws, sorted(revision_arns), "describe_service_revisions", "serviceRevisions",
            "serviceRevisionArn", keep=lambda _r: True)
        for lv in lives:
            current = deployments.get(str(lv.raw.get("currentServiceDeployment")))
            if current is not None:
                lv.raw = {**lv.raw, DEPLOYMENT_KEY: current, REVISIONS_KEY: revisions}

    async def _described(self, aws: AwsApi, arns: Sequence[str], operation: str, field: str,
                         id_field: str, keep: Callable[[Doc], bool]
                         ) -> dict[str, Doc]:
        """Service deployments or revisions by ARN, 20 a call, what cannot change any more
        kept in `aws.cache`; nothing when the account or Region lacks the API."""
        found: dict[str, Doc] = {}
        wanted = []
        for arn in arns:
            cached = aws.cache.get(f"{operation}:{arn}")
            if isinstance(cached, dict):
                found[arn] = cached
            else:
                wanted.append(arn)

        async def fetch(batch: list[str]) -> dict[str, Doc]:
            if operation == "describe_service_deployments":
                resp = await aws.call("ecs", "describe_service_deployments",
                                      serviceDeploymentArns=batch)
            else:
                resp = await aws.call("ecs", "describe_service_revisions",
                                      serviceRevisionArns=batch)
            return {str(x[id_field]): x for x in resp.get(field, [])}

        try:
            fresh = await aws.batched(f"ecs:{operation}", wanted, ROLLOUT_BATCH, fetch)
        except AwsError as exc:
            if exc.code in NO_ROLLOUT_API:
                return found
            raise
        for arn, doc in fresh.items():
            if keep(doc):
                aws.cache[f"{operation}:{arn}"] = doc
        return {**found, **fresh}

    async def external_owners(
        self, aws: AwsApi, manifests: Sequence[Manifest], everything: Sequence[Manifest],
        known: Mapping[ResourceKey, Live],
    ) -> dict[ResourceKey, list[IgnoreRule]]:
        """desiredCount belongs to Application Auto Scaling wherever a scalable target
        manages the service, declared in git or registered in AWS."""
        in_git = {rid: m for m in everything if m.kind == _autoscaling.KIND
                  for rid in _autoscaling.targets(m, "ecs")}
        rids = {m.key: f"service/{m.cluster}/{m.name}" for m in manifests}
        live = await _autoscaling.managed_resource_ids(aws, "ecs", sorted(rids.values()),
                                                       _autoscaling.ECS_DIMENSION)
        out: dict[ResourceKey, list[IgnoreRule]] = {}
        for key, rid in rids.items():
            if rid in in_git:
                why = f"owned by Application Auto Scaling (ScalableTarget/{in_git[rid].name})"
            elif rid in live:
                why = "owned by Application Auto Scaling (a scalable target registered in AWS)"
            else:
                continue
            out[key] = [IgnoreRule("spec.desiredCount", why, external=True)]
        return out

    async def describe_arns(self, aws: AwsApi, arns: Sequence[str], ctx: Context) -> list[Live]:
        """Services by their (long-format) ARNs: `...:service/CLUSTER/NAME`."""
        by_cluster: dict[str, list[str]] = {}
        for arn in arns:
            parts = arn.rsplit("/", 2)
            if len(parts) == 3:
                by_cluster.setdefault(parts[1], []).append(parts[2])
        found = await gather_limited(*(self._describe(aws, c, sorted(n))
                                       for c, n in sorted(by_cluster.items())))
        return [lv for chunk in found for lv in chunk]

    async def list_owned(self, aws: AwsApi, owner: str, clusters: Sequence[str]) -> list[Live]:
        results = await gather_limited(*(self._in_cluster(aws, c) for c in sorted(set(clusters))))
        return [live for chunk in results for live in chunk if live.owner() == owner]

    async def _in_cluster(self, aws: AwsApi, cluster: str) -> list[Live]:
        """Every ACTIVE service of a cluster (none when the cluster is gone)."""
        try:
            arns = await collect_pages(aws, "ecs", "list_services", "serviceArns",
                                       cluster=cluster, maxResults=100)
        except AwsError as exc:
            if exc.code == "ClusterNotFoundException":
                return []
            raise
        names = sorted({a.rsplit("/", 1)[-1] for a in arns})
        lives = await self._describe(aws, cluster, names)
        return [lv for lv in lives if lv.key.cluster == cluster]

    async def discover(self, aws: AwsApi, cluster: Live, found: Mapping[str, Sequence[Live]],
                       ctx: Context) -> list[Live]:
        return sorted(await self._in_cluster(aws, cluster.key.name), key=lambda lv: lv.key.name)

    async def create(self, aws: AwsApi, key: ResourceKey, desired: Doc, ctx: Context) -> str:
        existing = await self._describe(aws, str(key.cluster), [key.name])
        if existing:  # look before create: a retried or concurrent apply created it already
            return existing[0].arn
        resp = await aws.call(
            "ecs", "create_service", cluster=key.cluster, serviceName=key.name,
            clientToken=_client_token(key, desired), **desired,
        )
        return str(resp["service"]["serviceArn"])

    async def update(
        self, aws: AwsApi, key: ResourceKey, desired: Doc, live: Live, fields: Changed, ctx: Context
    ) -> str:
        update_members = model.input_members("ecs", "UpdateService")
        params: Doc = {}
        for f in sorted(fields & update_members):
            value = desired.get(f, RESET_VALUES.get(f))
            if value is None:
                continue
            params[f] = _with_defaults(f, value, desired)
        if params:
            await aws.call("ecs", "update_service", cluster=key.cluster, service=key.name, **params)
        if "tags" in fields:
            await self.sync_tags(aws, live.arn, desired, live)
        return live.arn

    async def delete(self, aws: AwsApi, live: Live) -> None:
        await aws.call(
            "ecs", "delete_service", cluster=live.key.cluster, service=live.key.name, force=True
        )

    async def replace(
        self, aws: AwsApi, key: ResourceKey, desired: Doc, live: Live, ctx: Context
    ) -> str:
        await self.delete(aws, live)
        for attempt in range(60):  # a deleted service drains before its name is free again
            if not await self._describe(aws, str(key.cluster), [key.name]):
                break
            await self._sleep(min(2**attempt, 15))
        return await self.create(aws, key, desired, ctx)


def _with_defaults(field: str, value: Any, desired: Doc) -> Any:
    """UpdateService leaves omitted nested fields as they were: send AWS's defaults for them."""
    if field == "deploymentConfiguration" and isinstance(value, dict):
        base: Doc = dict(DAEMON_DEPLOYMENT if _is_daemon(desired) else REPLICA_DEPLOYMENT)
        if (desired.get("deploymentController") or {}).get("type", "ECS") == "ECS":
            base["strategy"] = "ROLLING"  # else a canary service left out of git stays one
        cb = {"enable": False, "rollback": False, **(value.get("deploymentCircuitBreaker") or {})}
        return {**base, **value, "deploymentCircuitBreaker": cb}
    if field == "networkConfiguration" and isinstance(value, dict):
        vpc = value.get("awsvpcConfiguration")
        if isinstance(vpc, dict):
            return {**value, "awsvpcConfiguration": {"assignPublicIp": "DISABLED", **vpc}}
    return value
