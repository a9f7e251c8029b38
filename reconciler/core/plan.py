"""Planning: pair each desired resource with its live twin and decide what to do. Pure.

A change also says whether it is drift (AWS moved away from a state git has not changed
since the reconciler last wrote it) or a deploy (git changed): the reconciler tags each
write with the hash of the desired state it wrote, so the question is answered from what
AWS holds, by any replica, after any restart.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from reconciler.core import ignore as ign
from reconciler.core.config import Config
from reconciler.core.diff import ABSENT, FieldChange, compare, top_fields
from reconciler.core.kind import Context, Live, Registry, Spec
from reconciler.core.manifest import Manifest, ResourceKey
from reconciler.core.normalize import (
    Doc,
    ServerChosen,
    clone,
    drop_server_chosen,
    hash_of,
    prune_empty,
)
from reconciler.core.ownership import DESIRED_HASH_TAG, REVISION_TAG
from reconciler.core.vocab import PENDING_ACTIONS, Action

if TYPE_CHECKING:
    from reconciler.core.hooks import HookPlan


@dataclass(frozen=True)
class IgnoredField:
    """A field that differs but is not this manifest's to change, and why."""

    path: tuple[Any, ...]
    reason: str


@dataclass
class Change:
    """What the plan does to one resource (`Action.NOOP`: in sync)."""

    key: ResourceKey
    action: Action
    fields: list[FieldChange] = field(default_factory=list)
    ignored: list[IgnoredField] = field(default_factory=list)
    server_chosen: list[ServerChosen] = field(default_factory=list)
    manifest: Manifest | None = None
    live: Live | None = None
    desired: Doc | None = None
    adopt: bool = False
    note: str = ""  # why apply will leave it alone (owned by another controller)
    desired_hash: str = ""
    drift: bool = False  # AWS changed behind git's back (not a deploy)
    hook: HookPlan | None = None  # a hook (Job): what the pass does with it
    after_hooks: list[ResourceKey] = field(default_factory=list)  # PreSync hooks it waits for

    @property
    def pending(self) -> bool:
        return self.action is not Action.NOOP


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    refused_deletes: list[Change] = field(default_factory=list)  # what a refused prune held
    external: dict[ResourceKey, list[ign.IgnoreRule]] = field(default_factory=dict)
    orphaned: list[Live] = field(default_factory=list)  # owned, gone from git, prune off

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
        return [c for c in self.changes if c.pending]

    def counts(self) -> dict[str, int]:
        c = Counter(ch.action for ch in self.pending)
        return {str(a): c.get(a, 0) for a in PENDING_ACTIONS}

    @property
    def runs(self) -> list[Change]:
        """Hooks the pass runs (or follows)."""
        return [c for c in self.changes if c.action is Action.RUN]


def desired_hash(kind: Spec, desired: Doc, rules: list[ign.IgnoreRule],
                 normalized: Doc | None = None) -> str:
    """The hash of what git asks for: normalised, without the fields git leaves to others
    (a manifest's and the repository's ignore rules; not live-found owners). `normalized`:
    `kind.normalize(desired)` when the caller has it already (left as it is)."""
    own = [rule for rule in rules if not rule.external]
    want = kind.normalize(desired) if normalized is None else (
        clone(normalized) if own else normalized)
    for rule in own:
        ign.remove(want, rule.segments)
    return hash_of(prune_empty(want))


def is_drift(live: Live, digest: str, revision: str | None) -> bool:
    """A difference is drift when the last write recorded this same desired state; resources
    written before that tag existed fall back on the revision of their last write."""
    recorded = live.tags.get(DESIRED_HASH_TAG)
    if recorded:
        return recorded == digest
    return revision is not None and live.tags.get(REVISION_TAG) == revision


def plan_resource(
    kind: Spec,
    m: Manifest,
    live: Live | None,
    ctx: Context,
    rules: list[ign.IgnoreRule],
) -> Change:
    """Desired (manifest) against live: the change, with ignore rules and server-chosen fields
    taken out of the comparison."""
    desired = kind.desired(m, ctx)
    want = kind.normalize(desired)  # once: the hash and the comparison both start from it
    digest = desired_hash(kind, desired, rules, want)
    if live is None:
        fields = [FieldChange((k,), ABSENT, v) for k, v in sorted(want.items())]
        return Change(m.key, Action.CREATE, fields, manifest=m, desired=desired,
                      desired_hash=digest)

    patterns = [(r, r.segments) for r in rules]
    request = clone(desired)
    for _r, seg in patterns:
        ign.overlay(request, live.spec, seg)

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
    note = f"owned by another controller ({owner}): left alone" if owner not in (
        None, ctx.owner) else ""
    change = Change(m.key, Action.NOOP, [], ignored, used, m, live, request, owner is None,
                    note, digest)
    if fields:
        change.action = kind.classify(top_fields(fields))
        change.fields = fields
        change.drift = is_drift(live, digest, ctx.revision)
    return change


CLUSTER_KIND = "Cluster"  # what a manifest's `metadata.cluster` names


