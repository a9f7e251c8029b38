"""Scheduled runs, watched: for each owned ScheduledTask, when it should have run (its
expression), what AWS recorded of each run, one verdict per expected run, and what follows
(one alert per bad verdict, one "recovered", a retry on other capacity), with the memory
that keeps it to one of each across restarts and leaders. Pure: `reconciler.sync.runs`
reads and writes AWS, `reconciler.controller.watchdog` runs it beside the loop, and
`reconciler runs` prints it.

How a run is recognised (EventBridge documents neither; issue 14's notes):
- EventBridge starts the target's task with `startedBy` = `events-rule/<rule>` cut to 36
  characters (a CloudTrail sample; ECS's old startedBy limit) and `group` =
  `EcsParameters.Group`, else `family:<family>`. Rules whose names share their first 24
  characters cannot be told apart by startedBy, so the ScheduledTask kind gives every target
  it writes a group of its own, `reconciler:<rule>` (a manifest's own group wins; the kind
  compares the default as absent, so rules written before stay in sync and are recognised by
  startedBy until their target is next written).
- A retry is RunTask with the target's own parameters (overrides included) on the fallback
  capacity, in the same group, with startedBy `reconciler-retry/<expected>/<attempt>` and a
  client token made of both: AWS itself records which run was re-run and how often.

A task belongs to the expected run at or before its creation (EventBridge fires within the
minute). An expected run with no task once its tolerance has passed (or the next run is due,
if sooner) is missed, explained by what EventBridge recorded: a dead-letter message (its
error), failed invocations, or invocations with no task, which is how a RunTask answered with
`failures[]` (capacity unavailable) looks, since EventBridge does not count that as a failed
invocation. Only that last kind is re-run on the fallback capacity.

Memory (the rule's `reconciler:watch` tag): when the watch of this expression began (runs
expected before it are never called missed: a rule just created, enabled or changed), the
last run alerted as bad and its verdict, the run that recovered, and the retries made. The
tag is written before an alert is sent and after a RunTask returns, so a restart or a new
leader alerts nothing twice (it may, rarely, lose an alert) and re-runs nothing twice
(a retry task it finds counts, whatever the tag says).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from reconciler.core.kind import Live
from reconciler.core.manifest import Manifest, Path_
from reconciler.core.ownership import WATCH_TAG
from reconciler.core.schedule import RateSchedule, Schedule, ScheduleError, parse
from reconciler.core.vocab import RunVerdict

Doc = dict[str, Any]

# ECS: "stopped tasks appear in the returned results for at least one hour".
RETENTION = timedelta(hours=1)
DEFAULT_TOLERANCE = timedelta(minutes=10)
MIN_TOLERANCE = timedelta(minutes=1)
MAX_TOLERANCE = timedelta(minutes=45)  # judged after it, so well inside the hour
MAX_RETRIES = 5
GROUP_PREFIX = "reconciler:"
EVENTS_STARTED_BY = "events-rule/"
STARTED_BY_LIMIT = 36
RETRY_STARTED_BY = "reconciler-retry/"
RETRY_TAGS = ("reconciler:schedule", "reconciler:expected", "reconciler:attempt")
WATCH_KEYS = ("retries", "fallbackCapacityProvider", "maxRuntime", "tolerance")
_STAMP = "%Y%m%dT%H%M%SZ"


class MissCause(StrEnum):
    """Why EventBridge's own run of an expected time never became a task."""

    NO_TASK = "no-task"  # invoked, RunTask started nothing: capacity (re-run on the fallback)
    INVOCATION_FAILED = "invocation-failed"  # EventBridge could not call RunTask
    UNKNOWN = "unknown"  # nothing recorded: not fired, or its metrics are late


# --- durations and the manifest's `watch` -------------------------------------------------

