"""Per-resource status between passes (sync, health, errors, backoff) and the health vocabulary."""

from __future__ import annotations

import pytest

from reconciler.core.diff import ABSENT, FieldChange
from reconciler.core.health import Backoff, ResourceStatus, update_statuses
from reconciler.core.kind import Live
from reconciler.core.manifest import ResourceKey
from reconciler.core.plan import Change, Plan
from reconciler.core.policy import APPLY, Verdict
from reconciler.core.vocab import Action, Decision, Health, Hold, Result, State, Sync, worst_of
from tests.core.build import change, key, live

REV = "4f2c9e1"
KEY = key("Service", "web", "prod")
FIELDS = [FieldChange(("desiredCount",), 5, 3), FieldChange(("launchType",), ABSENT, "EC2")]


class Health_:
    """A health_of that records what it was asked and answers from a table."""

    def __init__(self, answers: dict[ResourceKey, tuple[Health, str]] | None = None) -> None:
        self.answers = answers or {}
        self.asked: list[tuple[ResourceKey, Live | None]] = []

    def __call__(self, k: ResourceKey, lv: Live | None) -> tuple[Health, str]:
        self.asked.append((k, lv))
        return self.answers.get(k, (Health.HEALTHY, ""))


def _update(statuses: dict[ResourceKey, ResourceStatus], changes: list[Change],
            results: dict[ResourceKey, tuple[Result, str]] | None = None,
            verdicts: dict[ResourceKey, Verdict] | None = None, *, now: float = 100.0,
            orphaned: list[Live] | None = None, health: Health_ | None = None,
            backoff: Backoff | None = None) -> Health_:
    h = health or Health_()
    update_statuses(statuses, Plan(changes, orphaned=orphaned or []), results or {},
                    verdicts or {}, REV, now, backoff or Backoff(), h)
    return h


def _failing(failures: int = 2) -> ResourceStatus:
    return ResourceStatus(KEY, Sync.OUT_OF_SYNC, Health.DEGRADED, "crashing", "0a1b2c3",
                          "boom", failures, 500.0, [{"path": "spec.x"}], "held before")


# --- Backoff ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("failures", "delay"), [(1, 10.0), (2, 20.0), (3, 40.0), (6, 320.0),
                                                 (7, 600.0), (30, 600.0)])
def test_backoff_doubles_from_base_and_is_capped(failures: int, delay: float) -> None:
    """10 s after the first failure, doubling each time, never more than 600 s."""
    assert Backoff().delay(failures) == delay
    assert isinstance(Backoff().delay(failures), float)


def test_backoff_with_its_own_base_and_cap() -> None:
    """Base and cap are the controller's settings."""
    b = Backoff(base=3.0, cap=20.0)
    assert [b.delay(n) for n in (1, 2, 3, 4)] == [3.0, 6.0, 12.0, 20.0]


# --- ResourceStatus ---------------------------------------------------------------------------


def test_new_status_is_out_of_sync_and_unknown() -> None:
    """A status starts out of sync, health unknown, no error, no backoff."""
    s = ResourceStatus(KEY)
    assert (s.sync, s.health, s.failures, s.retry_at, s.drift, s.held, s.last_error) == (
        Sync.OUT_OF_SYNC, Health.UNKNOWN, 0, 0.0, [], "", "")
    assert s.state is State.OUT_OF_SYNC


@pytest.mark.parametrize(("sync", "health", "failures", "state"), [
    (Sync.ORPHANED, Health.HEALTHY, 3, State.ORPHANED),
    (Sync.SYNCED, Health.HEALTHY, 1, State.DEGRADED),
    (Sync.OUT_OF_SYNC, Health.PROGRESSING, 2, State.DEGRADED),
    (Sync.OUT_OF_SYNC, Health.PROGRESSING, 0, State.OUT_OF_SYNC),
    (Sync.OUT_OF_SYNC, Health.HEALTHY, 0, State.OUT_OF_SYNC),
    (Sync.SYNCED, Health.PROGRESSING, 0, State.PROGRESSING),
    (Sync.SYNCED, Health.DEGRADED, 0, State.DEGRADED),
    (Sync.SYNCED, Health.HEALTHY, 0, State.SYNCED),
    (Sync.SYNCED, Health.UNKNOWN, 0, State.SYNCED),
    (Sync.SYNCED, Health.SUSPENDED, 0, State.SYNCED),
    (Sync.SYNCED, Health.MISSING, 0, State.SYNCED),
])
def test_state_folds_sync_health_and_failures(sync: Sync, health: Health, failures: int,
                                              state: State) -> None:
    """Orphaned first, then failing, then out of sync, then the health of a synced resource."""
    assert ResourceStatus(KEY, sync, health, failures=failures).state is state


