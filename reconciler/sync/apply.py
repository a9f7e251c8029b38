"""Carrying out a plan: creates and updates in dependency order, then deletes in reverse.

A resource that fails does not stop the others; a resource whose dependency failed is skipped;
a change a hook gates waits for it (a `Gate`: sync.hooks runs the hooks, which are changes of
the plan like any other, in their kind's phase).
Each change is re-planned just before it runs, so references resolve to what was registered a
moment before (a new task definition revision) and nothing stale is sent. Every write tags
the resource with the revision and the hash of the desired state it wrote, which is how any
later pass, on any replica, tells drift from a deploy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import structlog

from reconciler.core.config import Config
from reconciler.core.ignore import IgnoreRule
from reconciler.core.kind import Changed, Context, Kind, Registry, is_pending
from reconciler.core.manifest import ResourceKey
from reconciler.core.mask import mask_text
from reconciler.core.normalize import Doc
from reconciler.core.ownership import (
    BOOKKEEPING_TAGS,
    DESIRED_HASH_TAG,
    REVISION_TAG,
    name_tags,
)
from reconciler.core.plan import Change, Plan, ignore_rules, order_key, plan_resource, resolve_refs
from reconciler.core.policy import Verdict
from reconciler.core.ports import AwsApi, AwsError, Fenced
from reconciler.core.vocab import Action, Result

log = structlog.get_logger(__name__)


@dataclass
class Outcome:
    change: Change
    result: Result
    error: str = ""
    arn: str = ""


@dataclass
class ApplyResult:
    outcomes: list[Outcome] = field(default_factory=list)
    # changes not attempted because of a hook (still running, failed), and why: policy
    # verdicts decided during the apply, not failures
    held: dict[ResourceKey, Verdict] = field(default_factory=dict)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.result.ok]

    @property
    def ok(self) -> bool:
        return not self.failed

    def results(self) -> dict[ResourceKey, tuple[Result, str]]:
        """What happened to each resource a write reached (fenced ones were never sent)."""
        return {o.change.key: (o.result, o.error) for o in self.outcomes
                if o.result is not Result.FENCED}


Listener = Callable[[Outcome], None]


class Gate(Protocol):
    """What runs the hooks of an apply: when each runs, which changes wait, the runs."""

    def phase(self, change: Change) -> tuple[int, int] | None:
        """The phase a hook runs in, when not its kind's (PostSync: after every update)."""
        ...

    def hold(self, change: Change) -> Verdict | None:
        """Why a change a hook gates may not go now (None: it may)."""
        ...

    async def run(self, change: Change) -> Outcome | Verdict:
        """Run (or follow) a hook: what it did, or why it is left for the next pass."""
        ...

    def seen(self, outcome: Outcome) -> None:
        """Every outcome of the apply, as it happens (PostSync hooks follow them)."""
        ...


def _bookkeeping(change: Change, ctx: Context, kind: Kind, adopting: bool) -> dict[str, str]:
    tags = ctx.ownership_tags() if adopting else (
        {REVISION_TAG: ctx.revision} if ctx.revision else {})
    if adopting and change.manifest is not None and kind.named_by_tags:
        tags.update(name_tags(change.manifest))
    if change.desired_hash:
        tags[DESIRED_HASH_TAG] = change.desired_hash
    return tags


def _without_tags(kind: Kind, desired: Doc, tags: Mapping[str, str]) -> Doc:
    kept = {k: v for k, v in kind.tags.read(desired.get(kind.tags.field)).items()
            if k not in tags}
    return {**desired, kind.tags.field: kind.tags.write(kept)}


async def _run_one(
    aws: AwsApi, change: Change, ctx: Context, config: Config, registry: Registry,
    allow_replace: bool, external: dict[ResourceKey, list[IgnoreRule]],
) -> Outcome:
    kind = registry[change.key.kind]
    if change.action is Action.DELETE:
        assert change.live is not None
        await kind.delete(aws, change.live)
        return Outcome(change, Result.DELETED, arn=change.live.arn)
    assert change.manifest is not None
    rules = ignore_rules(change.manifest, config, external)
    fresh = plan_resource(kind, change.manifest, change.live, ctx, rules)
    resolve_refs(fresh, ctx, kind)
    if fresh.note:
        return Outcome(fresh, Result.SKIPPED, fresh.note)
    if fresh.action is Action.NOOP:
        if fresh.adopt and fresh.live:
            await kind.add_tags(aws, fresh.live.arn, _bookkeeping(fresh, ctx, kind, True))
            return Outcome(fresh, Result.ADOPTED, arn=fresh.live.arn)
        return Outcome(fresh, Result.UNCHANGED, arn=fresh.live.arn if fresh.live else "")
    if is_pending(fresh.desired):
        return Outcome(fresh, Result.SKIPPED, "a resource it references was not applied")
    # what a write sends carries the hash of the desired state it makes true
    desired = kind.with_tags(fresh.desired or {}, {DESIRED_HASH_TAG: fresh.desired_hash})
    if fresh.action is Action.CREATE:
        if kind.atomic_create:
            arn = await kind.create(aws, fresh.key, desired, ctx)
        else:
            # "written at this revision, in this state" is recorded once the create's last
            # call is made: a create cut short (fenced, killed, failed) is then a deploy the
            # next pass finishes, not drift it holds back
            book = {k: v for k, v in kind.tags.read(desired.get(kind.tags.field)).items()
                    if k in BOOKKEEPING_TAGS}
            arn = await kind.create(aws, fresh.key, _without_tags(kind, desired, book), ctx)
            if book:
                await kind.add_tags(aws, arn, book)
        ctx.refs[fresh.key] = arn
        return Outcome(fresh, Result.CREATED, arn=arn)
    assert fresh.live is not None
    if fresh.action is Action.REPLACE:
        if not allow_replace:
            fields = ", ".join(sorted(kind.replace_fields(
                {str(f.path[0]) for f in fresh.fields if f.path})))
            return Outcome(fresh, Result.SKIPPED,
                           f"{fields} cannot be changed in place; re-run with --allow-replace")
        arn = await kind.replace(aws, fresh.key, desired, fresh.live, ctx)
        ctx.refs[fresh.key] = arn
        return Outcome(fresh, Result.REPLACED, arn=arn)
    changed = Changed([f.path for f in fresh.fields])
    arn = await kind.update(aws, fresh.key, desired, fresh.live, changed, ctx)
    ctx.refs[fresh.key] = arn
    await kind.add_tags(aws, arn, _bookkeeping(fresh, ctx, kind, fresh.adopt))
    # fields changed: configured, even where the same write took ownership (adoption alone,
    # tags and nothing else, is the NOOP path above)
    return Outcome(fresh, Result.CONFIGURED, arn=arn)


