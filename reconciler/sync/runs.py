"""What AWS recorded of scheduled runs, read cheaply, and the two writes the schedule
watchdog makes: a retry's RunTask and its memory tag on the rule. The controller's watchdog
and `reconciler runs` both look through here; the verdicts are `core.runs`'s.

What one look costs (measured: bench/README.md, "Watching scheduled runs"):
- per (cluster, task definition family) watched, ListTasks for RUNNING and for STOPPED
  tasks (100 a page): EventBridge leaves no other trace of a run, and ECS keeps a stopped
  task describable for about an hour, so the watchdog looks every minute;
- DescribeTasks, 100 tasks a call per cluster, only for tasks it has not seen stop: a
  stopped task no longer changes, and a task of no watched rule (a service's) stays one;
- DescribeTaskDefinition once per revision per process (the adapter keeps it on disk), for
  the essential containers and the log configuration;
- only when a run was missed: one GetMetricData for every such rule (3 queries a rule, 500
  a call) and one ReceiveMessage per dead-letter queue (10 messages, left visible to their
  own consumers: VisibilityTimeout 0).
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import structlog

from reconciler.core.kind import Live
from reconciler.core.ownership import WATCH_TAG
from reconciler.core.ports import AwsApi, AwsError, Fenced, collect_pages, gather_limited
from reconciler.core.runs import (
    RETENTION,
    Attempt,
    Evidence,
    Memory,
    Run,
    Watched,
    attempt_from,
    in_view,
    judge,
    log_location,
    retry_request,
    utc,
)
from reconciler.core.vocab import RunVerdict

log = structlog.get_logger(__name__)

DESCRIBE_TASKS = 100  # DescribeTasks takes up to 100 tasks
METRIC_QUERIES = 500  # GetMetricData takes up to 500 queries
METRICS = ("Invocations", "FailedInvocations", "InvocationsFailedToBeSentToDlq")
Doc = dict[str, Any]


@dataclass
class Look:
    """One schedule as one look saw it."""

    watched: Watched
    runs: list[Run]
    attempts: list[Attempt]


class Observer:
    """Reads runs for a set of schedules, remembering what cannot change (stopped tasks,
    tasks of no watched rule, task definitions) between looks."""

    def __init__(self, aws: AwsApi) -> None:
        self.aws = aws
        self._stopped: dict[str, Doc] = {}
        self._foreign: set[str] = set()
        self._identity: frozenset[tuple[str, ...]] = frozenset()
        self._definitions: dict[str, Doc] = {}
        self._queues: dict[str, str] = {}
        self._evidence: dict[tuple[str, datetime], Evidence] = {}
        self.seen: dict[str, list[Attempt]] = {}  # what the last look found, by schedule

    # --- tasks ------------------------------------------------------------------------------

    async def attempts(self, watched: Sequence[Watched], listed: Collection[str] | None = None
                       ) -> dict[str, list[Attempt]]:
        """Every task AWS still describes of each schedule, by rule name; for a schedule not
        in `listed` (nothing can have happened to it), what the last look found."""
        identity = frozenset((w.name, w.group, w.cluster, w.family, str(w.own_group))
                             for w in watched)
        if identity != self._identity:
            self._foreign.clear()
            self._identity = identity
        groups: dict[tuple[str, str], list[Watched]] = {}
        for w in watched:
            if w.cluster and w.family and (listed is None or w.name in listed):
                groups.setdefault((w.cluster, w.family), []).append(w)
        lists = dict(zip(groups, await gather_limited(*(self._list(c, f) for c, f in groups)),
                         strict=True))
        tasks: dict[str, Doc] = {}
        by_cluster: dict[str, list[str]] = {}
        for (cluster, _family), arns in lists.items():
            for arn in arns:
                if arn in self._stopped:
                    tasks[arn] = self._stopped[arn]
                elif arn not in self._foreign:
                    by_cluster.setdefault(cluster, []).append(arn)
        for described in await gather_limited(*(self._describe(c, arns)
                                                for c, arns in by_cluster.items())):
            tasks.update(described)
        looked = {w.name for ws in groups.values() for w in ws}
        out = {w.name: [] if w.name in looked else list(self.seen.get(w.name, []))
               for w in watched}
        for key, arns in lists.items():
            for arn in arns:
                task = tasks.get(arn)
                if task is None:
                    continue
                owners = [w for w in groups[key] if w.owns(task)]
                if not owners:
                    self._foreign.add(arn)
                    continue
                essential = _essential(await self.definition(str(task.get("taskDefinitionArn",
                                                                          ""))))
                for w in owners:
                    out[w.name].append(attempt_from(task, essential))
        self.seen = out
        return out

    async def _list(self, cluster: str, family: str) -> list[str]:
        running, stopped = await gather_limited(*(
            collect_pages(self.aws, "ecs", "list_tasks", "taskArns", cluster=cluster,
                          family=family, desiredStatus=status)
            for status in ("RUNNING", "STOPPED")))
        return list(dict.fromkeys([*running, *stopped]))

    async def _describe(self, cluster: str, arns: list[str]) -> dict[str, Doc]:
        async def fetch(batch: list[str]) -> dict[str, Doc]:
            resp = await self.aws.call("ecs", "describe_tasks", cluster=cluster, tasks=batch)
            return {t["taskArn"]: t for t in resp.get("tasks", [])}

        found = await self.aws.batched(f"tasks:{cluster}", arns, DESCRIBE_TASKS, fetch)
        for arn, task in found.items():
            if task.get("lastStatus") == "STOPPED":
                self._stopped[arn] = task
        return found

    async def definition(self, arn: str) -> Doc | None:
        """A task definition revision (immutable): this process's, the adapter's, or read."""
        if not arn:
            return None
        if arn not in self._definitions:
            cached = self.aws.cache.get(arn)
            known = cached.raw if isinstance(cached, Live) else self.aws.recall(arn)
            if known is None:
                try:
                    resp = await self.aws.call("ecs", "describe_task_definition",
                                               taskDefinition=arn)
                except AwsError as exc:
                    log.warning("runs.definition_unreadable", arn=arn, error=str(exc))
                    return None
                known = resp["taskDefinition"]
                self.aws.keep(arn, known)
            self._definitions[arn] = known
        return self._definitions[arn]

    def forget(self, now: datetime) -> None:
        """Drop stopped tasks AWS no longer describes (kept an hour and a little)."""
        horizon = now - RETENTION - timedelta(minutes=30)
        for arn, task in list(self._stopped.items()):
            stopped = utc(task.get("stoppedAt")) or utc(task.get("createdAt"))
            if stopped is not None and stopped < horizon:
                del self._stopped[arn]
        for key in [k for k in self._evidence if k[1] < horizon]:
            del self._evidence[key]

    # --- why a run never became a task ------------------------------------------------------

    async def evidence(self, wanted: Mapping[str, tuple[Watched, list[datetime]]],
                       now: datetime) -> dict[str, dict[datetime, Evidence]]:
        """What EventBridge recorded around these expected runs: the rules' metrics and
        their dead-letter messages (read once something was recorded: it stays)."""
        out: dict[str, dict[datetime, Evidence]] = {}
        missing: dict[str, tuple[Watched, list[datetime]]] = {}
        for name, (w, times) in wanted.items():
            for t in times:
                known = self._evidence.get((name, t))
                if known is not None:
                    out.setdefault(name, {})[t] = known
                else:
                    missing.setdefault(name, (w, []))[1].append(t)
        if not missing:
            return out
        counts = await self._metrics(missing, now)
        errors = await self._dead_letters(missing)
        series = {}
        for key, points in counts.items():
            ordered = sorted(points)
            series[key] = ([at for at, _ in ordered],
                           list(itertools.accumulate(v for _, v in ordered)))
        for name, (w, times) in missing.items():
            for t in times:
                window = (t, t + w.watch.tolerance + timedelta(minutes=1))
                n = {m: _total(series.get((name, m)), *window) for m in METRICS}
                said = tuple(e for at, e in errors.get(name, []) if window[0] <= at < window[1])
                found = Evidence(n["Invocations"], n["FailedInvocations"],
                                 n["InvocationsFailedToBeSentToDlq"], said)
                out.setdefault(name, {})[t] = found
                if found != Evidence():
                    self._evidence[(name, t)] = found
        return out

    async def _metrics(self, wanted: Mapping[str, tuple[Watched, list[datetime]]],
                       now: datetime) -> dict[tuple[str, str], list[tuple[datetime, float]]]:
        times = [t for _, ts in wanted.values() for t in ts]
        if not times:
            return {}
        start = min(times).replace(second=0, microsecond=0) - timedelta(minutes=1)
        end = now.replace(second=0, microsecond=0) + timedelta(minutes=2)
        queries, ids = [], {}
        for i, name in enumerate(sorted(wanted)):
            for j, metric in enumerate(METRICS):
                ids[f"m{i}_{j}"] = (name, metric)
                queries.append({"Id": f"m{i}_{j}", "ReturnData": True, "MetricStat": {
                    "Metric": {"Namespace": "AWS/Events", "MetricName": metric,
                               "Dimensions": [{"Name": "RuleName", "Value": name}]},
                    "Period": 60, "Stat": "Sum"}})
        out: dict[tuple[str, str], list[tuple[datetime, float]]] = {}
        for k in range(0, len(queries), METRIC_QUERIES):
            batch = queries[k:k + METRIC_QUERIES]
            async for page in self.aws.pages("cloudwatch", "get_metric_data", "NextToken",
                                             "NextToken", MetricDataQueries=batch,
                                             StartTime=start, EndTime=end):
                for result in page.get("MetricDataResults", []):
                    stamps = [utc(s) for s in result.get("Timestamps", [])]
                    out.setdefault(ids[result["Id"]], []).extend(
                        (s, float(v)) for s, v in zip(stamps, result.get("Values", []),
                                                      strict=False) if s is not None)
        return out

    async def _dead_letters(self, wanted: Mapping[str, tuple[Watched, list[datetime]]]
                            ) -> dict[str, list[tuple[datetime, str]]]:
        queues: dict[str, list[Watched]] = {}
        for w, times in wanted.values():
            if w.dead_letter_arn and times:
                queues.setdefault(w.dead_letter_arn, []).append(w)
        out: dict[str, list[tuple[datetime, str]]] = {}
        for arn, ws in queues.items():
            by_rule = {w.arn: w.name for w in ws}
            for message in await self._receive(arn):
                attrs = {k: str(v.get("StringValue", ""))
                         for k, v in (message.get("MessageAttributes") or {}).items()}
                name = by_rule.get(attrs.get("RULE_ARN", ""))
                at = _event_time(message.get("Body"))
                if name and at:
                    text = f"{attrs.get('ERROR_CODE', '?')}: {attrs.get('ERROR_MESSAGE', '')}"
                    out.setdefault(name, []).append((at, text))
        return out

    async def _receive(self, queue_arn: str) -> list[Doc]:
        try:
            if queue_arn not in self._queues:
                parts = queue_arn.split(":")
                resp = await self.aws.call("sqs", "get_queue_url", QueueName=parts[-1],
                                           QueueOwnerAWSAccountId=parts[4])
                self._queues[queue_arn] = str(resp["QueueUrl"])
            resp = await self.aws.call("sqs", "receive_message", QueueUrl=self._queues[queue_arn],
                                       MaxNumberOfMessages=10, VisibilityTimeout=0,
                                       WaitTimeSeconds=0, MessageAttributeNames=["All"])
        except AwsError as exc:
            log.info("runs.dead_letters_unreadable", queue=queue_arn, error=str(exc))
            return []
        return list(resp.get("Messages", []))

    # --- writes -----------------------------------------------------------------------------

    async def retry(self, w: Watched, run: Run, attempt: int) -> tuple[str | None, str]:
        """Re-run one expected run on the watch's fallback capacity: (task ARN, or None and
        why nothing started). Raises Fenced when this replica may not write: no attempt."""
        try:
            resp = await self.aws.call("ecs", "run_task", **retry_request(w, run.expected, attempt))
        except Fenced:
            raise  # not sent: not an attempt
        except AwsError as exc:
            return None, str(exc)
        started = resp.get("tasks") or []
        if started:
            return str(started[0]["taskArn"]), ""
        failures = resp.get("failures") or [{}]
        return None, str(failures[0].get("reason") or "RunTask started no task")

    async def remember(self, w: Watched, memory: Memory) -> None:
        """The watchdog's memory of a schedule, into its rule's tag."""
        await self.aws.call("events", "tag_resource", ResourceARN=w.arn,
                            Tags=[{"Key": WATCH_TAG, "Value": memory.encode()}])

    async def logs(self, run: Run) -> dict[str, str] | None:
        task = run.task
        if task is None:
            return None
        definition = await self.definition(task.task_definition)
        container = run.container or task.container
        if not container:
            container = next(iter(_essential(definition) or []), "")
        return log_location(definition, container, task.arn, self.aws.region)


def _total(series: tuple[list[datetime], list[float]] | None, start: datetime, end: datetime
           ) -> int:
    """The sum of a metric's datapoints in [start, end), from its running sums."""
    if series is None:
        return 0
    stamps, sums = series
    i, j = bisect.bisect_left(stamps, start), bisect.bisect_left(stamps, end)
    return int((sums[j - 1] if j else 0.0) - (sums[i - 1] if i else 0.0))