_DURATION = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def parse_duration(value: Any) -> timedelta:
    """`90` (seconds), `"90s"`, `"10m"`, `"2h"`, `"1h30m"`, `"1d"`."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=value)
    text = value.strip().lower() if isinstance(value, str) else ""
    if text.isdigit():
        return timedelta(seconds=int(text))
    found = _DURATION.fullmatch(text) if text else None
    if not found or not any(found.groups()):
        raise ValueError(f"{value!r} is not a duration (write e.g. 90s, 10m, 2h, 1h30m, 1d)")
    d, h, m, s = (int(g or 0) for g in found.groups())
    return timedelta(days=d, hours=h, minutes=m, seconds=s)


def format_duration(d: timedelta) -> str:
    seconds = int(d.total_seconds())
    parts = [(seconds // 86400, "d"), (seconds % 86400 // 3600, "h"), (seconds % 3600 // 60, "m"),
             (seconds % 60, "s")]
    return "".join(f"{n}{unit}" for n, unit in parts if n) or "0s"


@dataclass(frozen=True)
class Watch:
    """A ScheduledTask's `watch:`: every owned schedule is watched unless `watch: false`."""

    enabled: bool = True
    retries: int = 0
    fallback: str | None = None  # the capacity provider a run missed for capacity re-runs on
    max_runtime: timedelta | None = None
    tolerance: timedelta = DEFAULT_TOLERANCE


def read_watch(value: Any) -> tuple[Watch, list[tuple[Path_, str]]]:
    """The watch a manifest declares, and every problem with it (path below `watch`)."""
    if value is None or value is True:
        return Watch(), []
    if value is False:
        return Watch(enabled=False), []
    if not isinstance(value, dict):
        return Watch(), [((), "spec.watch must be a mapping (" + ", ".join(WATCH_KEYS)
                          + ") or false")]
    errors: list[tuple[Path_, str]] = []
    for key in value:
        if key not in WATCH_KEYS:
            errors.append(((str(key),), f"spec.watch.{key}: unknown field (known: "
                                        f"{', '.join(WATCH_KEYS)})"))
    retries = value.get("retries", 0)
    if not isinstance(retries, int) or isinstance(retries, bool) or not 0 <= retries <= MAX_RETRIES:
        errors.append((("retries",), f"spec.watch.retries must be a whole number from 0 to "
                                     f"{MAX_RETRIES}, not {retries!r}"))
        retries = 0
    fallback = value.get("fallbackCapacityProvider")
    if fallback is not None and (not isinstance(fallback, str) or not fallback.strip()):
        errors.append((("fallbackCapacityProvider",),
                       "spec.watch.fallbackCapacityProvider must name a capacity provider"))
        fallback = None
    if retries and not fallback:
        errors.append((("retries",), "spec.watch.retries needs fallbackCapacityProvider: the "
                                     "capacity a run missed for want of capacity re-runs on "
                                     "(e.g. FARGATE)"))

    def duration(key: str, low: timedelta, high: timedelta | None) -> timedelta | None:
        if key not in value:
            return None
        try:
            d = parse_duration(value[key])
        except ValueError as exc:
            errors.append(((key,), f"spec.watch.{key}: {exc}"))
            return None
        if d < low or (high is not None and d > high):
            bound = f"from {format_duration(low)} to {format_duration(high)}" if high else \
                f"at least {format_duration(low)}"
            why = (": a run is judged after it, and ECS keeps a stopped task describable for "
                   "about an hour") if high else ""
            errors.append(((key,), f"spec.watch.{key} must be {bound}, not "
                                   f"{format_duration(d)}{why}"))
            return None
        return d

    max_runtime = duration("maxRuntime", timedelta(minutes=1), None)
    tolerance = duration("tolerance", MIN_TOLERANCE, MAX_TOLERANCE) or DEFAULT_TOLERANCE
    return Watch(True, retries, fallback, max_runtime, tolerance), errors


def watch_key(spec: Mapping[str, Any]) -> str | None:
    """The spec's key for `watch` as the user wrote it."""
    return next((k for k in spec if str(k).lower() == "watch"), None)


# --- recognising a schedule's tasks ---------------------------------------------------------

def default_group(rule: str) -> str:
    """The task group the ScheduledTask kind gives a target that names none."""
    return f"{GROUP_PREFIX}{rule}"


def events_started_by(rule: str) -> str:
    """What EventBridge sets as the startedBy of a task it runs for `rule`."""
    return (EVENTS_STARTED_BY + rule)[:STARTED_BY_LIMIT]


def family_of(task_definition: str) -> str:
    """`arn:...:task-definition/batch:3`, `batch:3` or `batch` -> `batch`."""
    return task_definition.rsplit("/", 1)[-1].split(":", 1)[0]


def stamp(t: datetime) -> str:
    return t.astimezone(UTC).strftime(_STAMP)


