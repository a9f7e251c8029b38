"""Hooks: one-off tasks declared in git (`kind: Job` with `metadata.hook`) that gate other
resources, as Argo CD's resource hooks do. Pure: what a hook is and what it gates, which run
of it the current git state asks for (its digest), what AWS remembers of its runs (a
`Record`), what a stopped task says (a `Run`), and how a plan folds them in (`plan_hooks`).

- A `PreSync` hook runs before the changes it gates, and only when one of them is pending.
  It runs once per digest: the hash of the hook's manifest and of everything it gates as git
  has them (what they reference included), so a new revision that changes none of them does
  not run it again. The gated changes go only when every essential container exited 0; a
  failed run holds them until git changes what the hook covers (a new digest) or a person
  asks for it again (`reconciler apply --rerun-hooks`).
- A `PostSync` hook runs once per digest after the changes it gates were applied in a pass
  (a smoke test): at most once, since a pass that stops between the two does not run it.

What AWS remembers is a tag on the cluster the hook runs in (`reconciler:hook/<name>`: the
digest, the state, the task, the exit code), written before RunTask, after it and when the
task stops; the task itself carries `startedBy` = the digest and attempt, so a run started by
a replica that died before it could write the record is found again by ListTasks. Any replica,
after any restart, reads the same answer: a hook never runs twice for the same digest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from reconciler.core.kind import Context, Live, Registry
from reconciler.core.manifest import LoadError, Manifest, ResourceKey
from reconciler.core.normalize import Doc, hash_of
from reconciler.core.ownership import HOOK_TAG_PREFIX
from reconciler.core.ports import AwsApi
from reconciler.core.vocab import Action, HookPhase, HookState, RunState

if TYPE_CHECKING:  # plan brings deepdiff, which `validate` never needs
    from reconciler.core.plan import Change

HOOK_TAG = HOOK_TAG_PREFIX  # + the Job's name: its record, on the cluster it runs in
DEFAULT_TIMEOUT = 1800.0       # seconds a hook may run before it is stopped and failed
RESERVED = ("gates", "timeoutSeconds")  # a Job's spec keys that are not RunTask's
GATED_ACTIONS = (Action.CREATE, Action.UPDATE, Action.REPLACE)
MAX_NAME = 128 - len(HOOK_TAG)  # an ECS tag key has at most 128 characters
_TAG_VALUE = re.compile(r"[\w .:/=+\-@]*")


def record_tag(name: str) -> str:
    return HOOK_TAG + name


def started_by(digest: str, attempt: int) -> str:
    """RunTask's `startedBy` for one attempt of a hook (at most 128 letters, digits, `-/_`)."""
    return f"reconciler/hook/{digest[:32]}/{attempt}"


def client_token(digest: str, attempt: int) -> str:
    """RunTask's idempotency token for one attempt (a retried call starts no second task)."""
    return f"hook-{digest[:32]}-{attempt}"


@dataclass(frozen=True)
class Hook:
    """What `metadata.hook` and the Job's spec say about it as a hook."""

    phase: HookPhase
    gates: tuple[str, ...]
    timeout: float = DEFAULT_TIMEOUT


def hook_of(m: Manifest) -> Hook | None:
    """The hook a manifest declares (None: it is not one, or says so wrongly: validation
    reports that)."""
    meta = m.raw.get("metadata")
    value = meta.get("hook") if isinstance(meta, dict) else None
    if value not in set(HookPhase):
        return None
    gates = m.spec.get("gates")
    timeout = m.spec.get("timeoutSeconds", DEFAULT_TIMEOUT)
    return Hook(HookPhase(value),
                tuple(g for g in gates if isinstance(g, str)) if isinstance(gates, list) else (),
                float(timeout) if isinstance(timeout, int | float) and timeout > 0
                else DEFAULT_TIMEOUT)


def parse_gate(text: str) -> tuple[str, str | None, str] | None:
    """`Kind/name` (in the hook's cluster) or `Kind/cluster/name` as (kind, cluster, name)."""
    parts = text.split("/")
    if len(parts) == 2 and all(parts):
        return parts[0], None, parts[1]
    if len(parts) == 3 and all(parts):
        return parts[0], parts[1], parts[2]
    return None


