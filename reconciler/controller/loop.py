"""The long-running controller: one plain asyncio loop that keeps AWS equal to git.

A pass: take an exact revision, validate the whole tree (an invalid revision applies nothing
and the last good one stays), plan, decide per change whether it is a deploy (git changed) or
drift (AWS changed behind git's back), apply what the drift policy allows, and report. New
revisions come from polling, webhooks or the file watcher; resync passes catch drift when git
is quiet. Only the lease holder writes or alerts.
"""

from __future__ import annotations

import asyncio
import hashlib
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from reconciler.aws.client import Aws
from reconciler.controller.lease import Lease
from reconciler.controller.metrics import Metrics
from reconciler.core.drift import DriftEvent, DriftTracker, describe_fields
from reconciler.core.manifest import Manifest, ResourceKey
from reconciler.core.plan import Change, Plan
from reconciler.core.validate import Tree, load_tree
from reconciler.edges.git import GitError, Revision, Source
from reconciler.edges.slack import Alert, Notifier
from reconciler.sync.apply import ApplyResult, Outcome, apply_plan
from reconciler.sync.run import plan_path

log = structlog.get_logger(__name__)

SYNCED, OUT_OF_SYNC, PROGRESSING, DEGRADED = "Synced", "OutOfSync", "Progressing", "Degraded"


@dataclass
class Settings:
    resync_interval: float = 300.0
    fetch_interval: float = 60.0
    remind_after: float = 4 * 3600.0
    backoff_base: float = 10.0
    backoff_max: float = 600.0
    webhook_secret: str = ""
    branch: str = "main"


@dataclass
class ResourceStatus:
    key: ResourceKey
    state: str = OUT_OF_SYNC
    revision: str | None = None
    synced_revision: str | None = None
    last_error: str = ""
    failures: int = 0
    retry_at: float = 0.0
    drift: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.key.kind, "name": self.key.name, "cluster": self.key.cluster,
                "state": self.state, "revision": self.revision, "lastError": self.last_error,
                "drift": self.drift}


@dataclass
class PassReport:
    revision: str | None
    trigger: str
    new_revision: bool = False
    invalid: bool = False
    applied: ApplyResult | None = None
    drifted: list[ResourceKey] = field(default_factory=list)
    healed: list[ResourceKey] = field(default_factory=list)
    wrote: bool = False


def self_heal(m: Manifest | None, default: bool) -> bool:
    """`metadata.selfHeal` on the manifest wins over `selfHeal` in reconciler.yaml."""
    if m is not None:
        value = (m.raw.get("metadata") or {}).get("selfHeal")
        if isinstance(value, bool):
            return value
    return default


def _short(sha: str | None) -> str:
    return (sha or "?")[:12]


