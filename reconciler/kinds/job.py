"""Job: a one-off ECS task declared in git, run as a hook (`metadata.hook: PreSync | PostSync`,
`spec.gates`) or by hand (`reconciler run`).

The spec is RunTask's request without `cluster` (it is `metadata.cluster`), `count` (one
task), `startedBy` and `clientToken` (the reconciler's), plus `gates` and `timeoutSeconds`.
`taskDefinition` names a TaskDefinition manifest by family (resolved, like a Service's, to the
revision the reconciler registered) or is an ARN / `family:revision`.

A Job is not a standing resource, so it has nothing to compare: its live state is the runs
it made. For a hook that is the record on its cluster (`core.hooks.Record`) and that record's
task as DescribeTasks shows it now; planning turns them into what the pass does
(`core.hooks.plan_hooks`), and "applying" a Job is running it (`Runnable`: start, observe,
stop, remember). A Job is never imported and never pruned: a finished task is not an orphan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from reconciler.core import model
from reconciler.core.hooks import (
    MAX_NAME,
    RESERVED,
    Container,
    Record,
    Run,
    awslogs,
    hook_of,
    observed,
    record_tag,
    started_by,
    task_id,
)
from reconciler.core.kind import PENDING_REVISION, Changed, Context, Live, Reference
from reconciler.core.manifest import LoadError, Manifest, ResourceKey
from reconciler.core.normalize import Doc, clone
from reconciler.core.ownership import MANAGED_BY
from reconciler.core.ports import AwsApi, AwsError, gather_limited
from reconciler.core.vocab import ClusterScope, Health, RunState
from reconciler.kinds._base import KindBase, at_least, ecs_name_errors

DESCRIBE_BATCH = 100  # DescribeTasks and DescribeClusters take at most 100
NOT_IN_SPEC = {
    "cluster": "the cluster is metadata.cluster",
    "count": "a Job runs one task",
    "startedBy": "the reconciler sets startedBy (a hook's is how its runs are found)",
    "clientToken": "the reconciler sets clientToken",
}
JOB_TAG = "reconciler:job"


def _td_reference(value: object) -> str | None:
    """The family a `taskDefinition` names when it names a manifest (no ARN, no revision)."""
    if isinstance(value, str) and not value.startswith("arn:") and ":" not in value:
        return value
    return None


def _request_shape() -> Any:
    return model.input_shape("ecs", "RunTask")


class Job(KindBase):
    kind = "Job"
    service = "ecs"
    create_operation = "RunTask"
    cluster_scope = ClusterScope.REQUIRED
    order = 28  # after task definitions are registered, before what runs them is updated
    fetch_wave = 1  # after clusters: a hook's record is a tag on its cluster
    import_folder = "jobs"

    # --- Spec -------------------------------------------------------------------------------

    def validate(self, m: Manifest) -> list[LoadError]:
        errors = ecs_name_errors(m, m.name, "job name", ("metadata", "name"))
        if len(m.name) > MAX_NAME:
            errors.append(m.error(f"a job name has at most {MAX_NAME} characters (it names the "
                                  "tag that records a hook's runs)", ("metadata", "name")))
        if not m.cluster:
            errors.append(m.error("metadata.cluster is required for this kind", ("metadata",)))
        for f, why in NOT_IN_SPEC.items():
            if f in m.spec:
                errors.append(m.error(f"spec.{f} is not allowed: {why}", ("spec", f)))
        timeout = m.spec.get("timeoutSeconds")
        if timeout is not None and (not isinstance(timeout, int) or isinstance(timeout, bool)):
            errors.append(m.error("spec.timeoutSeconds must be a whole number of seconds",
                                  ("spec", "timeoutSeconds")))
        errors.extend(at_least(m, m.spec, "timeoutSeconds", 1, ("spec",)))
        request = {k: v for k, v in m.spec.items() if k not in RESERVED and k not in NOT_IN_SPEC}
        for path, message in model.validate({**request, "cluster": m.cluster or "c"},
                                            _request_shape()):
            errors.append(m.error(message, ("spec", *path)))
        return errors

    def references(self, m: Manifest) -> list[Reference]:
        family = _td_reference(m.spec.get("taskDefinition"))
        if family is None:
            return []
        return [Reference(ResourceKey("TaskDefinition", family), ("spec", "taskDefinition"))]

    def json_schema(self, builder: Any) -> dict[str, Any]:
        ref: dict[str, Any] = builder.operation(self.service, self.create_operation,
                                                drop=tuple(NOT_IN_SPEC))
        request = dict(builder.definitions.get(ref.get("$ref", "").split("/")[-1], ref))
        props = dict(request.get("properties", {}))
        props["gates"] = {"type": "array", "items": {"type": "string"},
                          "description": "What a hook gates: Kind/name (in its cluster) or "
                                         "Kind/cluster/name, e.g. Service/api"}
        props["timeoutSeconds"] = {"type": "integer", "minimum": 1,
                                   "description": "How long a hook may run before it is "
                                                  "stopped and counted as failed (1800)"}
        return {**request, "properties": props}

    def desired(self, m: Manifest, ctx: Context) -> Doc:
        """RunTask's request (without cluster): the task definition resolved, tags that say
        who ran it."""
        spec: Doc = {k: clone(v) for k, v in m.spec.items() if k not in RESERVED}
        family = _td_reference(spec.get("taskDefinition"))
        if family is not None:
            spec["taskDefinition"] = ctx.refs.resolve(ResourceKey("TaskDefinition", family),
                                                      PENDING_REVISION)
        tags = {**self.tags.read(spec.get("tags")), **ctx.ownership_tags(), JOB_TAG: m.name}
        return self.with_tags(spec, tags)

    def normalize(self, doc: Doc) -> Doc:
        return {}  # nothing standing to compare: what a pass does is `plan_hooks`'s

    def normalize_live(self, live: Live) -> Doc:
        return {}

    # --- HealthCheck ------------------------------------------------------------------------

    def health(self, live: Live | None) -> tuple[Health, str]:
        """A hook's last run: running is Progressing; a failure Suspended (it waits for git
        to change what it covers, or a person); never run or passed is Healthy."""
        record, run = observed(live)
        if record is None:
            return Health.HEALTHY, ""
        failed = record.state is RunState.FAILED
        if record.state in (RunState.STARTING, RunState.RUNNING):
            if run is None or not run.stopped:
                return Health.PROGRESSING, f"running (task {record.task or 'starting'})"
            failed = not run.succeeded
        if failed:
            why = run.failure() if run is not None and run.stopped else (
                f"exit {record.exit}" if record.exit is not None else "failed")
            return Health.SUSPENDED, (f"its last run failed ({why}); it runs again when git "
                                      "changes what it gates, or with --rerun-hooks")
        return Health.HEALTHY, ""

    # --- Reader -----------------------------------------------------------------------------

    async def fetch(self, aws: AwsApi, manifests: Sequence[Manifest], ctx: Context,
                    known: Mapping[ResourceKey, Live]) -> dict[ResourceKey, Live]:
        """Every Job's live state: for a hook, its record and the record's task."""
        hooks = [m for m in manifests if hook_of(m) is not None and m.cluster]
        records: dict[ResourceKey, Record | None] = {}
        if hooks:
            tags = await self._cluster_tags(aws, sorted({str(m.cluster) for m in hooks}), known)
            records = {m.key: Record.from_tag(tags.get(str(m.cluster), {}).get(
                record_tag(m.name))) for m in hooks}
            found = await gather_limited(*(self._recover(aws, m, records[m.key])
                                           for m in hooks))
            records = dict(zip([m.key for m in hooks], found, strict=True))
        by_cluster: dict[str, list[str]] = {}
        for m in hooks:
            r = records[m.key]
            if r is not None and r.task and r.state in (RunState.STARTING, RunState.RUNNING):
                by_cluster.setdefault(str(m.cluster), []).append(r.task)
        clusters = sorted(by_cluster)
        seen = dict(zip(clusters, await gather_limited(
            *(self.observe(aws, c, by_cluster[c]) for c in clusters)), strict=True))
        out: dict[ResourceKey, Live] = {}
        for m in manifests:
            r = records.get(m.key)
            run = seen.get(str(m.cluster), {}).get(r.task) if r is not None and r.task else None
            out[m.key] = Live(m.key, run.arn if run else "", {}, {MANAGED_BY: ctx.owner},
                              {"record": r, "run": run})
        return out

    async def _cluster_tags(self, aws: AwsApi, clusters: Sequence[str],
                            known: Mapping[ResourceKey, Live]) -> dict[str, dict[str, str]]:
        """The tags of these clusters: from the pass's own read when it made one."""
        out = {c: known[k].tags for c in clusters if (k := ResourceKey("Cluster", c)) in known}
        missing = [c for c in clusters if c not in out]
        for i in range(0, len(missing), DESCRIBE_BATCH):
            resp = await aws.call("ecs", "describe_clusters", clusters=missing[i:i + DESCRIBE_BATCH],
                                  include=["TAGS"])
            for c in resp.get("clusters", []):
                out[str(c["clusterName"])] = self.tags.read(c.get("tags"))
        return out

    async def _recover(self, aws: AwsApi, m: Manifest, record: Record | None) -> Record | None:
        """A record written just before RunTask whose task was never recorded (the replica
        stopped in between): its task, found by the attempt's `startedBy`."""
        if record is None or record.state is not RunState.STARTING or record.task:
            return record
        found = await self._started_by(aws, str(m.cluster), started_by(record.digest,
                                                                       record.attempt))
        return replace(record, task=task_id(found[0])) if found else record

    async def _started_by(self, aws: AwsApi, cluster: str, value: str) -> list[str]:
        """Tasks started with `startedBy` = value, running or stopped (ECS lists stopped ones
        for about an hour)."""
        arns: list[str] = []
        for status in ("RUNNING", "STOPPED"):
            try:
                resp = await aws.call("ecs", "list_tasks", cluster=cluster, startedBy=value,
                                      desiredStatus=status)
            except AwsError as exc:
                if exc.code == "ClusterNotFoundException":
                    return []
                raise
            arns.extend(a for a in resp.get("taskArns", []) if a not in arns)
        return arns

    async def list_owned(self, aws: AwsApi, owner: str, clusters: Sequence[str]) -> list[Live]:
        return []  # tasks are not owned resources: a stopped one is not an orphan

    async def update(self, aws: AwsApi, key: ResourceKey, desired: Doc, live: Live,
                     fields: Changed, ctx: Context) -> str:
        raise NotImplementedError("a Job is run (sync.hooks), never updated")

    # --- Runnable ---------------------------------------------------------------------------

    async def start(self, aws: AwsApi, key: ResourceKey, request: Doc, ctx: Context, *,
                    started_by: str, client_token: str) -> str:
        resp = await aws.call("ecs", "run_task", cluster=key.cluster, startedBy=started_by,
                              clientToken=client_token, **request)
        tasks = resp.get("tasks") or []
        if not tasks:
            why = "; ".join(f"{f.get('reason', '')} {f.get('detail') or ''}".strip()
                            for f in resp.get("failures") or []) or "no task started"
            raise AwsError("ecs:run_task", "RunTaskFailure", why)
        return str(tasks[0]["taskArn"])

    async def observe(self, aws: AwsApi, cluster: str, tasks: Sequence[str]) -> dict[str, Run]:
        out: dict[str, Run] = {}
        wanted = list(dict.fromkeys(tasks))
        for i in range(0, len(wanted), DESCRIBE_BATCH):
            batch = wanted[i:i + DESCRIBE_BATCH]
            resp = await aws.call("ecs", "describe_tasks", cluster=cluster, tasks=batch)
            for t in resp.get("tasks") or []:
                run = await self._run(aws, t)
                for asked in batch:
                    if task_id(asked) == task_id(run.arn):
                        out[asked] = run
            for asked in batch:
                if asked not in out:
                    out[asked] = Run(asked, "MISSING", missing=True)
        return out

    async def _run(self, aws: AwsApi, task: Doc) -> Run:
        """A described task as a Run: which containers are essential, and where their logs
        go, come from its task definition."""
        definitions = await self.containers(aws, str(task.get("taskDefinitionArn", "")))
        containers = []
        for c in task.get("containers") or []:
            d = definitions.get(str(c.get("name")), {})
            code = c.get("exitCode") if c.get("lastStatus") == "STOPPED" or \
                task.get("lastStatus") == "STOPPED" else None
            containers.append(Container(
                str(c.get("name")), d.get("essential", True) is not False,
                code if isinstance(code, int) else None, str(c.get("reason") or ""),
                awslogs(d.get("logConfiguration"), str(c.get("name")), str(task["taskArn"]),
                        aws.region)))
        return Run(str(task["taskArn"]), str(task.get("lastStatus", "")),
                   str(task.get("stopCode") or ""), str(task.get("stoppedReason") or ""),
                   tuple(containers))

    async def containers(self, aws: AwsApi, arn: str) -> dict[str, Doc]:
        """A task definition revision's containers by name (immutable: asked once)."""
        cached = aws.cache.get(f"job-containers:{arn}")
        if isinstance(cached, dict):
            return cached
        try:
            resp = await aws.call("ecs", "describe_task_definition", taskDefinition=arn)
        except AwsError:
            return {}
        found = {str(c.get("name")): c for c in
                 resp.get("taskDefinition", {}).get("containerDefinitions") or []}
        aws.cache[f"job-containers:{arn}"] = found
        return found

    async def stop(self, aws: AwsApi, cluster: str, task: str, reason: str) -> None:
        await aws.call("ecs", "stop_task", cluster=cluster, task=task, reason=reason[:255])

    async def remember(self, aws: AwsApi, key: ResourceKey, record: Record, ctx: Context
                       ) -> None:
        await aws.call("ecs", "tag_resource", resourceArn=ctx.cluster_arn(str(key.cluster)),
                       tags=[{"key": record_tag(key.name), "value": record.to_tag()}])


__all__ = ["JOB_TAG", "Job"]
