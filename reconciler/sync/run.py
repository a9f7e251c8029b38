"""One pass, the same for everyone: read AWS, plan, decide by policy, and (when asked) apply
what the policy allows. `reconciler diff` is `run(apply=False)`, `reconciler apply` is
`run(apply=True)` as a manual sync, the controller is `run(apply=True)` as an automated one,
and the demo uses the same function: no plan-then-apply flow exists twice. Hooks are part of
it: planned with the rest (`core.hooks.plan_hooks`), judged by the same policy
(`hold_for_hooks`), run in the apply (`sync.hooks`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from reconciler.core.hooks import plan_hooks, resolve_gates
from reconciler.core.kind import Context, Registry
from reconciler.core.load import Tree
from reconciler.core.manifest import Manifest, ResourceKey
from reconciler.core.plan import Change, Plan, targeted, with_dependencies
from reconciler.core.policy import Trigger, Verdict, hold_for_hooks, select
from reconciler.core.ports import AwsApi
from reconciler.core.vocab import Decision, Hold
from reconciler.kinds import REGISTRY
from reconciler.sync.apply import ApplyResult, Listener, apply_plan
from reconciler.sync.hooks import POLL_SECONDS, HookOptions, HookRunner
from reconciler.sync.live import make_plan


class InvalidTree(Exception):
    """The tree has errors; nothing from it may be applied."""

    def __init__(self, tree: Tree) -> None:
        super().__init__(f"{len(tree.errors)} error(s) in {tree.root}")
        self.tree = tree


@dataclass
class PassResult:
    tree: Tree
    plan: Plan
    ctx: Context
    verdicts: dict[ResourceKey, Verdict] = field(default_factory=dict)
    applied: ApplyResult | None = None
    # drifted resources whose last write AWS itself rolled back, and why (held, not rewritten)
    reverted: dict[ResourceKey, str] = field(default_factory=dict)

    def held(self) -> list[Change]:
        return [c for c in self.plan.changes if (v := self.verdicts.get(c.key)) is not None
                and v.decision is Decision.HOLD]

    def selected(self) -> list[Change]:
        return [c for c in self.plan.changes if (v := self.verdicts.get(c.key)) is not None
                and v.decision is Decision.APPLY]

    def running_hooks(self) -> list[ResourceKey]:
        """Hooks the pass left running: the next pass (soon) follows them."""
        return sorted((k for k, v in self.verdicts.items() if v.hold is Hold.HOOK_RUNNING),
                      key=str)


@dataclass
class Options:
    """How a pass runs. The defaults are a person's `reconciler diff`."""

    apply: bool = False
    trigger: Trigger = Trigger.MANUAL
    revision: str | None = None
    prune: bool | None = None  # None: `prune` in reconciler.yaml
    allow_mass_prune: bool = False
    allow_replace: bool = False
    verify: bool = False  # read every revision instead of trusting its desired-hash tag
    # a targeted pass: only these resources (and what they need: core.plan.targeted) are
    # read and planned; nothing is pruned unless asked, and no orphan is looked for
    only: set[ResourceKey] | None = None
    retry_at: Mapping[ResourceKey, float] | None = None
    now: float = 0.0
    listener: Listener | None = None
    should_stop: Callable[[], bool] | None = None
    on_plan: Callable[[PassResult], None] | None = None  # planned, nothing applied yet
    # hooks: how long a pass follows a running one (None: up to its timeoutSeconds), how
    # often it looks, whether hooks that failed for this revision run again
    hook_wait: float | None = None
    hook_poll: float = POLL_SECONDS
    rerun_hooks: bool = False
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep
    clock: Callable[[], float] = time.time
    on_hook: Callable[[ResourceKey, str], None] | None = None  # a hook's progress, in words


def with_hooks(manifests: list[Manifest], keys: set[ResourceKey]) -> set[ResourceKey]:
    """`keys` with the hooks that gate any of them and what those hooks gate (a targeted
    pass of a service must not pass its PreSync hook by)."""
    out = set(keys)
    for m in manifests:
        gates = set(resolve_gates(m, manifests)[0])
        if gates and (m.key in keys or gates & keys):
            out |= gates | {m.key}
    return out


def reverted_by_aws(plan: Plan, registry: Registry) -> dict[ResourceKey, str]:
    """Pending drift on resources whose kind says AWS undid the last write (a rollback):
    git asks again for what AWS just rolled back."""
    out: dict[ResourceKey, str] = {}
    for c in plan.pending:
        if c.drift and c.live is not None:
            why = registry[c.key.kind].reverted(c.live)
            if why:
                out[c.key] = why
    return out


async def run(tree: Tree, aws: AwsApi, options: Options | None = None,
              registry: Registry = REGISTRY) -> PassResult:
    """Plan the tree against AWS, decide, and apply what the policy allows when asked.
    Raises InvalidTree rather than plan from a broken tree."""
    o = options or Options()
    if not tree.ok:
        raise InvalidTree(tree)
    ctx = Context(owner=tree.config.controller, revision=o.revision)
    manifests = tree.manifests
    prune = tree.config.prune if o.prune is None else o.prune
    only = o.only
    if only is not None:
        only = with_hooks(tree.manifests, only)
        manifests = with_dependencies(manifests, only, registry)
        prune = bool(o.prune)  # a targeted pass prunes only when asked
    plan = await make_plan(aws, manifests, tree.config, ctx, registry, prune=prune,
                           allow_mass_prune=o.allow_mass_prune, verify=o.verify, only=only,
                           everything=tree.manifests)
    if only is not None:
        plan.changes = targeted(plan.changes, only, registry)
    plan_hooks(plan.changes, tree.manifests, registry)
    reverted = reverted_by_aws(plan, registry)
    verdicts = select(plan, o.trigger, tree.config, retry_at=o.retry_at, now=o.now,
                      reverted=reverted)
    hold_for_hooks(plan, verdicts, rerun=o.rerun_hooks)
    result = PassResult(tree, plan, ctx, verdicts, reverted=reverted)
    if o.on_plan:
        o.on_plan(result)
    if o.apply:
        chosen = Plan(result.selected(), external=plan.external)
        runner = HookRunner(aws, ctx, registry, HookOptions(
            wait=o.hook_wait, poll=o.hook_poll, rerun=o.rerun_hooks, sleep=o.sleep,
            clock=o.clock, progress=o.on_hook)) if plan.runs else None
        result.applied = await apply_plan(aws, chosen, ctx, tree.config, registry,
                                          allow_replace=o.allow_replace, listener=o.listener,
                                          should_stop=o.should_stop, gate=runner)
        result.verdicts.update(result.applied.held)
    return result


__all__ = ["InvalidTree", "Options", "PassResult", "reverted_by_aws", "run", "with_hooks"]