async def apply_plan(
    aws: AwsApi,
    plan: Plan,
    ctx: Context,
    config: Config,
    registry: Registry,
    *,
    allow_replace: bool = False,
    listener: Listener | None = None,
    should_stop: Callable[[], bool] | None = None,
    gate: Gate | None = None,
) -> ApplyResult:
    """Run every pending change: kinds in dependency order, the resources of one kind
    concurrently (bounded by the AWS adapter), deletes last in reverse order; hooks through
    `gate`."""
    result = ApplyResult()
    not_applied: set[ResourceKey] = set()  # failed or skipped: what references them waits
    # an in-sync resource is only re-planned when it has something to say (adopt, owner)
    work = [c for c in plan.changes if c.action is not Action.NOOP or c.adopt or c.note]
    phases: dict[tuple[int, int], list[Change]] = {}
    for c in work:
        phase = gate.phase(c) if gate is not None else None
        phases.setdefault(phase or order_key(c, registry)[:2], []).append(c)

    async def attempt(change: Change) -> Outcome | Verdict:
        if gate is not None:
            held = gate.hold(change)
            if held is not None:
                return held
            if change.hook is not None:
                return await gate.run(change)
        return await _run_one(aws, change, ctx, config, registry, allow_replace, plan.external)

    async def run(change: Change) -> Outcome | None:
        bound = log.bind(kind=change.key.kind, name=change.key.name, cluster=change.key.cluster,
                         revision=ctx.revision)
        missing = sorted(str(r.key) for r in (registry[change.key.kind].references(
            change.manifest) if change.manifest is not None else []) if r.key in not_applied)
        if missing:
            bound.info("apply.skipped", waiting_for=missing)
            return Outcome(change, Result.SKIPPED,
                           f"not applied because {', '.join(missing)} was not applied")
        try:
            done = await attempt(change)
            if isinstance(done, Verdict):
                result.held[change.key] = done
                bound.info("apply.held", reason=done.reason)
                if change.action in (Action.CREATE, Action.REPLACE):
                    not_applied.add(change.key)  # what needs it to exist waits too
                return None
            outcome = done
        except Fenced as exc:
            outcome = Outcome(change, Result.FENCED, str(exc))
        except AwsError as exc:
            outcome = Outcome(change, Result.FAILED, mask_text(str(exc)))
        except Exception as exc:  # one resource's failure must not stop the others
            outcome = Outcome(change, Result.FAILED, mask_text(f"{type(exc).__name__}: {exc}"))
        # at info: the CLI prints each outcome itself, the controller logs at info
        if outcome.result is Result.FENCED:
            bound.info("apply.fenced", error=outcome.error)
        elif not outcome.result.ok:
            bound.info("apply.failed", result=str(outcome.result), error=outcome.error)
        elif outcome.result is not Result.UNCHANGED:
            bound.info("apply.done", result=str(outcome.result), arn=outcome.arn)
        if gate is not None:
            gate.seen(outcome)
        return outcome

    for phase in sorted(phases):
        if should_stop and should_stop():  # SIGTERM: what is in flight finishes, no more starts
            break
        changes = sorted(phases[phase], key=lambda c: str(c.key))
        for outcome in await asyncio.gather(*(run(c) for c in changes)):
            if outcome is None:
                continue
            if not outcome.result.ok:
                not_applied.add(outcome.change.key)
            if outcome.result is Result.UNCHANGED:
                continue
            result.outcomes.append(outcome)
            if listener:
                listener(outcome)
    return result


__all__ = ["ApplyResult", "Gate", "Listener", "Outcome", "apply_plan"]
