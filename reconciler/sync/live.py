"""Reading AWS for a plan: the live twin of every manifest (each kind batched, the kinds of
one wave side by side), what other owners own, and what this controller owns that git no
longer has (orphans, and what a prune deletes), from the inventory. Then the pure planner
decides. Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Callable

from reconciler.core import ignore as ign
from reconciler.core.config import Config
from reconciler.core.kind import Context, Kind, Live, Registry, ordered
from reconciler.core.manifest import Manifest, ResourceKey
from reconciler.core.plan import Plan, desired_hash, plan_prune, plan_tree, prune_guard
from reconciler.core.ports import AwsApi, gather_limited
from reconciler.sync.inventory import Inventory

CLUSTER = "Cluster"
# A targeted pass of fewer resources reads each by its own describe; from this many on, the
# inventory's few pages (the whole estate, 100 a page) cost less than a call or two each.
TARGETED_INVENTORY_MIN = 50


def _by_kind(manifests: list[Manifest]) -> dict[str, list[Manifest]]:
    out: dict[str, list[Manifest]] = {}
    for m in manifests:
        out.setdefault(m.kind, []).append(m)
    return out


async def read_live(aws: AwsApi, manifests: list[Manifest], ctx: Context, registry: Registry
                    ) -> dict[ResourceKey, Live]:
    """Live state of every resource the manifests name: each kind batched, the kinds of one
    wave in parallel (a later wave may need what an earlier one found)."""
    by_kind = _by_kind(manifests)
    live: dict[ResourceKey, Live] = {}
    waves = {k: registry[k].wave(ms) for k, ms in by_kind.items()}
    for wave in sorted(set(waves.values())):
        kinds = [k for k in by_kind if waves[k] == wave]
        results = await gather_limited(
            *(registry[k].fetch(aws, by_kind[k], ctx, dict(live)) for k in kinds))
        for r in results:
            live.update(r)
    return live


async def read_owned(aws: AwsApi, owner: str, manifests: list[Manifest], registry: Registry
                     ) -> list[Live]:
    """Every live resource carrying this controller's ownership tag, of every kind (clusters
    first: the kinds that live in clusters are listed per cluster)."""
    clusters_in_git = {m.cluster for m in manifests if m.cluster}
    owned_clusters = await registry[CLUSTER].list_owned(aws, owner, []) if CLUSTER in registry \
        else []
    clusters = sorted(clusters_in_git | {lv.key.name for lv in owned_clusters})
    others = await gather_limited(
        *(k.list_owned(aws, owner, clusters) for k in ordered(registry) if k.kind != CLUSTER))
    return [*owned_clusters, *(lv for chunk in others for lv in chunk)]


async def read_external_owners(
    aws: AwsApi, manifests: list[Manifest], live: dict[ResourceKey, Live], registry: Registry,
    needs_live: bool | None = None, everything: list[Manifest] | None = None,
) -> dict[ResourceKey, list[ign.IgnoreRule]]:
    """Fields that something other than git owns (autoscaled counts), per manifest, judged
    against the whole tree (`everything`). With `needs_live` given, only the kinds that do
    (or do not) need the live objects."""
    by_kind = {k: ms for k, ms in _by_kind(manifests).items()
               if needs_live is None or registry[k].external_needs_live == needs_live}
    whole = everything if everything is not None else manifests
    results = await gather_limited(
        *(registry[k].external_owners(aws, ms, whole, live) for k, ms in by_kind.items()))
    out: dict[ResourceKey, list[ign.IgnoreRule]] = {}
    for r in results:
        for key, rules in r.items():
            out.setdefault(key, []).extend(rules)
    return out


async def read_orphans(aws: AwsApi, inventory: Inventory, live: dict[ResourceKey, Live],
                       ctx: Context, registry: Registry) -> list[Live]:
    """Owned resources that are not the live twin of any manifest, every kind side by side."""
    async def of(kind: Kind) -> list[Live]:
        if kind.inventory_type is None:
            return []
        owned = await inventory.arns(kind.inventory_type)
        lives = [lv for lv in live.values() if lv.key.kind == kind.kind]
        return await kind.orphans(aws, owned, lives, ctx) if owned else []

    found = await gather_limited(*(of(k) for k in ordered(registry)))
    return [lv for chunk in found for lv in chunk]


def expectation(config: Config, registry: Registry, ctx: Context
                ) -> Callable[[Manifest], str | None]:
    """What git asks of a manifest, as the desired-state hash a write tags it with; None
    where a read cannot be skipped (fields another owner or an ignore rule leaves alone)."""
    def expect(m: Manifest) -> str | None:
        if config.ignore_rules(m):
            return None
        kind = registry[m.kind]
        return desired_hash(kind, kind.desired(m, ctx), [])
    return expect


async def make_plan(
    aws: AwsApi,
    manifests: list[Manifest],
    config: Config,
    ctx: Context,
    registry: Registry,
    *,
    prune: bool = False,
    allow_mass_prune: bool = False,
    verify: bool = False,
    only: set[ResourceKey] | None = None,
    everything: list[Manifest] | None = None,
) -> Plan:
    """Read what the plan needs, side by side where nothing depends on it, then plan. With
    `verify`, nothing is taken from the inventory's tags on trust: every revision is read.
    With `only`, `manifests` is a targeted subset of `everything` (the whole tree): no
    orphans are looked for, a prune (only when asked) is judged against the whole tree, so
    what is outside the selection is not taken for deleted, and the inventory is read only
    for many resources: its pages list the whole estate, while a few (an event named them)
    cost less read each by its own describe."""
    everything = everything if everything is not None else manifests
    targeted = only is not None
    async def account() -> None:
        ctx.account, ctx.region, ctx.partition = (await aws.account_id(), aws.region,
                                                  aws.partition)

    few = targeted and len(manifests) < TARGETED_INVENTORY_MIN
    inventory = None if few else Inventory(
        aws, config.controller, [k.inventory_type for k in registry.values() if k.inventory_type])
    ctx.owned = inventory
    ctx.expect = None if verify or few else expectation(config, registry, ctx)
    try:
        live, external, _ = await gather_limited(  # what needs no live state runs alongside
            read_live(aws, manifests, ctx, registry),
            read_external_owners(aws, manifests, {}, registry, False, everything),
            account())
        for key, rules in (await read_external_owners(aws, manifests, live, registry,
                                                      True, everything)).items():
            external.setdefault(key, []).extend(rules)
        plan = Plan(plan_tree(manifests, live, config, ctx, registry, external),
                    external=external)
        orphans = [] if inventory is None or targeted else await read_orphans(
            aws, inventory, live, ctx, registry)
        complete = inventory is not None and inventory.complete and not targeted
    finally:
        if inventory is not None:
            await inventory.close()
    if not prune:
        plan.orphaned = orphans
        return plan
    if complete:
        owned = [*(lv for lv in live.values() if lv.owner() == config.controller), *orphans]
    else:
        owned = await read_owned(aws, config.controller, everything, registry)
    deletes = plan_prune(owned, {m.key for m in everything}, registry)
    reasons = prune_guard(deletes, owned, config.prune_max_share, registry)
    if reasons and not allow_mass_prune:
        plan.refused = [
            *reasons,
            "nothing will be deleted; re-run with --allow-mass-prune if this is intended",
        ]
        plan.refused_deletes = deletes
    else:
        plan.changes.extend(deletes)
    return plan


__all__ = ["make_plan", "read_external_owners", "read_live", "read_owned"]
