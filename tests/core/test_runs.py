"""Watched scheduled runs (reconciler/core/runs.py), on plain data: recognising a rule's
tasks, a verdict per expected run, what to alert and re-run, and the memory that makes it
once across restarts."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from reconciler.core import runs as r
from reconciler.core.kind import Live
from reconciler.core.manifest import ResourceKey
from reconciler.core.ownership import WATCH_TAG
from reconciler.core.vocab import RunVerdict as V

E = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)  # cron(0 1 * * ? *)
CLUSTER = "arn:aws:ecs:eu-west-1:123456789012:cluster/batch"
TARGET: dict[str, Any] = {
    "Id": "ecs-task", "Arn": CLUSTER, "RoleArn": "arn:aws:iam::123456789012:role/events",
    "Input": json.dumps({"containerOverrides": [{"name": "batch", "command": ["close"]}]}),
    "EcsParameters": {
        "TaskDefinitionArn": "arn:aws:ecs:eu-west-1:123456789012:task-definition/batch:7",
        "CapacityProviderStrategy": [{"capacityProvider": "FARGATE_SPOT", "weight": 1}],
        "NetworkConfiguration": {"awsvpcConfiguration": {
            "Subnets": ["subnet-1"], "SecurityGroups": ["sg-1"], "AssignPublicIp": "DISABLED"}},
        "PlatformVersion": "1.4.0", "Group": "reconciler:nightly",
        "Tags": [{"Key": "team", "Value": "accounting"}]},
}
RETRYING = r.Watch(retries=2, fallback="FARGATE", max_runtime=timedelta(hours=2))


def watched(expression: str = "cron(0 1 * * ? *)", *, enabled: bool = True,
            watch: r.Watch = RETRYING, target: dict[str, Any] | None = None) -> r.Watched:
    return r.Watched("nightly", "arn:aws:events:eu-west-1:123456789012:rule/nightly", expression,
                     enabled, target or TARGET, watch, cluster_name="batch")


SINCE = r.Memory(since=E - timedelta(days=1), schedule=r.schedule_key("cron(0 1 * * ? *)"))


def task(created: datetime, *, status: str = "STOPPED", code: int | None = 0,
         started_by: str = "events-rule/nightly", arn: str = "t1", sidecar: int | None = 143,
         reason: str = "Essential container in task exited") -> dict[str, Any]:
    return {"taskArn": f"arn:aws:ecs:eu-west-1:123456789012:task/batch/{arn}",
            "createdAt": created, "startedAt": created + timedelta(seconds=5),
            "lastStatus": status, "startedBy": started_by, "group": "reconciler:nightly",
            "stoppedReason": reason if status == "STOPPED" else None,
            "containers": [{"name": "batch", "exitCode": code},
                           {"name": "log-router", "exitCode": sidecar}]}


def attempt(created: datetime, **kw: Any) -> r.Attempt:
    return r.attempt_from(task(created, **kw), essential={"batch"})


@pytest.mark.parametrize("value, problem", [
    ({"retries": 2, "fallbackCapacityProvider": "FARGATE", "maxRuntime": "2h",
      "tolerance": "10m"}, None),
    (False, None),
    ({"retries": 2}, "needs fallbackCapacityProvider"),
    ({"retries": 9, "fallbackCapacityProvider": "FARGATE"}, "from 0 to 5"),
    ({"tolerance": "2h"}, "from 1m to 45m"),
    ({"maxRuntime": "soon"}, "not a duration"),
    ({"retry": 1}, "unknown field"),
    ("yes", "must be a mapping"),
])
def test_the_watch_a_manifest_declares(value: Any, problem: str | None) -> None:
    watch, errors = r.read_watch(value)
    assert [m for _, m in errors if problem and problem in m] if problem else errors == []
    if value == {"retries": 2, "fallbackCapacityProvider": "FARGATE", "maxRuntime": "2h",
                 "tolerance": "10m"}:
        assert watch == r.Watch(True, 2, "FARGATE", timedelta(hours=2), timedelta(minutes=10))
    if value is False:
        assert not watch.enabled


def test_durations() -> None:
    assert [r.parse_duration(v) for v in (90, "90", "90s", "10m", "1h30m", "1d")] == [
        timedelta(seconds=90)] * 3 + [timedelta(minutes=10), timedelta(minutes=90),
                                      timedelta(days=1)]
    assert r.format_duration(timedelta(hours=2, minutes=5)) == "2h5m"


def test_a_rules_tasks_are_recognised_by_its_group_or_eventbridges_startedby() -> None:
    """Its own group, the startedBy EventBridge sets (cut to 36 characters) when the target
    has none, and its retries; not a service's task, not another rule's."""
    w = watched()
    assert w.owns(task(E)) and w.owns(task(E, started_by=r.retry_started_by(E, 1)))
    assert not w.owns({**task(E), "group": "service:api", "startedBy": "ecs-svc/123"})
    long = "accounting-nightly-heavy-close"
    assert r.events_started_by(long) == "events-rule/accounting-nightly-heavy"
    plain = replace(w, name=long, target={**TARGET, "EcsParameters": {
        **TARGET["EcsParameters"], "Group": "family:batch"}})
    assert plain.own_group is None and plain.group == "reconciler:" + long
    assert plain.owns({"group": "family:batch", "startedBy": "events-rule/accounting-nightly-heavy"})
    assert not plain.owns({"group": "family:batch", "startedBy": "events-rule/other"})


def test_a_task_is_judged_by_its_essential_containers() -> None:
    """A sidecar stopped with 143 when the batch exits 0 is a success; a batch exit 1 a
    failure naming the container and its exit code."""
    assert attempt(E).exit_code == 0 and attempt(E).outcome(E, None) is V.SUCCEEDED
    failed = attempt(E, code=1)
    assert (failed.exit_code, failed.container, failed.outcome(E, None)) == (1, "batch", V.FAILED)
    retry = attempt(E, started_by=r.retry_started_by(E, 2))
    assert (retry.attempt, retry.expected) == (2, E)


def test_a_verdict_per_expected_run() -> None:
    """Succeeded, failed (exit code), running, overdue (past maxRuntime), missed (nothing
    after the tolerance: why, from what EventBridge recorded), pending before it."""
    w = watched()
    ok, = r.judge(w, [attempt(E)], E + timedelta(minutes=5), memory=SINCE)
    assert (ok.expected, ok.verdict) == (E, V.SUCCEEDED)
    bad, = r.judge(w, [attempt(E + timedelta(seconds=20), code=1)], E + timedelta(minutes=5),
                   memory=SINCE)
    assert (bad.verdict, bad.exit_code, r.outcome_text(bad)) == (
        V.FAILED, 1, "exit code 1 (batch): Essential container in task exited")
    running = attempt(E, status="RUNNING", code=None, sidecar=None)
    assert r.judge(w, [running], E + timedelta(hours=1), memory=SINCE)[0].verdict is V.RUNNING
    assert r.judge(w, [running], E + timedelta(hours=3), memory=SINCE)[0].verdict is V.OVERDUE
    assert r.judge(w, [], E + timedelta(minutes=9), memory=SINCE)[0].verdict is V.PENDING
    capacity = {E: r.Evidence(invocations=1)}
    missed, = r.judge(w, [], E + timedelta(minutes=11), memory=SINCE, evidence=capacity)
    assert (missed.verdict, missed.cause) == (V.MISSED, r.MissCause.NO_TASK)
    assert "capacity unavailable" in missed.reason
    dlq = {E: r.Evidence(invocations=1, failed=1, errors=("NO_PERMISSIONS: not allowed",))}
    assert r.judge(w, [], E + timedelta(minutes=11), memory=SINCE, evidence=dlq)[0].reason == (
        "EventBridge could not run the task: NO_PERMISSIONS: not allowed")


def test_no_missed_run_for_a_disabled_rule_or_before_the_watch_began() -> None:
    assert r.judge(watched(enabled=False), [], E + timedelta(minutes=30), memory=SINCE) == []
    late = r.Memory(since=E + timedelta(minutes=5), schedule=SINCE.schedule)
    early, = r.judge(watched(), [], E + timedelta(minutes=30), memory=late)
    assert early.verdict is V.UNKNOWN


def test_a_rate_takes_its_phase_from_the_runs_eventbridge_started() -> None:
    """rate(15 minutes): each run EventBridge started fixes the phase; a gap is a miss."""
    w = watched("rate(15 minutes)")
    since = r.Memory(since=E - timedelta(hours=2), schedule=r.schedule_key(w.expression))
    t0 = E + timedelta(minutes=2, seconds=20)
    seen = [attempt(t0, arn="a"), attempt(t0 + timedelta(minutes=30), arn="c")]
    got = r.judge(w, seen, t0 + timedelta(minutes=40), memory=since)
    by = {run.expected: run.verdict for run in got if run.expected >= E}
    base = t0.replace(second=0)
    assert by == {base: V.SUCCEEDED, base + timedelta(minutes=15): V.MISSED,
                  base + timedelta(minutes=30): V.SUCCEEDED}


def test_a_schedule_is_looked_at_only_while_something_can_happen() -> None:
    """A nightly run is in view for the hour after it (ECS's memory of a stopped task), a
    task still running keeps it there, a disabled rule is not."""
    w = watched()
    assert r.in_view(w, [], SINCE, E + timedelta(minutes=30))
    assert not r.in_view(w, [], SINCE, E + timedelta(hours=2))
    running = attempt(E, status="RUNNING", code=None, sidecar=None)
    assert r.in_view(w, [running], SINCE, E + timedelta(hours=2))
    assert not r.in_view(watched(enabled=False), [], SINCE, E + timedelta(minutes=30))


def test_each_bad_verdict_is_one_alert_then_one_recovered() -> None:
    w = watched(watch=r.Watch())
    runs = r.judge(w, [attempt(E, code=1)], E + timedelta(minutes=5), memory=SINCE)
    first = r.decide(w, runs, SINCE)
    assert [n.kind for n in first.notes] == [r.NoteKind.BAD]
    assert r.decide(w, runs, first.memory).notes == []  # the next look: nothing new
    tag = r.Memory.decode(first.memory.encode())  # a restart reads the tag
    assert tag == first.memory and r.decide(w, runs, tag).notes == []
    later = runs + r.judge(w, [attempt(E + timedelta(days=1), arn="t2")],
                           E + timedelta(days=1, minutes=5), memory=SINCE)
    second = r.decide(w, later, tag)
    assert [(n.kind, n.run.expected) for n in second.notes] == [
        (r.NoteKind.RECOVERED, E + timedelta(days=1))]
    assert r.decide(w, later, second.memory).notes == []


def test_a_run_missed_for_capacity_is_retried_once_per_attempt_on_the_fallback() -> None:
    """Missed (invoked, no task) → one alert and retry 1; the retry's own task then counts,
    whatever the memory says; its success is the recovery."""
    w = watched()
    now = E + timedelta(minutes=11)
    missed = r.judge(w, [], now, memory=SINCE, evidence={E: r.Evidence(invocations=1)})
    d = r.decide(w, missed, SINCE)
    assert [n.kind for n in d.notes] == [r.NoteKind.BAD]
    assert [(run.expected, n) for run, n in d.retries] == [(E, 1)]
    memory = r.retried(d.memory, E, 1)
    retry = attempt(now, status="RUNNING", code=None, sidecar=None,
                    started_by=r.retry_started_by(E, 1))
    for m in (memory, d.memory):  # with the tag, or a tag that missed the retry's write
        running = r.decide(w, r.judge(w, [retry], now + timedelta(minutes=1), memory=m), m)
        assert (running.notes, running.retries) == ([], [])
    done = replace(retry, status="STOPPED", exit_code=0)
    finished = r.decide(w, r.judge(w, [done], now + timedelta(minutes=2), memory=memory), memory)
    assert [n.kind for n in finished.notes] == [r.NoteKind.RECOVERED] and not finished.retries


def test_no_retry_beyond_the_watchs_count_nor_for_other_misses() -> None:
    w = watched()
    now = E + timedelta(minutes=11)
    spent = r.retried(SINCE, E, 2)
    again = r.judge(w, [], now, memory=spent, evidence={E: r.Evidence(invocations=1)})
    assert again[0].retries == 2 and r.decide(w, again, spent).retries == []
    failed = r.judge(w, [], now, memory=SINCE, evidence={E: r.Evidence(invocations=1, failed=1)})
    assert r.decide(w, failed, SINCE).retries == []
    assert r.decide(w, r.judge(w, [], now, memory=SINCE), SINCE).retries == []  # nothing seen
    observe = r.judge(w, [], now, memory=SINCE, evidence={E: r.Evidence(invocations=1)})
    assert r.decide(w, observe, SINCE, may_retry=False).retries == []


def test_a_worse_verdict_on_the_same_run_is_told_once_more() -> None:
    """Overdue, then failed: two messages; the overdue run finishing well: recovered."""
    w = watched()
    running = attempt(E, status="RUNNING", code=None, sidecar=None)
    overdue = r.decide(w, r.judge(w, [running], E + timedelta(hours=3), memory=SINCE), SINCE)
    assert [(n.kind, n.run.verdict) for n in overdue.notes] == [(r.NoteKind.BAD, V.OVERDUE)]
    stopped = replace(running, status="STOPPED", exit_code=1)
    failed = r.decide(w, r.judge(w, [stopped], E + timedelta(hours=4), memory=SINCE),
                      overdue.memory)
    assert [(n.kind, n.run.verdict) for n in failed.notes] == [(r.NoteKind.BAD, V.FAILED)]
    fine = replace(running, status="STOPPED", exit_code=0)
    ok = r.decide(w, r.judge(w, [fine], E + timedelta(hours=4), memory=SINCE), overdue.memory)
    assert [n.kind for n in ok.notes] == [r.NoteKind.RECOVERED]


def test_memory_round_trips_through_a_tag_and_joins_monotonically() -> None:
    m = r.Memory(E, "ab12cd34", E, V.MISSED, None, E, 1)
    text = m.encode()
    assert text == "since=20261130T010000Z sched=ab12cd34 bad=20261130T010000Z/missed " \
                   "retry=20261130T010000Z/1"
    assert r.Memory.decode(text) == m and r.Memory.decode("garbage = =") == r.Memory()
    assert r.Memory.decode(r.Memory().encode()) == r.Memory()
    newer = r.Memory(bad=E, verdict=V.FAILED, ok=None, retry=E, attempts=2)
    assert m.join(newer) == r.Memory(E, "ab12cd34", E, V.FAILED, None, E, 2)
    assert newer.join(m) == r.Memory(E, "ab12cd34", E, V.FAILED, None, E, 2)
    assert m.watching("cron(0 2 * * ? *)", True, E).schedule == r.schedule_key("cron(0 2 * * ? *)")
    assert m.watching("x", False, E).since is None


def test_a_retry_is_runtask_with_the_targets_exact_parameters_on_the_fallback() -> None:
    req = r.retry_request(watched(), E, 1)
    assert req == {
        "cluster": CLUSTER, "taskDefinition": TARGET["EcsParameters"]["TaskDefinitionArn"],
        "count": 1, "capacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1}],
        "group": "reconciler:nightly", "startedBy": "reconciler-retry/20261130T010000Z/1",
        "clientToken": r.client_token("nightly", E, 1),
        "overrides": {"containerOverrides": [{"name": "batch", "command": ["close"]}]},
        "networkConfiguration": {"awsvpcConfiguration": {
            "subnets": ["subnet-1"], "securityGroups": ["sg-1"], "assignPublicIp": "DISABLED"}},
        "platformVersion": "1.4.0",
        "tags": [{"key": "team", "value": "accounting"},
                 {"key": "reconciler:schedule", "value": "nightly"},
                 {"key": "reconciler:expected", "value": "2026-11-30T01:00:00+00:00"},
                 {"key": "reconciler:attempt", "value": "1"}]}
    assert r.client_token("nightly", E, 1) != r.client_token("nightly", E, 2)
    assert len(req["startedBy"]) <= 128 and r.retry_of(req["startedBy"]) == (E, 1)


def test_where_the_logs_are_and_how_an_alert_reads() -> None:
    definition = {"containerDefinitions": [{"name": "batch", "logConfiguration": {
        "logDriver": "awslogs", "options": {"awslogs-group": "/ecs/batch",
                                            "awslogs-stream-prefix": "nightly"}}}]}
    logs = r.log_location(definition, "batch", "arn:aws:ecs:eu-west-1:1:task/batch/abc", "eu-west-1")
    assert logs == {"group": "/ecs/batch", "region": "eu-west-1", "stream": "nightly/batch/abc"}
    w = watched()
    run, = r.judge(w, [attempt(E, code=1)], E + timedelta(minutes=5), memory=SINCE)
    lines = r.details(w, run, logs)
    assert lines[1] == "• expected 2026-11-30 01:00 UTC: failed"
    assert "exit code 1 (batch)" in lines[2] and lines[-2].startswith("• task arn:aws:ecs")
    assert lines[-1] == "• logs: CloudWatch Logs /ecs/batch, stream nightly/batch/abc (eu-west-1)"
    assert r.run_json(run, logs)["exitCode"] == 1


def test_watched_from_a_live_rule() -> None:
    live = Live(ResourceKey("ScheduledTask", "nightly", "batch"), "arn:rule/nightly",
                {"Targets": [TARGET]}, {WATCH_TAG: "since=20261129T000000Z sched=x"},
                raw={"ScheduleExpression": "cron(0 1 * * ? *)", "State": "DISABLED"})
    w = r.watched_from(live, None)
    assert w is not None and not w.enabled and w.memory.since == E - timedelta(hours=25)
    assert r.watched_from(replace(live, raw={"EventPattern": "{}"}), None) is None