def depends_on(m: Manifest, registry: Registry) -> list[ResourceKey]:
    """What a manifest needs to exist before it: what its spec references, and its cluster."""
    keys = [r.key for r in registry[m.kind].references(m)]
    if m.cluster:
        keys.append(ResourceKey(CLUSTER_KIND, m.cluster))
    return keys


def with_dependencies(manifests: list[Manifest], targets: set[ResourceKey],
                      registry: Registry) -> list[Manifest]:
    """The targeted manifests and everything they depend on, transitively (a Service's task
    definition must be planned for its reference to resolve), in their original order."""
    by_key = {m.key: m for m in manifests}
    chosen = _reached((k for k in targets if k in by_key), lambda key: (
        k for k in depends_on(by_key[key], registry) if k in by_key))
    return [m for m in manifests if m.key in chosen]


def _reached(start: Iterable[ResourceKey],
             follow: Callable[[ResourceKey], Iterable[ResourceKey]]) -> set[ResourceKey]:
    """`start` and every key `follow` leads to from it, transitively."""
    found: set[ResourceKey] = set()
    todo = list(start)
    while todo:
        key = todo.pop()
        if key not in found:
            found.add(key)
            todo.extend(follow(key))
    return found


def _needed(dependency: Change, registry: Registry) -> bool:
    """Whether a target needs this change of what it depends on: the dependency does not
    exist yet, or its change gives its dependents something new to point at (a task
    definition's next revision, a replaced fleet's new id)."""
    if dependency.action is Action.CREATE:
        return True
    if dependency.action not in (Action.UPDATE, Action.REPLACE):
        return False
    kind = registry[dependency.key.kind]
    return kind.published(dependency.action, dependency.live) != kind.published(
        Action.NOOP, dependency.live)


def targeted(changes: list[Change], targets: set[ResourceKey], registry: Registry
             ) -> list[Change]:
    """A targeted plan: the targets, and their dependencies only where needed. An existing
    cluster that differs from git is not a service's business (an untargeted pass has it);
    deletes (an explicit --prune) stay."""
    by_key = {c.key: c for c in changes}

    def needed(key: ResourceKey) -> Iterable[ResourceKey]:
        m = by_key[key].manifest
        return () if m is None else (k for k in depends_on(m, registry)
                                     if k in by_key and _needed(by_key[k], registry))

    keep = _reached((k for k in targets if k in by_key), needed)
    return [c for c in changes if c.key in keep or c.action is Action.DELETE]


def order_key(change: Change, registry: Registry) -> tuple[int, int, str]:
    """The one total order of a plan: creates and updates by kind order, then deletes in
    reverse kind order; by resource within a kind."""
    rank = registry[change.key.kind].order
    if change.action is Action.DELETE:
        return (1, -rank, str(change.key))
    return (0, rank, str(change.key))


def resolve_refs(change: Change, ctx: Context, kind: Spec) -> None:
    """Once a resource is planned, manifests naming it resolve to what it publishes."""
    published = kind.published(change.action, change.live)
    if published is not None:
        ctx.refs[change.key] = published


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
    registry: Registry,
    external: dict[ResourceKey, list[ign.IgnoreRule]] | None = None,
) -> list[Change]:
    """Plan every manifest in dependency order (references resolve as they are planned)."""
    changes = []
    external = external or {}
    for m in sorted(manifests, key=lambda m: (registry[m.kind].order, str(m.key))):
        kind = registry[m.kind]
        change = plan_resource(kind, m, live.get(m.key), ctx, ignore_rules(m, config, external))
        resolve_refs(change, ctx, kind)
        changes.append(change)
    return changes


def plan_prune(owned: list[Live], desired: set[ResourceKey], registry: Registry) -> list[Change]:
    """Owned live resources that git no longer has: deletes, in reverse creation order. Each
    live resource gets its comparison form, so a diff shows what a delete removes as it shows
    what a create makes."""
    deletes = [Change(lv.key, Action.DELETE, [FieldChange((), "exists", ABSENT)], live=lv)
               for lv in owned if lv.key not in desired]
    for d in deletes:
        assert d.live is not None
        registry[d.key.kind].normalize_live(d.live)
    return sorted(deletes, key=lambda c: order_key(c, registry))


def prune_guard(deletes: list[Change], owned: list[Live], max_share: float,
                registry: Registry) -> list[str]:
    """Reasons to refuse a prune: too large a share of what is owned, or every owned resource
    of a kind that has several (or of a kind where even the last one counts, a cluster)."""
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
        if n == owned_by_kind[kind] and (n > 1 or registry[kind].guard_last):
            reasons.append(f"prune would delete every owned {kind} ({n})")
    return reasons


__all__ = [
    "CLUSTER_KIND",
    "Change",
    "IgnoredField",
    "Plan",
    "depends_on",
    "desired_hash",
    "hash_of",
    "ignore_rules",
    "is_drift",
    "order_key",
    "plan_prune",
    "plan_resource",
    "plan_tree",
    "prune_guard",
    "resolve_refs",
    "targeted",
    "with_dependencies",
]
