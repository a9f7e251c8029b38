"""Cluster: an ECS cluster, its settings, capacity providers and default strategy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from reconciler.core import model
from reconciler.core.kind import Changed, Context, Live
from reconciler.core.manifest import LoadError, Manifest, ResourceKey
from reconciler.core.normalize import (
    Doc,
    Rule,
    ServerChosen,
    drop_default,
    each,
    key_by,
    last_segment,
    prune_in_place,
    sort_set,
    sort_set_fields,
    tags_as_map,
)
from reconciler.core.ports import AwsApi, collect_pages
from reconciler.core.vocab import Health
from reconciler.kinds._base import KindBase, ecs_name_errors

DESCRIBE_BATCH = 100
INCLUDE = ["TAGS", "SETTINGS", "CONFIGURATIONS"]
CAPACITY_FIELDS = frozenset({"capacityProviders", "defaultCapacityProviderStrategy"})
UPDATE_FIELDS = frozenset({"settings", "configuration", "serviceConnectDefaults"})


def _r_tags(doc: Doc) -> None:
    tags_as_map(doc)


def _r_settings(doc: Doc) -> None:
    doc["settings"] = key_by(doc.get("settings"), "name", "value")


def _r_capacity(doc: Doc) -> None:
    sort_set_fields(doc, "capacityProviders")
    for s in each(doc, "defaultCapacityProviderStrategy"):
        drop_default(s, "base", 0)
    if isinstance(doc.get("defaultCapacityProviderStrategy"), list):
        doc["defaultCapacityProviderStrategy"] = sort_set(doc["defaultCapacityProviderStrategy"])


def _r_service_connect(doc: Doc) -> None:
    scd = doc.get("serviceConnectDefaults")
    if isinstance(scd, dict) and "namespace" in scd:
        scd["namespace"] = last_segment(scd["namespace"])


def _r_exec_logging(doc: Doc) -> None:
    ecc = (doc.get("configuration") or {}).get("executeCommandConfiguration")
    drop_default(ecc, "logging", "DEFAULT")


RULES: list[Rule] = [
    Rule("cluster.tags-map", "Tags compared as a map", _r_tags,
         ({"tags": [{"key": "b", "value": "2"}, {"key": "a", "value": "1"}]},
          {"tags": {"a": "1", "b": "2"}})),
    Rule("cluster.settings-map", "settings are a map by name", _r_settings,
         ({"settings": [{"name": "containerInsights", "value": "enabled"}]},
          {"settings": {"containerInsights": "enabled"}})),
    Rule("cluster.capacity-sets", "capacity providers and default strategy are sets; base 0",
         _r_capacity,
         ({"capacityProviders": ["FARGATE_SPOT", "FARGATE"],
           "defaultCapacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1,
                                                "base": 0}]},
          {"capacityProviders": ["FARGATE", "FARGATE_SPOT"],
           "defaultCapacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT",
                                                "weight": 1}]}), case=37),
    Rule("cluster.service-connect-namespace", "Service Connect namespace: ARN or name",
         _r_service_connect,
         ({"serviceConnectDefaults": {"namespace": "arn:aws:servicediscovery:r:1:namespace/ns-1"}},
          {"serviceConnectDefaults": {"namespace": "ns-1"}})),
    Rule("cluster.exec-logging-default", "executeCommandConfiguration.logging DEFAULT = absent",
         _r_exec_logging,
         ({"configuration": {"executeCommandConfiguration": {"logging": "DEFAULT"}}},
          {"configuration": {"executeCommandConfiguration": {}}})),
    Rule("cluster.empty-is-absent", "[] / {} / null are absent", prune_in_place,
         ({"capacityProviders": [], "settings": {}}, {}), case=1),
]

SERVER_CHOSEN = [
    ServerChosen(("settings", "containerInsights"),
                 "omitted: the account's containerInsights default applies"),
]


class Cluster(KindBase):
    kind = "Cluster"
    service = "ecs"
    create_operation = "CreateCluster"
    identity = ("clusterName",)
    inventory_type = "ecs:cluster"
    order = 10
    guard_last = True  # deleting the only owned cluster takes everything in it
    rules = RULES
    server_chosen = SERVER_CHOSEN

    def identity_request(self, key: ResourceKey) -> Doc:
        return {"clusterName": key.name}

    def validate(self, m: Manifest) -> list[LoadError]:
        return [*ecs_name_errors(m, m.name, "cluster name", ("metadata", "name")),
                *super().validate(m)]

    def to_live(self, c: Doc) -> Live:
        spec = model.project(c, model.input_shape("ecs", "CreateCluster"))
        spec.pop("clusterName", None)
        return Live(
            key=ResourceKey(self.kind, c["clusterName"]),
            arn=c["clusterArn"],
            spec=spec,
            tags=self.tags.read(c.get("tags")),
            raw=c,
        )

    async def _describe(self, aws: AwsApi, names: Sequence[str]) -> list[Live]:
        """Clusters by name or ARN, 100 a call."""
        async def fetch(batch: list[str]) -> dict[str, Live]:
            resp = await aws.call("ecs", "describe_clusters", clusters=batch, include=INCLUDE)
            lives = [self.to_live(c) for c in resp.get("clusters", [])
                     if c.get("status") in ("ACTIVE", "PROVISIONING")]
            return {**{lv.key.name: lv for lv in lives}, **{lv.arn: lv for lv in lives}}

        found = await aws.batched("ecs:describe_clusters", names, DESCRIBE_BATCH, fetch)
        return list(found.values())

    async def fetch(
        self, aws: AwsApi, manifests: Sequence[Manifest], ctx: Context,
        known: Mapping[ResourceKey, Live],
    ) -> dict[ResourceKey, Live]:
        keys = [m.key for m in manifests]
        if not keys:
            return {}
        lives = await self._describe(aws, sorted({k.name for k in keys}))
        return {live.key: live for live in lives}

    async def describe_arns(self, aws: AwsApi, arns: Sequence[str], ctx: Context) -> list[Live]:
        return await self._describe(aws, arns)

    async def list_owned(self, aws: AwsApi, owner: str, clusters: Sequence[str]) -> list[Live]:
        arns = await collect_pages(aws, "ecs", "list_clusters", "clusterArns", maxResults=100)
        lives = await self._describe(aws, sorted(arns))
        return [live for live in lives if live.owner() == owner]

    async def create(self, aws: AwsApi, key: ResourceKey, desired: Doc, ctx: Context) -> str:
        resp = await aws.call("ecs", "create_cluster", clusterName=key.name, **desired)
        return str(resp["cluster"]["clusterArn"])

    async def update(
        self, aws: AwsApi, key: ResourceKey, desired: Doc, live: Live, fields: Changed, ctx: Context
    ) -> str:
        params = {f: desired[f] for f in sorted(fields & UPDATE_FIELDS) if f in desired}
        if "settings" in fields and "settings" not in desired:
            params["settings"] = [{"name": "containerInsights", "value": "disabled"}]
        if params:
            await aws.call("ecs", "update_cluster", cluster=key.name, **params)
        if fields & CAPACITY_FIELDS:
            await aws.call(
                "ecs", "put_cluster_capacity_providers", cluster=key.name,
                capacityProviders=desired.get("capacityProviders", []),
                defaultCapacityProviderStrategy=desired.get("defaultCapacityProviderStrategy", []),
            )
        if "tags" in fields:
            await self.sync_tags(aws, live.arn, desired, live)
        return live.arn

    async def delete(self, aws: AwsApi, live: Live) -> None:
        await aws.call("ecs", "delete_cluster", cluster=live.key.name)

    def health(self, live: Live | None) -> tuple[Health, str]:
        if live is None:
            return Health.MISSING, "not in AWS"
        status = str(live.raw.get("status", "ACTIVE"))
        if status == "PROVISIONING":
            return Health.PROGRESSING, "capacity providers are being set up"
        if status in ("FAILED", "INACTIVE", "DEPROVISIONING"):
            return Health.DEGRADED, f"cluster status {status}"
        return Health.HEALTHY, ""

    async def discover(self, aws: AwsApi, cluster: Live, found: Mapping[str, Sequence[Live]],
                       ctx: Context) -> list[Live]:
        return [cluster]
