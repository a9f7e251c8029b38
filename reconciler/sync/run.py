"""One pass, the same for everyone: read AWS, plan, decide by policy, and (when asked) apply
what the policy allows. `reconciler diff` is `run(apply=False)`, `reconciler apply` is
`run(apply=True)` as a manual sync, the controller is `run(apply=True)` as an automated one,
and the demo uses the same function: no plan-then-apply flow exists twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from reconciler.core.kind import Context, Registry
from reconciler.core.load import Tree
from reconciler.core.manifest import ResourceKey
from reconciler.core.plan import Change, Plan, targeted, with_dependencies
from reconciler.core.policy import Trigger, Verdict, select
from reconciler.core.ports import AwsApi
from reconciler.core.vocab import Decision
from reconciler.kinds import REGISTRY
from reconciler.sync.apply import ApplyResult, Listener, apply_plan
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

    def held(self) -> list[Change]:
        return [c for c in self.plan.changes if (v := self.verdicts.get(c.key)) is not None
                and v.decision is Decision.HOLD]

    def selected(self) -> list[Change]:
        return [c for c in self.plan.changes if (v := self.verdicts.get(c.key)) is not None
                and v.decision is Decision.APPLY]


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
    if o.only is not None:
        manifests = with_dependencies(manifests, o.only, registry)
        prune = bool(o.prune)  # a targeted pass prunes only when asked
    plan = await make_plan(aws, manifests, tree.config, ctx, registry, prune=prune,
                           allow_mass_prune=o.allow_mass_prune, verify=o.verify, only=o.only,
                           everything=tree.manifests)
    if o.only is not None:
        plan.changes = targeted(plan.changes, o.only, registry)
    result = PassResult(tree, plan, ctx, select(plan, o.trigger, tree.config,
                                                retry_at=o.retry_at, now=o.now))
    if o.on_plan:
        o.on_plan(result)
    if o.apply:
        chosen = Plan(result.selected(), external=plan.external)
        result.applied = await apply_plan(aws, chosen, ctx, tree.config, registry,
                                          allow_replace=o.allow_replace, listener=o.listener,
                                          should_stop=o.should_stop)
    return result


__all__ = ["InvalidTree", "Options", "PassResult", "run"]
