"""The schedule watchdog: a controller extension that looks at every owned ScheduledTask's
runs every `interval` seconds (the leader only), alerts each bad verdict once and a
"recovered" after it, re-runs runs missed for capacity on the watch's fallback capacity,
counts runs by verdict in the metrics, and shows each schedule's last run and next expected
time in `/status`.

What it watches comes from the controller's passes (the live rules and their manifests: no
reads of its own); what it has alerted and re-run lives in each rule's `reconciler:watch`
tag, written before an alert goes out (core/runs.py says why that keeps it to once). In
`mode: observe` it alerts but writes nothing: no retry, and its memory stays in the process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog
from prometheus_client import Counter

from reconciler.core.kind import Context, Live
from reconciler.core.manifest import Manifest
from reconciler.core.ports import AwsError, Fenced
from reconciler.core.runs import (
    RETENTION,
    Memory,
    Note,
    NoteKind,
    Run,
    Watched,
    decide,
    details,
    format_duration,
    next_expected,
    outcome_text,
    retried,
    run_json,
    watched_from,
    when,
)
from reconciler.core.vocab import RunVerdict
from reconciler.edges.slack import Alert
from reconciler.kinds import REGISTRY
from reconciler.sync.runs import Look, Observer, look

if TYPE_CHECKING:
    from reconciler.controller.loop import Controller, PassReport

log = structlog.get_logger(__name__)

KIND = "ScheduledTask"
DEFAULT_INTERVAL = 60.0  # well inside the hour ECS keeps a stopped task describable


def utc_now() -> datetime:
    return datetime.now(UTC)


class Watchdog:
    name = "schedules"

    def __init__(self, interval: float = DEFAULT_INTERVAL,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.interval = interval
        self.clock = clock
        self.watched: dict[str, Watched] = {}
        self.observe_only = False
        self.owner = ""
        self.checked_at: datetime | None = None
        self._stale: dict[str, Manifest] = {}  # written by the last pass: read again
        self._memory: dict[str, Memory] = {}  # this process's, joined with the tags'
        self._written: dict[str, str] = {}  # what the tag holds, as far as this process knows
        self._looks: dict[str, Look] = {}
        self._counted: set[tuple[str, datetime, RunVerdict]] = set()
        self._observer: Observer | None = None
        self._metrics: tuple[Counter, Counter] | None = None
        self._lock = asyncio.Lock()

    # --- the Extension --------------------------------------------------------------------

    async def run(self, controller: Controller) -> None:
        while True:
            await asyncio.sleep(self.interval)
            if not controller.is_leader() or not (self.watched or self._stale):
                continue
            try:
                await self.check(controller)
            except Exception as exc:  # the next look tries again; the loop never stops
                log.exception("schedules.check_failed", error=str(exc))

    def after_pass(self, controller: Controller, report: PassReport) -> None:
        """The owned rules with an ECS target as the pass read them, with their manifests'
        watch; a rule the pass wrote is read again before the next look."""
        result = report.result
        if result is None:
            return
        self.observe_only = result.tree.config.mode == "observe"
        self.owner = result.ctx.owner
        outcomes = result.applied.results() if result.applied else {}
        in_git = {m.name for m in result.tree.manifests if m.kind == KIND}
        for name in set(self.watched) - in_git:
            del self.watched[name]
        for change in result.plan.changes:
            if change.key.kind != KIND:
                continue
            done = outcomes.get(change.key)
            if done is not None and done[0].wrote and change.manifest is not None:
                self._stale[change.key.name] = change.manifest
            else:
                self._take(change.key.name, change.live, change.manifest)

    def _take(self, name: str, live: Live | None, manifest: Manifest | None) -> None:
        w = watched_from(live, manifest) if live is not None else None
        if w is None or not w.watch.enabled or live is None or live.owner() != self.owner:
            self.watched.pop(name, None)
        else:
            self.watched[name] = w

    async def _reread(self, controller: Controller) -> None:
        stale, self._stale = self._stale, {}
        lives = await REGISTRY[KIND].fetch(controller.aws, list(stale.values()),
                                           Context(owner=self.owner), {})
        for name, m in stale.items():
            self._take(name, lives.get(m.key), m)

    def status(self) -> dict[str, Any]:
        out = []
        for name, w in sorted(self.watched.items()):
            seen = self._looks.get(name)
            runs = seen.runs if seen else []
            last = next((r for r in reversed(runs) if r.verdict not in (
                RunVerdict.PENDING, RunVerdict.UNKNOWN)), None)
            memory = self._memory.get(name, w.memory)
            nxt = next_expected(w, seen.attempts if seen else [], memory, self.clock())
            out.append({
                "name": name, "cluster": w.cluster_name, "expression": w.expression,
                "state": "ENABLED" if w.enabled else "DISABLED",
                "lastRun": run_json(last) if last else None,
                "nextExpected": nxt.isoformat() if nxt else None,
                "retries": w.watch.retries, "fallbackCapacityProvider": w.watch.fallback})
        return {"checkedAt": self.checked_at.isoformat() if self.checked_at else None,
                "intervalSeconds": self.interval, "observeOnly": self.observe_only,
                "schedules": out}

    # --- one look -------------------------------------------------------------------------

    async def check(self, controller: Controller) -> None:
        """Look at every watched schedule once: verdicts, retries, memory, alerts."""
        self._registered(controller)  # on /metrics before the first verdict
        async with self._lock:
            if self._stale:
                await self._reread(controller)
            now = self.clock()
            if self._observer is None or self._observer.aws is not controller.aws:
                self._observer = Observer(controller.aws)
            observer = self._observer
            watched = list(self.watched.values())
            memories = {w.name: self._memory.get(w.name, Memory()).join(w.memory).watching(
                w.expression, w.enabled, now) for w in watched}
            for seen in await look(observer, watched, now, memories):
                self._looks[seen.watched.name] = seen
                await self._follow(controller, observer, seen, memories[seen.watched.name])
            self.checked_at = now
            horizon = now - 2 * RETENTION  # runs out of every look's view
            self._counted = {c for c in self._counted if c[1] >= horizon}

    async def _follow(self, controller: Controller, observer: Observer, seen: Look,
                      memory: Memory) -> None:
        w = seen.watched
        decision = decide(w, seen.runs, memory, may_retry=not self.observe_only)
        m, notes = decision.memory, list(decision.notes)
        started: dict[datetime, tuple[int, str | None, str]] = {}
        for run, attempt in decision.retries:
            try:
                arn, why = await observer.retry(w, run, attempt)
            except Fenced:  # no longer the leader: the new one re-runs it, and alerts
                return
            m = retried(m, run.expected, attempt)
            started[run.expected] = (attempt, arn, why)
            self._count(controller, w.name, "retry")
            log.info("schedules.retried", schedule=w.name, expected=run.expected.isoformat(),
                     attempt=attempt, task=arn, why=why)
            if arn is None and attempt >= w.watch.retries:
                notes.append(Note(NoteKind.GAVE_UP, replace(run, retries=attempt)))
        text = m.encode()
        if not self.observe_only and text != self._written.get(w.name, w.memory.encode()):
            try:
                await observer.remember(w, m)
                self._written[w.name] = text
            except AwsError as exc:  # not told, so told next look (fenced: the new leader's)
                log.warning("schedules.memory_not_written", schedule=w.name, error=str(exc))
                self._memory[w.name] = replace(memory, retry=m.retry, attempts=m.attempts)
                return
        self._memory[w.name] = m
        for run in seen.runs:
            if run.verdict.final and (w.name, run.expected, run.verdict) not in self._counted:
                self._counted.add((w.name, run.expected, run.verdict))
                self._count(controller, w.name, str(run.verdict))
        for note in notes:
            logs = await observer.logs(note.run) if note.kind is not NoteKind.GAVE_UP else None
            controller.alert(schedule_alert(w, note, started.get(note.run.expected), logs))

    def _count(self, controller: Controller, schedule: str, what: str) -> None:
        runs, retries = self._registered(controller)
        if what == "retry":
            retries.labels(schedule).inc()
        else:
            runs.labels(schedule, what).inc()

    def _registered(self, controller: Controller) -> tuple[Counter, Counter]:
        if self._metrics is None:
            registry = controller.metrics.registry
            self._metrics = (
                Counter("reconciler_scheduled_runs", "Runs of watched schedules by verdict "
                        "(succeeded, failed, missed), once each", ["schedule", "verdict"],
                        registry=registry),
                Counter("reconciler_scheduled_retries", "Runs re-run on the fallback capacity",
                        ["schedule"], registry=registry))
        return self._metrics


def schedule_alert(w: Watched, note: Note, started: tuple[int, str | None, str] | None,
                   logs: dict[str, str] | None) -> Alert:
    """One message about one run, threaded per schedule."""
    run: Run = note.run
    at = when(run.expected)
    fallback = w.watch.fallback or "the fallback capacity"
    lines = details(w, run, logs)
    if started is not None:
        attempt, arn, why = started
        lines.append(f"• re-running on {fallback}, attempt {attempt} of {w.watch.retries}: "
                     + (f"task {arn}" if arn else f"no task started: {why}"))
    if note.kind is NoteKind.RECOVERED:
        how = f" on {fallback} (retry {run.retries})" if run.retries else ""
        title = f":white_check_mark: Scheduled task {w.name} recovered: the run expected {at} " \
                f"succeeded{how}"
        kind = "schedule_recovered"
    elif note.kind is NoteKind.GAVE_UP:
        title = f":x: Scheduled task {w.name}: {run.retries} retr" \
                f"{'y' if run.retries == 1 else 'ies'} on {fallback} started no task for the " \
                f"run expected {at}"
        kind = "schedule_gave_up"
    elif run.verdict is RunVerdict.MISSED:
        title = f":x: Scheduled task {w.name} missed its run expected {at}"
        kind = "schedule_missed"
    elif run.verdict is RunVerdict.OVERDUE:
        limit = format_duration(w.watch.max_runtime) if w.watch.max_runtime else "?"
        title = f":hourglass: Scheduled task {w.name} is overdue: the run expected {at} has " \
                f"run longer than its maxRuntime {limit}"
        kind = "schedule_overdue"
    else:
        how = f"exit code {run.exit_code}" if run.exit_code is not None else outcome_text(run)
        title = f":x: Scheduled task {w.name} failed: the run expected {at} ended with {how}"
        kind = "schedule_failed"
    return Alert(kind, title, tuple(lines), f"schedule:{w.name}")


__all__ = ["DEFAULT_INTERVAL", "Watchdog", "schedule_alert"]
