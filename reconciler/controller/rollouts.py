"""Rollouts you can watch: after a pass writes a Service, the controller follows its ECS
service deployment until it succeeds, rolls back or fails.

An `Extension` (see `extension.py`). `after_pass` notes which services a pass wrote, and
which ones AWS is rolling out anyway (a deploy from the console, a pass before a restart);
`run` polls them every `interval` seconds through the Service kind's reader, only on the
leader and only while something rolls out. Each rollout is one Slack message, its thread the
deployment's ARN, so a bot token updates it in place as it moves (started, canary at 10 %,
baking, succeeded, or rolled back with why and which git revision caused it); the service's
health in `/status` moves with it, and so do the metrics. When it ends, a targeted pass
looks at the service again: a rollback is then held, not rewritten in a loop (the policy's
`Hold.ROLLED_BACK`), and told once here, never as ordinary drift.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import Counter, Gauge

from reconciler.core.manifest import ResourceKey
from reconciler.core.vocab import Action, Result
from reconciler.edges.slack import Alert
from reconciler.kinds import REGISTRY
from reconciler.kinds._rollout import Phase, Rollout
from reconciler.kinds.service import Service
from reconciler.sync.apply import Outcome

if TYPE_CHECKING:
    from reconciler.controller.loop import Controller, PassReport

log = structlog.get_logger(__name__)

KIND = "Service"
DEFAULT_INTERVAL = 5.0
# Polls during which a just-written service may still show the deployment before the write
# (AWS's describe lags the update by a moment): not taken for the end of the new one.
STALE_POLLS = 3
REMEMBERED = 1000  # deployment ARNs whose last message is kept, to tell each thing once

_ICON = {Phase.SUCCEEDED: ":white_check_mark:", Phase.ROLLED_BACK: ":rewind:",
         Phase.ROLLING_BACK: ":rewind:", Phase.FAILED: ":x:", Phase.STOPPED: ":x:"}


@dataclass
class Followed:
    key: ResourceKey
    revision: str | None  # the git revision of the pass that wrote it (None: not ours)
    before: str | None = None  # the deployment the service had before that write
    rollout: Rollout | None = None
    polls: int = 0


@dataclass
class _Metrics:
    active: Gauge
    progress: Gauge
    finished: Counter


def message(rollout: Rollout) -> Alert:
    """The one Slack message of a rollout, as it stands now."""
    icon = _ICON.get(rollout.phase, ":arrows_counterclockwise:")
    lines = [f"strategy {rollout.strategy}"
             + (f", git revision {rollout.git_revision[:12]}" if rollout.git_revision else ""),
             f"deployment {rollout.arn}"]
    if rollout.phase.reverted:
        lines.append("held: the controller does not deploy it again until git changes it "
                     "(or `reconciler apply` is run by hand)")
    return Alert("rollout", f"{icon} Rollout of {rollout.key}: {rollout.summary}",
                 tuple(lines), rollout.arn)


def started(kind: Service, outcome: Outcome) -> bool:
    """Whether this write started a rollout: a create, a replace, or an update of what the
    tasks run."""
    if outcome.result in (Result.CREATED, Result.REPLACED):
        return True
    fields = {str(f.path[0]) for f in outcome.change.fields if f.path}
    return outcome.result is Result.CONFIGURED and kind.deploys(fields)


def _moved(rollout: Rollout) -> tuple[Phase, float | None]:
    """What makes a rollout worth a new version of its message (not every task count)."""
    return rollout.phase, rollout.traffic


class Rollouts:
    """Follows the rollouts of Services (see the module docstring)."""

    name = "rollouts"
    health_kinds = frozenset({KIND})

    def __init__(self, interval: float = DEFAULT_INTERVAL, keep: int = 20,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self.interval = interval
        self.active: dict[ResourceKey, Followed] = {}
        self.recent: collections.deque[Rollout] = collections.deque(maxlen=keep)
        self._sleep = sleep
        self._told: collections.OrderedDict[str, tuple[Phase, float | None]] = (
            collections.OrderedDict())
        self._wake: asyncio.Event | None = None
        self._metrics: _Metrics | None = None

    # --- the Extension ---------------------------------------------------------------------

    async def run(self, controller: Controller) -> None:
        wake = self._event()
        while True:
            if not self.active:
                wake.clear()
                await wake.wait()
                continue
            if controller.is_leader():
                try:
                    await self.poll(controller)
                except Exception as exc:  # AWS answering badly must not end the following
                    log.warning("rollouts.poll_failed", error=str(exc))
            await self._sleep(self.interval)

    def after_pass(self, controller: Controller, report: PassReport) -> None:
        result = report.result
        if result is None:
            return
        self._ensure_metrics(controller)
        kind = self._kind()
        written = {o.change.key for o in (result.applied.outcomes if result.applied else [])
                   if o.change.key.kind == KIND and started(kind, o)}
        for change in result.plan.changes:
            if change.key.kind != KIND or change.action is Action.DELETE:
                continue
            before = kind.rollout(change.live) if change.live is not None else None
            if change.key in written:
                self.follow(change.key, report.revision, before.arn if before else None)
            elif before is not None and not before.done:
                self.follow(change.key, None)
            elif before is not None and not before.ok and change.key not in self.active:
                self._tell(controller, before)  # found ended badly (after a restart, say)
        self._update_metrics()

    def status(self) -> dict[str, Any]:
        return {
            "active": [f.rollout.to_json() if f.rollout else
                       {"kind": k.kind, "name": k.name, "cluster": k.cluster,
                        "phase": "waiting for the deployment", "gitRevision": f.revision}
                       for k, f in sorted(self.active.items(), key=lambda kv: str(kv[0]))],
            "recent": [r.to_json() for r in self.recent],
            "pollSeconds": self.interval,
        }

    # --- following -------------------------------------------------------------------------

    def follow(self, key: ResourceKey, revision: str | None, before: str | None = None) -> None:
        """Follow this service's rollout from the next poll on."""
        current = self.active.get(key)
        if current is None or revision is not None:
            self.active[key] = Followed(key, revision or (current.revision if current else None),
                                        before)
        self._event().set()

    async def poll(self, controller: Controller) -> None:
        """Read every followed service once, and tell what moved."""
        found = await self._kind().rollouts(controller.aws, sorted(self.active, key=str))
        for key, f in list(self.active.items()):
            f.polls += 1
            if key not in found:  # the service is gone
                del self.active[key]
                continue
            rollout = found[key]
            if rollout is not None and rollout.arn == f.before:
                if f.polls > STALE_POLLS:  # the write started no deployment after all
                    del self.active[key]
                continue
            if rollout is None:
                continue
            f.rollout = rollout
            status = controller.statuses.get(key)
            if status is not None:
                status.health, status.health_reason = rollout.health()
            self._tell(controller, rollout)
            if rollout.done:
                del self.active[key]
                self.recent.appendleft(rollout)
                if self._metrics is not None:
                    self._metrics.finished.labels(str(rollout.phase)).inc()
                log.info("rollout.done", service=str(key), phase=str(rollout.phase),
                         deployment=rollout.arn, cause=rollout.cause)
                controller.request_targeted({key})
        self._update_metrics()

    def _tell(self, controller: Controller, rollout: Rollout) -> None:
        """One message per rollout, sent again only when it moved."""
        moved = _moved(rollout)
        if self._told.get(rollout.arn) == moved:
            return
        self._told[rollout.arn] = moved
        self._told.move_to_end(rollout.arn)
        while len(self._told) > REMEMBERED:
            self._told.popitem(last=False)
        controller.alert(message(rollout))

    # --- plumbing --------------------------------------------------------------------------

    def _kind(self) -> Service:
        kind = REGISTRY[KIND]
        assert isinstance(kind, Service)
        return kind

    def _event(self) -> asyncio.Event:
        if self._wake is None:
            self._wake = asyncio.Event()
        return self._wake

    def _ensure_metrics(self, controller: Controller) -> None:
        if self._metrics is not None:
            return
        r = controller.metrics.registry
        self._metrics = _Metrics(
            Gauge("reconciler_rollouts_active", "Service rollouts being followed", registry=r),
            Gauge("reconciler_rollout_progress_percent", "How far a rollout is: % of "
                  "production traffic on the new revision where AWS says it, else of its "
                  "tasks running", ["cluster", "service", "phase"], registry=r),
            Counter("reconciler_rollouts_finished", "Rollouts followed to their end, by how "
                    "they ended", ["phase"], registry=r))

    def _update_metrics(self) -> None:
        m = self._metrics
        if m is None:
            return
        m.active.set(len(self.active))
        now: set[tuple[str, str, str]] = set()
        for f in self.active.values():
            if f.rollout is not None and f.rollout.progress is not None:
                labels = (str(f.key.cluster), f.key.name, str(f.rollout.phase))
                m.progress.labels(*labels).set(f.rollout.progress)
                now.add(labels)
        for labels in _series(m.progress) - now:
            m.progress.remove(*labels)


def _series(gauge: Gauge) -> set[tuple[str, str, str]]:
    """The label sets a labelled gauge holds now."""
    out: set[tuple[str, str, str]] = set()
    for metric in gauge.collect():
        for sample in metric.samples:
            labels = sample.labels
            out.add((labels["cluster"], labels["service"], labels["phase"]))
    return out


__all__ = ["DEFAULT_INTERVAL", "Followed", "Rollouts", "message", "started"]
