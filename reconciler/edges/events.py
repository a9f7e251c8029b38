"""AWS's events, fetched: the SQS queue an EventBridge rule fills (long-polled), and
CloudTrail's LookupEvents for who changed a resource when no queue is there (`diff --why`).

Both go through the AWS adapter (`AwsApi`), so they are paced, retried, fenced and counted
like every other call. Reading what an event means is `reconciler.core.events`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from reconciler.core.events import NOBODY, Index, Own, Provenance, from_record
from reconciler.core.manifest import ResourceKey
from reconciler.core.ports import AwsApi, AwsError

log = structlog.get_logger(__name__)

MAX_WAIT = 20          # SQS's longest long poll
BATCH = 10             # SQS's most messages a receive, a delete or a visibility change
LOOKUP_PAGE = 50       # LookupEvents' most events a page


@dataclass(frozen=True)
class Message:
    id: str
    receipt: str
    body: str


class Queue:
    """An SQS queue, long-polled. A received message stays invisible to others for
    `visibility` seconds and comes back if it is not deleted by then: it is deleted only
    once it has been handled."""

    def __init__(self, aws: AwsApi, url: str, visibility: int = 120) -> None:
        self.aws, self.url, self.visibility = aws, url, visibility

    async def receive(self, wait: float = MAX_WAIT) -> list[Message]:
        """Up to 10 messages, waiting up to `wait` seconds for the first."""
        resp = await self.aws.call("sqs", "receive_message", QueueUrl=self.url,
                                   MaxNumberOfMessages=BATCH,
                                   WaitTimeSeconds=max(0, min(int(wait), MAX_WAIT)),
                                   VisibilityTimeout=self.visibility)
        return [Message(str(m["MessageId"]), str(m["ReceiptHandle"]), str(m.get("Body", "")))
                for m in resp.get("Messages", [])]

    async def delete(self, messages: Sequence[Message]) -> int:
        """Delete handled messages; returns how many SQS accepted (a receipt that went stale
        because the message came back meanwhile is refused: the newer one deletes it)."""
        done = 0
        for start in range(0, len(messages), BATCH):
            chunk = messages[start:start + BATCH]
            resp = await self.aws.call("sqs", "delete_message_batch", QueueUrl=self.url, Entries=[
                {"Id": str(i), "ReceiptHandle": m.receipt} for i, m in enumerate(chunk)])
            done += len(resp.get("Successful", []))
        return done

    async def hold(self, messages: Sequence[Message]) -> None:
        """Keep messages still being handled invisible for another `visibility` seconds."""
        for start in range(0, len(messages), BATCH):
            chunk = messages[start:start + BATCH]
            await self.aws.call("sqs", "change_message_visibility_batch", QueueUrl=self.url,
                                Entries=[{"Id": str(i), "ReceiptHandle": m.receipt,
                                          "VisibilityTimeout": self.visibility}
                                         for i, m in enumerate(chunk)])


async def own_identity(aws: AwsApi) -> Own:
    """What marks this process's own calls in CloudTrail: its user agent, and its
    principal as STS names it."""
    try:
        ident = await aws.call("sts", "get_caller_identity")
    except Exception as exc:  # the user agent alone still tells most of them
        log.warning("events.identity_unknown", error=str(exc))
        return Own()
    return Own.of(str(ident.get("Arn") or ""))


async def trail_logging(aws: AwsApi) -> bool | None:
    """Whether a CloudTrail trail is logging in this Region (AWS sends its API-call events to
    EventBridge only then; ECS's own events come without one). None: it cannot be told (no
    permission)."""
    try:
        found = await aws.call("cloudtrail", "describe_trails", includeShadowTrails=True)
        for trail in found.get("trailList", []):
            status = await aws.call("cloudtrail", "get_trail_status", Name=trail["TrailARN"])
            if status.get("IsLogging"):
                return True
    except AwsError as exc:
        log.warning("events.trail_unknown", error=str(exc))
        return None
    return False


async def who_changed(
    aws: AwsApi, wanted: Mapping[ResourceKey, Iterable[str]], index: Index, own: Own,
    start: datetime, end: datetime | None = None, max_pages: int = 10,
) -> dict[ResourceKey, Provenance]:
    """The newest change someone other than the reconciler made to each wanted resource
    (key -> the event names that could have made its drift), from CloudTrail's event
    history: one query per event name (LookupEvents takes one attribute), newest first,
    stopping as soon as every resource that name concerns is found, at most `max_pages`
    pages a name. A resource CloudTrail has nothing on yet is `NOBODY` ("unknown")."""
    found: dict[ResourceKey, Provenance] = {}
    by_name: dict[str, set[ResourceKey]] = {}
    for key, names in wanted.items():
        for name in names:
            by_name.setdefault(name, set()).add(key)
    for name, keys in sorted(by_name.items()):
        seen: set[ResourceKey] = set()
        pages = 0
        async for page in aws.pages(
                "cloudtrail", "lookup_events", "NextToken", "NextToken",
                LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": name}],
                StartTime=start, MaxResults=LOOKUP_PAGE, **({"EndTime": end} if end else {})):
            pages += 1
            for item in page.get("Events", []):
                record = _record(item)
                if record is None or own(record):
                    continue
                event = from_record(record)
                if event.failed:
                    continue
                for key in index.keys(event.touched) & keys:
                    seen.add(key)
                    who = event.provenance
                    if who is not None and (key not in found
                                            or who.event_time > found[key].event_time):
                        found[key] = who
            if seen >= keys or pages >= max_pages:
                break
    return {key: found.get(key, NOBODY) for key in wanted}


def _record(item: Mapping[str, Any]) -> dict[str, Any] | None:
    import json

    try:
        record = json.loads(str(item.get("CloudTrailEvent") or ""))
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


__all__ = ["BATCH", "MAX_WAIT", "Message", "Queue", "own_identity", "trail_logging",
           "who_changed"]
