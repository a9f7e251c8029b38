"""Watching AWS's events on the embedded default: a hand edit is alerted within seconds,
signed with who made it, by a targeted pass; the reconciler's own writes are no drift; a
burst is one pass; nothing is lost when the process dies between receiving and handling an
event; `diff --why` asks CloudTrail; without a queue nothing changes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from reconciler.aws.client import Aws
from reconciler.controller.events import EventSource
from reconciler.controller.loop import Controller, PassReport, Settings
from reconciler.controller.wiring import ServeOptions, build
from reconciler.core.manifest import ResourceKey
from reconciler.edges.git import LocalSource
from reconciler.edges.slack import BotSink, Notifier, WebhookSink
from reconciler.embedded import EmbeddedAws
from tests.conftest import SlackReceiver, cli, seed_for, wait_for
from tests.support_events import (
    CLI,
    CONSOLE,
    api_call_event,
    as_person,
    depth,
    send,
    small_estate,
    update_service_record,
)

CLUSTER = "accounting-prd"
WORKER = ResourceKey("Service", "accounting-worker", CLUSTER)
API = ResourceKey("Service", "accounting-api", CLUSTER)
OURS = "ecs-reconciler/0.1.0 Boto3/1.44.8 Botocore/1.44.8 Python/3.11.7"


@pytest.fixture
def estate(tmp_path: Path, aws: EmbeddedAws) -> Path:
    root = small_estate(tmp_path / "manifests")
    seed_for(aws, root)
    return root


@dataclass
class Watched:
    controller: Controller
    events: EventSource
    queue: str
    passes: list[PassReport] = field(default_factory=list)

    def event_passes(self) -> list[PassReport]:
        return [p for p in self.passes if p.trigger == "event"]


@pytest.fixture
async def watched(estate: Path, aws: EmbeddedAws, slack: SlackReceiver
                  ) -> AsyncIterator[Watched]:
    """The controller on the example estate (applied by its first pass), with a bot token
    (a drift is one message, updated in place) and the embedded queue of AWS's events,
    polled with short waits."""
    queue = aws.event_queue(visibility=2)
    events = EventSource(queue, wait=1, drain=0.3, visibility=2, flowing_resync=None)
    controller = Controller(LocalSource(estate), Aws(),
                            Notifier(BotSink("xoxb-test", "C1", slack.api_url), backoff_base=0.01),
                            Settings(resync_interval=3600, fetch_interval=3600),
                            extensions=[events])
    w = Watched(controller, events, queue)
    controller.on_pass = w.passes.append
    task = asyncio.create_task(controller.run())
    await wait_for(lambda: controller.synced and events.flowing)
    yield w
    controller.stop()
    await asyncio.wait_for(task, 30)


def _posts(slack: SlackReceiver) -> list[dict[str, Any]]:
    return [m for m in slack.accepted if m["path"].endswith("chat.postMessage")
            and not m.get("thread_ts")]


async def test_console_edit_alerted_in_seconds_with_who_by_a_targeted_pass(
        watched: Watched, slack: SlackReceiver, record_property: Any) -> None:
    c, events = watched.controller, watched.events
    c.aws.reset_counts()
    started = time.monotonic()
    as_person("ecs", agent=CONSOLE).update_service(cluster=CLUSTER, service=WORKER.name,
                                                   enableExecuteCommand=False)
    await wait_for(lambda: any("alice" in str(m.get("text")) for m in _posts(slack)))
    record_property("edit_to_alert_seconds", round(time.monotonic() - started, 2))
    [alert] = _posts(slack)
    text = str(alert["text"])
    assert f"{WORKER} drifted from git by alice@example.com (role Admin) via AWS console" in text
    assert "enableExecuteCommand" in text and "from 127.0.0.1" in text
    assert "principal: arn:aws:sts::123456789012:assumed-role/Admin/alice@example.com" in text
    assert "cloudtrailv2/home?region=eu-west-1#/events/" in text
    # a pass of just that service (and the task definition it names), no full resync
    [targeted] = watched.event_passes()
    assert targeted.only == {WORKER} and targeted.drifted == [WORKER]
    assert "resourcegroupstaggingapi:get_resources" not in c.aws.calls
    assert not [p for p in watched.passes if p.trigger == "resync"]
    status = c.statuses[WORKER].to_json()
    assert status["changedBy"]["who"] == "alice@example.com (role Admin)"
    assert status["changedBy"]["via"] == "AWS console" and status["drift"]
    await wait_for(lambda: events.stats.deleted == 1 and depth(watched.queue) == 0)
    assert events.status()["targetedPasses"] == 1  # handled, then deleted

    # the reconciler's own write, seen on the queue: no pass, no alert, deleted
    send(watched.queue, [api_call_event(update_service_record(CLUSTER, API.name, 1, OURS))])
    await wait_for(lambda: events.stats.own == 1 and depth(watched.queue) == 0)
    assert len(watched.event_passes()) == 1 and len(_posts(slack)) == 1

    # a drift alerted before anyone knew who made it: named in place when the event comes
    as_person("ecs", agent=OURS).update_service(cluster=CLUSTER, service=API.name,
                                                enableExecuteCommand=False)  # no CloudTrail
    c.request_targeted({API})
    await wait_for(lambda: len(_posts(slack)) == 2)
    assert "accounting-api drifted from git (revision" in str(_posts(slack)[1]["text"])
    send(watched.queue, [api_call_event(update_service_record(CLUSTER, API.name, 2, CLI))])
    await wait_for(lambda: any(m["path"].endswith("chat.update") and "bob" in str(m["text"])
                               for m in slack.accepted))
    [update] = [m for m in slack.accepted if m["path"].endswith("chat.update")]
    assert update["ts"] == _posts(slack)[1]["ts_assigned"]  # the same message, in place
    assert f"{API} drifted from git by bob via AWS CLI" in str(update["text"])
    assert len(_posts(slack)) == 2


async def test_a_burst_of_500_events_is_one_targeted_pass_then_only_long_polls(
        estate: Path, aws: EmbeddedAws, slack: SlackReceiver, record_property: Any) -> None:
    queue = aws.event_queue(visibility=30)
    records = [update_service_record(CLUSTER, (WORKER, API)[i % 2].name, i % 250)
               for i in range(500)]  # 250 distinct calls, each delivered twice
    send(queue, [api_call_event(r) for r in reversed(records)])  # and out of order
    events = EventSource(queue, wait=1, drain=1, visibility=30, flowing_resync=None)
    passes: list[PassReport] = []
    controller = Controller(LocalSource(estate), Aws(),
                            Notifier(BotSink("xoxb-test", "C1", slack.api_url)),
                            Settings(resync_interval=3600, fetch_interval=3600),
                            on_pass=passes.append, extensions=[events])
    task = asyncio.create_task(controller.run())
    try:
        await wait_for(lambda: events.stats.handled == 500 and depth(queue) == 0, 60)
        [targeted] = [p for p in passes if p.trigger == "event"]
        assert targeted.only == {WORKER, API}
        assert len(controller.changed_by.changes(API)) == 0  # in sync: settled
        # steady state: nothing changes, only the long polls call AWS
        controller.aws.reset_counts()
        await asyncio.sleep(1.5)
        calls = dict(controller.aws.calls)
        # one call per long poll (1 s here), nothing else: at the default 20 s that is 3 a
        # minute, 0.001 per resource per minute for the bench's 2,801 resources
        assert set(calls) == {"sqs:receive_message"} and calls["sqs:receive_message"] <= 3
        record_property("steady_calls_per_resource_minute_at_1000_services",
                        round(60 / 20 / 2801, 5))
    finally:
        controller.stop()
        await asyncio.wait_for(task, 30)


async def test_without_a_queue_a_trail_or_a_working_queue_the_resync_stays(
        estate: Path, aws: EmbeddedAws, slack: SlackReceiver) -> None:
    assert build(ServeOptions(directory=estate)).settings.resync_interval == 300
    assert build(ServeOptions(directory=estate, events_queue="https://q")
                 ).settings.resync_interval == 3600
    assert build(ServeOptions(directory=estate, events_queue="https://q", resync=60)
                 ).settings.resync_interval == 60
    queue = aws.event_queue(trail=False)  # an account with no trail logging
    missing = queue.replace("ecs-reconciler-events", "no-such-queue")
    for url, why in ((queue, "no CloudTrail trail is logging"), (missing, "NonExistentQueue")):
        events = EventSource(url, wait=0, retry_base=0.01)
        controller = Controller(LocalSource(estate), Aws(),
                                Notifier(WebhookSink(slack.webhook_url), backoff_base=0.01),
                                Settings(resync_interval=3600, fetch_interval=3600),
                                extensions=[events])
        task = asyncio.create_task(controller.run())
        try:
            await wait_for(lambda e=events: e.url is not None and e.trail is not None)
            await wait_for(lambda c=controller: c.settings.resync_interval == 300)
            if url == queue:
                assert events.trail is False and events.flowing
                await wait_for(lambda w=why: any(w in t for t in slack.texts()))
                aws.event_queue()  # now a trail logs
            else:
                await wait_for(lambda e=events: e.stats.errors >= 3)
                assert not events.flowing and why in events.stats.last_error
                assert events.trail is True
        finally:
            controller.stop()
            await asyncio.wait_for(task, 30)


def _serve(root: Path, queue: str) -> subprocess.Popen[str]:
    """`reconciler serve` as a real process, watching the queue; it drains a burst for 4 s
    after its first message, so there is time to kill it before it handles one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    return subprocess.Popen(
        [sys.executable, "-m", "reconciler", "--log-level", "info", "serve", "--dir", str(root),
         "--listen", "127.0.0.1:0", "--events-queue", queue, "--events-wait", "1",
         "--events-drain", "4", "--events-visibility", "2"],
        env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)


