"""One-off tasks by hand (`reconciler run`), as `ecspresso run` starts them: the RunTask
request the manifests define for a Job, or for a task definition the way the Service that
runs it is networked and placed, with a person's command and environment on top. The task
definition resolves as the pass resolves it: to the revision the reconciler registered."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from reconciler.core.hooks import DEFAULT_TIMEOUT, Runnable, hook_of
from reconciler.core.kind import PENDING_REVISION, Context, Registry
from reconciler.core.load import Tree
from reconciler.core.manifest import Manifest, ResourceKey
from reconciler.core.normalize import Doc, clone
from reconciler.core.ports import AwsApi
from reconciler.core.vocab import Action
from reconciler.kinds import REGISTRY
from reconciler.sync.run import Options, run

JOB, TASK_DEFINITION, SERVICE, SCHEDULED = "Job", "TaskDefinition", "Service", "ScheduledTask"
# What a task started for a task definition takes from the Service that runs it.
FROM_SERVICE = ("networkConfiguration", "launchType", "capacityProviderStrategy",
                "platformVersion", "placementConstraints", "placementStrategy",
                "enableExecuteCommand", "enableECSManagedTags")


class RunError(Exception):
    """Nothing to run, or too many candidates: the message says what to give."""


@dataclass
class OneOff:
    """A task ready to start: where, the request, how long to follow it, and what people
    should know about how it was put together."""

    job: Manifest
    cluster: str
    request: Doc
    timeout: float
    notes: list[str]

    @property
    def key(self) -> ResourceKey:
        return self.job.key


def _job_like(td: Manifest, cluster: str, spec: Doc) -> Manifest:
    return Manifest(JOB, td.name, spec, td.file, td.line, cluster=cluster,
                    raw={"kind": JOB, "metadata": {"name": td.name, "cluster": cluster},
                         "spec": spec})


def find(manifests: Sequence[Manifest], name: str, cluster: str | None,
         registry: Registry = REGISTRY) -> tuple[Manifest, list[str]]:
    """The Job named `name`, or one made for the TaskDefinition named `name` from the Service
    that runs it (in `cluster` when given)."""
    jobs = [m for m in manifests if m.kind == JOB and m.name == name
            and (cluster is None or m.cluster == cluster)]
    if len(jobs) > 1:
        where = ", ".join(sorted(str(m.cluster) for m in jobs))
        raise RunError(f"Job {name} is in several clusters ({where}): give --cluster")
    if jobs:
        return jobs[0], []
    td = next((m for m in manifests if m.kind == TASK_DEFINITION and m.name == name), None)
    if td is None:
        raise RunError(f"no Job and no TaskDefinition is named {name}")
    def users(kind: str) -> list[Manifest]:
        return sorted((m for m in manifests if m.kind == kind and (
            cluster is None or m.cluster == cluster) and any(
            r.key == td.key for r in registry[kind].references(m))), key=lambda m: str(m.key))

    services = users(SERVICE)
    if not services:
        # a batch's definition: its schedule's target says where and how it runs (the same
        # field names in EventBridge's EcsParameters as in RunTask)
        scheduled = [m for m in users(SCHEDULED) if isinstance(
            (m.spec.get("target") or {}).get("ecsParameters"), dict)]
        if scheduled and len({m.cluster for m in scheduled}) == 1:
            rule = scheduled[0]
            ecs = rule.spec["target"]["ecsParameters"]
            spec = {"taskDefinition": name, **{k: clone(ecs[k]) for k in FROM_SERVICE
                                               if k in ecs}}
            return _job_like(td, str(rule.cluster), spec), [
                f"networked and placed like {rule.key} (no Service runs it)"]
        if cluster is None:
            raise RunError(f"no Service runs TaskDefinition/{name}, so nothing says where and "
                           "how to network its task: give --cluster (it then runs on the "
                           "cluster's default capacity, without a network configuration)")
        return _job_like(td, cluster, {"taskDefinition": name}), [
            f"no Service runs TaskDefinition/{name}: running it on {cluster}'s defaults"]
    if len({m.cluster for m in services}) > 1:
        raise RunError(f"TaskDefinition/{name} runs in several clusters "
                       f"({', '.join(sorted(str(m.cluster) for m in services))}): "
                       "give --cluster")
    svc = services[0]
    spec = {"taskDefinition": name, **{k: clone(svc.spec[k]) for k in FROM_SERVICE
                                       if k in svc.spec}}
    return _job_like(td, str(svc.cluster), spec), [f"networked and placed like {svc.key}"]


def with_command(request: Doc, container: str, command: list[str] | None,
                 env: Mapping[str, str]) -> Doc:
    """The request with a container's command and environment overridden (the Job's own
    overrides of that container kept, environment merged by name)."""
    if command is None and not env:
        return request
    out: Doc = clone(request)
    overrides = out.setdefault("overrides", {})
    entries: list[Doc] = overrides.setdefault("containerOverrides", [])
    entry = next((e for e in entries if e.get("name") == container), None)
    if entry is None:
        entry = {"name": container}
        entries.append(entry)
    if command is not None:
        entry["command"] = command
    if env:
        merged = {e["name"]: e.get("value", "") for e in entry.get("environment") or []}
        merged.update(env)
        entry["environment"] = [{"name": k, "value": v} for k, v in merged.items()]
    return out


def _first_essential(containers: Sequence[Any]) -> str | None:
    for c in containers:
        if isinstance(c, dict) and c.get("essential", True) is not False:
            return str(c.get("name"))
    return None


async def prepare(tree: Tree, aws: AwsApi, name: str, *, cluster: str | None = None,
                  container: str | None = None, command: list[str] | None = None,
                  env: Mapping[str, str] | None = None, timeout: float | None = None,
                  registry: Registry = REGISTRY) -> OneOff:
    """Everything `reconciler run NAME` starts, read from git and AWS (nothing written)."""
    job, notes = find(tree.manifests, name, cluster, registry)
    kind = registry[JOB]
    refs = [r.key for r in kind.references(job)]
    planned = await run(tree, aws, Options(only=set(refs)), registry) if refs else None
    ctx = planned.ctx if planned is not None else Context(owner=tree.config.controller)
    request = kind.desired(job, ctx)
    td = str(request.get("taskDefinition", ""))
    if td.endswith(PENDING_REVISION) and planned is not None:
        change = next(c for c in planned.plan.changes if c.key in refs)
        if change.live is None:
            raise RunError(f"{change.key} is not registered yet: `reconciler apply` first")
        request["taskDefinition"] = change.live.arn
        if change.action is not Action.NOOP:
            notes.append(f"{change.key} differs from git: running the revision registered "
                         f"now ({change.live.arn.rsplit('/', 1)[-1]}); `reconciler apply` "
                         "registers git's")
    if command is not None or env:
        target = container or _named_override(request) or await _essential(
            tree, aws, job, str(request["taskDefinition"]), kind)
        if target is None:
            raise RunError("cannot tell which container --command / --env are for: give "
                           "--container")
        request = with_command(request, target, command, env or {})
    hook = hook_of(job)
    limit = timeout if timeout is not None else hook.timeout if hook else DEFAULT_TIMEOUT
    return OneOff(job, str(job.cluster), request, limit, notes)


def _named_override(request: Doc) -> str | None:
    entries = (request.get("overrides") or {}).get("containerOverrides") or []
    return str(entries[0]["name"]) if entries and entries[0].get("name") else None


async def _essential(tree: Tree, aws: AwsApi, job: Manifest, arn: str, kind: Any
                     ) -> str | None:
    """The first essential container of the task definition, from git when git has it."""
    family = job.spec.get("taskDefinition")
    manifest = next((m for m in tree.manifests if m.kind == TASK_DEFINITION
                     and m.name == family), None)
    if manifest is not None:
        return _first_essential(manifest.spec.get("containerDefinitions") or [])
    containers = await kind.containers(aws, arn)
    return _first_essential(list(containers.values()))


async def start(aws: AwsApi, oneoff: OneOff, registry: Registry = REGISTRY) -> str:
    """Start the task; its ARN."""
    kind = cast(Runnable, registry[JOB])
    return await kind.start(aws, oneoff.key, oneoff.request, Context(owner=""),
                            started_by="reconciler/run", client_token=uuid.uuid4().hex)


__all__ = ["FROM_SERVICE", "OneOff", "RunError", "find", "prepare", "start", "with_command"]
