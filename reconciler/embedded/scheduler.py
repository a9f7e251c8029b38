"""EventBridge firing scheduled rules, on the embedded clock: moto stores a rule's schedule
and never fires it. Started with the embedded server (`EmbeddedAws.scheduler`).

For each ENABLED rule with a schedule on the default bus, each fire time (core/schedule.py;
a rate counted from when the rule was created, or its schedule or state last changed) runs
each ECS target as EventBridge does: RunTask with the target's parameters and its `Input` as
overrides (core/runs.py's `run_task_request`), startedBy `events-rule/<rule>` cut to 36
characters, and the rule's metrics in AWS/Events by RuleName: Invocations and TriggeredRules,
plus FailedInvocations when RunTask is refused (a missing cluster or task definition) with a
message in the target's dead-letter queue carrying EventBridge's attributes
(InvocationsSentToDlq), or InvocationsFailedToBeSentToDlq when there is none to write to.
RunTask answered with `failures[]` (capacity unavailable) is an invocation that did not fail,
as on AWS: it leaves no task, no dead-letter message and no failed invocation.

A thread looks every `POLL` real seconds; `tick()` fires whatever is due now (tests call it
after moving the clock). A task is backdated to its fire time, so a clock moved on an hour
sees the hour's runs as they would have been.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog

from reconciler.core.runs import events_started_by, run_task_request
from reconciler.core.schedule import ScheduleError, parse
from reconciler.embedded.clock import CLOCK, Clock
from reconciler.embedded.patches import tasks
from reconciler.embedded.patches.events import STAMP

log = structlog.get_logger(__name__)

POLL = 0.25  # real seconds between looks
MAX_FIRES = 100  # per rule and look: a clock moved on a year starts the last 100 runs only


@dataclass
class Fire:
    """One invocation of one target, as the tests and the demo see it."""

    rule: str
    at: datetime
    tasks: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # RunTask's failures[] reasons
    error: str = ""  # a failed invocation: EventBridge's error code and message


@dataclass
class _Seen:
    since: datetime | None  # None while disabled
    last: datetime
    expression: str


class Scheduler:
    def __init__(self, url: str, clock: Clock = CLOCK, poll: float = POLL) -> None:
        self.url = url
        self.clock = clock
        self.poll = poll
        self.fired: list[Fire] = []
        self._seen: dict[str, _Seen] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._clients: dict[tuple[str, str], Any] = {}

    def start(self) -> Scheduler:
        self._thread = threading.Thread(target=self._loop, name="embedded-scheduler",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Nothing fires meanwhile (a test looking at moto as it ships)."""
        with self._lock:
            yield

    def _loop(self) -> None:
        while not self._stop.wait(self.poll):
            try:
                self.tick()
            except Exception as exc:  # a reset under way, a half-made rule: look again later
                log.debug("scheduler.look_failed", error=str(exc))

    def tick(self) -> list[Fire]:
        """Fire every run due by now; what was fired."""
        with self._lock:
            now = self.clock.now()
            fired: list[Fire] = []
            alive: set[str] = set()
            for region, rule in _scheduled_rules():
                alive.add(rule.arn)
                for at in self._due(rule, now):
                    for target in list(rule.targets):
                        if isinstance(target.get("EcsParameters"), dict):
                            fired.append(self._invoke(region, rule, target, at))
            for arn in set(self._seen) - alive:
                del self._seen[arn]
            self.fired.extend(fired)
            return fired

    def _due(self, rule: Any, now: datetime) -> list[datetime]:
        expression = str(rule.scheduled_expression)
        seen = self._seen.get(rule.arn)
        if rule.state != "ENABLED":
            self._seen[rule.arn] = _Seen(None, now, expression)
            return []
        if seen is None:
            since = getattr(rule, STAMP, None) or now
            seen = self._seen[rule.arn] = _Seen(since, since, expression)
        elif seen.since is None or seen.expression != expression:
            seen = self._seen[rule.arn] = _Seen(now, now, expression)
        try:
            schedule = parse(expression)
        except ScheduleError:
            return []  # EventBridge would have refused it
        fires = list(schedule.fires_between(seen.last, now, anchor=seen.since))
        seen.last = now
        return fires[-MAX_FIRES:]

    def _client(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._clients:
            import boto3

            from reconciler.embedded.server import DUMMY_CREDENTIALS

            self._clients[key] = boto3.client(
                service, region_name=region, endpoint_url=self.url,
                aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])
        return self._clients[key]

    def _invoke(self, region: str, rule: Any, target: dict[str, Any], at: datetime) -> Fire:
        from botocore.exceptions import ClientError

        fire = Fire(rule.name, at)
        request = {k: v for k, v in run_task_request(target).items() if v is not None}
        request["startedBy"] = events_started_by(rule.name)
        metrics = ["Invocations", "TriggeredRules"]
        try:
            answer = self._client("ecs", region).run_task(**request)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            fire.error = f"{err.get('Code', '')}: {err.get('Message', '')}"
            metrics.append("FailedInvocations")
            metrics.append(self._dead_letter(region, rule, target, at, err))
        else:
            fire.tasks = [t["taskArn"] for t in answer.get("tasks", [])]
            fire.failures = [str(f.get("reason", "")) for f in answer.get("failures", [])]
            for arn in fire.tasks:
                tasks.backdate(arn, at)
        self._client("cloudwatch", region).put_metric_data(Namespace="AWS/Events", MetricData=[
            {"MetricName": m, "Dimensions": [{"Name": "RuleName", "Value": rule.name}],
             "Timestamp": at, "Value": 1.0, "Unit": "Count"} for m in metrics])
        log.info("scheduler.fired", rule=rule.name, at=at.isoformat(), tasks=fire.tasks,
                 failures=fire.failures, error=fire.error)
        return fire

    def _dead_letter(self, region: str, rule: Any, target: dict[str, Any], at: datetime,
                     err: dict[str, Any]) -> str:
        """The failed event into the target's dead-letter queue, with EventBridge's
        attributes; the metric that says whether it got there."""
        from botocore.exceptions import ClientError

        arn = (target.get("DeadLetterConfig") or {}).get("Arn")
        if not arn:
            return "InvocationsFailedToBeSentToDlq"
        sqs = self._client("sqs", region)
        event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
                 "source": "aws.events", "account": rule.account_id,
                 "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": region,
                 "resources": [rule.arn], "detail": {}}
        attributes = {"RULE_ARN": rule.arn, "TARGET_ARN": str(target.get("Arn", "")),
                      "ERROR_CODE": _error_code(str(err.get("Code", ""))),
                      "ERROR_MESSAGE": str(err.get("Message", "")), "RETRY_ATTEMPTS": "0"}
        try:
            url = sqs.get_queue_url(QueueName=str(arn).rsplit(":", 1)[-1])["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event), MessageAttributes={
                k: {"DataType": "String", "StringValue": v or "-"} for k, v in attributes.items()})
        except ClientError:
            return "InvocationsFailedToBeSentToDlq"
        return "InvocationsSentToDlq"


def _error_code(code: str) -> str:
    """EventBridge's ERROR_CODE for an ECS error (its documented vocabulary)."""
    if code in ("AccessDeniedException", "AccessDenied"):
        return "NO_PERMISSIONS"
    if code in ("ClusterNotFoundException", "ResourceNotFoundException"):
        return "NO_RESOURCE"
    if code in ("ThrottlingException",):
        return "THROTTLING"
    return "INVALID_PARAMETER" if code else "UNKNOWN"


def _scheduled_rules() -> list[tuple[str, Any]]:
    """(region, rule) of every scheduled rule on a default bus, read from moto's backends."""
    from moto.events.models import events_backends

    found = []
    for by_region in list(events_backends.values()):
        for region, backend in list(by_region.items()):
            bus = backend.event_buses.get("default")
            for rule in list(bus.rules.values()) if bus is not None else []:
                if rule.scheduled_expression:
                    found.append((region, rule))
    return found


__all__ = ["MAX_FIRES", "POLL", "Fire", "Scheduler"]