def test_status_to_json() -> None:
    """The /status form of one resource: identity, folded state and every field, as strings."""
    s = ResourceStatus(KEY, Sync.SYNCED, Health.PROGRESSING, "rolling out", REV, "", 0, 0.0,
                       [{"path": "spec.desiredCount", "live": 5, "git": 3}], "")
    assert s.to_json() == {
        "kind": "Service", "name": "web", "cluster": "prod", "state": "Progressing",
        "sync": "Synced", "health": "Progressing", "healthReason": "rolling out",
        "revision": REV, "lastError": "", "drift": [{"path": "spec.desiredCount", "live": 5,
                                                     "git": 3}], "held": "",
        "action": "", "pending": []}
    assert ResourceStatus(key("Cluster", "prod")).to_json()["cluster"] is None


# --- update_statuses --------------------------------------------------------------------------


def test_in_sync_resource_is_synced_with_its_health() -> None:
    """A noop clears errors, backoff, drift and hold, and takes the kind's health of its live."""
    lv = live("Service", "web", cluster="prod")
    statuses = {KEY: _failing()}
    h = _update(statuses, [change("Service", "web", Action.NOOP, cluster="prod", live=lv)],
                health=Health_({KEY: (Health.PROGRESSING, "deployment in progress")}))
    s = statuses[KEY]
    assert (s.sync, s.health, s.health_reason, s.revision) == (
        Sync.SYNCED, Health.PROGRESSING, "deployment in progress", REV)
    assert (s.last_error, s.failures, s.retry_at, s.drift, s.held) == ("", 0, 0.0, [], "")
    assert h.asked == [(KEY, lv)]


@pytest.mark.parametrize("result", [Result.CONFIGURED, Result.CREATED, Result.ADOPTED,
                                    Result.REPLACED, Result.UNCHANGED])
def test_applied_change_is_synced(result: Result) -> None:
    """A change applied without error makes the resource synced, its failures forgotten."""
    statuses = {KEY: _failing()}
    ch = change("Service", "web", Action.UPDATE, cluster="prod", fields=FIELDS, drift=True)
    _update(statuses, [ch], {KEY: (result, "")})
    s = statuses[KEY]
    assert (s.sync, s.failures, s.retry_at, s.last_error, s.drift, s.held) == (
        Sync.SYNCED, 0, 0.0, "", [], "")
    assert s.state is State.SYNCED


def test_created_resource_is_not_reported_missing() -> None:
    """A resource apply just created is not reported as missing from AWS."""
    statuses: dict[ResourceKey, ResourceStatus] = {}

    def kind_health(k: ResourceKey, lv: Live | None) -> tuple[Health, str]:
        return (Health.MISSING, "not in AWS") if lv is None else (Health.HEALTHY, "")

    update_statuses(statuses, Plan([change("Service", "web", Action.CREATE, cluster="prod")]),
                    {KEY: (Result.CREATED, "")}, {}, REV, 100.0, Backoff(), kind_health)
    assert statuses[KEY].sync is Sync.SYNCED
    assert statuses[KEY].health is not Health.MISSING