def resolve_gates(m: Manifest, manifests: Iterable[Manifest]
                  ) -> tuple[list[ResourceKey], list[tuple[int, str]]]:
    """The manifests a hook gates, and (index, why) for each gate that names none. A gate
    without a cluster means the hook's own cluster, or no cluster for kinds outside one."""
    hook = hook_of(m)
    if hook is None:
        return [], []
    by_name: dict[tuple[str, str], list[ResourceKey]] = {}
    for other in manifests:
        by_name.setdefault((other.kind, other.name), []).append(other.key)
    keys: list[ResourceKey] = []
    errors: list[tuple[int, str]] = []
    for i, text in enumerate(hook.gates):
        parsed = parse_gate(text)
        if parsed is None:
            errors.append((i, f"gate {text!r} is not Kind/name or Kind/cluster/name"))
            continue
        kind, cluster, name = parsed
        found = by_name.get((kind, name), [])
        wanted = [k for k in found if k.cluster == (cluster or m.cluster)] or (
            [k for k in found if k.cluster is None] if cluster is None else [])
        if not wanted:
            where = f" in cluster {cluster or m.cluster}" if cluster or m.cluster else ""
            errors.append((i, f"gate {text!r} names no manifest{where}"))
            continue
        keys.extend(k for k in wanted if k not in keys)
    return keys, errors


def digest(m: Manifest, gates: Sequence[ResourceKey], by_key: Mapping[ResourceKey, Manifest],
           registry: Registry) -> str:
    """The hash of what a hook covers as git has it: its manifest, the manifests it gates and
    everything those reference, transitively. Not the resolved requests: a task definition
    revision registered between two passes must not make the same git state a new run."""
    seen: set[ResourceKey] = set()
    todo = [m.key, *gates]
    while todo:
        key = todo.pop()
        if key in seen or key not in by_key or key.kind not in registry:
            continue
        seen.add(key)
        todo.extend(r.key for r in registry[key.kind].references(by_key[key]))
    doc = [[str(k), by_key[k].spec, (by_key[k].raw.get("metadata") or {}).get("hook")]
           for k in sorted(seen, key=str)]
    return hash_of(doc)


# --- what AWS remembers ---------------------------------------------------------------------

@dataclass(frozen=True)
class Record:
    """One run of a hook, as the tag on its cluster remembers it (a tag value takes letters,
    digits, spaces and `_ . : / = + - @`, at most 256 characters)."""

    digest: str
    state: RunState
    attempt: int = 1
    task: str = ""  # the task's id (the last segment of its ARN)
    exit: int | None = None
    revision: str = ""
    at: float = 0.0  # when the run started (Unix seconds): its timeout counts from here
    passed: str = ""  # the last digest a run passed for (a revert to it runs nothing)

    def to_tag(self) -> str:
        parts = {"digest": self.digest, "state": str(self.state), "attempt": str(self.attempt),
                 "task": self.task, "exit": "" if self.exit is None else str(self.exit),
                 "revision": self.revision, "at": str(int(self.at)), "passed": self.passed}
        text = " ".join(f"{k}={v}" for k, v in parts.items() if v != "")
        assert len(text) <= 256 and _TAG_VALUE.fullmatch(text), text
        return text

    @classmethod
    def from_tag(cls, text: str | None) -> Record | None:
        """The record a tag holds (None: no tag, or one this version cannot read)."""
        if not text:
            return None
        fields = dict(p.split("=", 1) for p in text.split() if "=" in p)
        try:
            return cls(fields["digest"], RunState(fields["state"]),
                       int(fields.get("attempt", "1")), fields.get("task", ""),
                       int(fields["exit"]) if fields.get("exit") else None,
                       fields.get("revision", ""), float(fields.get("at", "0")),
                       fields.get("passed", ""))
        except (KeyError, ValueError):
            return None


# --- what a task says ------------------------------------------------------------------------

@dataclass(frozen=True)
class Container:
    name: str
    essential: bool = True
    exit_code: int | None = None
    reason: str = ""
    logs: str = ""  # where its output is, from the task definition's awslogs configuration


