"""The drift policy: which pending changes a pass applies, and why the others wait."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.core.config import Config
from reconciler.core.plan import Change, Plan
from reconciler.core.policy import (
    APPLY,
    Trigger,
    Verdict,
    candidates,
    select,
    self_heal,
    verdict,
)
from reconciler.core.vocab import Action, Decision, Hold
from tests.core.build import change, key, manifest

HOLD_OBSERVE = Verdict(Decision.HOLD, Hold.OBSERVE)
HOLD_SELF_HEAL = Verdict(Decision.HOLD, Hold.SELF_HEAL_OFF)
HOLD_REFUSED = Verdict(Decision.HOLD, Hold.PRUNE_REFUSED)


def _drifted(self_heal: Any = None, *, drift: bool = True) -> Change:
    meta = {} if self_heal is None else {"selfHeal": self_heal}
    m = manifest("Service", "web", cluster="prod", **meta)
    return change("Service", "web", Action.UPDATE, cluster="prod", manifest=m, drift=drift)


def test_verdict_reason_and_apply() -> None:
    """A hold's reason is its text; an apply has none; APPLY is the plain apply verdict."""
    assert Verdict(Decision.APPLY) == APPLY and APPLY.hold is None and APPLY.until is None
    assert APPLY.reason == ""
    assert HOLD_SELF_HEAL.reason == "drift, held back: selfHeal is off"
    assert Verdict(Decision.HOLD, Hold.BACKOFF, until=5.0).reason == "in backoff after failures"


@pytest.mark.parametrize(("meta", "default", "want"), [
    (None, True, True), (None, False, False),
    (True, False, True), (False, True, False),
    ("yes", True, True), ("yes", False, False), (1, False, False),
])
def test_self_heal_manifest_wins_when_boolean(meta: Any, default: bool, want: bool) -> None:
    """metadata.selfHeal, when a boolean, overrides reconciler.yaml's selfHeal either way."""
    raw = {} if meta is None else {"selfHeal": meta}
    m = manifest("Service", "web", cluster="prod", **raw)
    assert self_heal(m, default) is want


def test_self_heal_without_manifest_or_metadata() -> None:
    """No manifest (a delete), or a manifest whose metadata is empty, takes the default."""
    assert self_heal(None, True) is True and self_heal(None, False) is False
    m = manifest("Service", "web", cluster="prod")
    m.raw["metadata"] = None
    assert self_heal(m, True) is True
    m.raw.pop("metadata")
    assert self_heal(m, True) is True


def test_candidates_are_pending_then_in_sync_adoptions() -> None:
    """A pass may write pending changes and in-sync resources it adopts, each once."""
    update_adopt = change("Service", "a", Action.UPDATE, adopt=True)
    noop_adopt = change("Service", "b", Action.NOOP, adopt=True)
    noop = change("Service", "c", Action.NOOP)
    create = change("Service", "d", Action.CREATE)
    plan = Plan([noop_adopt, update_adopt, noop, create])
    assert candidates(plan) == [update_adopt, create, noop_adopt]


@pytest.mark.parametrize("mode", ["apply", "observe"])
def test_manual_applies_everything(mode: str) -> None:
    """A person's apply is a manual sync: drift without selfHeal, observe mode and backoff do
    not hold anything back."""
    config = Config(mode=mode, self_heal=False)
    assert verdict(_drifted(False), Trigger.MANUAL, config, retry_at=50.0, now=10.0) == APPLY


def test_manual_refused_prune_holds_everything() -> None:
    """A refused prune holds every change of a manual apply."""
    assert verdict(change("Cluster", "a", Action.CREATE), Trigger.MANUAL, Config(),
                   refused=True) == HOLD_REFUSED


def test_automated_observe_holds_everything() -> None:
    """In observe mode the controller reports and never applies, drift or not."""
    config = Config(mode="observe", self_heal=True)
    assert verdict(_drifted(), Trigger.AUTOMATED, config) == HOLD_OBSERVE
    assert verdict(_drifted(drift=False), Trigger.AUTOMATED, config) == HOLD_OBSERVE


def test_automated_drift_held_unless_self_heal() -> None:
    """Drift waits for a person unless selfHeal is on (a deploy never waits)."""
    assert verdict(_drifted(), Trigger.AUTOMATED, Config(self_heal=False)) == HOLD_SELF_HEAL
    assert verdict(_drifted(), Trigger.AUTOMATED, Config(self_heal=True)) == APPLY
    assert verdict(_drifted(drift=False), Trigger.AUTOMATED, Config(self_heal=False)) == APPLY