@pytest.mark.parametrize("result", [Result.FAILED, Result.SKIPPED])
def test_failed_change_backs_off_doubling(result: Result) -> None:
    """Each failure (or skip) counts: the error is kept and the retry waits twice as long."""
    statuses: dict[ResourceKey, ResourceStatus] = {}
    ch = change("Service", "web", Action.UPDATE, cluster="prod", fields=FIELDS)
    _update(statuses, [ch], {KEY: (result, "ThrottlingException")}, now=100.0)
    s = statuses[KEY]
    assert (s.sync, s.last_error, s.failures, s.retry_at, s.held) == (
        Sync.OUT_OF_SYNC, "ThrottlingException", 1, 110.0, "")
    assert s.state is State.DEGRADED
    s.held = "stale"
    _update(statuses, [ch], {KEY: (result, "again")}, now=200.0)
    assert (s.last_error, s.failures, s.retry_at, s.held) == ("again", 2, 220.0, "")


def test_failures_back_off_up_to_the_cap() -> None:
    """However many failures, the wait is capped."""
    statuses = {KEY: _failing(failures=9)}
    ch = change("Service", "web", Action.UPDATE, cluster="prod")
    _update(statuses, [ch], {KEY: (Result.FAILED, "x")}, now=1000.0,
            backoff=Backoff(base=10.0, cap=60.0))
    assert (statuses[KEY].failures, statuses[KEY].retry_at) == (10, 1060.0)


def test_failure_keeps_the_last_health() -> None:
    """A failed write does not re-judge health (the live object is the one before the write)."""
    statuses = {KEY: _failing()}
    h = _update(statuses, [change("Service", "web", cluster="prod",
                                  live=live("Service", "web", cluster="prod"))],
                {KEY: (Result.FAILED, "x")})
    assert (statuses[KEY].health, statuses[KEY].health_reason) == (Health.DEGRADED, "crashing")
    assert h.asked == []


def test_pending_held_records_why_and_the_drift() -> None:
    """A pending change that was not applied is out of sync, says why it waits, and records
    its fields as drift (masked, shown as paths); its errors and backoff stay."""
    lv = live("Service", "web", cluster="prod")
    statuses = {KEY: _failing()}
    ch = change("Service", "web", Action.UPDATE, cluster="prod", fields=FIELDS, drift=True,
                live=lv)
    h = _update(statuses, [ch], verdicts={KEY: Verdict(Decision.HOLD, Hold.SELF_HEAL_OFF)},
                health=Health_({KEY: (Health.HEALTHY, "")}))
    s = statuses[KEY]
    assert (s.sync, s.held) == (Sync.OUT_OF_SYNC, "drift, held back: selfHeal is off")
    assert s.drift == [{"path": "spec.desiredCount", "live": 5, "git": 3},
                       {"path": "spec.launchType", "live": None, "git": "EC2"}]
    assert (s.health, s.health_reason, s.revision) == (Health.HEALTHY, "", REV)
    assert (s.last_error, s.failures, s.retry_at) == ("boom", 2, 500.0)
    assert h.asked == [(KEY, lv)]


def test_pending_deploy_records_no_drift() -> None:
    """A pending change that is a deploy (git changed) is not drift: no drift fields."""
    statuses = {KEY: _failing()}
    ch = change("Service", "web", Action.UPDATE, cluster="prod", fields=FIELDS, drift=False)
    _update(statuses, [ch], verdicts={KEY: Verdict(Decision.HOLD, Hold.OBSERVE)})
    assert statuses[KEY].drift == []
    assert statuses[KEY].held == "observe mode: reported, never applied"


def test_pending_not_held_has_no_reason() -> None:
    """Pending without a hold (applied by nobody this pass, or an apply verdict) waits for
    no stated reason, and without live there is no health to judge."""
    statuses = {KEY: _failing()}
    h = _update(statuses, [change("Service", "web", Action.CREATE, cluster="prod")],
                verdicts={KEY: APPLY})
    assert statuses[KEY].held == ""
    assert (statuses[KEY].health, statuses[KEY].health_reason) == (Health.DEGRADED, "crashing")
    assert h.asked == []
    _update(statuses, [change("Service", "web", Action.CREATE, cluster="prod")])
    assert statuses[KEY].held == ""


def test_deleted_resource_loses_its_status() -> None:
    """A delete applied removes the status; a failed delete keeps it, out of sync."""
    statuses = {KEY: _failing()}
    gone = change("Service", "web", Action.DELETE, cluster="prod")
    _update(statuses, [gone], {KEY: (Result.DELETED, "")})
    assert statuses == {}
    _update(statuses, [gone], {KEY: (Result.FAILED, "in use")})
    assert statuses[KEY].failures == 1 and statuses[KEY].sync is Sync.OUT_OF_SYNC