@dataclass(frozen=True)
class Run:
    """One task of a hook (or of `reconciler run`) as DescribeTasks shows it."""

    arn: str
    status: str = "PROVISIONING"
    stop_code: str = ""
    stopped_reason: str = ""
    containers: tuple[Container, ...] = ()
    missing: bool = False  # ECS no longer knows it (stopped tasks are kept about an hour)

    @property
    def task_id(self) -> str:
        return task_id(self.arn)

    @property
    def stopped(self) -> bool:
        return self.missing or self.status in ("STOPPED", "DELETED")

    @property
    def essentials(self) -> list[Container]:
        return [c for c in self.containers if c.essential] or list(self.containers)

    @property
    def succeeded(self) -> bool:
        """Stopped, and every essential container exited 0."""
        return (self.stopped and not self.missing and bool(self.essentials)
                and all(c.exit_code == 0 for c in self.essentials))

    @property
    def exit_code(self) -> int:
        """The first essential container's code that is not 0 (1 for one that never exited),
        else 0: what `reconciler run` exits with."""
        if self.missing or not self.essentials:
            return 1
        for c in self.essentials:
            if c.exit_code != 0:
                return 1 if c.exit_code is None else c.exit_code
        return 0

    def failure(self) -> str:
        """Why it failed, in a few words ("exit 1 from app")."""
        if self.missing:
            return "its task is no longer known to ECS"
        bad = [c for c in self.essentials if c.exit_code != 0]
        if bad and all(c.exit_code is None for c in bad):
            return f"did not start: {self.stopped_reason or self.stop_code or 'no exit code'}"
        if bad:
            c = next(c for c in bad if c.exit_code is not None)
            return f"exit {c.exit_code} from {c.name}"
        return self.stopped_reason or "no essential container"

    def details(self) -> list[str]:
        """What people need to look into it: exit codes, why it stopped, where the logs are."""
        if self.missing:
            return [f"task: {self.arn} (no longer known to ECS)"]
        lines = []
        for c in self.containers:
            code = "no exit code" if c.exit_code is None else f"exit {c.exit_code}"
            why = f": {c.reason}" if c.reason else ""
            lines.append(f"container {c.name}{'' if c.essential else ' (not essential)'}: "
                         f"{code}{why}")
        if self.stopped_reason or self.stop_code:
            lines.append(f"stopped: {self.stopped_reason or '-'} ({self.stop_code or '-'})")
        lines.extend(f"logs of {c.name}: {c.logs}" for c in self.containers if c.logs)
        lines.append(f"task: {self.arn}")
        return lines


