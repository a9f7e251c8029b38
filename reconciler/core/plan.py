"""Planning: pair each desired resource with its live twin and decide what to do.

`plan_resource` and `plan_prune` are pure. `read_live` and `make_plan` read AWS through the
kinds and hand the data to the pure functions; nothing here writes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from reconciler.aws.client import Aws, gather_limited
from reconciler.core import ignore as ign
from reconciler.core.config import Config
from reconciler.core.diff import ABSENT, FieldChange, compare, top_fields
from reconciler.core.manifest import Manifest, ResourceKey
from reconciler.core.normalize import (
    ServerChosen,
    clone,
    drop_server_chosen,
    prune_empty,
)
from reconciler.kinds import REGISTRY, Context, Kind, Live, ordered

ACTIONS = ("create", "update", "replace", "delete")


@dataclass(frozen=True)
class IgnoredField:
    """A field that differs but is not this manifest's to change, and why."""

    path: tuple[Any, ...]
    reason: str


@dataclass
class Change:
    """What the plan does to one resource. action 'noop' means in sync."""

    key: ResourceKey
    action: str
    fields: list[FieldChange] = field(default_factory=list)
    ignored: list[IgnoredField] = field(default_factory=list)
    server_chosen: list[ServerChosen] = field(default_factory=list)
    manifest: Manifest | None = None
    live: Live | None = None
    desired: dict[str, Any] | None = None
    adopt: bool = False
    note: str = ""

    @property
    def kind(self) -> Kind:
        return REGISTRY[self.key.kind]


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    external: dict[ResourceKey, list[ign.IgnoreRule]] = field(default_factory=dict)

    @property
    def adoptions(self) -> list[Change]:
        """Live resources matching a manifest that no controller owns yet: apply tags them."""
        return [c for c in self.changes if c.adopt]

    @property
    def ignored(self) -> list[Change]:
        """Resources with ignored fields that differ from git, in sync or not."""
        return [c for c in self.changes if c.ignored]

    @property
    def pending(self) -> list[Change]:
        return [c for c in self.changes if c.action != "noop"]

    def counts(self) -> dict[str, int]:
        c = Counter(ch.action for ch in self.pending)
        return {a: c.get(a, 0) for a in ACTIONS}


def plan_resource(
    kind: Kind,
    m: Manifest,
    live: Live | None,
    ctx: Context,
    rules: list[ign.IgnoreRule],
) -> Change:
    """Desired (manifest) against live: the change, with ignore rules and server-chosen fields
    taken out of the comparison. Pure."""
    desired = kind.desired(m, ctx)
    if live is None:
        norm = kind.normalize(desired)
        fields = [FieldChange((k,), ABSENT, v) for k, v in sorted(norm.items())]
        return Change(m.key, "create", fields, manifest=m, desired=desired)

    patterns = [(r, r.segments) for r in rules]
    request = clone(desired)
    for _r, seg in patterns:
        ign.overlay(request, live.spec, seg)

    want = kind.normalize(desired)
    have = kind.normalize_live(live)
    used = drop_server_chosen(want, have, kind.server_chosen)
    ignored: list[IgnoredField] = []
    for rule, seg in patterns:
        mine, theirs = ign.collect(want, seg), ign.collect(have, seg)
        for path in sorted(set(mine) | set(theirs), key=str):
            if mine.get(path, ABSENT) != theirs.get(path, ABSENT):
                ignored.append(IgnoredField(path, rule.reason))
        ign.remove(want, seg)
        ign.remove(have, seg)
    want, have = prune_empty(want), prune_empty(have)
    fields = [] if want == have else compare(want, have)  # deepdiff only where it differs
    owner = live.owner()
    adopt = owner is None
    note = f"owned by another controller ({owner}): left alone" if owner not in (
        None, ctx.owner) else ""
    if not fields:
        return Change(m.key, "noop", [], ignored, used, m, live, request, adopt, note)
    action = kind.classify(top_fields(fields))
    return Change(m.key, action, fields, ignored, used, m, live, request, adopt, note)


def plan_prune(owned: list[Live], desired: set[ResourceKey]) -> list[Change]:
    """Owned live resources that git no longer has: deletes, in reverse creation order."""
    gone = [lv for lv in owned if lv.key not in desired]
    gone.sort(key=lambda lv: (-REGISTRY[lv.key.kind].order, str(lv.key)))
    return [
        Change(lv.key, "delete", [FieldChange((), "exists", ABSENT)], live=lv) for lv in gone
    ]


def prune_guard(deletes: list[Change], owned: list[Live], max_share: float) -> list[str]:
    """Reasons to refuse a prune: too large a share of what is owned, or a whole kind."""
    if not deletes:
        return []
    reasons = []
    share = len(deletes) / max(len(owned), 1)
    if share > max_share:
        reasons.append(
            f"prune would delete {len(deletes)} of {len(owned)} owned resources "
            f"({share:.0%} > the {max_share:.0%} limit)"
        )
    owned_by_kind = Counter(lv.key.kind for lv in owned)
    deleted_by_kind = Counter(c.key.kind for c in deletes)
    for kind, n in sorted(deleted_by_kind.items()):
        # one manifest of a kind that has only one is an ordinary deletion, except a cluster
        if n == owned_by_kind[kind] and (n > 1 or kind == "Cluster"):
            reasons.append(f"prune would delete every owned {kind} ({n})")
    return reasons