def test_orphaned_and_forgotten() -> None:
    """Owned resources gone from git with prune off are orphaned, with their health; statuses
    of resources neither planned nor orphaned are dropped."""
    orphan = live("Service", "old", cluster="prod")
    okey = orphan.key
    stale = key("Service", "stale", "prod")
    statuses = {stale: ResourceStatus(stale), okey: _failing()}
    h = _update(statuses, [change("Service", "web", Action.NOOP, cluster="prod")],
                orphaned=[orphan], health=Health_({okey: (Health.HEALTHY, "ok")}))
    assert set(statuses) == {KEY, okey}
    s = statuses[okey]
    assert (s.sync, s.revision, s.held, s.health, s.health_reason) == (
        Sync.ORPHANED, REV, "owned, no longer in git; prune is off", Health.HEALTHY, "ok")
    assert s.state is State.ORPHANED
    assert (okey, orphan) in h.asked
    _update(statuses, [])
    assert statuses == {}


def test_new_statuses_carry_their_key() -> None:
    """A resource seen for the first time, planned or orphaned, gets a status of its own key."""
    orphan = live("Service", "old", cluster="prod")
    statuses: dict[ResourceKey, ResourceStatus] = {}
    _update(statuses, [change("Service", "web", Action.UPDATE, cluster="prod")],
            orphaned=[orphan])
    assert statuses[KEY].key == KEY and statuses[orphan.key].key == orphan.key
    assert statuses[orphan.key].to_json()["name"] == "old"


def test_a_delete_does_not_stop_the_pass() -> None:
    """Changes after an applied delete are still folded in."""
    statuses: dict[ResourceKey, ResourceStatus] = {}
    gone = change("Service", "old", Action.DELETE, cluster="prod")
    _update(statuses, [gone, change("Service", "web", Action.NOOP, cluster="prod")],
            {gone.key: (Result.DELETED, "")})
    assert list(statuses) == [KEY] and statuses[KEY].sync is Sync.SYNCED


def test_statuses_are_kept_across_passes_by_key() -> None:
    """The same status object carries on from pass to pass (failures accumulate in place)."""
    statuses: dict[ResourceKey, ResourceStatus] = {}
    ch = change("Service", "web", Action.UPDATE, cluster="prod")
    _update(statuses, [ch], {KEY: (Result.FAILED, "x")})
    first = statuses[KEY]
    _update(statuses, [ch])
    assert statuses[KEY] is first and first.failures == 1


# --- vocabulary -------------------------------------------------------------------------------


def test_health_ranks_and_worst_of() -> None:
    """Health is ordered best to worst; worst_of picks the worst, Healthy for nothing."""
    order = [Health.HEALTHY, Health.SUSPENDED, Health.PROGRESSING, Health.UNKNOWN,
             Health.MISSING, Health.DEGRADED]
    assert [h.rank for h in order] == list(range(6))
    assert Health.DEGRADED.worse_than(Health.MISSING)
    assert not Health.MISSING.worse_than(Health.MISSING)
    assert not Health.HEALTHY.worse_than(Health.SUSPENDED)
    assert worst_of([Health.PROGRESSING, Health.DEGRADED, Health.HEALTHY]) is Health.DEGRADED
    assert worst_of([Health.SUSPENDED, Health.HEALTHY]) is Health.SUSPENDED
    assert worst_of([]) is Health.HEALTHY


def test_action_ranks_and_results() -> None:
    """Actions rank as a plan is read; results say whether they are ok and whether they wrote."""
    assert [a.rank for a in Action] == [0, 1, 2, 3, 4]
    assert Action.CREATE.rank < Action.DELETE.rank < Action.NOOP.rank
    assert {r for r in Result if not r.ok} == {Result.SKIPPED, Result.FAILED, Result.FENCED}
    assert {r for r in Result if r.wrote} == {Result.CREATED, Result.CONFIGURED,
                                              Result.REPLACED, Result.DELETED, Result.ADOPTED}
