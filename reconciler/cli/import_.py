"""`reconciler import`: turn a live cluster into manifests, minimal as a person writes them.

The normaliser is the oracle for "AWS default": a field is left out when removing it does not
change the resource's normalised form, so `diff` on the result is empty by construction and
nothing AWS filled in is written down.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reconciler.aws.client import Aws
from reconciler.core.manifest import API_VERSION, Manifest, ResourceKey
from reconciler.core.normalize import OWNERSHIP_TAGS, Doc, prune_empty
from reconciler.kinds import REGISTRY, Context, Kind, Live
from reconciler.kinds.scalable_target import ECS_DIMENSION, IDENTITY
from reconciler.kinds.task_definition import family_of

# Fields AWS picks itself that a person would not write (see the server-chosen list).
NOT_WRITTEN = {"Service": ("availabilityZoneRebalancing", "role")}


@dataclass
class Imported:
    documents: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (file, doc)

    def add(self, file: str, kind: str, name: str, spec: Doc, cluster: str | None = None
            ) -> None:
        metadata: dict[str, Any] = {"name": name}
        if cluster:
            metadata["cluster"] = cluster
        self.documents.append((file, {"apiVersion": API_VERSION, "kind": kind,
                                      "metadata": metadata, "spec": spec}))

    def write(self, out: Path) -> list[Path]:
        written = []
        for file, doc in self.documents:
            path = out / file
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(yaml.safe_dump(doc, sort_keys=False, width=100))
            written.append(path)
        return written


def _manifest(kind: Kind, name: str, spec: Doc, cluster: str | None) -> Manifest:
    return Manifest(kind=kind.kind, name=name, spec=spec, file="(import)", line=1,
                    cluster=cluster)


def _comparable(kind: Kind, name: str, spec: Doc, cluster: str | None, ctx: Context) -> Any:
    return prune_empty(kind.normalize(kind.desired(_manifest(kind, name, spec, cluster), ctx)))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path, deepest first, so leaves go before the mappings that hold them."""
    out: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_paths(v, (*prefix, k)))
            out.append((*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_paths(v, (*prefix, i)))
    return out


def _delete(doc: Any, path: tuple[Any, ...]) -> bool:
    cur = doc
    for p in path[:-1]:
        try:
            cur = cur[p]
        except (KeyError, IndexError, TypeError):
            return False
    if isinstance(cur, dict) and path[-1] in cur:
        del cur[path[-1]]
        return True
    return False


def minimize(kind: Kind, name: str, spec: Doc, cluster: str | None, ctx: Context) -> Doc:
    """Remove every field whose removal leaves the normalised resource unchanged."""
    current = copy.deepcopy(spec)
    for f in NOT_WRITTEN.get(kind.kind, ()):
        current.pop(f, None)
    target = _comparable(kind, name, current, cluster, ctx)
    for path in _paths(current):
        candidate = copy.deepcopy(current)
        if not _delete(candidate, path):
            continue
        if _comparable(kind, name, candidate, cluster, ctx) == target:
            current = candidate
    return prune_empty(current)  # type: ignore[no-any-return]


def _strip_tags(spec: Doc, key: str, k: str = "key") -> None:
    tags = spec.get(key)
    if isinstance(tags, list):
        spec[key] = [t for t in tags if t.get(k) not in OWNERSHIP_TAGS
                     and not str(t.get(k, "")).startswith("aws:")]
    elif isinstance(tags, dict):
        spec[key] = {a: b for a, b in tags.items()
                     if a not in OWNERSHIP_TAGS and not a.startswith("aws:")}


async def import_cluster(aws: Aws, cluster: str) -> Imported:
    """Read a cluster, its services and their task definitions, the schedules that target
    it and the scalable targets of its services; return minimal manifests for them."""
    out = Imported()
    ctx = Context(owner="(import)")
    ctx.account, ctx.region, ctx.partition = await aws.account_id(), aws.region, aws.partition
    kinds = REGISTRY
    cluster_live = await kinds["Cluster"].fetch(aws, [_manifest(kinds["Cluster"], cluster, {},
                                                                None)], ctx, {})
    live_cluster = cluster_live.get(ResourceKey("Cluster", cluster))
    if live_cluster is None:
        raise LookupError(f"cluster {cluster!r} not found")
    spec = copy.deepcopy(live_cluster.spec)
    _strip_tags(spec, "tags")
    out.add(f"clusters/{cluster}.yaml", "Cluster", cluster,
            minimize(kinds["Cluster"], cluster, spec, None, ctx))

    service_kind = kinds["Service"]
    arns: list[str] = []
    async for page in aws.pages("ecs", "list_services", "nextToken", "nextToken",
                                cluster=cluster, maxResults=100):
        arns.extend(page.get("serviceArns", []))
    names = sorted({a.rsplit("/", 1)[-1] for a in arns})
    svc_manifests = [_manifest(service_kind, n, {}, cluster) for n in names]
    services = list((await service_kind.fetch(aws, svc_manifests, ctx, {})).values())

    td_kind = kinds["TaskDefinition"]
    schedules = await _schedules(aws, live_cluster.arn)
    used = {s.spec["taskDefinition"] for s in services if s.spec.get("taskDefinition")}
    used |= {t.get("EcsParameters", {}).get("TaskDefinitionArn") for r in schedules
             for t in r.spec.get("Targets", []) if t.get("EcsParameters")}
    families = sorted({family_of(a) for a in used if a})
    latest = await td_kind.latest_revisions(aws, families)  # type: ignore[attr-defined]
    for family, arn in sorted(latest.items()):
        td: Live = await td_kind.describe(aws, arn)  # type: ignore[attr-defined]
        spec = copy.deepcopy(td.spec)
        _strip_tags(spec, "tags")
        out.add(f"task-definitions/{family}.yaml", "TaskDefinition", family,
                minimize(td_kind, family, spec, None, ctx))
        ctx.refs.task_definitions[family] = arn
    latest_arns = set(latest.values())

    def reference(arn: str) -> str:
        return family_of(arn) if arn in latest_arns else arn

    for svc in sorted(services, key=lambda s: s.key.name):
        spec = copy.deepcopy(svc.spec)
        _strip_tags(spec, "tags")
        if spec.get("taskDefinition"):
            spec["taskDefinition"] = reference(spec["taskDefinition"])
        out.add(f"services/{svc.key.name}.yaml", "Service", svc.key.name,
                minimize(service_kind, svc.key.name, spec, cluster, ctx), cluster)

    sched_kind = kinds["ScheduledTask"]
    for rule in schedules:
        spec = copy.deepcopy(rule.spec)
        _strip_tags(spec, "Tags", "Key")
        targets = spec.pop("Targets", [])
        target = next((t for t in targets if cluster in str(t.get("Arn", ""))), None)
        if target is None:
            continue
        target.pop("Arn", None)
        ecs = target.get("EcsParameters") or {}
        if ecs.get("TaskDefinitionArn"):
            ecs["TaskDefinitionArn"] = reference(ecs["TaskDefinitionArn"])
        if isinstance(target.get("Input"), str):
            try:
                target["Input"] = json.loads(target["Input"])
            except ValueError:
                pass
        spec["target"] = target
        out.add(f"schedules/{rule.key.name}.yaml", "ScheduledTask", rule.key.name,
                minimize(sched_kind, rule.key.name, spec, cluster, ctx), cluster)

    scaling = kinds["ScalableTarget"]
    targets = await scaling._describe_targets(  # type: ignore[attr-defined]
        aws, [("ecs", f"service/{cluster}/{s.key.name}", ECS_DIMENSION) for s in services])
    lives = await scaling._lives(aws, targets)  # type: ignore[attr-defined]
    for (_ns, rid, _dim), live in sorted(lives.items()):
        service = rid.rsplit("/", 1)[-1]
        spec = {k: v for k, v in live.spec.items() if k not in IDENTITY}
        _strip_tags(spec, "Tags")
        spec["service"] = service
        spec["policies"] = spec.pop("Policies", [])
        spec["scheduledActions"] = spec.pop("ScheduledActions", [])
        out.add(f"autoscaling/{service}.yaml", "ScalableTarget", service,
                minimize(scaling, service, spec, cluster, ctx), cluster)
    return out


async def _schedules(aws: Aws, cluster_arn: str) -> list[Live]:
    names: list[str] = []
    async for page in aws.pages("events", "list_rule_names_by_target", "NextToken", "NextToken",
                                TargetArn=cluster_arn):
        names.extend(page.get("RuleNames", []))
    kind = REGISTRY["ScheduledTask"]
    manifests = [_manifest(kind, n, {}, None) for n in sorted(set(names))]
    ctx = Context(owner="(import)")
    return list((await kind.fetch(aws, manifests, ctx, {})).values())