def test_automated_self_heal_per_manifest_overrides_config() -> None:
    """metadata.selfHeal turns healing on or off for one manifest against reconciler.yaml."""
    assert verdict(_drifted(True), Trigger.AUTOMATED, Config(self_heal=False)) == APPLY
    assert verdict(_drifted(False), Trigger.AUTOMATED, Config(self_heal=True)) == HOLD_SELF_HEAL


def test_automated_backoff_until_retry() -> None:
    """A failing resource waits until its retry time (the verdict says until when)."""
    config = Config(self_heal=True)
    held = verdict(_drifted(), Trigger.AUTOMATED, config, retry_at=30.0, now=10.0)
    assert held == Verdict(Decision.HOLD, Hold.BACKOFF, until=30.0)
    assert verdict(_drifted(), Trigger.AUTOMATED, config, retry_at=30.0, now=30.0) == APPLY
    assert verdict(_drifted(), Trigger.AUTOMATED, config, retry_at=30.0, now=31.0) == APPLY


def test_automated_backoff_clock_starts_at_zero() -> None:
    """Without a clock reading, now is 0: any retry time ahead of it holds the change."""
    assert verdict(_drifted(drift=False), Trigger.AUTOMATED, Config(), retry_at=0.5) == Verdict(
        Decision.HOLD, Hold.BACKOFF, until=0.5)
    assert verdict(_drifted(drift=False), Trigger.AUTOMATED, Config()) == APPLY


def test_automated_self_heal_off_is_reported_before_backoff() -> None:
    """Held drift says why it waits for a person, not that it is in backoff."""
    held = verdict(_drifted(), Trigger.AUTOMATED, Config(), retry_at=30.0, now=10.0)
    assert held == HOLD_SELF_HEAL


def test_automated_ignores_a_refused_prune() -> None:
    """The controller still applies the rest when a prune is refused (the deletes are not in
    the plan); only a manual apply holds everything."""
    assert verdict(change("Cluster", "a", Action.CREATE), Trigger.AUTOMATED, Config(),
                   refused=True) == APPLY


def test_select_gives_a_verdict_per_candidate() -> None:
    """select judges every candidate with its own retry time and the plan's refusal."""
    heal = change("Service", "a", Action.UPDATE, drift=True)
    waits = change("Service", "b", Action.UPDATE)
    adopt = change("Service", "c", Action.NOOP, adopt=True)
    quiet = change("Service", "d", Action.NOOP)
    plan = Plan([heal, waits, adopt, quiet])
    retry = {key("Service", "b"): 20.0, key("Service", "z"): 99.0}
    assert select(plan, Trigger.AUTOMATED, Config(), retry_at=retry, now=10.0) == {
        heal.key: HOLD_SELF_HEAL,
        waits.key: Verdict(Decision.HOLD, Hold.BACKOFF, until=20.0),
        adopt.key: APPLY,
    }
    assert select(plan, Trigger.AUTOMATED, Config(self_heal=True), now=10.0) == {
        heal.key: APPLY, waits.key: APPLY, adopt.key: APPLY}
    assert select(plan, Trigger.AUTOMATED, Config(), retry_at=retry, now=25.0)[waits.key] == APPLY
    assert select(plan, Trigger.AUTOMATED, Config())[waits.key] == APPLY
    assert select(plan, Trigger.AUTOMATED, Config(), retry_at={waits.key: 0.5})[waits.key] == (
        Verdict(Decision.HOLD, Hold.BACKOFF, until=0.5))
    plan.refused = ["prune would delete every owned Cluster (1)"]
    assert set(select(plan, Trigger.MANUAL, Config()).values()) == {HOLD_REFUSED}
    assert select(Plan(), Trigger.MANUAL, Config()) == {}


def test_what_aws_rolled_back_is_held_until_git_changes_or_a_person_applies() -> None:
    """git asks again for the state AWS just rolled back: an automated pass holds it, even
    with self-heal on; a manual apply, or a new desired state (not drift), goes ahead."""
    cfg = Config(self_heal=True)
    held = Verdict(Decision.HOLD, Hold.ROLLED_BACK)
    assert verdict(_drifted(), Trigger.AUTOMATED, cfg, reverted=True) == held
    assert held.reason.startswith("rolled back by AWS: held until git changes it")
    assert verdict(_drifted(), Trigger.MANUAL, cfg, reverted=True) == APPLY
    assert verdict(_drifted(drift=False), Trigger.AUTOMATED, cfg, reverted=True) == APPLY
    plan = Plan([_drifted()])
    assert select(plan, Trigger.AUTOMATED, cfg, reverted={key("Service", "web", "prod")}) == {
        key("Service", "web", "prod"): held}
