"""The long-running controller: one plain asyncio loop that keeps AWS equal to git.

A pass: take an exact revision, validate the whole tree (an invalid revision applies nothing
and the last good one stays), then run the one pass (`sync.run`) as an automated sync, fold
its outcome into each resource's status, and report. New revisions come from polling,
webhooks or the file watcher; resync passes catch drift when git is quiet. Only the lease
holder writes or alerts.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import structlog

from reconciler.aws import Aws
from reconciler.controller import alerts
from reconciler.controller.extension import Extension
from reconciler.controller.lease import Lease
from reconciler.controller.metrics import Metrics
from reconciler.core.drift import DriftEvent, DriftTracker, describe_fields
from reconciler.core.events import Ledger, Provenance
from reconciler.core.health import Backoff, ResourceStatus, update_statuses
from reconciler.core.kind import Live
from reconciler.core.load import Tree
from reconciler.core.manifest import ResourceKey
from reconciler.core.policy import Trigger, candidates, self_heal
from reconciler.core.vocab import Health, Result
from reconciler.edges.git import GitError, Revision, Source
from reconciler.edges.slack import Alert, Notifier
from reconciler.kinds import REGISTRY, load_tree
from reconciler.sync.apply import ApplyResult
from reconciler.sync.run import Options, PassResult, run

log = structlog.get_logger(__name__)

HEARTBEAT_SECONDS = 1.0


@dataclass
class Settings:
    resync_interval: float = 300.0
    fetch_interval: float = 60.0
    remind_after: float = 4 * 3600.0
    backoff_base: float = 10.0
    backoff_max: float = 600.0
    webhook_secret: str = ""
    branch: str = "main"
    # a full read now and then, trusting no desired-hash tag (a tag edited by hand)
    verify_interval: float = 24 * 3600.0
    # after a pass that wrote, look again this soon: what was written has a health to read
    recheck_after_write: float = 10.0
    # on SIGTERM, how long the alerts still queued may take to leave (Slack down: they wait)
    flush_on_stop: float = 5.0
    # a pass follows a running hook this long at most; then it is looked at again every
    # `hook_poll` seconds by targeted passes (controller.hooks), the loop free meanwhile
    hook_wait: float = 20.0
    hook_poll: float = 15.0


@dataclass
class SourceHealth:
    """Whether the git source can be read: what `/status`, `/metrics` and Slack say of it."""

    ok: bool = True
    last_success: float | None = None  # Unix time of the last good fetch
    last_error: str = ""
    failing_since: float | None = None
    errors: dict[str, int] = field(default_factory=dict)  # by kind, since start

    def to_json(self) -> dict[str, object]:
        return {"ok": self.ok, "lastSuccess": self.last_success, "lastError": self.last_error,
                "failingSince": self.failing_since, "errors": dict(self.errors)}


@dataclass
class PassReport:
    revision: str | None
    trigger: str
    new_revision: bool = False
    invalid: bool = False
    result: PassResult | None = None
    drifted: list[ResourceKey] = field(default_factory=list)
    healed: list[ResourceKey] = field(default_factory=list)
    seq: int = 0  # the controller's count of passes begun, this one included
    only: set[ResourceKey] | None = None  # a targeted pass: these resources alone

    @property
    def applied(self) -> ApplyResult | None:
        return self.result.applied if self.result else None

    @property
    def wrote(self) -> bool:
        return bool(self.applied and any(o.result.wrote for o in self.applied.outcomes))


def health_of(key: ResourceKey, live: Live | None) -> tuple[Health, str]:
    return REGISTRY[key.kind].health(live)


class Controller:
    def __init__(
        self,
        source: Source,
        aws: Aws,
        notifier: Notifier,
        settings: Settings | None = None,
        lease: Lease | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_pass: Callable[[PassReport], None] | None = None,
        extensions: Sequence[Extension] = (),
    ) -> None:
        self.on_pass = on_pass
        self.extensions = list(extensions)
        self.source = source
        self.aws = aws
        self.notifier = notifier
        self.settings = settings or Settings()
        self.lease = lease
        self.clock = clock
        self.tracker = DriftTracker(self.settings.remind_after)
        self.metrics = Metrics()
        self.statuses: dict[ResourceKey, ResourceStatus] = {}
        self.last_good: Revision | None = None
        self.last_tree: Tree | None = None
        self.invalid_revision: str | None = None
        self.applied_revision: str | None = None
        self.applied_at: float | None = None
        self.synced = False  # this replica completed a pass of its own as leader
        self.verified_at = clock()  # the first full verification is a day in, not at start
        self.source_health = SourceHealth()
        self.heartbeat = clock()
        self.last_tick = clock()
        self.passes = 0
        self.pass_seq = 0  # passes begun (`passes` counts those ended)
        # Who changed each resource since it was last in sync (AWS's events say), and which
        # of those changes each drift message already names.
        self.changed_by = Ledger()
        self._named: dict[ResourceKey, str] = {}
        self._alerted_invalid: set[str] = set()
        self._failures = alerts.OnceEach()
        self._unhealthy = alerts.OnceEach()
        self._fetch_now = asyncio.Event()
        self._targets: set[ResourceKey] = set()  # asked for a targeted pass
        self._fetch_wanted = False
        self._resync_wanted = False  # leadership (re)gained: a full pass, revision known or not
        self._stop = asyncio.Event()
        self._done = asyncio.Event()  # the loop has ended: no pass can write any more
        # Fencing: every write asks right before it leaves; the lease's own writes never do.
        aws.write_gate = self.may_write
        if lease is not None and lease.aws is aws:
            lease.aws = aws.unfenced()
        self._lock = asyncio.Lock()
        self.busy_since: float | None = None

    # --- triggers -------------------------------------------------------------------------

    def request_fetch(self) -> None:
        self._fetch_wanted = True
        self._fetch_now.set()

    def request_targeted(self, keys: set[ResourceKey]) -> None:
        """Re-read and re-plan these resources now, not the whole estate (an event said
        they changed). Requests arriving together are one pass."""
        self._targets |= keys
        self._fetch_now.set()

    def alert(self, alert: Alert) -> None:
        """Send an alert (the leader's only)."""
        self._alert(alert)

    def note_change(self, key: ResourceKey, who: Provenance) -> bool:
        """Someone changed this resource (an event said so): its drift report names them,
        and a drift already reported is updated in place by the next pass that sees it.
        False when the change was already known."""
        return self.changed_by.note(key, who, self.clock())

    def set_resync(self, seconds: float) -> None:
        """Change the interval of full resyncs, counted from the last one, at once."""
        self.settings.resync_interval = seconds
        self._fetch_now.set()

    def stop(self) -> None:
        self._stop.set()
        self._fetch_now.set()

    def is_leader(self) -> bool:
        return self.lease is None or self.lease.is_leader()

    def may_write(self) -> bool:
        """Leader with a safety margin left on the lease, and not stopping."""
        return not self._stop.is_set() and self.is_leader()

    # --- one pass -------------------------------------------------------------------------

    async def run_pass(self, fetch: bool = True, trigger: str = "resync",
                       only_if_new: bool = False, only: set[ResourceKey] | None = None
                       ) -> PassReport:
        """One pass. With `only_if_new`, a fetch that finds the revision already known does
        nothing (polling must not cost a full read of AWS every minute). With `only`, a
        targeted pass of those resources on the last good revision."""
        async with self._lock:
            started = self.busy_since = self.clock()
            self.pass_seq += 1
            seq = self.pass_seq
            try:
                report = await self._pass(fetch, trigger, only_if_new, only)
                report.seq, report.only = seq, only
                for ext in self.extensions:
                    ext.after_pass(self, report)
                if self.on_pass:
                    self.on_pass(report)
                return report
            finally:
                self.busy_since = None
                self.passes += 1
                self.last_tick = self.clock()
                self.metrics.pass_duration.labels(trigger).observe(self.clock() - started)
                self.metrics.observe_calls(self.aws)
                structlog.contextvars.unbind_contextvars("revision")

    @property
    def ready(self) -> bool:
        """Leader: has completed its own first sync. Standby: reaches the lease table."""
        if self.is_leader():
            return self.synced
        return self.lease is not None and self.lease.healthy

    def readiness(self) -> dict[str, object]:
        role = "leader" if self.is_leader() else "standby"
        if role == "leader":
            why = "synced" if self.synced else "first sync not completed yet"
        else:
            assert self.lease is not None
            why = "lease table reachable" if self.lease.healthy else "lease table unreachable"
        return {"ready": self.ready, "role": role, "reason": why}

    async def _revision(self, fetch: bool) -> Revision | None:
        if not fetch:
            return self.last_good
        health = self.source_health
        try:
            rev = await self.source.fetch()
        except GitError as exc:
            message = str(exc)
            health.errors[str(exc.kind)] = health.errors.get(str(exc.kind), 0) + 1
            self.metrics.source_errors.labels(str(exc.kind)).inc()
            self.metrics.source_up.set(0)
            if health.ok:
                health.failing_since = time.time()
                self._alert(alerts.source_alert(message))
            health.ok, health.last_error = False, message
            log.error("source.failed", error=message, kind=str(exc.kind))
            return self.last_good
        if not health.ok:
            self._alert(alerts.source_recovered_alert(health.failing_since))
        health.ok, health.failing_since = True, None
        health.last_success = time.time()
        self.metrics.source_up.set(1)
        self.metrics.source_last_success.set(health.last_success)
        return rev

    async def _pass(self, fetch: bool, trigger: str, only_if_new: bool,
                    only: set[ResourceKey] | None = None) -> PassReport:
        if not self.is_leader():
            return PassReport(None, trigger)  # a standby reads nothing until it leads
        rev = await self._revision(fetch)
        if rev is None:
            return PassReport(None, trigger)
        structlog.contextvars.bind_contextvars(revision=rev.sha)
        report = PassReport(rev.sha, trigger)
        new = self.last_good is None or rev.sha != self.last_good.sha
        if only_if_new and (not new or rev.sha == self.invalid_revision):
            return report
        if new and rev.sha == self.invalid_revision:
            report.invalid = True
            if self.last_good is None:
                return report
            rev, new = self.last_good, False
        if new:
            # in a thread: validating a big tree takes seconds of CPU, during which the loop
            # must keep renewing the lease, beating for /healthz and answering HTTP
            tree = await asyncio.to_thread(load_tree, rev.root, rev.top,
                                           region=self.aws.region)
            if not tree.ok:
                report.invalid = True
                self.invalid_revision = rev.sha
                if rev.sha not in self._alerted_invalid:
                    self._alerted_invalid.add(rev.sha)
                    self._alert(alerts.invalid_alert(
                        rev.sha, tree, self.last_good.sha if self.last_good else None))
                self.metrics.invalid_revision.set(1)
                if self.last_good is None or self.last_tree is None:
                    return report
                rev, new = self.last_good, False
            else:
                self.invalid_revision = None
                self.metrics.invalid_revision.set(0)
                self.last_good, self.last_tree = rev, tree
                report.new_revision = True
                log.info("revision.new", revision=rev.sha, resources=len(tree.manifests))
        assert self.last_tree is not None
        tree = self.last_tree
        now = self.clock()
        leader = self.is_leader()
        term = self.lease.term if self.lease is not None else 0
        verify = only is None and now - self.verified_at >= self.settings.verify_interval
        result = await run(tree, self.aws, Options(
            apply=leader, trigger=Trigger.AUTOMATED, revision=rev.sha, verify=verify, only=only,
            retry_at={k: s.retry_at for k, s in self.statuses.items()}, now=now,
            should_stop=lambda: not self.may_write(), hook_wait=self.settings.hook_wait,
            hook_poll=min(self.settings.hook_poll, 5.0)))
        report.result = result
        if verify:
            self.verified_at = now
        self._after(result, report, rev.sha, now, partial=only is not None)
        # synced: the whole pass ran under one uninterrupted lease (a fenced pass is not a sync)
        self.synced = self.synced or (leader and self.is_leader() and (
            self.lease is None or self.lease.term == term))
        return report

    def _after(self, result: PassResult, report: PassReport, sha: str, now: float,
               partial: bool = False) -> None:
        """Fold a pass into statuses, metrics and alerts (a targeted pass touches only its
        resources: the others keep their status and their drift memory)."""
        plan, config = result.plan, result.tree.config
        applied = result.applied or ApplyResult()
        outcomes = applied.results()
        if applied.outcomes and any(o.result.wrote for o in applied.outcomes):
            self.applied_revision, self.applied_at = sha, time.time()
        update_statuses(self.statuses, plan, outcomes, result.verdicts, sha, now,
                        Backoff(self.settings.backoff_base, self.settings.backoff_max), health_of,
                        forget_others=not partial)
        # a rollback is drift of its own kind, told once by whoever follows rollouts
        drift = {c.key: c for c in candidates(plan) if c.drift and c.key not in result.reverted}
        healed = {k for k in drift if k in outcomes and outcomes[k][0].ok}
        report.drifted, report.healed = sorted(drift, key=str), sorted(healed, key=str)
        manifests = {m.key: m for m in result.tree.manifests}
        if plan.refused and config.mode == "apply":
            self._alert(alerts.prune_refused_alert(plan.refused, sha))
        in_sync = {c.key for c in plan.changes if not c.pending}
        fields = {k: c.fields for k, c in drift.items()}
        said: set[ResourceKey] = set()
        for event in self.tracker.observe(now, fields, healed, in_sync, sha):
            who = self.changed_by.latest(event.key) if event.kind != "resolved" else None
            self._alert(alerts.drift_alert(event, self_heal(manifests.get(event.key),
                                                            config.self_heal), who))
            said.add(event.key)
            self._named.pop(event.key, None)
            if who is not None and event.kind in ("drift", "reminder"):
                self._named[event.key] = who.event_id
        for key, change in drift.items():  # who made a drift already reported, learnt since
            who = self.changed_by.latest(key)
            active = self.tracker.active.get(key)
            if (key in said or key in healed or who is None or active is None
                    or self._named.get(key) == who.event_id):
                continue
            event = DriftEvent("drift", key, active.fingerprint,
                               tuple(describe_fields(change.fields)), sha)
            self._alert(alerts.drift_alert(event, self_heal(manifests.get(key),
                                                            config.self_heal), who))
            self._named[key] = who.event_id
        for key in drift:
            if key in self.statuses and key not in healed:
                who = self.changed_by.latest(key)
                self.statuses[key].changed_by = who.to_json() if who else None
        self.changed_by.settle(in_sync | healed, now)
        for o in applied.outcomes:
            if not o.result.ok:
                if self._failures.first(o.change.key, o.error):
                    self._alert(alerts.failure_alert(o.change.key, o.error,
                                                     skipped=o.result is Result.SKIPPED))
            else:
                self._failures.clear(o.change.key)
        told = {k for ext in self.extensions for k in getattr(ext, "health_kinds", ())}
        for key, status in self.statuses.items():
            if key.kind in told:  # an extension alerts about these kinds' health itself
                continue
            if status.health is Health.DEGRADED:
                if self._unhealthy.first(key, status.health_reason):
                    self._alert(alerts.health_alert(key, status.health, status.health_reason))
            elif status.health is Health.HEALTHY and self._unhealthy.clear(key):
                self._alert(alerts.recovered_alert(key))
        self.metrics.observe_statuses(self.statuses.values(), len(drift) - len(healed))
        self.metrics.orphaned.set(len(plan.orphaned))
        results = Counter(str(o.result) for o in applied.outcomes)
        log.info("pass.done", trigger=report.trigger, revision=sha, targeted=partial,
                 resources=len(plan.changes), pending=len(plan.pending),
                 held=len(result.held()), drifted=len(drift), healed=len(healed),
                 orphaned=len(plan.orphaned), **results)
        if self.applied_revision:
            self.metrics.set_applied(self.applied_revision, self.applied_at or 0.0)

    def _alert(self, alert: Alert) -> None:
        if self.is_leader():
            self.notifier.send(alert)

    # --- the loop -------------------------------------------------------------------------

    async def run(self, install_signals: bool = False) -> None:
        """Run until stop(): passes on new revisions, webhooks, saves and the resync timer."""
        if install_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stop)
        tasks = [asyncio.create_task(self.notifier.run()),
                 asyncio.create_task(self._watch()),
                 asyncio.create_task(self._poll()),
                 asyncio.create_task(self._beat()),
                 *(asyncio.create_task(ext.run(self)) for ext in self.extensions)]
        if self.lease is not None:
            # renewed until the pass under way has stopped writing, not merely until SIGTERM
            tasks.append(asyncio.create_task(self.lease.keep(self._done, self._on_leadership)))
        try:
            await self._loop()
        finally:
            self._done.set()
            try:
                await asyncio.wait_for(self.notifier.flush(), self.settings.flush_on_stop)
            except TimeoutError:
                log.warning("notify.unsent_at_stop", queued=len(self.notifier.queue))
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self.lease is not None:
                await self.lease.release()
            log.info("controller.stopped")

    def _on_leadership(self, leader: bool) -> None:
        self.metrics.leader.set(1 if leader else 0)
        if leader:
            # what a lost lease left unapplied (a fenced pass, a standby's first turn) is
            # applied now, not at the next resync: the revision may be one already known
            self._resync_wanted = True
            self.request_fetch()

    async def _beat(self) -> None:
        """The heartbeat `/healthz` reads: it only moves while the event loop turns."""
        while True:
            self.heartbeat = self.clock()
            await asyncio.sleep(HEARTBEAT_SECONDS)

    async def _watch(self) -> None:
        async for _ in self.source.changes():
            self.request_fetch()

    async def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._stop.wait(), self.settings.fetch_interval)
            except TimeoutError:
                self.request_fetch()

    async def _loop(self) -> None:
        """Every full pass reads all of AWS, so any full pass is a resync: the timer restarts
        after it. Targeted passes (an event named some resources) run between them. A pass
        that wrote is followed by a look soon after (`recheck_after_write`): what was written
        has a health to read."""
        resynced = None  # when the last full pass (or failed pass) ended
        recheck: float | None = None
        fetch = True
        while not self._stop.is_set():
            due = (resynced is None or self.clock() >= resynced + self.settings.resync_interval
                   or (recheck is not None and self.clock() >= recheck) or self._resync_wanted)
            self._resync_wanted = False
            self._fetch_now.clear()
            targets, self._targets = self._targets, set()
            try:
                full = fetch or due or self.last_good is None
                if full:
                    report = await self.run_pass(fetch=fetch,
                                                 trigger="fetch" if fetch else "resync",
                                                 only_if_new=fetch and not due)
                    if due or report.new_revision or report.invalid:
                        resynced, recheck = self.clock(), None
                    elif targets:  # the fetch found nothing new: the targets still want a look
                        full = False
                    if report.wrote:
                        recheck = self.clock() + self.settings.recheck_after_write
                if not full and targets:
                    report = await self.run_pass(fetch=False, trigger="event", only=targets)
                    if report.wrote:
                        recheck = self.clock() + self.settings.recheck_after_write
            except Exception as exc:  # the loop must keep turning whatever one pass does
                log.exception("pass.failed", error=str(exc))
                resynced = self.clock()
                self._targets |= targets  # asked for, not looked at: the next turn does
            self.last_tick = self.clock()
            fetch = await self._wait(self._resync_due(resynced, recheck))

    def _resync_due(self, resynced: float | None, recheck: float | None = None
                    ) -> Callable[[], float]:
        """When the next full resync is due: the interval is read when asked, so a change
        to it (`set_resync`) counts from the last resync at once; a recheck after a write
        comes sooner."""
        def due() -> float:
            at = (resynced or 0.0) + self.settings.resync_interval
            return min(at, recheck) if recheck is not None else at
        return due

    async def _wait(self, next_resync: Callable[[], float]) -> bool:
        """Until something asks for a pass or the resync is due; True when a fetch of git was
        asked for (a poll, a webhook, a save, leadership gained)."""
        try:
            await asyncio.wait_for(self._fetch_now.wait(),
                                   max(next_resync() - self.clock(), 0.0))
        except TimeoutError:
            return False
        wanted, self._fetch_wanted = self._fetch_wanted, False
        return wanted