def _essential(definition: Doc | None) -> list[str] | None:
    if definition is None:
        return None
    return [str(c.get("name")) for c in definition.get("containerDefinitions") or []
            if isinstance(c, dict) and c.get("essential", True) is not False]


def _event_time(body: Any) -> datetime | None:
    """The fire time of the Scheduled Event a dead-letter message carries."""
    with contextlib.suppress(ValueError, TypeError):
        event = json.loads(body)
        when = str(event.get("time", "")).replace("Z", "+00:00")
        return utc(datetime.fromisoformat(when))
    return None


async def look(observer: Observer, watched: Iterable[Watched], now: datetime,
               memories: Mapping[str, Memory], lookback: timedelta = RETENTION) -> list[Look]:
    """Each schedule's runs as AWS has them now: tasks first, then, for runs with none, what
    EventBridge recorded."""
    schedules = list(watched)
    listed = {w.name for w in schedules if in_view(w, observer.seen.get(w.name, []),
                                                   memories.get(w.name) or w.memory, now,
                                                   lookback)}
    attempts = await observer.attempts(schedules, listed)
    looks = [Look(w, judge(w, attempts[w.name], now, memory=memories.get(w.name), lookback=lookback),
                  attempts[w.name]) for w in schedules]
    def unexplained(r: Run) -> bool:
        """No task of EventBridge's own: missed, re-run, or no longer described."""
        if any(a.attempt == 0 for a in r.attempts):
            return False
        return r.verdict is RunVerdict.MISSED or bool(r.attempts) or (
            r.verdict is RunVerdict.UNKNOWN and r.expected < now - RETENTION)

    wanted = {lk.watched.name: (lk.watched, [r.expected for r in lk.runs if unexplained(r)])
              for lk in looks}
    wanted = {k: v for k, v in wanted.items() if v[1]}
    if wanted:
        try:
            evidence = await observer.evidence(wanted, now)
        except AwsError as exc:
            log.warning("runs.evidence_unreadable", error=str(exc))
            evidence = {}
        looks = [replace(lk, runs=judge(lk.watched, lk.attempts, now,
                                        evidence=evidence.get(lk.watched.name),
                                        memory=memories.get(lk.watched.name), lookback=lookback))
                 if lk.watched.name in evidence else lk for lk in looks]
    observer.forget(now)
    return looks


__all__ = ["Look", "Observer", "look"]
