"""Carrying out a plan: creates and updates in dependency order, then deletes in reverse.

A resource that fails does not stop the others; a resource whose dependency failed is skipped.
Each change is re-planned just before it runs, so references resolve to what was registered a
moment before (a new task definition revision) and nothing stale is sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from reconciler.aws.client import Aws, AwsError
from reconciler.core.config import Config
from reconciler.core.ignore import IgnoreRule
from reconciler.core.manifest import ResourceKey
from reconciler.core.mask import mask_text
from reconciler.core.normalize import REVISION_TAG
from reconciler.core.plan import Change, Plan, ignore_rules, plan_resource, resolve_refs
from reconciler.kinds import Context, ordered
from reconciler.kinds.base import is_pending, name_tags

log = structlog.get_logger(__name__)


@dataclass
class Outcome:
    change: Change
    result: str  # created | configured | replaced | deleted | skipped | failed
    error: str = ""
    arn: str = ""


@dataclass
class ApplyResult:
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.result in ("failed", "skipped")]

    @property
    def ok(self) -> bool:
        return not self.failed


Listener = Callable[[Outcome], None]


async def _run_one(
    aws: Aws, change: Change, ctx: Context, config: Config, allow_replace: bool,
    external: dict[ResourceKey, list[IgnoreRule]],
) -> Outcome:
    kind = change.kind
    if change.action == "delete":
        assert change.live is not None
        await kind.delete(aws, change.live)
        return Outcome(change, "deleted", arn=change.live.arn)
    assert change.manifest is not None
    rules = ignore_rules(change.manifest, config, external)
    fresh = plan_resource(kind, change.manifest, change.live, ctx, rules)
    resolve_refs(fresh, ctx)
    if fresh.note:
        return Outcome(fresh, "skipped", fresh.note)
    if fresh.action == "noop":
        if fresh.adopt and fresh.live:
            await kind.add_tags(aws, fresh.live.arn, _owned_tags(fresh, ctx))
            return Outcome(fresh, "adopted", arn=fresh.live.arn)
        return Outcome(fresh, "unchanged", arn=fresh.live.arn if fresh.live else "")
    desired = fresh.desired or {}
    if is_pending(desired):
        return Outcome(fresh, "skipped", "a resource it references was not applied")
    if fresh.action == "create":
        arn = await kind.create(aws, fresh.key, desired, ctx)
        return Outcome(fresh, "created", arn=arn)
    assert fresh.live is not None
    if fresh.action == "replace":
        if not allow_replace:
            fields = ", ".join(sorted({str(f.path[0]) for f in fresh.fields
                                       if str(f.path[0]) in kind.replace_fields}))
            return Outcome(fresh, "skipped",
                           f"{fields} cannot be changed in place; re-run with --allow-replace")
        arn = await kind.replace(aws, fresh.key, desired, fresh.live, ctx)
        return Outcome(fresh, "replaced", arn=arn)
    changed = {str(f.path[0]) for f in fresh.fields if f.path}
    arn = await kind.update(aws, fresh.key, desired, fresh.live, changed, ctx)
    tags = _owned_tags(fresh, ctx) if fresh.adopt else (
        {REVISION_TAG: ctx.revision} if ctx.revision else {})
    if tags:
        await kind.add_tags(aws, arn, tags)
    return Outcome(fresh, "adopted" if fresh.adopt else "configured", arn=arn)


def _owned_tags(change: Change, ctx: Context) -> dict[str, str]:
    tags = ctx.ownership_tags()
    if change.manifest is not None and change.kind.named_by_tags:
        tags.update(name_tags(change.manifest))
    return tags


async def apply_plan(
    aws: Aws,
    plan: Plan,
    ctx: Context,
    config: Config,
    *,
    allow_replace: bool = False,
    listener: Listener | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ApplyResult:
    """Run every pending change: kinds in dependency order, the resources of one kind
    concurrently (bounded by the AWS adapter), deletes last in reverse order."""
    result = ApplyResult()
    rank = {k.kind: k.order for k in ordered()}
    # an in-sync resource is only re-planned when it has something to say (adopt, owner)
    work = [c for c in plan.changes
            if c.action != "delete" and (c.action != "noop" or c.adopt or c.note)]
    deletes = [c for c in plan.changes if c.action == "delete"]
    phases: dict[tuple[int, int], list[Change]] = {}
    for c in work:
        phases.setdefault((0, rank[c.key.kind]), []).append(c)
    for c in deletes:
        phases.setdefault((1, -rank[c.key.kind]), []).append(c)

    async def run(change: Change) -> Outcome:
        bound = log.bind(kind=change.key.kind, name=change.key.name, cluster=change.key.cluster,
                         revision=ctx.revision)
        try:
            outcome = await _run_one(aws, change, ctx, config, allow_replace, plan.external)
        except AwsError as exc:
            outcome = Outcome(change, "failed", mask_text(str(exc)))
        except Exception as exc:  # one resource's failure must not stop the others
            outcome = Outcome(change, "failed", mask_text(f"{type(exc).__name__}: {exc}"))
        if outcome.result in ("failed", "skipped"):
            bound.error("apply.failed", result=outcome.result, error=outcome.error)
        elif outcome.result != "unchanged":
            bound.info("apply.done", result=outcome.result, arn=outcome.arn)
        return outcome

    for phase in sorted(phases):
        if should_stop and should_stop():  # SIGTERM: what is in flight finishes, no more starts
            break
        changes = sorted(phases[phase], key=lambda c: str(c.key))
        for outcome in await asyncio.gather(*(run(c) for c in changes)):
            if outcome.result == "unchanged":
                continue
            result.outcomes.append(outcome)
            if listener:
                listener(outcome)
    return result


__all__ = ["ApplyResult", "Outcome", "apply_plan"]
