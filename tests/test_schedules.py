"""Watched schedules end to end on the embedded default: the controller applies three nightly
rules, EventBridge's simulated scheduler fires them on the embedded clock (moved by hand),
and the watchdog judges, alerts (a real HTTP receiver answering like Slack), re-runs and
remembers, across a controller restart; `reconciler runs` then tells the same from AWS."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3

from reconciler.aws.client import Aws
from reconciler.controller.loop import Controller, Settings
from reconciler.controller.watchdog import Watchdog
from reconciler.core.runs import Memory, MissCause, Watch, Watched, decide, schedule_key
from reconciler.core.vocab import RunVerdict
from reconciler.edges.git import LocalSource
from reconciler.edges.slack import Notifier, WebhookSink
from reconciler.embedded import EmbeddedAws
from reconciler.embedded.clock import CLOCK
from reconciler.embedded.network import seed_network
from reconciler.embedded.patches import tasks as sim
from reconciler.sync.runs import Observer, look
from tests.conftest import REGION, SlackReceiver, cli, deliver, seed_for
from tests.support_schedules import advance_to, next_one_am, write_estate


def controller(root: Path, slack: SlackReceiver) -> tuple[Controller, Watchdog]:
    watchdog = Watchdog(clock=CLOCK.now)
    notifier = Notifier(WebhookSink(slack.webhook_url), backoff_base=0.01)
    return Controller(LocalSource(root), Aws(), notifier, Settings(
        resync_interval=3600, fetch_interval=3600), extensions=[watchdog]), watchdog




def retries(ecs: Any) -> list[dict[str, Any]]:
    arns = [a for status in ("RUNNING", "STOPPED") for a in ecs.list_tasks(
        cluster="batch", desiredStatus=status)["taskArns"]]
    found = ecs.describe_tasks(cluster="batch", tasks=arns)["tasks"] if arns else []
    return [t for t in found if t["startedBy"].startswith("reconciler-retry/")]


async def test_failed_and_missed_runs_alerted_once_retried_once_across_a_restart(
        aws: EmbeddedAws, tmp_path: Path, slack: SlackReceiver) -> None:
    root = write_estate(tmp_path / "manifests")
    seed_for(aws, root)
    assert aws.scheduler is not None
    ecs = boto3.client("ecs", region_name=REGION)
    first, dog = controller(root, slack)
    await first.run_pass(trigger="fetch")
    await dog.check(first)  # the rules the pass created are read, and their watch begins
    assert set(dog.watched) == {"report", "close", "paused"}
    assert "# TYPE reconciler_scheduled_runs_total counter" in first.metrics.render().decode()
    one_am = next_one_am()
    sim.unavailable("FARGATE_SPOT")
    try:
        advance_to(one_am + timedelta(seconds=1))
        aws.scheduler.tick()  # EventBridge fires: report runs, close finds no Spot capacity
        CLOCK.advance(sim.PENDING + sim.DEFAULT_RUNTIME + 5)
        await dog.check(first)  # report exited 1; close still inside its tolerance
        CLOCK.advance(5 * 60)
        await dog.check(first)  # close missed for capacity: alerted, re-run on FARGATE
        await dog.check(first)  # nothing new
        assert [t["capacityProviderName"] for t in retries(ecs)] == ["FARGATE"]
        await deliver(first)

        second, dog2 = controller(root, slack)  # a restart while the retry runs
        await second.run_pass(trigger="fetch")
        await dog2.check(second)
        assert len(retries(ecs)) == 1, "a restart must not run it twice"
        CLOCK.advance(sim.PENDING + sim.DEFAULT_RUNTIME + 5)
        await dog2.check(second)  # the retry succeeded
        await dog2.check(second)
        await deliver(second)
    finally:
        sim.unavailable()

    texts = slack.texts()
    assert len(texts) == 3, texts
    failed, missed, recovered = texts
    assert failed.startswith(":x: Scheduled task report failed") and "exit code 1 (batch)" in failed
    assert "• task arn:aws:ecs:" in failed and "/ecs/nightly, stream nightly/batch/" in failed
    assert missed.startswith(":x: Scheduled task close missed its run expected")
    assert "capacity unavailable" in missed and "re-running on FARGATE, attempt 1 of 2" in missed
    assert recovered.startswith(":white_check_mark: Scheduled task close recovered") and (
        "on FARGATE (retry 1)" in recovered)
    assert "paused" not in " ".join(texts)
    status = dog2.status()["schedules"]
    last = {s["name"]: (s["lastRun"] or {}).get("verdict") for s in status}
    assert last == {"close": "succeeded", "paused": None, "report": "failed"}
    assert {s["name"]: s["nextExpected"] for s in status}["close"] == (
        one_am + timedelta(days=1)).isoformat()
    metrics = second.metrics.render().decode()
    assert 'reconciler_scheduled_runs_total{schedule="close",verdict="succeeded"} 1.0' in metrics

    at = CLOCK.now().isoformat()
    out = await asyncio.to_thread(cli, "runs", str(root), "--at", at, "--output", "json")
    assert out.exit_code == 0, out.output
    seen = {s["name"]: {r["expected"]: r for r in s["runs"]}
            for s in json.loads(out.output)["schedules"]}
    report, close = seen["report"][one_am.isoformat()], seen["close"][one_am.isoformat()]
    assert (report["verdict"], report["exitCode"], report["alerted"]) == ("failed", 1, "failed")
    assert (close["verdict"], close["retries"], close["cause"]) == ("succeeded", 1, "no-task")
    assert seen["paused"] == {}
    text = (await asyncio.to_thread(cli, "runs", "close", str(root), "--at", at)).output
    assert "re-run 1x on FARGATE; missed first: EventBridge invoked RunTask" in text


async def test_a_refused_run_is_missed_with_its_dead_letter_error(aws: EmbeddedAws) -> None:
    """RunTask refused (no such task definition): EventBridge's failed invocation and its
    dead-letter message explain the miss; nothing is re-run (it was not capacity)."""
    seed_network(aws.url, REGION, ["subnet-0a1"], ["sg-0c3"])
    cluster = boto3.client("ecs", region_name=REGION).create_cluster(clusterName="batch")
    sqs = boto3.client("sqs", region_name=REGION)
    sqs.create_queue(QueueName="dlq")
    events = boto3.client("events", region_name=REGION)
    arn = events.put_rule(Name="broken", ScheduleExpression="cron(* * * * ? *)")["RuleArn"]
    target = {"Id": "t", "Arn": cluster["cluster"]["clusterArn"],
              "DeadLetterConfig": {"Arn": f"arn:aws:sqs:{REGION}:123456789012:dlq"},
              "EcsParameters": {"TaskDefinitionArn": "missing:1", "LaunchType": "FARGATE",
                                "Group": "reconciler:broken"}}
    events.put_targets(Rule="broken", Targets=[target])
    w = Watched("broken", arn, "cron(* * * * ? *)", True, target,
                Watch(retries=1, fallback="FARGATE", tolerance=timedelta(minutes=1)))
    memory = Memory(since=CLOCK.now(), schedule=schedule_key(w.expression))
    assert aws.scheduler is not None
    before = len(aws.scheduler.fired)
    CLOCK.advance(60)
    aws.scheduler.tick()
    [fire] = aws.scheduler.fired[before:]
    CLOCK.advance(90)
    [seen] = await look(Observer(Aws()), [w], CLOCK.now(), {"broken": memory})
    [run] = [r for r in seen.runs if r.expected == fire.at]
    assert (run.verdict, run.cause) == (RunVerdict.MISSED, MissCause.INVOCATION_FAILED)
    assert run.reason.startswith("EventBridge could not run the task: ")
    assert decide(w, seen.runs, memory).retries == []
