"""What the controller knows about each resource between passes: sync, health, errors and
backoff, as one status per resource, updated from a pass's plan and outcomes. Pure.

Health is each kind's own judgement of its live object (`HealthCheck`); sync says whether
AWS equals git; `state` folds both into the one word `/status` and the metrics show.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.drift import describe_fields
from reconciler.core.kind import Live
from reconciler.core.manifest import ResourceKey
from reconciler.core.plan import Plan
from reconciler.core.policy import Verdict
from reconciler.core.vocab import Action, Decision, Health, Result, State, Sync


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff of a failing resource: base, doubling, capped."""

    base: float = 10.0
    cap: float = 600.0

    def delay(self, failures: int) -> float:
        return float(min(self.base * 2 ** (failures - 1), self.cap))


@dataclass
class ResourceStatus:
    key: ResourceKey
    sync: Sync = Sync.OUT_OF_SYNC
    health: Health = Health.UNKNOWN
    health_reason: str = ""
    revision: str | None = None
    last_error: str = ""
    failures: int = 0
    retry_at: float = 0.0
    drift: list[dict[str, Any]] = field(default_factory=list)
    held: str = ""  # why a pending change waits (the policy's reason)
    action: str = ""  # what the pending change would do (update, create, ...)
    pending: list[dict[str, Any]] = field(default_factory=list)  # its fields, masked
    changed_by: dict[str, Any] | None = None  # who made the drift, when AWS's events say

    @property
    def state(self) -> State:
        if self.sync is Sync.ORPHANED:
            return State.ORPHANED
        if self.failures:
            return State.DEGRADED
        if self.sync is Sync.OUT_OF_SYNC:
            return State.OUT_OF_SYNC
        if self.health is Health.PROGRESSING:
            return State.PROGRESSING
        if self.health is Health.DEGRADED:
            return State.DEGRADED
        return State.SYNCED

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.key.kind, "name": self.key.name, "cluster": self.key.cluster,
                "state": str(self.state), "sync": str(self.sync), "health": str(self.health),
                "healthReason": self.health_reason, "revision": self.revision,
                "lastError": self.last_error, "drift": self.drift, "held": self.held,
                "action": self.action, "pending": self.pending, "changedBy": self.changed_by}


HealthOf = Callable[[ResourceKey, Live | None], tuple[Health, str]]


def update_statuses(
    statuses: dict[ResourceKey, ResourceStatus],
    plan: Plan,
    results: Mapping[ResourceKey, tuple[Result, str]],
    verdicts: Mapping[ResourceKey, Verdict],
    revision: str,
    now: float,
    backoff: Backoff,
    health_of: HealthOf,
    forget_others: bool = True,
) -> None:
    """Fold one pass into the statuses: applied or in sync → Synced; failed → backoff;
    pending and not applied → OutOfSync (with its drift and why it waits); owned but gone
    from git → Orphaned; anything else is forgotten."""
    seen = set()
    for change in plan.changes:
        key = change.key
        seen.add(key)
        status = statuses.setdefault(key, ResourceStatus(key))
        status.revision = revision
        result = results.get(key)
        v = verdicts.get(key)
        if change.action is Action.NOOP or (result is not None and result[0].ok):
            if change.action is Action.DELETE:
                statuses.pop(key, None)
                continue
            status.sync = Sync.SYNCED
            status.last_error, status.failures, status.retry_at = "", 0, 0.0
            status.drift, status.held, status.action, status.pending = [], "", "", []
            status.changed_by = None
            if change.action is Action.CREATE:
                status.health, status.health_reason = (
                    Health.UNKNOWN, "created this pass; its health is read on the next")
            else:
                status.health, status.health_reason = health_of(key, change.live)
        elif result is not None:
            status.sync = Sync.OUT_OF_SYNC
            status.last_error = result[1]
            status.failures += 1
            status.retry_at = now + backoff.delay(status.failures)
            status.held = ""
        else:
            status.sync = Sync.OUT_OF_SYNC
            status.held = v.reason if v is not None and v.decision is Decision.HOLD else ""
            status.drift = describe_fields(change.fields) if change.drift else []
            status.action = str(change.action)
            status.pending = describe_fields(change.fields)
            if not change.drift:
                status.changed_by = None
            if change.live is not None:
                status.health, status.health_reason = health_of(key, change.live)
    for live in plan.orphaned:
        seen.add(live.key)
        status = statuses.setdefault(live.key, ResourceStatus(live.key))
        status.sync, status.revision = Sync.ORPHANED, revision
        status.held = "owned, no longer in git; prune is off"
        status.health, status.health_reason = health_of(live.key, live)
    if forget_others:  # a targeted pass leaves what it did not look at as it was
        for key in [k for k in statuses if k not in seen]:
            del statuses[key]


__all__ = ["Backoff", "ResourceStatus", "update_statuses"]