def _until(proc: subprocess.Popen[str], needle: str, timeout: float = 60) -> str:
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        if needle in line:
            return line
    raise AssertionError(f"{needle} not seen")


def _ready(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("not ready")


async def test_an_event_survives_a_process_killed_between_receiving_and_handling_it(
        estate: Path, aws: EmbeddedAws, slack: SlackReceiver) -> None:
    queue = aws.event_queue(visibility=2)
    first = _serve(estate, queue)
    try:
        port = json.loads(_until(first, '"serve.listening"'))["port"]
        await asyncio.to_thread(_ready, port)  # its first pass created the estate
        as_person("ecs", agent=CLI).update_service(cluster=CLUSTER, service=WORKER.name,
                                                   enableExecuteCommand=False)
        await asyncio.to_thread(_until, first, '"events.received"')
        first.send_signal(signal.SIGKILL)  # received, not handled: it drains for 4 s first
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert depth(queue) == 1  # not deleted: in flight until its visibility timeout
    events = EventSource(queue, wait=1, drain=0, visibility=2, flowing_resync=None)
    nxt = Controller(LocalSource(estate), Aws(), Notifier(WebhookSink(slack.webhook_url)),
                     Settings(resync_interval=3600, fetch_interval=3600), extensions=[events])
    task = asyncio.create_task(nxt.run())
    try:
        await wait_for(lambda: events.stats.deleted == 1 and depth(queue) == 0
                       and any("alice" in t for t in slack.texts()), 60)
        [alert] = [t for t in slack.texts() if "alice" in t]
        assert f"{WORKER} drifted from git by alice@example.com (role Admin) via AWS CLI" in alert
    finally:
        nxt.stop()
        await asyncio.wait_for(task, 30)


def test_diff_why_names_who_from_cloudtrail_or_says_unknown(estate: Path,
                                                            aws: EmbeddedAws) -> None:
    assert cli("apply", str(estate)).exit_code == 0
    as_person("ecs", agent=CLI).update_service(cluster=CLUSTER, service=WORKER.name,
                                               enableExecuteCommand=False)
    as_person("ecs", agent=OURS).update_service(cluster=CLUSTER, service=API.name,
                                                enableExecuteCommand=False)  # not in CloudTrail
    result = cli("diff", str(estate), "--why", "--output", "json")
    assert result.exit_code == 2, result.output
    changes = {c["name"]: c for c in json.loads(result.output)["changes"]}
    who = changes[WORKER.name]["changedBy"]
    assert who["who"] == "alice@example.com (role Admin)" and who["via"] == "AWS CLI"
    assert who["principal"] == "arn:aws:sts::123456789012:assumed-role/Admin/alice@example.com"
    assert who["eventName"] == "UpdateService" and who["sourceIPAddress"] == "127.0.0.1"
    assert who["link"].endswith(f"#/events/{who['eventId']}") and who["eventTime"]
    assert changes[API.name]["changedBy"]["who"] == "unknown"
    text = cli("diff", str(estate), "--why").output
    assert "changed by alice@example.com (role Admin) via AWS CLI from 127.0.0.1" in text
    plain = cli("diff", str(estate), "--output", "json").output
    assert "changedBy" not in plain  # only when asked


def test_the_bootstrap_stack_feeds_the_queue_the_controller_reads() -> None:
    from reconciler.core.events import rule_patterns

    deploy = Path(__file__).resolve().parent.parent / "deploy"
    stack = json.loads((deploy / "cloudformation/bootstrap.json").read_text())["Resources"]
    rules = {r["Properties"]["Name"]: r["Properties"] for r in stack.values()
             if r["Type"] == "AWS::Events::Rule"}
    assert {n.removeprefix("ecs-reconciler-events-"): r["EventPattern"]
            for n, r in rules.items()} == rule_patterns()
    for rule in rules.values():
        assert rule["Targets"] == [{"Id": "queue", "Arn": {"Fn::GetAtt": ["EventsQueue", "Arn"]}}]
    queue = stack["EventsQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]}
    [allow] = stack["EventsQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    assert len(allow["Condition"]["ArnEquals"]["aws:SourceArn"]) == len(rules)
    assert "RECONCILER_EVENTS_QUEUE" in (deploy / "controller.yaml").read_text()

