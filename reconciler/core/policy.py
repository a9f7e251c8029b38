"""The drift policy: which pending changes a pass applies, and why the others wait. Pure.

`reconciler diff` runs it too, so a diff says what the controller will do with each change
("drift, held back: selfHeal is off") instead of listing updates it will never make. A
person running `reconciler apply` is a manual sync (as in Argo CD): everything pending is
applied, whatever `selfHeal` and `mode` say; only a refused prune holds the whole plan.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum

from reconciler.core.config import Config
from reconciler.core.manifest import Manifest, ResourceKey
from reconciler.core.plan import Change, Plan
from reconciler.core.vocab import Action, Decision, Hold


class Trigger(StrEnum):
    """Who asked for the pass: a person (manual sync) or the controller (automated)."""

    MANUAL = "manual"
    AUTOMATED = "automated"


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    hold: Hold | None = None
    until: float | None = None  # for a backoff: when it ends (the caller's clock)

    @property
    def reason(self) -> str:
        return str(self.hold) if self.hold else ""


APPLY = Verdict(Decision.APPLY)


def self_heal(m: Manifest | None, default: bool) -> bool:
    """`metadata.selfHeal` on the manifest wins over `selfHeal` in reconciler.yaml."""
    if m is not None:
        value = (m.raw.get("metadata") or {}).get("selfHeal")
        if isinstance(value, bool):
            return value
    return default


def candidates(plan: Plan) -> list[Change]:
    """What a pass may write: pending changes, and in-sync resources it adopts."""
    return [*plan.pending, *(c for c in plan.adoptions if c.action is Action.NOOP)]


def verdict(change: Change, trigger: Trigger, config: Config, *, refused: bool = False,
            retry_at: float = 0.0, now: float = 0.0, reverted: bool = False) -> Verdict:
    """`reverted`: AWS rolled back the last write of exactly this desired state; writing it
    again would start the same failing rollout (as Argo CD's automated sync tries a commit
    once), so only a new revision or a person brings it back."""
    if trigger is Trigger.MANUAL:
        return Verdict(Decision.HOLD, Hold.PRUNE_REFUSED) if refused else APPLY
    if config.mode == "observe":
        return Verdict(Decision.HOLD, Hold.OBSERVE)
    if reverted and change.drift:
        return Verdict(Decision.HOLD, Hold.ROLLED_BACK)
    if change.drift and not self_heal(change.manifest, config.self_heal):
        return Verdict(Decision.HOLD, Hold.SELF_HEAL_OFF)
    if retry_at > now:
        return Verdict(Decision.HOLD, Hold.BACKOFF, until=retry_at)
    return APPLY


def select(plan: Plan, trigger: Trigger, config: Config, *,
           retry_at: Mapping[ResourceKey, float] | None = None, now: float = 0.0,
           reverted: Collection[ResourceKey] = ()) -> dict[ResourceKey, Verdict]:
    """A verdict for every change a pass may write."""
    retry_at = retry_at or {}
    return {c.key: verdict(c, trigger, config, refused=bool(plan.refused),
                           retry_at=retry_at.get(c.key, 0.0), now=now,
                           reverted=c.key in reverted)
            for c in candidates(plan)}


__all__ = ["APPLY", "Trigger", "Verdict", "candidates", "select", "self_heal", "verdict"]
