"""One reconcile pass: load and validate the tree, read AWS, plan, and (optionally) apply.

The CLI and the controller both run this, so `reconciler diff` shows exactly what the
controller would do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reconciler.aws.client import Aws
from reconciler.core.plan import Plan, make_plan
from reconciler.core.validate import Tree, load_tree
from reconciler.kinds import Context
from reconciler.sync.apply import ApplyResult, Listener, apply_plan


class InvalidTree(Exception):
    """The tree has errors; nothing from it may be applied."""

    def __init__(self, tree: Tree) -> None:
        super().__init__(f"{len(tree.errors)} error(s) in {tree.root}")
        self.tree = tree


@dataclass
class Pass:
    tree: Tree
    plan: Plan
    ctx: Context
    applied: ApplyResult | None = None
    api_calls: dict[str, int] = field(default_factory=dict)


async def plan_path(
    aws: Aws,
    root: Path,
    *,
    revision: str | None = None,
    prune: bool | None = None,
    allow_mass_prune: bool = False,
    tree: Tree | None = None,
) -> Pass:
    """Validate everything first; raise InvalidTree rather than plan from a broken tree."""
    tree = tree or load_tree(root)
    if not tree.ok:
        raise InvalidTree(tree)
    ctx = Context(owner=tree.config.controller, revision=revision)
    do_prune = tree.config.prune if prune is None else prune
    plan = await make_plan(aws, tree.manifests, tree.config, ctx, prune=do_prune,
                           allow_mass_prune=allow_mass_prune)
    return Pass(tree, plan, ctx)


async def apply_path(
    aws: Aws,
    root: Path,
    *,
    revision: str | None = None,
    prune: bool | None = None,
    allow_mass_prune: bool = False,
    allow_replace: bool = False,
    listener: Listener | None = None,
    tree: Tree | None = None,
) -> Pass:
    result = await plan_path(aws, root, revision=revision, prune=prune,
                             allow_mass_prune=allow_mass_prune, tree=tree)
    return await apply_planned(aws, result, allow_replace=allow_replace, listener=listener)


async def apply_planned(
    aws: Aws, planned: Pass, *, allow_replace: bool = False, listener: Listener | None = None
) -> Pass:
    """Apply a plan made by `plan_path`; a refused plan applies nothing."""
    if planned.plan.refused:
        planned.applied = ApplyResult()
        return planned
    planned.applied = await apply_plan(aws, planned.plan, planned.ctx, planned.tree.config,
                                       allow_replace=allow_replace, listener=listener)
    planned.api_calls = dict(aws.calls)
    return planned