def _drift_alert(event: DriftEvent, healing: bool) -> Alert:
    who = str(event.key)
    rev = _short(event.revision)
    lines = [f"• `{f['path']}`: {f['live']!r} (AWS) → {f['git']!r} (git)" for f in event.fields]
    thread = f"drift:{event.key}"
    if event.kind == "healed":
        return Alert("healed", f":white_check_mark: Drift healed on {who} (revision {rev}): "
                     "AWS was put back to git", tuple(lines), thread)
    if event.kind == "resolved":
        return Alert("resolved", f":white_check_mark: Drift resolved on {who}: AWS matches git "
                     f"again (revision {rev})", (), thread)
    verb = "still drifted" if event.kind == "reminder" else "drifted from git"
    state = "not healed: self-heal is off" if not healing else "not healed"
    return Alert(event.kind, f":warning: {who} {verb} (revision {rev}, {state})",
                 tuple(lines), thread)


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
    ) -> None:
        self.on_pass = on_pass
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
        self.ready = False
        self.last_tick = clock()
        self.passes = 0
        self._alerted_invalid: set[str] = set()
        self._alerted_failures: dict[ResourceKey, str] = {}
        self._alerted_rollouts: set[str] = set()
        self._alerted_source: str | None = None
        self._fetch_now = asyncio.Event()
        self._stop = asyncio.Event()
        self._lock = asyncio.Lock()
        self.busy_since: float | None = None

    # --- triggers -------------------------------------------------------------------------

    def request_fetch(self) -> None:
        self._fetch_now.set()

    def stop(self) -> None:
        self._stop.set()
        self._fetch_now.set()

    def is_leader(self) -> bool:
        return self.lease is None or self.lease.is_leader()

    # --- one pass -------------------------------------------------------------------------

    async def run_pass(self, fetch: bool = True, trigger: str = "resync",
                       only_if_new: bool = False) -> PassReport:
        """One pass. With `only_if_new`, a fetch that finds the revision already known does
        nothing (polling must not cost a full read of AWS every minute)."""
        async with self._lock:
            started = self.busy_since = self.clock()
            try:
                report = await self._pass(fetch, trigger, only_if_new)
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

    async def _revision(self, fetch: bool) -> Revision | None:
        if not fetch:
            return self.last_good
        try:
            rev = await self.source.fetch()
        except GitError as exc:
            message = str(exc)
            if self._alerted_source != message:
                self._alerted_source = message
                self._alert(Alert("source_failed", ":x: Cannot read the git source", (message,)))
            log.error("source.failed", error=message)
            return self.last_good
        self._alerted_source = None
        return rev

    async def _pass(self, fetch: bool, trigger: str, only_if_new: bool) -> PassReport:
        if not self.is_leader():
            self.ready = True  # a standby is healthy; it reads nothing until it leads
            return PassReport(None, trigger)
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
            tree = load_tree(rev.root)
            if not tree.ok:
                report.invalid = True
                self.invalid_revision = rev.sha
                self._alert_invalid(rev.sha, tree)
                self.metrics.invalid_revision.set(1)
                if self.last_good is None or self.last_tree is None:
                    return report
                rev, tree = self.last_good, self.last_tree
                new = False
            else:
                self.invalid_revision = None
                self.metrics.invalid_revision.set(0)
                self.last_good, self.last_tree = rev, tree
                report.new_revision = True
                log.info("revision.new", revision=rev.sha, resources=len(tree.manifests))
        assert self.last_tree is not None
        tree = self.last_tree
        config = tree.config
        writes = config.mode == "apply" and self.is_leader()
        planned = await plan_path(self.aws, rev.root, revision=rev.sha, tree=tree,
                                  prune=config.prune)
        plan = planned.plan
        now = self.clock()
        manifests = {m.key: m for m in tree.manifests}
        selected: list[Change] = []
        drift: dict[ResourceKey, Change] = {}
        for change in [*plan.pending, *(c for c in plan.adoptions if c.action == "noop")]:
            status = self.statuses.get(change.key)
            is_drift = (change.action != "delete" and not new and status is not None
                        and status.synced_revision == rev.sha)
            if is_drift:
                drift[change.key] = change
            if not writes or (status and status.retry_at > now):
                continue
            if is_drift and not self_heal(manifests.get(change.key), config.self_heal):
                continue
            selected.append(change)
        if plan.refused and writes:
            self._alert(Alert("prune_refused", ":no_entry: Prune refused: nothing applied",
                              tuple(plan.refused), f"prune:{rev.sha}"))
            selected = [c for c in selected if c.action != "delete"]
        result = ApplyResult()
        if selected:
            report.wrote = True
            result = await apply_plan(self.aws, Plan(selected, external=plan.external),
                                      planned.ctx, config, should_stop=self._stop.is_set)
            self.applied_revision, self.applied_at = rev.sha, time.time()
        report.applied = result
        outcomes = {o.change.key: o for o in result.outcomes}
        self._update_statuses(plan, outcomes, drift, rev.sha, now, writes)
        healed = {k for k in drift if k in outcomes and outcomes[k].result not in (
            "failed", "skipped")}
        report.drifted, report.healed = sorted(drift, key=str), sorted(healed, key=str)
        if self.is_leader():
            in_sync = {c.key for c in plan.changes if c.action == "noop"}
            fields = {k: c.fields for k, c in drift.items()}
            for event in self.tracker.observe(now, fields, healed, in_sync, rev.sha):
                self._alert(_drift_alert(event, self_heal(manifests.get(event.key),
                                                          config.self_heal)))
            self._alert_failures(result.outcomes)
            self._alert_rollouts(plan)
        self.metrics.observe_statuses(self.statuses.values(), len(drift) - len(healed))
        if self.applied_revision:
            self.metrics.set_applied(self.applied_revision, self.applied_at or 0.0)
        self.ready = True
        return report

    def _update_statuses(self, plan: Plan, outcomes: dict[ResourceKey, Outcome],
                         drift: dict[ResourceKey, Change], sha: str, now: float,
                         writes: bool) -> None:
        seen = set()
        for change in plan.changes:
            key = change.key
            seen.add(key)
            status = self.statuses.setdefault(key, ResourceStatus(key))
            status.revision = sha
            outcome = outcomes.get(key)
            if change.action == "noop" or (outcome and outcome.result not in ("failed", "skipped")):
                status.state = SYNCED
                status.synced_revision = sha
                status.last_error, status.failures, status.retry_at = "", 0, 0.0
                status.drift = []
                if change.live and _rolling_out(change.live.raw):
                    status.state = PROGRESSING
                if change.action == "delete":
                    self.statuses.pop(key, None)
            elif outcome is not None:
                status.state = DEGRADED
                status.last_error = outcome.error
                status.failures += 1
                delay = min(self.settings.backoff_base * 2 ** (status.failures - 1),
                            self.settings.backoff_max)
                status.retry_at = now + delay
            else:
                status.state = DEGRADED if status.retry_at > now else OUT_OF_SYNC
                if key in drift:
                    status.drift = describe_fields(change.fields)
        for key in [k for k in self.statuses if k not in seen]:
            del self.statuses[key]

    # --- alerts ---------------------------------------------------------------------------

    def _alert(self, alert: Alert) -> None:
        if self.is_leader():
            self.notifier.send(alert)

    def _alert_invalid(self, sha: str, tree: Tree) -> None:
        if sha in self._alerted_invalid:
            return
        self._alerted_invalid.add(sha)
        shown = [str(e) for e in tree.errors[:20]]
        more = len(tree.errors) - len(shown)
        if more > 0:
            shown.append(f"… and {more} more")
        kept = _short(self.last_good.sha if self.last_good else None)
        self._alert(Alert("invalid_revision",
                          f":x: Revision {_short(sha)} is invalid: nothing from it was applied; "
                          f"still on {kept}", tuple(shown), f"invalid:{sha}"))

    def _alert_failures(self, outcomes: list[Outcome]) -> None:
        for o in outcomes:
            key = o.change.key
            if o.result in ("failed", "skipped"):
                fp = hashlib.sha256(o.error.encode()).hexdigest()[:16]
                if self._alerted_failures.get(key) != fp:
                    self._alerted_failures[key] = fp
                    self._alert(Alert("apply_failed", f":x: Apply failed for {key}",
                                      (o.error,), f"failed:{key}"))
            else:
                self._alerted_failures.pop(key, None)

    def _alert_rollouts(self, plan: Plan) -> None:
        for change in plan.changes:
            if change.key.kind != "Service" or change.live is None:
                continue
            for d in change.live.raw.get("deployments", []):
                if d.get("rolloutState") == "FAILED" and d.get("id") not in self._alerted_rollouts:
                    self._alerted_rollouts.add(str(d.get("id")))
                    reason = str(d.get("rolloutStateReason", ""))
                    self._alert(Alert("rollout_failed",
                                      f":rotating_light: Deployment of {change.key} failed "
                                      "(circuit breaker)", (reason,), f"rollout:{d.get('id')}"))

    # --- the loop -------------------------------------------------------------------------

    async def run(self, install_signals: bool = False) -> None:
        """Run until stop(): passes on new revisions, webhooks, saves and the resync timer."""
        if install_signals:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stop)
        tasks = [asyncio.create_task(self.notifier.run()),
                 asyncio.create_task(self._watch()),
                 asyncio.create_task(self._poll())]
        if self.lease is not None:
            tasks.append(asyncio.create_task(self.lease.keep(self._stop, self._on_leadership)))
        try:
            await self._loop()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if self.lease is not None:
                await self.lease.release()
            log.info("controller.stopped")

    def _on_leadership(self, leader: bool) -> None:
        self.metrics.leader.set(1 if leader else 0)
        if leader:
            self.request_fetch()

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
        """Every pass reads all of AWS, so any pass is a resync: the timer restarts after it."""
        next_resync = self.clock()
        fetch = True
        while not self._stop.is_set():
            due = self.clock() >= next_resync
            self._fetch_now.clear()
            try:
                report = await self.run_pass(fetch=fetch, trigger="fetch" if fetch else "resync",
                                             only_if_new=fetch and not due)
                if due or report.new_revision or report.invalid:
                    next_resync = self.clock() + self.settings.resync_interval
            except Exception as exc:  # the loop must keep turning whatever one pass does
                log.exception("pass.failed", error=str(exc))
                next_resync = self.clock() + self.settings.resync_interval
            self.last_tick = self.clock()
            timeout = max(next_resync - self.clock(), 0.0)
            try:
                await asyncio.wait_for(self._fetch_now.wait(), timeout)
                fetch = True
            except TimeoutError:
                fetch = False


def _rolling_out(raw: dict[str, Any]) -> bool:
    return any(d.get("status") == "PRIMARY" and d.get("rolloutState") == "IN_PROGRESS"
               for d in raw.get("deployments", []))
