"""TaskDefinition: an ECS task definition family. A change registers a new revision.

The live side is the newest ACTIVE revision of the family. Revisions are immutable, so each
is described once per process and cached by ARN.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any

from reconciler.core import model
from reconciler.core.kind import Changed, Context, Live
from reconciler.core.manifest import LoadError, Manifest, ResourceKey
from reconciler.core.normalize import (
    Doc,
    Rule,
    ServerChosen,
    canonical_json,
    cpu_units,
    drop_default,
    each,
    key_by,
    memory_units,
    prune_in_place,
    sort_set_fields,
    tags_as_map,
)
from reconciler.core.ownership import CONTENT_HASH_TAG, DESIRED_HASH_TAG, MANAGED_BY
from reconciler.core.ports import AwsApi, AwsError, collect_pages, gather_limited
from reconciler.core.vocab import Action
from reconciler.kinds._base import KindBase, at_least, ecs_name_errors

# Container lists AWS treats as multisets (NORMALIZATION.md case 15). Never `command`,
# `entryPoint`, `healthCheck.command`, `dnsServers`: their order is meaningful (case 16).
CONTAINER_SETS = (
    "links", "mountPoints", "volumesFrom", "ulimits", "extraHosts", "dependsOn",
    "dockerSecurityOptions", "resourceRequirements", "systemControls", "environmentFiles",
    "credentialSpecs",
)
CONTAINER_FALSE_DEFAULTS = (
    "disableNetworking", "privileged", "readonlyRootFilesystem", "interactive", "pseudoTerminal",
)
FAMILY_LISTING_THRESHOLD = 10
# Fields that `describe-task-definition` prints but `register-task-definition` does not take.
READ_ONLY = (
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
    "deleteRequestedAt",
)


def _containers(doc: Doc) -> list[Doc]:
    return [c for c in each(doc, "containerDefinitions") if isinstance(c, dict)]


def _network_mode(doc: Doc) -> str:
    return str(doc.get("networkMode") or "bridge")


def _r_read_only(doc: Doc) -> None:
    for k in (*READ_ONLY, "family"):
        doc.pop(k, None)


def _r_tags(doc: Doc) -> None:
    tags_as_map(doc)


def _r_units(doc: Doc) -> None:
    if "cpu" in doc:
        doc["cpu"] = cpu_units(doc["cpu"])
    if "memory" in doc:
        doc["memory"] = memory_units(doc["memory"])


def _r_containers_by_name(doc: Doc) -> None:
    doc["containerDefinitions"] = key_by(doc.get("containerDefinitions"), "name")


def _r_essential(doc: Doc) -> None:
    for c in _containers(doc):
        drop_default(c, "essential", True)


def _r_container_cpu(doc: Doc) -> None:
    for c in _containers(doc):
        drop_default(c, "cpu", 0)


def _r_port_protocol(doc: Doc) -> None:
    for c in _containers(doc):
        for p in each(c, "portMappings"):
            drop_default(p, "protocol", "tcp")


def _r_host_port(doc: Doc) -> None:
    mode = _network_mode(doc)
    for c in _containers(doc):
        for p in each(c, "portMappings"):
            if not isinstance(p, dict) or "hostPort" not in p:
                continue
            same_as_container = p["hostPort"] == p.get("containerPort")
            if (mode in ("awsvpc", "host") and same_as_container) or (
                mode == "bridge" and p["hostPort"] == 0
            ):
                del p["hostPort"]


def _r_port_set(doc: Doc) -> None:
    for c in _containers(doc):
        sort_set_fields(c, "portMappings")


def _r_environment(doc: Doc) -> None:
    for c in _containers(doc):
        env = key_by(c.get("environment"), "name", "value")
        if isinstance(env, dict):
            c["environment"] = {k: v for k, v in env.items() if v not in ("", None)}


def _r_secrets(doc: Doc) -> None:
    for c in _containers(doc):
        c["secrets"] = key_by(c.get("secrets"), "name", "valueFrom")


def _r_health_check(doc: Doc) -> None:
    for c in _containers(doc):
        hc = c.get("healthCheck")
        drop_default(hc, "interval", 30)
        drop_default(hc, "retries", 3)
        drop_default(hc, "timeout", 5)


def _r_capabilities(doc: Doc) -> None:
    for c in _containers(doc):
        caps = (c.get("linuxParameters") or {}).get("capabilities")
        sort_set_fields(caps, "add", "drop")


def _r_container_sets(doc: Doc) -> None:
    for c in _containers(doc):
        sort_set_fields(c, *CONTAINER_SETS)
        lp = c.get("linuxParameters")
        sort_set_fields(lp, "devices", "tmpfs")


def _r_version_consistency(doc: Doc) -> None:
    for c in _containers(doc):
        drop_default(c, "versionConsistency", "enabled")


def _r_read_only_mounts(doc: Doc) -> None:
    for c in _containers(doc):
        for m in (*each(c, "mountPoints"), *each(c, "volumesFrom")):
            drop_default(m, "readOnly", False)


def _r_false_flags(doc: Doc) -> None:
    for c in _containers(doc):
        for k in CONTAINER_FALSE_DEFAULTS:
            drop_default(c, k, False)


def _r_task_sets(doc: Doc) -> None:
    sort_set_fields(doc, "requiresCompatibilities", "placementConstraints", "inferenceAccelerators")


def _r_volumes(doc: Doc) -> None:
    doc["volumes"] = key_by(doc.get("volumes"), "name")
    for v in each(doc, "volumes"):
        if not isinstance(v, dict):
            continue
        dv = v.get("dockerVolumeConfiguration")
        drop_default(dv, "scope", "task")
        drop_default(dv, "driver", "local")
        efs = v.get("efsVolumeConfiguration")
        drop_default(efs, "rootDirectory", "/")
        drop_default(efs, "transitEncryption", "DISABLED")
        drop_default((efs or {}).get("authorizationConfig"), "iam", "DISABLED")
        drop_default(v, "configuredAtLaunch", False)


def _r_proxy_properties(doc: Doc) -> None:
    proxy = doc.get("proxyConfiguration")
    if isinstance(proxy, dict):
        proxy["properties"] = key_by(proxy.get("properties"), "name", "value")


RULES: list[Rule] = [
    Rule("td.read-only", "Read-only describe fields and the family (identity) are not compared",
         _r_read_only, ({"family": "a", "revision": 3, "status": "ACTIVE", "cpu": "256"},
                        {"cpu": "256"}), case=21),
    Rule("td.tags-map", "Tags compared as a map; [] is absent; bookkeeping tags left out",
         _r_tags, ({"tags": [{"key": "b", "value": "2"}, {"key": "a", "value": "1"},
                             {"key": CONTENT_HASH_TAG, "value": "x"}]},
                   {"tags": {"a": "1", "b": "2"}}), case=23),
    Rule("td.cpu-memory-units", "Task cpu/memory: units converted, numbers as strings",
         _r_units, ({"cpu": "0.25 vCPU", "memory": "1 GB"}, {"cpu": "256", "memory": "1024"}),
         case=20),
    Rule("td.containers-by-name", "Container order is not meaningful: keyed by name",
         _r_containers_by_name,
         ({"containerDefinitions": [{"name": "b", "image": "y"}, {"name": "a", "image": "x"}]},
          {"containerDefinitions": {"a": {"image": "x"}, "b": {"image": "y"}}}), case=11),
    Rule("td.essential-default", "essential omitted = true", _r_essential,
         ({"containerDefinitions": {"a": {"essential": True}}},
          {"containerDefinitions": {"a": {}}}), case=3),
    Rule("td.container-cpu-zero", "Container cpu omitted comes back as 0", _r_container_cpu,
         ({"containerDefinitions": {"a": {"cpu": 0}}}, {"containerDefinitions": {"a": {}}}),
         case=2),
    Rule("td.port-protocol-tcp", "portMappings[].protocol omitted = tcp", _r_port_protocol,
         ({"containerDefinitions": {"a": {"portMappings": [{"containerPort": 80,
                                                             "protocol": "tcp"}]}}},
          {"containerDefinitions": {"a": {"portMappings": [{"containerPort": 80}]}}}), case=4),
    Rule("td.host-port", "awsvpc/host: hostPort = containerPort; bridge: hostPort 0 = dynamic",
         _r_host_port,
         ({"networkMode": "awsvpc", "containerDefinitions": {"a": {"portMappings": [
             {"containerPort": 80, "hostPort": 80}]}}},
          {"networkMode": "awsvpc", "containerDefinitions": {"a": {"portMappings": [
              {"containerPort": 80}]}}}), case=5),
    Rule("td.host-port-bridge", "bridge (the default mode): hostPort 0 is the same as absent",
         _r_host_port,
         ({"containerDefinitions": {"a": {"portMappings": [
             {"containerPort": 80, "hostPort": 0}]}}},
          {"containerDefinitions": {"a": {"portMappings": [{"containerPort": 80}]}}}), case=6),
    Rule("td.port-mappings-set", "portMappings are a set", _r_port_set,
         ({"containerDefinitions": {"a": {"portMappings": [{"containerPort": 81},
                                                             {"containerPort": 80}]}}},
          {"containerDefinitions": {"a": {"portMappings": [{"containerPort": 80},
                                                             {"containerPort": 81}]}}})),
    Rule("td.environment-map", "environment is a map by name; AWS drops empty values",
         _r_environment,
         ({"containerDefinitions": {"a": {"environment": [{"name": "B", "value": "2"},
                                                            {"name": "A", "value": "1"},
                                                            {"name": "E", "value": ""}]}}},
          {"containerDefinitions": {"a": {"environment": {"A": "1", "B": "2"}}}}), case=8),
    Rule("td.secrets-map", "secrets are a map by name", _r_secrets,
         ({"containerDefinitions": {"a": {"secrets": [{"name": "B", "valueFrom": "arn:b"},
                                                        {"name": "A", "valueFrom": "arn:a"}]}}},
          {"containerDefinitions": {"a": {"secrets": {"A": "arn:a", "B": "arn:b"}}}}), case=10),
    Rule("td.health-check-defaults", "healthCheck interval 30, retries 3, timeout 5 filled in",
         _r_health_check,
         ({"containerDefinitions": {"a": {"healthCheck": {"command": ["CMD", "true"],
                                                           "interval": 30, "retries": 3,
                                                           "timeout": 5}}}},
          {"containerDefinitions": {"a": {"healthCheck": {"command": ["CMD", "true"]}}}}),
         case=12),
    Rule("td.capabilities-sets", "linuxParameters.capabilities add/drop are sets", _r_capabilities,
         ({"containerDefinitions": {"a": {"linuxParameters": {"capabilities": {
             "add": [], "drop": ["SYS_ADMIN", "ALL"]}}}}},
          {"containerDefinitions": {"a": {"linuxParameters": {"capabilities": {
              "add": [], "drop": ["ALL", "SYS_ADMIN"]}}}}}), case=13),
    Rule("td.container-multisets", "links, mountPoints, ulimits, dependsOn, ... are unordered",
         _r_container_sets,
         ({"containerDefinitions": {"a": {"ulimits": [{"name": "nproc"}, {"name": "nofile"}],
                                          "command": ["b", "a"]}}},
          {"containerDefinitions": {"a": {"ulimits": [{"name": "nofile"}, {"name": "nproc"}],
                                          "command": ["b", "a"]}}}), case=15),
    Rule("td.version-consistency", "versionConsistency absent = enabled", _r_version_consistency,
         ({"containerDefinitions": {"a": {"versionConsistency": "enabled"}}},
          {"containerDefinitions": {"a": {}}}), case=18),
    Rule("td.mount-read-only-false", "mountPoints/volumesFrom readOnly false = absent",
         _r_read_only_mounts,
         ({"containerDefinitions": {"a": {"mountPoints": [{"sourceVolume": "v",
                                                            "containerPath": "/d",
                                                            "readOnly": False}]}}},
          {"containerDefinitions": {"a": {"mountPoints": [{"sourceVolume": "v",
                                                            "containerPath": "/d"}]}}})),
    Rule("td.container-false-flags", "privileged, readonlyRootFilesystem, ... false = absent",
         _r_false_flags,
         ({"containerDefinitions": {"a": {"privileged": False, "interactive": True}}},
          {"containerDefinitions": {"a": {"interactive": True}}})),
    Rule("td.task-sets", "requiresCompatibilities and placementConstraints are sets",
         _r_task_sets,
         ({"requiresCompatibilities": ["FARGATE", "EC2"]},
          {"requiresCompatibilities": ["EC2", "FARGATE"]}), case=22),
    Rule("td.volumes", "volumes by name; docker scope task/driver local; EFS / and DISABLED",
         _r_volumes,
         ({"volumes": [{"name": "d", "dockerVolumeConfiguration": {"scope": "task",
                                                                   "driver": "local",
                                                                   "autoprovision": True}},
                       {"name": "e", "efsVolumeConfiguration": {
                           "fileSystemId": "fs-1", "rootDirectory": "/",
                           "transitEncryption": "DISABLED",
                           "authorizationConfig": {"iam": "DISABLED"}}}]},
          {"volumes": {"d": {"dockerVolumeConfiguration": {"autoprovision": True}},
                       "e": {"efsVolumeConfiguration": {"fileSystemId": "fs-1",
                                                        "authorizationConfig": {}}}}}),
         case=24),
    Rule("td.proxy-properties", "proxyConfiguration.properties is a map by name",
         _r_proxy_properties,
         ({"proxyConfiguration": {"properties": [{"name": "B", "value": "2"},
                                                 {"name": "A", "value": "1"}]}},
          {"proxyConfiguration": {"properties": {"A": "1", "B": "2"}}}), case=22),
    Rule("td.empty-is-absent", "[] / {} / null are absent, sparse lists compacted", prune_in_place,
         ({"volumes": [], "containerDefinitions": {"a": {"mountPoints": [], "links": [None],
                                                         "logConfiguration": {
                                                             "logDriver": "awslogs",
                                                             "secretOptions": []}}}},
          {"containerDefinitions": {"a": {"logConfiguration": {"logDriver": "awslogs"}}}}),
         case=1),
]

SERVER_CHOSEN = [
    ServerChosen(("runtimePlatform",), "AWS may fill {LINUX, X86_64} when omitted", case=27),
    ServerChosen(("networkMode",), "AWS picks the platform's default mode when omitted"),
]


# Fargate's task sizes: memory (MiB) allowed for each cpu (units), Linux.
_GB = 1024
FARGATE_MEMORY: dict[int, frozenset[int]] = {
    256: frozenset({512, _GB, 2 * _GB}),
    512: frozenset(range(_GB, 4 * _GB + 1, _GB)),
    1024: frozenset(range(2 * _GB, 8 * _GB + 1, _GB)),
    2048: frozenset(range(4 * _GB, 16 * _GB + 1, _GB)),
    4096: frozenset(range(8 * _GB, 30 * _GB + 1, _GB)),
    8192: frozenset(range(16 * _GB, 60 * _GB + 1, 4 * _GB)),
    16384: frozenset(range(32 * _GB, 120 * _GB + 1, 8 * _GB)),
}


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > 18:
        raise ValueError(f"integer {text[:20]}… is too large")
    return int(text)


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value if v is not None]
    return value


def _size_errors(m: Manifest) -> list[LoadError]:
    """Task cpu and memory: positive in any accepted spelling, and a pair Fargate offers
    when the task is for Fargate."""
    errors: list[LoadError] = []
    sizes: dict[str, int] = {}
    for key, convert in (("cpu", cpu_units), ("memory", memory_units)):
        if key not in m.spec or isinstance(m.spec[key], bool):
            continue
        value = str(convert(m.spec[key]))
        if not value.isdigit() or int(value) <= 0:
            errors.append(m.error(f"{key} {m.spec[key]!r} is not a positive size (e.g. 256, "
                                  f"'0.25 vCPU', '1 GB')", ("spec", key)))
        else:
            sizes[key] = int(value)
    if "FARGATE" in (m.spec.get("requiresCompatibilities") or []) and len(sizes) == 2:
        allowed = FARGATE_MEMORY.get(sizes["cpu"])
        if allowed is None:
            errors.append(m.error(f"Fargate has no task size with cpu {sizes['cpu']} (it has "
                                  f"{', '.join(map(str, FARGATE_MEMORY))})", ("spec", "cpu")))
        elif sizes["memory"] not in allowed:
            errors.append(m.error(
                f"Fargate does not offer memory {sizes['memory']} with cpu {sizes['cpu']}: "
                f"one of {', '.join(map(str, sorted(allowed)))}", ("spec", "memory")))
    return errors


def content_hash(normalized: Doc) -> str:
    return hashlib.sha256(canonical_json(normalized).encode()).hexdigest()[:32]


def _revision(arn: str) -> tuple[str, int]:
    family, _, rev = arn.rsplit("/", 1)[-1].rpartition(":")
    return family, int(rev) if rev.isdigit() else 0


class TaskDefinition(KindBase):
    kind = "TaskDefinition"
    service = "ecs"
    create_operation = "RegisterTaskDefinition"
    identity = ("family",)
    inventory_type = "ecs:task-definition"
    order = 20
    rules = RULES
    server_chosen = SERVER_CHOSEN
    import_after = ("Service", "ScheduledTask")

    def identity_request(self, key: ResourceKey) -> Doc:
        return {"family": key.name}

    def spec_from_file(self, m: Manifest, text: str, file: str
                       ) -> tuple[Doc | None, list[LoadError]]:
        """`specFile:` as describe-task-definition prints it or register-task-definition
        --cli-input-json takes it, the read-only fields dropped: application teams own that
        file, infrastructure owns the Service. A null member (old console exports write
        `"command": null` everywhere) means absent."""
        ref = m.raw.get("specFile")
        try:
            data = json.loads(text, parse_int=_bounded_int)
        except (json.JSONDecodeError, ValueError) as exc:
            line = exc.lineno if isinstance(exc, json.JSONDecodeError) else 1
            return None, [LoadError(file, line, f"invalid JSON: {getattr(exc, 'msg', exc)}",
                                    str(m.key))]
        if isinstance(data, dict) and isinstance(data.get("taskDefinition"), dict):
            outer_tags = data.get("tags")
            data = dict(data["taskDefinition"])
            if outer_tags and "tags" not in data:
                data["tags"] = outer_tags
        if not isinstance(data, dict):
            return None, [m.error("specFile must hold a JSON object", ("specFile",))]
        for k in READ_ONLY:
            data.pop(k, None)
        cleaned = _without_nulls(data)
        warnings = [] if cleaned == data else [m.error(
            f"specFile {ref!r}: null members are treated as absent (as in an export from the "
            "old ECS console)", ("specFile",), warning=True)]
        data = cleaned
        family = data.pop("family", None)
        if family is not None and family != m.name:
            return None, [m.error(f"specFile {ref!r} has family {family!r} but metadata.name "
                                  f"is {m.name!r}", ("specFile",))]
        return data, warnings

    def validate(self, m: Manifest) -> list[LoadError]:
        errors = [*ecs_name_errors(m, m.name, "task definition family", ("metadata", "name")),
                  *super().validate(m)]
        errors.extend(_size_errors(m))
        for i, c in enumerate(m.spec.get("containerDefinitions") or []):
            if not isinstance(c, dict):
                continue
            where = ("spec", "containerDefinitions", i)
            if "name" in c:
                errors.extend(ecs_name_errors(m, c["name"], "container name", (*where, "name")))
            image = c.get("image")
            if isinstance(image, str) and not image.strip():
                errors.append(m.error("image must not be empty", (*where, "image")))
            for key, low in (("cpu", 0), ("memory", 4), ("memoryReservation", 4)):
                errors.extend(at_least(m, c, key, low, where))
            for j, p in enumerate(c.get("portMappings") or []):
                errors.extend(at_least(m, p, "containerPort", 1, (*where, "portMappings", j)))
                errors.extend(at_least(m, p, "hostPort", 0, (*where, "portMappings", j)))
                for key in ("containerPort", "hostPort"):
                    v = p.get(key) if isinstance(p, dict) else None
                    if isinstance(v, int) and v > 65535:
                        errors.append(m.error(f"{key} {v} is above 65535",
                                              (*where, "portMappings", j, key)))
        return errors

    def desired(self, m: Manifest, ctx: Context) -> Doc:
        """Task-level cpu and memory go to AWS as the unit strings it stores ("512",
        "1024"), however they were written: 512, "512", "0.5 vCPU", "1 GB"."""
        spec = super().desired(m, ctx)
        for key, units in (("cpu", cpu_units), ("memory", memory_units)):
            value = spec.get(key)
            if isinstance(value, int | float | str) and not isinstance(value, bool):
                spec[key] = units(value)
        return spec

    def published(self, action: Action, live: Live | None) -> str | None:
        """In sync, references resolve to the live revision; otherwise to the one apply is
        about to register."""
        return live.arn if action is Action.NOOP and live is not None else None

    def to_live(self, description: Doc, tags: Any) -> Live:
        td = description
        spec = model.project(td, model.input_shape("ecs", "RegisterTaskDefinition"))
        spec.pop("family", None)
        spec["tags"] = tags or []
        return Live(
            key=ResourceKey(self.kind, td["family"]),
            arn=td["taskDefinitionArn"],
            spec=spec,
            tags=self.tags.read(tags),
            raw=td,
        )

    async def describe(self, aws: AwsApi, arn_or_family: str) -> Live:
        """Describe a revision; by ARN it is cached for the life of the process (immutable)."""
        cached = aws.cache.get(arn_or_family)
        if isinstance(cached, Live):
            return cached
        resp = await aws.call(
            "ecs", "describe_task_definition", taskDefinition=arn_or_family, include=["TAGS"]
        )
        live = self.to_live(resp["taskDefinition"], resp.get("tags"))
        aws.cache[live.arn] = live
        aws.keep(live.arn, resp["taskDefinition"])
        return live

    async def revision(self, aws: AwsApi, arn: str, tags: dict[str, str]) -> Live:
        """A revision whose tags the inventory gave: its content (immutable) from what was
        read before, by this process or an earlier one, else described."""
        content = aws.recall(arn)
        if content is None:
            return await self.describe(aws, arn)
        return self.to_live(content, self.tags.write(tags))

    async def latest_revisions(self, aws: AwsApi, families: Sequence[str]) -> dict[str, str]:
        """family -> ARN of its newest ACTIVE revision, with as few list pages as possible."""
        wanted = set(families)
        latest: dict[str, tuple[int, str]] = {}

        def take(arns: list[str]) -> None:
            for arn in arns:
                fam, rev = _revision(arn)
                if fam in wanted and rev > latest.get(fam, (0, ""))[0]:
                    latest[fam] = (rev, arn)

        async def by_prefix(family: str) -> None:
            async for page in aws.pages(
                "ecs", "list_task_definitions", "nextToken", "nextToken",
                familyPrefix=family, status="ACTIVE", sort="DESC", maxResults=100,
            ):
                take(page.get("taskDefinitionArns", []))

        if len(wanted) <= FAMILY_LISTING_THRESHOLD:
            await gather_limited(*(by_prefix(f) for f in sorted(wanted)))
        else:
            async for page in aws.pages(
                "ecs", "list_task_definitions", "nextToken", "nextToken",
                status="ACTIVE", maxResults=100,
            ):
                take(page.get("taskDefinitionArns", []))
        return {fam: arn for fam, (_rev, arn) in latest.items()}

    async def fetch(
        self, aws: AwsApi, manifests: Sequence[Manifest], ctx: Context,
        known: Mapping[ResourceKey, Live],
    ) -> dict[ResourceKey, Live]:
        """The newest ACTIVE revision of each family. With an inventory, the newest ACTIVE
        revisions are listed and one that this controller registered with the hash of what
        git asks now is not described at all: revisions are immutable, so it is what git
        asks (a revision registered or deregistered by hand changes what the listing says,
        and is described). Without one, a family never described in this process is
        described by name (one call, no listing to wait for); one seen before is listed, and
        its revision described only if it is new."""
        if ctx.owned is not None and ctx.expect is not None:
            return await self._fetch_by_inventory(aws, manifests, ctx)
        families = sorted({m.key.name for m in manifests})
        seen = {v.key.name for v in aws.cache.values()
                if isinstance(v, Live) and v.key.kind == self.kind}
        unseen = [f for f in families if f not in seen]
        known_families = [f for f in families if f in seen]

        async def listed() -> list[Live | None]:
            if not known_families:
                return []
            arns = await self.latest_revisions(aws, known_families)
            return list(await gather_limited(*(self.describe(aws, a) for a in arns.values())))

        by_name, by_listing = await gather_limited(
            gather_limited(*(self._describe_family(aws, f) for f in unseen)), listed())
        return {live.key: live for live in [*by_name, *by_listing] if live is not None}

    async def _fetch_by_inventory(self, aws: AwsApi, manifests: Sequence[Manifest],
                                  ctx: Context) -> dict[ResourceKey, Live]:
        """The listing of newest ACTIVE revisions starts alongside the inventory, but it only
        serves families the inventory lists a revision of: one with none (an estate met for
        the first time) is described by name, as a cold read without an inventory does, and
        when no family needs it the listing stops, so its pages do not spend the quota the
        describes share with it."""
        assert ctx.owned is not None and ctx.expect is not None
        families = sorted({m.key.name for m in manifests})
        listing = asyncio.ensure_future(self.latest_revisions(aws, families))
        try:
            owned = await ctx.owned.arns(str(self.inventory_type))
            ours = {_revision(arn)[0] for arn in owned}
            unowned = [f for f in families if f not in ours]
            by_name = gather_limited(*(self._describe_family(aws, f) for f in unowned))
            latest: dict[str, str] = {}
            if len(unowned) == len(families):
                listing.cancel()
                named = await by_name
            else:
                latest, named = await gather_limited(listing, by_name)
        finally:
            if not listing.done():
                listing.cancel()
            await asyncio.gather(listing, return_exceptions=True)
        out: dict[ResourceKey, Live] = {live.key: live for live in named if live is not None}
        to_read: dict[ResourceKey, Awaitable[Live]] = {}
        for m in manifests:
            arn = latest.get(m.key.name)
            if arn is None or m.key.name not in ours:
                continue
            tags = owned.get(arn)
            if tags and tags.get(DESIRED_HASH_TAG) and tags[DESIRED_HASH_TAG] == ctx.expect(m):
                out[m.key] = self._as_registered(m, arn, tags, ctx)
            elif tags:
                to_read[m.key] = self.revision(aws, arn, tags)
            else:  # not ours (yet): its tags decide adoption, so it is described
                to_read[m.key] = self.describe(aws, arn)
        out.update(zip(to_read, await gather_limited(*to_read.values()), strict=True))
        return out

    def _as_registered(self, m: Manifest, arn: str, tags: dict[str, str], ctx: Context) -> Live:
        """The live twin of a revision known, by its desired-hash tag, to hold what git asks:
        the desired request with the revision's own tags (a tag edited by hand still shows)."""
        spec = self.desired(m, ctx)
        spec["tags"] = self.tags.write(tags)
        family, revision = _revision(arn)
        return Live(ResourceKey(self.kind, family), arn, spec, dict(tags),
                    raw={"taskDefinitionArn": arn, "family": family, "revision": revision,
                         "status": "ACTIVE", "verifiedBy": DESIRED_HASH_TAG})

    async def _describe_family(self, aws: AwsApi, family: str) -> Live | None:
        try:
            return await self.describe(aws, family)
        except AwsError as exc:
            if exc.code == "ClientException":  # no ACTIVE revision of this family
                return None
            raise

    async def orphans(self, aws: AwsApi, owned: Mapping[str, Mapping[str, str]],
                      lives: Sequence[Live], ctx: Context) -> list[Live]:
        """Families this controller registered that git no longer has, by their newest
        ACTIVE revision (an old or deregistered revision of a family in git is no orphan)."""
        in_git = {lv.key.name for lv in lives}
        gone = sorted({_revision(arn)[0] for arn in owned} - in_git)
        found = await gather_limited(*(self._describe_family(aws, f) for f in gone))
        return [lv for lv in found if lv is not None and lv.owner() == ctx.owner]

    async def list_owned(self, aws: AwsApi, owner: str, clusters: Sequence[str]) -> list[Live]:
        families = await collect_pages(aws, "ecs", "list_task_definition_families", "families",
                                       status="ACTIVE")

        async def latest(family: str) -> Live | None:
            try:
                return await self.describe(aws, family)
            except AwsError:  # no ACTIVE revision left
                return None

        lives = await gather_limited(*(latest(f) for f in sorted(set(families))))
        return [lv for lv in lives
                if lv is not None and lv.owner() == owner and lv.raw.get("status") == "ACTIVE"]

    async def register(self, aws: AwsApi, key: ResourceKey, desired: Doc) -> str:
        request = dict(desired)
        tags = self.tags.read(request.get("tags"))
        tags[CONTENT_HASH_TAG] = content_hash(self.normalize(request))
        request["tags"] = [{"key": k, "value": v} for k, v in sorted(tags.items())]
        resp = await aws.call("ecs", "register_task_definition", family=key.name, **request)
        td = resp["taskDefinition"]
        aws.cache[td["taskDefinitionArn"]] = self.to_live(td, resp.get("tags") or request["tags"])
        return str(td["taskDefinitionArn"])

    async def create(self, aws: AwsApi, key: ResourceKey, desired: Doc, ctx: Context) -> str:
        return await self.register(aws, key, desired)

    async def update(
        self, aws: AwsApi, key: ResourceKey, desired: Doc, live: Live, fields: Changed, ctx: Context
    ) -> str:
        return await self.create(aws, key, desired, ctx)

    async def add_tags(self, aws: AwsApi, arn: str, tags: dict[str, str]) -> None:
        """A revision the controller registered carries its tags already; only an adopted
        one (registered by someone else) is tagged afterwards."""
        if MANAGED_BY in tags:
            await super().add_tags(aws, arn, tags)

    async def delete(self, aws: AwsApi, live: Live) -> None:
        """Deregister every ACTIVE revision of the family that this controller registered."""
        owner = live.owner()
        listed = await collect_pages(aws, "ecs", "list_task_definitions", "taskDefinitionArns",
                                     familyPrefix=live.key.name, status="ACTIVE")
        for arn in (a for a in listed if _revision(a)[0] == live.key.name):
            rev = await self.describe(aws, arn)
            if owner and rev.tags.get(MANAGED_BY) == owner:
                await aws.call("ecs", "deregister_task_definition", taskDefinition=arn)


    async def discover(self, aws: AwsApi, cluster: Live, found: Mapping[str, Sequence[Live]],
                       ctx: Context) -> list[Live]:
        """The newest revision of every family the cluster's services and schedules run."""
        used = [ref for kind in self.import_after for live in found.get(kind, ())
                for ref in _task_definitions_in(live.spec)]
        latest = await self.latest_revisions(aws, sorted({family_of(a) for a in used}))
        return list(await gather_limited(*(self.describe(aws, a) for a in latest.values())))


def _task_definitions_in(spec: Doc) -> list[str]:
    """Task definitions a service (`taskDefinition`) or a schedule's targets name."""
    found = [spec["taskDefinition"]] if isinstance(spec.get("taskDefinition"), str) else []
    for t in spec.get("Targets") or []:
        td = (t.get("EcsParameters") or {}).get("TaskDefinitionArn") if isinstance(t, dict) \
            else None
        if isinstance(td, str):
            found.append(td)
    return found


def family_of(task_definition: str) -> str:
    """'arn:...:task-definition/web:3' / 'web:3' / 'web' -> 'web'."""
    name = task_definition.rsplit("/", 1)[-1]
    return name.split(":", 1)[0]


__all__ = ["RULES", "SERVER_CHOSEN", "TaskDefinition", "content_hash", "family_of"]
