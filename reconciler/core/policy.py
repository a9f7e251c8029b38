"""The drift policy: which pending changes a pass applies, and why the others wait. Pure.

`reconciler diff` runs it too, so a diff says what the controller will do with each change
("drift, held back: selfHeal is off") instead of listing updates it will never make. A
person running `reconciler apply` is a manual sync (as in Argo CD): everything pending is
applied, whatever `selfHeal` and `mode` say; only a refused prune holds the whole plan, and
a PreSync hook that failed for this revision holds what it gates (`hold_for_hooks`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum

from reconciler.core.config import Config
from reconciler.core.manifest import Manifest, ResourceKey
from reconciler.core.plan import Change, Plan
from reconciler.core.vocab import Action, Decision, Hold, HookPhase, HookState


class Trigger(StrEnum):
    """Who asked for the pass: a person (manual sync) or the controller (automated)."""

    MANUAL = "manual"
    AUTOMATED = "automated"


@dataclass(frozen=True)
class Verdict:
    decision: Decision
    hold: Hold | None = None
    until: float | None = None  # for a backoff: when it ends (the caller's clock)
    detail: str = ""  # the hold said about this change ("PreSync hook Job/x failed (exit 1)")

    @property
    def reason(self) -> str:
        return self.detail or (str(self.hold) if self.hold else "")


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


RERUN = "`reconciler apply --rerun-hooks` runs it again"


def hold_for_hooks(plan: Plan, verdicts: dict[ResourceKey, Verdict], *,
                   rerun: bool = False) -> None:
    """What hooks decide for themselves and for what they gate, on top of `select`: a hook
    that failed for this revision waits for git to change (or `rerun`) and holds what it
    gates; a held hook holds what it gates; a hook none of whose changes go is held; a
    PostSync hook waits for every change it follows. Only verdicts that apply are turned."""
    def hold(key: ResourceKey, why: Hold, detail: str) -> None:
        v = verdicts.get(key)
        if v is not None and v.decision is Decision.APPLY:
            verdicts[key] = Verdict(Decision.HOLD, why, detail=detail)

    for c in plan.runs:
        h = c.hook
        if h is None:
            continue
        following = h.state in (HookState.RUNNING, HookState.FINISHED)
        if h.state is HookState.FAILED and not rerun:
            hold(c.key, Hold.HOOK_FAILED, f"{h.phase} hook failed for this revision "
                                          f"({h.failure}); {RERUN}")
        elif not following and not any(
                (v := verdicts.get(k)) is not None and v.decision is Decision.APPLY
                for k in h.gates):
            hold(c.key, Hold.HOOK_IDLE, "")
        if h.phase is HookPhase.POST_SYNC:
            waiting = [str(k) for k in h.gates if (v := verdicts.get(k)) is None
                       or v.decision is Decision.HOLD]
            if waiting and not following:
                hold(c.key, Hold.HOOK_WAITING, f"waiting for {', '.join(waiting)}")
            continue
        mine = verdicts.get(c.key)
        for k in h.gates:
            if h.failed and not (rerun and h.state is HookState.FAILED):
                hold(k, Hold.HOOK_FAILED, f"PreSync hook {c.key} failed ({h.failure})")
            elif mine is not None and mine.decision is Decision.HOLD:
                hold(k, Hold.HOOK_WAITING, f"waiting for PreSync hook {c.key} ({mine.reason})")


__all__ = ["APPLY", "RERUN", "Trigger", "Verdict", "candidates", "hold_for_hooks", "select",
           "self_heal", "verdict"]