def unstamp(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


def retry_started_by(expected: datetime, attempt: int) -> str:
    return f"{RETRY_STARTED_BY}{stamp(expected)}/{attempt}"


def retry_of(started_by: str) -> tuple[datetime, int] | None:
    """(expected run, attempt) of a retry's startedBy; None for anything else."""
    if not started_by.startswith(RETRY_STARTED_BY):
        return None
    when, _, attempt = started_by[len(RETRY_STARTED_BY):].partition("/")
    expected = unstamp(when)
    return (expected, int(attempt)) if expected and attempt.isdigit() else None


def utc(value: Any) -> datetime | None:
    """A datetime from an AWS answer (botocore gives aware ones), in UTC."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return None


# --- memory ---------------------------------------------------------------------------------

def schedule_key(expression: str) -> str:
    return hashlib.sha256(expression.strip().encode()).hexdigest()[:8]


def _verdict(text: str) -> RunVerdict | None:
    try:
        return RunVerdict(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class Memory:
    """What the watchdog has done about a schedule, kept in the rule's `reconciler:watch`
    tag (letters, digits and `=:/ ` only, as tag values allow)."""

    since: datetime | None = None  # the watch of this expression, enabled, began
    schedule: str = ""  # schedule_key of that expression
    bad: datetime | None = None  # the last run alerted as bad
    verdict: RunVerdict | None = None  # ...and what it was alerted as
    ok: datetime | None = None  # the run that recovered it
    retry: datetime | None = None  # the last run re-run
    attempts: int = 0  # ...and how many RunTasks it got

    @property
    def open(self) -> bool:
        """A bad run was alerted and nothing has recovered since."""
        return self.bad is not None and (self.ok is None or self.ok < self.bad)

    def encode(self) -> str:
        parts = []
        if self.since:
            parts += [f"since={stamp(self.since)}", f"sched={self.schedule}"]
        if self.bad:
            parts.append(f"bad={stamp(self.bad)}/{self.verdict or ''}")
        if self.ok:
            parts.append(f"ok={stamp(self.ok)}")
        if self.retry:
            parts.append(f"retry={stamp(self.retry)}/{self.attempts}")
        return " ".join(parts) or "-"

    @classmethod
    def decode(cls, text: str | None) -> Memory:
        """A tag's memory; anything unreadable is forgotten, never an error."""
        fields = dict(p.split("=", 1) for p in (text or "").split() if "=" in p)
        bad, _, verdict = fields.get("bad", "").partition("/")
        retry, _, attempts = fields.get("retry", "").partition("/")
        since = unstamp(fields.get("since", ""))
        return cls(since=since, schedule=fields.get("sched", "") if since else "",
                   bad=unstamp(bad), verdict=_verdict(verdict), ok=unstamp(fields.get("ok", "")),
                   retry=unstamp(retry), attempts=int(attempts) if attempts.isdigit() else 0)

    def join(self, other: Memory) -> Memory:
        """Both memories at once (this process's and the tag's, which may lag behind it):
        each field as far as either went. The watch's start is this one's if it has one."""
        def rank(m: Memory) -> tuple[datetime, int]:
            return (m.bad or _EPOCH, m.verdict.rank if m.verdict else -1)

        worse = max(self, other, key=rank)
        retried = max(self, other, key=lambda m: (m.retry or _EPOCH, m.attempts))
        oks = [t for t in (self.ok, other.ok) if t]
        start = self if self.since else other
        return Memory(start.since, start.schedule, worse.bad, worse.verdict,
                      max(oks) if oks else None, retried.retry, retried.attempts)

    def watching(self, expression: str, enabled: bool, now: datetime) -> Memory:
        """The watch begins when a rule is first seen enabled with this expression; it ends
        when the rule is disabled (a run expected then is never called missed)."""
        if not enabled:
            return replace(self, since=None, schedule="")
        key = schedule_key(expression)
        if self.since is None or self.schedule != key:
            return replace(self, since=now, schedule=key)
        return self


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- one schedule as the watchdog sees it ---------------------------------------------------

@dataclass(frozen=True)
class Watched:
    """An owned rule and its one ECS target, as AWS describes them, and its watch."""

    name: str
    arn: str
    expression: str
    enabled: bool
    target: Doc  # as ListTargetsByRule answers it (PascalCase)
    watch: Watch = Watch()
    memory: Memory = Memory()  # as the rule's tag held it when read
    cluster_name: str = ""

    @property
    def ecs(self) -> Doc:
        ecs = self.target.get("EcsParameters")
        return ecs if isinstance(ecs, dict) else {}

    @property
    def cluster(self) -> str:
        return str(self.target.get("Arn", ""))

    @property
    def family(self) -> str:
        return family_of(str(self.ecs.get("TaskDefinitionArn", "")))

    @property
    def own_group(self) -> str | None:
        """The group the target itself sets, when it is one of its own."""
        group = self.ecs.get("Group")
        return str(group) if group and group != f"family:{self.family}" else None

    @property
    def group(self) -> str:
        """The group the schedule's tasks carry (its retries always do)."""
        return self.own_group or default_group(self.name)

    @property
    def dead_letter_arn(self) -> str | None:
        arn = (self.target.get("DeadLetterConfig") or {}).get("Arn")
        return str(arn) if arn else None

    def schedule(self) -> Schedule | None:
        try:
            return parse(self.expression)
        except ScheduleError:
            return None

    def owns(self, task: Mapping[str, Any]) -> bool:
        """Whether a task of this rule's cluster and family is one of its runs."""
        group, started = task.get("group"), str(task.get("startedBy") or "")
        if retry_of(started) is not None:
            return group == self.group
        if self.own_group:
            return group == self.own_group
        return started == events_started_by(self.name)


def watched_from(live: Live, manifest: Manifest | None) -> Watched | None:
    """The schedule to watch for a live rule with an ECS target (None otherwise)."""
    raw, spec = live.raw, live.spec
    target = next((t for t in spec.get("Targets") or [] if isinstance(t, dict)
                   and isinstance(t.get("EcsParameters"), dict)), None)
    if not raw.get("ScheduleExpression") or target is None:
        return None
    watch = Watch()
    if manifest is not None:
        key = watch_key(manifest.spec)
        watch, _ = read_watch(manifest.spec.get(key) if key else None)
    return Watched(name=live.key.name, arn=live.arn, expression=str(raw["ScheduleExpression"]),
                   enabled=raw.get("State", "ENABLED") == "ENABLED", target=target, watch=watch,
                   memory=Memory.decode(live.tags.get(WATCH_TAG)),
                   cluster_name=live.key.cluster or str(target.get("Arn", "")).rsplit("/", 1)[-1])


# --- what AWS recorded ----------------------------------------------------------------------

@dataclass(frozen=True)
class Attempt:
    """One task of a run: EventBridge's own (attempt 0) or a retry (1, 2, ...)."""

    arn: str
    created: datetime
    status: str
    started: datetime | None = None
    stopped: datetime | None = None
    exit_code: int | None = None
    container: str = ""  # the container the outcome is about
    reason: str = ""
    attempt: int = 0
    expected: datetime | None = None  # a retry knows which run it re-runs
    task_definition: str = ""
    capacity: str = ""

    def outcome(self, now: datetime, max_runtime: timedelta | None) -> RunVerdict:
        if self.status == "STOPPED":
            return RunVerdict.SUCCEEDED if self.exit_code == 0 else RunVerdict.FAILED
        began = self.started or self.created
        if max_runtime is not None and now - began > max_runtime:
            return RunVerdict.OVERDUE
        return RunVerdict.RUNNING


def attempt_from(task: Mapping[str, Any], essential: Collection[str] | None = None) -> Attempt:
    """A described task as an attempt. Its outcome is its essential containers' (all of them
    when the task definition is not known): the first non-zero exit code decides."""
    containers = [c for c in task.get("containers") or [] if isinstance(c, dict)]
    judged = [c for c in containers if essential is None or c.get("name") in essential]
    failing = next((c for c in judged if c.get("exitCode") not in (0, None)), None)
    exited = [c for c in judged if c.get("exitCode") is not None]
    decider = failing or next((c for c in judged if c.get("exitCode") is None), None) or \
        (judged[0] if judged else None)
    code: int | None
    if failing is not None:
        code = int(failing["exitCode"])
    elif judged and len(exited) == len(judged):
        code = 0
    else:
        code = None
    reason = str((failing or {}).get("reason") or task.get("stoppedReason") or "")
    started_by = str(task.get("startedBy") or "")
    retry = retry_of(started_by)
    created = utc(task.get("createdAt")) or _EPOCH
    return Attempt(
        arn=str(task.get("taskArn", "")), created=created, status=str(task.get("lastStatus", "")),
        started=utc(task.get("startedAt")), stopped=utc(task.get("stoppedAt")), exit_code=code,
        container=str((decider or {}).get("name", "")), reason=reason,
        attempt=retry[1] if retry else 0, expected=retry[0] if retry else None,
        task_definition=str(task.get("taskDefinitionArn", "")),
        capacity=str(task.get("capacityProviderName") or task.get("launchType") or ""))


@dataclass(frozen=True)
class Evidence:
    """What EventBridge recorded around one expected run: its rule's metrics (AWS/Events,
    `RuleName`) and the errors of its dead-letter messages."""

    invocations: int = 0
    failed: int = 0
    undelivered: int = 0  # InvocationsFailedToBeSentToDlq
    errors: tuple[str, ...] = ()  # "ERROR_CODE: ERROR_MESSAGE" of dead-letter messages


def explain(e: Evidence | None) -> tuple[MissCause, str]:
    if e is not None and e.errors:
        return MissCause.INVOCATION_FAILED, f"EventBridge could not run the task: {e.errors[0]}"
    if e is not None and e.failed:
        lost = "; the event did not reach the dead-letter queue either" if e.undelivered else ""
        return MissCause.INVOCATION_FAILED, (f"EventBridge failed to invoke the target "
                                             f"({e.failed} failed invocation(s){lost})")
    if e is not None and e.invocations:
        return MissCause.NO_TASK, ("EventBridge invoked RunTask but no task started: capacity "
                                   "unavailable or no placement (RunTask's failures[], not a "
                                   "failed invocation to EventBridge)")
    return MissCause.UNKNOWN, ("no task, and EventBridge recorded no invocation: the rule did not "
                               "fire, or its metrics are late")


# --- verdicts -------------------------------------------------------------------------------

@dataclass
class Run:
    """One expected run of a schedule and what became of it."""

    rule: str
    expected: datetime
    verdict: RunVerdict
    attempts: list[Attempt] = field(default_factory=list)
    reason: str = ""
    exit_code: int | None = None
    container: str = ""
    cause: MissCause | None = None  # why EventBridge's own run never became a task
    missed: str = ""  # ...in words
    retries: int = 0  # retries made, whether or not they started a task

    @property
    def task(self) -> Attempt | None:
        """The attempt the verdict is about (the latest)."""
        return self.attempts[-1] if self.attempts else None


def anchor_of(schedule: Schedule, attempts: Sequence[Attempt], since: datetime | None,
              now: datetime, lookback: timedelta = RETENTION) -> datetime | None:
    """A rate's phase: the minute of the latest run EventBridge started (moved back a whole
    number of intervals, so every run in view falls after it), else the start of the watch
    (None: nothing can be expected yet). Cron needs none."""
    if not isinstance(schedule, RateSchedule):
        return since or _EPOCH
    own = [a.created for a in attempts if a.attempt == 0 and a.created > _EPOCH]
    if not own:
        return since
    base = max(own).replace(second=0, microsecond=0)
    earliest = min([now - lookback, *own])
    return base - (int((base - earliest) / schedule.interval) + 1) * schedule.interval


def judge(w: Watched, attempts: Sequence[Attempt], now: datetime, *,
          evidence: Mapping[datetime, Evidence] | None = None, memory: Memory | None = None,
          lookback: timedelta = RETENTION) -> list[Run]:
    """A verdict on every run expected in `lookback` up to `now` (none while the rule is
    disabled) and on every run a task was found for, oldest first."""
    schedule = w.schedule()
    if schedule is None:
        return []
    memory = memory or w.memory
    evidence = evidence or {}
    anchor = anchor_of(schedule, attempts, memory.since, now, lookback)
    slots: dict[datetime, list[Attempt]] = {}
    for a in attempts:
        if a.attempt:
            slot = a.expected
        else:
            slot = schedule.previous_before_or_at(a.created, anchor=anchor) if anchor else None
        if slot is not None:
            slots.setdefault(slot, []).append(a)
    if w.enabled and anchor is not None:
        for expected in schedule.fires_between(now - lookback, now, anchor=anchor):
            slots.setdefault(expected, [])
    return [_run(w, schedule, anchor, expected, found, now, evidence.get(expected), memory)
            for expected, found in sorted(slots.items())]


def _run(w: Watched, schedule: Schedule, anchor: datetime | None, expected: datetime,
         found: list[Attempt], now: datetime, evidence: Evidence | None, memory: Memory) -> Run:
    own = sorted((a for a in found if not a.attempt), key=lambda a: a.created)
    retries = sorted((a for a in found if a.attempt), key=lambda a: (a.attempt, a.created))
    made = max([a.attempt for a in retries] + [memory.attempts if memory.retry == expected else 0])
    run = Run(w.name, expected, RunVerdict.PENDING, own + retries, retries=made)
    max_runtime = w.watch.max_runtime
    if own and not retries:
        outcomes = [(a.outcome(now, max_runtime), a) for a in own]
        for verdict in (RunVerdict.OVERDUE, RunVerdict.RUNNING, RunVerdict.FAILED,
                        RunVerdict.SUCCEEDED):
            decider = next((a for v, a in outcomes if v is verdict), None)
            if decider is not None:
                break
        assert decider is not None
        return replace(run, verdict=verdict, exit_code=decider.exit_code,
                       container=decider.container, reason=decider.reason,
                       attempts=[*(a for a in own if a is not decider), decider])
    if retries:
        cause, why = explain(evidence)
        last = retries[-1]
        return replace(run, verdict=last.outcome(now, max_runtime), exit_code=last.exit_code,
                       container=last.container, reason=last.reason, cause=cause, missed=why)
    nxt = schedule.next_after(expected, anchor=anchor)
    deadline = min(expected + w.watch.tolerance, nxt) if nxt else expected + w.watch.tolerance
    if now < deadline:
        return run
    if memory.since is None or expected < memory.since:
        return replace(run, verdict=RunVerdict.UNKNOWN,
                       reason="expected before the watch of this schedule began")
    if expected < now - RETENTION:
        return replace(run, verdict=RunVerdict.UNKNOWN,
                       reason="ECS no longer describes its task (kept about an hour)"
                              + _recorded(evidence))
    cause, why = explain(evidence)
    if made:
        why += f"; {made} retr{'y' if made == 1 else 'ies'} on {w.watch.fallback} started no task"
    return replace(run, verdict=RunVerdict.MISSED, cause=cause, missed=why, reason=why)


def in_view(w: Watched, attempts: Sequence[Attempt], memory: Memory, now: datetime,
            lookback: timedelta = RETENTION) -> bool:
    """Whether a look can learn anything new of this schedule: a run was expected inside the
    lookback, a task it knows is still going, or a retry is recent. A nightly job is looked at
    for about an hour a day; the rest of the day it costs nothing."""
    if any(a.status != "STOPPED" for a in attempts):
        return True
    if memory.retry is not None and memory.retry > now - lookback:
        return True
    schedule = w.schedule()
    if schedule is None or not w.enabled:
        return False
    anchor = anchor_of(schedule, attempts, memory.since, now, lookback)
    last = schedule.previous_before_or_at(now, anchor=anchor) if anchor else None
    return last is not None and last > now - lookback


def _recorded(e: Evidence | None) -> str:
    if e is None:
        return ""
    if e.errors:
        return f"; EventBridge: {e.errors[0]}"
    if e.failed:
        return "; EventBridge's invocation failed"
    return "; EventBridge invoked its target" if e.invocations else \
        "; EventBridge recorded no invocation"


def next_expected(w: Watched, attempts: Sequence[Attempt], memory: Memory, now: datetime
                  ) -> datetime | None:
    schedule = w.schedule()
    if schedule is None or not w.enabled:
        return None
    anchor = anchor_of(schedule, attempts, memory.since, now)
    return schedule.next_after(now, anchor=anchor) if anchor else None


# --- what follows ---------------------------------------------------------------------------

class NoteKind(StrEnum):
    BAD = "bad"
    RECOVERED = "recovered"
    GAVE_UP = "gave-up"


@dataclass(frozen=True)
class Note:
    """Something to tell people about one run."""

    kind: NoteKind
    run: Run


@dataclass
class Decision:
    notes: list[Note]
    retries: list[tuple[Run, int]]  # runs to re-run now, and the attempt number
    memory: Memory


def decide(w: Watched, runs: Sequence[Run], memory: Memory, *, may_retry: bool = True
           ) -> Decision:
    """What to tell and what to re-run, given what was already told and re-run: each bad
    verdict once (a worse one about the same run once more: missed, then its retry failed),
    one "recovered" when a run at or after the last bad one succeeds; a run missed for
    capacity re-run until the watch's retries are spent."""
    notes: list[Note] = []
    retries: list[tuple[Run, int]] = []
    m = memory
    for run in sorted(runs, key=lambda r: r.expected):
        v = run.verdict
        if v.bad:
            newer = m.bad is None or run.expected > m.bad
            worse = run.expected == m.bad and (m.verdict is None or v.rank > m.verdict.rank)
            if newer or worse:
                notes.append(Note(NoteKind.BAD, run))
                m = replace(m, bad=run.expected, verdict=v)
        elif v is RunVerdict.SUCCEEDED and m.open and m.bad is not None and run.expected >= m.bad:
            notes.append(Note(NoteKind.RECOVERED, run))
            m = replace(m, ok=run.expected)
        if (v is RunVerdict.MISSED and may_retry and run.cause is MissCause.NO_TASK
                and w.watch.fallback and run.retries < w.watch.retries):
            retries.append((run, run.retries + 1))
    return Decision(notes, retries, m)


def retried(memory: Memory, expected: datetime, attempt: int) -> Memory:
    if (memory.retry or _EPOCH, memory.attempts) >= (expected, attempt):
        return memory
    return replace(memory, retry=expected, attempts=attempt)


def client_token(rule: str, expected: datetime, attempt: int) -> str:
    """RunTask's idempotency token for one attempt: sent twice, it starts one task."""
    return hashlib.sha256(f"{rule}|{stamp(expected)}|{attempt}".encode()).hexdigest()[:32]


def _lower(items: Any, *keys: str) -> list[Doc]:
    return [{k[0].lower() + k[1:]: i[k] for k in keys if k in i}
            for i in items or [] if isinstance(i, dict)]


def run_task_request(target: Mapping[str, Any]) -> Doc:
    """The RunTask an EventBridge ECS target stands for: its EcsParameters in ECS's spelling
    and its `Input` as the overrides (what EventBridge sends, bar startedBy)."""
    ecs = target.get("EcsParameters") or {}
    request: Doc = {"cluster": target.get("Arn"), "taskDefinition": ecs.get("TaskDefinitionArn"),
                    "count": int(ecs.get("TaskCount") or 1)}
    if isinstance(target.get("Input"), str):
        with contextlib.suppress(ValueError):
            overrides = json.loads(target["Input"])
            if isinstance(overrides, dict) and overrides:
                request["overrides"] = overrides
    vpc = (ecs.get("NetworkConfiguration") or {}).get("awsvpcConfiguration")
    if isinstance(vpc, dict):
        request["networkConfiguration"] = {"awsvpcConfiguration": {
            k[0].lower() + k[1:]: v for k, v in vpc.items()}}
    for source, dest in (("LaunchType", "launchType"), ("PlatformVersion", "platformVersion"),
                         ("Group", "group"), ("PropagateTags", "propagateTags"),
                         ("EnableECSManagedTags", "enableECSManagedTags"),
                         ("EnableExecuteCommand", "enableExecuteCommand"),
                         ("ReferenceId", "referenceId")):
        if ecs.get(source) not in (None, ""):
            request[dest] = ecs[source]
    if ecs.get("CapacityProviderStrategy"):
        request["capacityProviderStrategy"] = list(ecs["CapacityProviderStrategy"])
    if ecs.get("PlacementConstraints"):
        request["placementConstraints"] = _lower(ecs["PlacementConstraints"], "Type", "Expression")
    if ecs.get("PlacementStrategy"):
        request["placementStrategy"] = _lower(ecs["PlacementStrategy"], "Type", "Field")
    if ecs.get("Tags"):
        request["tags"] = _lower(ecs["Tags"], "Key", "Value")
    return request


def retry_request(w: Watched, expected: datetime, attempt: int) -> Doc:
    """The target's exact RunTask (overrides included) on the fallback capacity, in the
    schedule's group, recorded as this attempt at this expected run."""
    request = run_task_request(w.target)
    request.pop("launchType", None)
    marks = dict(zip(RETRY_TAGS, (w.name, expected.astimezone(UTC).isoformat(), str(attempt)),
                     strict=True))
    tags = [t for t in request.get("tags", []) if t.get("key") not in marks]
    request.update({
        "capacityProviderStrategy": [{"capacityProvider": w.watch.fallback, "weight": 1}],
        "group": w.group, "startedBy": retry_started_by(expected, attempt),
        "clientToken": client_token(w.name, expected, attempt),
        "tags": tags + [{"key": k, "value": v} for k, v in marks.items()]})
    return request


# --- in words -------------------------------------------------------------------------------

def when(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def log_location(definition: Mapping[str, Any] | None, container: str, task_arn: str,
                 region: str) -> dict[str, str] | None:
    """Where a container's awslogs output goes (group, stream, region), from its task
    definition: `<prefix>/<container>/<task id>`."""
    for c in (definition or {}).get("containerDefinitions") or []:
        if not isinstance(c, dict) or c.get("name") != container:
            continue
        config = c.get("logConfiguration") or {}
        options = config.get("options") or {}
        if config.get("logDriver") != "awslogs" or not options.get("awslogs-group"):
            return None
        out = {"group": str(options["awslogs-group"]),
               "region": str(options.get("awslogs-region") or region)}
        if options.get("awslogs-stream-prefix") and task_arn:
            out["stream"] = f"{options['awslogs-stream-prefix']}/{container}/" \
                            f"{task_arn.rsplit('/', 1)[-1]}"
        return out
    return None


def logs_text(logs: Mapping[str, str] | None) -> str:
    if not logs:
        return ""
    stream = f", stream {logs['stream']}" if logs.get("stream") else ""
    return f"CloudWatch Logs {logs['group']}{stream} ({logs['region']})"


def outcome_text(run: Run) -> str:
    """The verdict in a few words: exit code, reason (nothing for a success)."""
    v = run.verdict
    if v is RunVerdict.SUCCEEDED:
        return ""
    if v is RunVerdict.FAILED:
        where = f" ({run.container})" if run.container else ""
        code = f"exit code {run.exit_code}{where}" if run.exit_code is not None else "no exit code"
        return f"{code}: {run.reason}" if run.reason else code
    if v is RunVerdict.OVERDUE and run.task is not None:
        return f"still running, started {when(run.task.started or run.task.created)}"
    return run.reason or run.missed


def details(w: Watched, run: Run, logs: Mapping[str, str] | None = None) -> list[str]:
    """The lines of an alert, and of `reconciler runs --output text`."""
    lines = [f"• schedule `{w.name}` ({w.expression}) on {w.cluster_name or w.cluster}",
             f"• expected {when(run.expected)}: {run.verdict}"]
    text = outcome_text(run)
    if text:
        lines.append(f"• {text}")
    if run.missed and run.missed != text:
        lines.append(f"• missed first: {run.missed}")
    if run.retries:
        lines.append(f"• retries on {w.watch.fallback}: {run.retries} of {w.watch.retries}")
    if run.task is not None:
        lines.append(f"• task {run.task.arn}")
    if logs:
        lines.append(f"• logs: {logs_text(logs)}")
    return lines


def run_json(run: Run, logs: Mapping[str, str] | None = None) -> Doc:
    return {
        "expected": run.expected.isoformat(), "verdict": str(run.verdict),
        "exitCode": run.exit_code, "container": run.container or None,
        "reason": run.reason or None, "missed": run.missed or None,
        "cause": str(run.cause) if run.cause else None, "retries": run.retries,
        "taskArn": run.task.arn if run.task else None, "logs": dict(logs) if logs else None,
        "attempts": [{"taskArn": a.arn, "attempt": a.attempt, "status": a.status,
                      "exitCode": a.exit_code, "capacity": a.capacity or None,
                      "createdAt": a.created.isoformat()} for a in run.attempts],
    }


__all__ = ["DEFAULT_TOLERANCE", "GROUP_PREFIX", "RETENTION", "RETRY_TAGS", "WATCH_KEYS",
           "Attempt", "Decision", "Evidence", "Memory", "MissCause", "Note", "NoteKind", "Run",
           "Watch", "Watched", "anchor_of", "attempt_from", "client_token", "decide",
           "default_group", "details", "events_started_by", "explain", "family_of",
           "format_duration", "in_view", "judge", "log_location", "logs_text", "next_expected",
           "outcome_text", "parse_duration", "read_watch", "retried", "retry_of", "retry_request",
           "retry_started_by", "run_json", "run_task_request", "stamp", "utc", "watch_key",
           "watched_from", "when"]