def task_id(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def awslogs(config: Any, container: str, task: str, region: str) -> str:
    """Where a container's output goes with the awslogs driver: the group and the stream
    (`prefix/container/task-id`, as AWS names it), in its Region; "" for other drivers."""
    if not isinstance(config, dict) or config.get("logDriver") != "awslogs":
        return ""
    options = config.get("options") or {}
    group = options.get("awslogs-group")
    if not group:
        return ""
    region = str(options.get("awslogs-region") or region)
    prefix = options.get("awslogs-stream-prefix")
    if not prefix:
        return f"log group {group} in {region} (no stream prefix: no predictable stream)"
    return f"log group {group}, stream {prefix}/{container}/{task_id(task)} in {region}"


# --- the kind interface ----------------------------------------------------------------------

@runtime_checkable
class Runnable(Protocol):
    """A kind whose apply is running a one-off task (a Job): it starts, observes and stops
    tasks, and remembers a hook's runs in AWS. Its `fetch` gives each hook's `Live` with the
    record (`raw["record"]`) and that record's task as last seen (`raw["run"]`)."""

    async def start(self, aws: AwsApi, key: ResourceKey, request: Doc, ctx: Context, *,
                    started_by: str, client_token: str) -> str:
        """RunTask; the task's ARN (AwsError when ECS started none)."""
        ...

    async def observe(self, aws: AwsApi, cluster: str, tasks: Sequence[str]
                      ) -> dict[str, Run]:
        """The tasks (ids or ARNs) as they are now, by what was asked."""
        ...

    async def stop(self, aws: AwsApi, cluster: str, task: str, reason: str) -> None:
        ...

    async def remember(self, aws: AwsApi, key: ResourceKey, record: Record, ctx: Context
                       ) -> None:
        """Write the record of a hook's run where every replica reads it."""
        ...


def observed(live: Live | None) -> tuple[Record | None, Run | None]:
    if live is None:
        return None, None
    record, run = live.raw.get("record"), live.raw.get("run")
    return (record if isinstance(record, Record) else None,
            run if isinstance(run, Run) else None)


# --- planning --------------------------------------------------------------------------------

@dataclass
class HookPlan:
    """What a pass does with one hook: its state for the current digest and the pending
    changes it gates (PreSync: they wait for it; PostSync: it runs after them)."""

    phase: HookPhase
    state: HookState
    digest: str
    gates: tuple[ResourceKey, ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    attempt: int = 1  # the attempt a start would be
    record: Record | None = None  # the record the state comes from
    run: Run | None = None  # that record's task, as last seen
    superseded: bool = False  # the task in flight ran for an older digest
    passed: str = ""  # the last digest it passed for (carried into the next record)

    @property
    def failure(self) -> str:
        if self.run is not None and self.run.stopped and not self.run.succeeded:
            return self.run.failure()
        if self.record is not None and self.record.exit is not None:
            return f"exit {self.record.exit}"
        return "failed"

    @property
    def failed(self) -> bool:
        """Its run for this digest failed, recorded or just seen stopping."""
        if self.superseded:
            return False
        return self.state is HookState.FAILED or (
            self.state is HookState.FINISHED and self.run is not None
            and not self.run.succeeded)


def _plan_one(hook: Hook, digest_: str, record: Record | None, run: Run | None,
              due: tuple[ResourceKey, ...]) -> HookPlan:
    plan = HookPlan(hook.phase, HookState.IDLE, digest_, due, hook.timeout,
                    passed=record.passed if record is not None else "")
    if record is not None and record.state in (RunState.STARTING, RunState.RUNNING) \
            and run is not None:  # a task is in flight (or just stopped): follow it first
        state = HookState.FINISHED if run.stopped else HookState.RUNNING
        return replace(plan, state=state, record=record, run=run, attempt=record.attempt,
                       superseded=record.digest != digest_)
    current = record if record is not None and record.digest == digest_ else None
    if current is None:
        if record is not None and record.passed == digest_:
            return replace(plan, state=HookState.SUCCEEDED)
        return replace(plan, state=HookState.DUE if due else HookState.IDLE)
    if current.state is RunState.SUCCEEDED:
        return replace(plan, state=HookState.SUCCEEDED, record=current)
    if current.state is RunState.FAILED:
        return replace(plan, state=HookState.FAILED, record=current, attempt=current.attempt + 1)
    # started (maybe) but no task found: start this same attempt again (same client token)
    return replace(plan, state=HookState.DUE if due else HookState.IDLE, record=current,
                   attempt=current.attempt)


def plan_hooks(changes: Sequence[Change], everything: Sequence[Manifest],
               registry: Registry) -> None:
    """Give each hook's change its `HookPlan` and action (`run` when it runs, or is followed,
    in this pass), and each pending change a PreSync hook gates the hooks it waits for."""
    by_key = {m.key: m for m in everything}
    pending = {c.key: c for c in changes if c.action in GATED_ACTIONS}
    for c in changes:
        m = c.manifest
        hook = hook_of(m) if m is not None else None
        if m is None or hook is None or not isinstance(registry.get(c.key.kind), Runnable):
            continue
        gates, _ = resolve_gates(m, everything)
        due = tuple(k for k in gates if k in pending)
        record, run = observed(c.live)
        plan = _plan_one(hook, digest(m, gates, by_key, registry), record, run, due)
        c.hook = plan
        following = plan.state in (HookState.RUNNING, HookState.FINISHED)
        if following or (due and plan.state in (HookState.DUE, HookState.FAILED)):
            c.action, c.fields = Action.RUN, []
            if hook.phase is HookPhase.PRE_SYNC:
                for k in due:
                    pending[k].after_hooks.append(c.key)


# --- validation ------------------------------------------------------------------------------

def check_hooks(manifests: Sequence[Manifest], registry: Registry) -> list[LoadError]:
    """What is wrong with the tree's hooks: `metadata.hook` on a kind that cannot run, an
    unknown phase, gates that name nothing or something a hook cannot run before."""
    errors: list[LoadError] = []
    runnable_kinds = {name for name, k in registry.items() if isinstance(k, Runnable)}
    for m in manifests:
        raw_meta = m.raw.get("metadata")
        meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
        kind = registry.get(m.kind)
        if kind is None:
            continue
        runnable = m.kind in runnable_kinds
        if "hook" in meta:
            value = meta["hook"]
            if not runnable:
                errors.append(m.error(f"metadata.hook: a {m.kind} cannot be a hook (a Job can)",
                                      ("metadata", "hook")))
                continue
            if value not in set(HookPhase):
                errors.append(m.error(
                    f"metadata.hook must be {' or '.join(HookPhase)}, not {value!r}",
                    ("metadata", "hook")))
                continue
        if not runnable:
            continue
        gates = m.spec.get("gates")
        if "hook" not in meta:
            if gates is not None:
                errors.append(m.error("spec.gates does nothing without metadata.hook",
                                      ("spec", "gates"), warning=True))
            continue
        if not isinstance(gates, list) or not gates or not all(isinstance(g, str) for g in gates):
            errors.append(m.error("spec.gates must list what the hook gates, e.g. "
                                  "[Service/api]", ("spec", "gates")))
            continue
        keys, problems = resolve_gates(m, manifests)
        for i, message in problems:
            errors.append(m.error(message, ("spec", "gates", i)))
        for k in keys:
            if registry[k.kind].order <= kind.order:
                errors.append(m.error(
                    f"gate {k} cannot wait for a hook: a hook runs after {k.kind}s are "
                    "applied (gate what runs the new version: Service, ScheduledTask, ...)",
                    ("spec", "gates")))
    return errors


__all__ = ["DEFAULT_TIMEOUT", "GATED_ACTIONS", "HOOK_TAG", "MAX_NAME", "RESERVED", "Container",
           "Hook", "HookPlan", "Record", "Run", "Runnable", "awslogs", "check_hooks",
           "client_token", "digest", "hook_of", "observed", "parse_gate", "plan_hooks",
           "record_tag", "resolve_gates", "started_by", "task_id"]