async def read_live(
    aws: Aws, manifests: list[Manifest], ctx: Context
) -> dict[ResourceKey, Live]:
    """Live state of every resource the manifests name: each kind batched, the kinds of one
    wave in parallel (a later wave may need what an earlier one found)."""
    by_kind: dict[str, list[Manifest]] = {}
    for m in manifests:
        by_kind.setdefault(m.kind, []).append(m)
    live: dict[ResourceKey, Live] = {}
    waves = {k: REGISTRY[k].wave(ms) for k, ms in by_kind.items()}
    for wave in sorted(set(waves.values())):
        kinds = [k for k in by_kind if waves[k] == wave]
        results = await gather_limited(
            *(REGISTRY[k].fetch(aws, by_kind[k], ctx, dict(live)) for k in kinds)
        )
        for r in results:
            live.update(r)
    return live


async def read_owned(aws: Aws, owner: str, manifests: list[Manifest]) -> list[Live]:
    """Every live resource carrying this controller's ownership tag, of every kind."""
    clusters_in_git = {m.cluster for m in manifests if m.cluster}
    owned_clusters = await REGISTRY["Cluster"].list_owned(aws, owner, [])
    clusters = sorted(clusters_in_git | {lv.key.name for lv in owned_clusters})
    others = await gather_limited(
        *(k.list_owned(aws, owner, clusters) for k in ordered() if k.kind != "Cluster")
    )
    return [*owned_clusters, *(lv for chunk in others for lv in chunk)]


def resolve_refs(change: Change, ctx: Context) -> None:
    """After a TaskDefinition is planned, later manifests referencing it resolve to its ARN."""
    if change.key.kind == "TaskDefinition" and change.action == "noop" and change.live:
        ctx.refs.task_definitions[change.key.name] = change.live.arn
    if change.key.kind == "SpotFleet" and change.action in ("noop", "update") and change.live:
        ctx.refs.spot_fleets[change.key.name] = change.live.arn


async def read_external_owners(
    aws: Aws, manifests: list[Manifest], live: dict[ResourceKey, Live],
    needs_live: bool | None = None,
) -> dict[ResourceKey, list[ign.IgnoreRule]]:
    """Fields that something other than git owns (autoscaled counts), per manifest. With
    `needs_live` given, only the kinds that do (or do not) need the live objects."""
    by_kind: dict[str, list[Manifest]] = {}
    for m in manifests:
        if needs_live is None or REGISTRY[m.kind].external_needs_live == needs_live:
            by_kind.setdefault(m.kind, []).append(m)
    results = await gather_limited(
        *(REGISTRY[k].external_owners(aws, ms, manifests, live) for k, ms in by_kind.items())
    )
    out: dict[ResourceKey, list[ign.IgnoreRule]] = {}
    for r in results:
        for key, rules in r.items():
            out.setdefault(key, []).extend(rules)
    return out


def ignore_rules(
    m: Manifest, config: Config, external: dict[ResourceKey, list[ign.IgnoreRule]]
) -> list[ign.IgnoreRule]:
    """Everything this manifest does not own: other owners first, then what users listed."""
    return [*external.get(m.key, []), *config.ignore_rules(m)]


def plan_tree(
    manifests: list[Manifest],
    live: dict[ResourceKey, Live],
    config: Config,
    ctx: Context,
    external: dict[ResourceKey, list[ign.IgnoreRule]] | None = None,
) -> list[Change]:
    """Plan every manifest in dependency order. Pure."""
    changes = []
    rank = {k.kind: k.order for k in ordered()}
    external = external or {}
    for m in sorted(manifests, key=lambda m: (rank[m.kind], str(m.key))):
        change = plan_resource(REGISTRY[m.kind], m, live.get(m.key), ctx,
                               ignore_rules(m, config, external))
        resolve_refs(change, ctx)
        changes.append(change)
    return changes


async def make_plan(
    aws: Aws,
    manifests: list[Manifest],
    config: Config,
    ctx: Context,
    *,
    prune: bool = False,
    allow_mass_prune: bool = False,
) -> Plan:
    async def account() -> None:
        if any(REGISTRY[m.kind].needs_account for m in manifests):
            ctx.account, ctx.region, ctx.partition = (await aws.account_id(), aws.region,
                                                      aws.partition)

    live, external, _ = await gather_limited(  # what needs no live state runs alongside
        read_live(aws, manifests, ctx), read_external_owners(aws, manifests, {}, False),
        account())
    for key, rules in (await read_external_owners(aws, manifests, live, True)).items():
        external.setdefault(key, []).extend(rules)
    plan = Plan(plan_tree(manifests, live, config, ctx, external), external=external)
    if prune:
        owned = await read_owned(aws, config.controller, manifests)
        deletes = plan_prune(owned, {m.key for m in manifests})
        reasons = prune_guard(deletes, owned, config.prune_max_share)
        if reasons and not allow_mass_prune:
            plan.refused = [
                *reasons,
                "nothing will be deleted; re-run with --allow-mass-prune if this is intended",
            ]
        else:
            plan.changes.extend(deletes)
    return plan


__all__ = ["Change", "Plan", "make_plan", "plan_resource", "plan_tree"]
