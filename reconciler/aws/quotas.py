"""Pacing under AWS's documented API rate quotas.

AWS throttles each account and Region with token buckets: a burst, then a sustained rate.
A pass that bursts past them gets ThrottlingException and has to back off, and so does
everyone else in the account (CI, the console) until the bucket refills. Pacing each call to
the documented rates keeps a pass free of throttling and leaves the account usable.

Operations without a documented quota (Application Auto Scaling, STS, DynamoDB) are bounded
only by the calls in flight; so are those whose quota AWS documents as unlimited (`UNPACED`:
SQS on a standard queue, which the event source and the schedule watchdog read).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

ENV = "RECONCILER_API_QUOTAS"
ECS_SOURCE = "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html"
EVENTS_SOURCE = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-quota.html"
TAGGING_SOURCE = "https://docs.aws.amazon.com/tag-editor/latest/userguide/reference.html"
CLOUDWATCH_SOURCE = ("https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/"
                     "cloudwatch_limits.html")
FARGATE_SOURCE = "https://docs.aws.amazon.com/AmazonECS/latest/developerguide/throttling.html"
CLOUDTRAIL_SOURCE = ("https://docs.aws.amazon.com/awscloudtrail/latest/APIReference/"
                     "API_LookupEvents.html")
CLOUDTRAIL_LIMITS = ("https://docs.aws.amazon.com/awscloudtrail/latest/userguide/"
                     "WhatIsCloudTrail-Limits.html")
SQS_SOURCE = ("https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/"
              "quotas-messages.html")


@dataclass(frozen=True)
class Quota:
    """One documented bucket. `operations` share it; with `per_operation`, each operation of
    `service` (but those in `operations`, which are excluded) has a bucket of its own."""

    name: str
    service: str
    burst: float
    rate: float
    operations: frozenset[str]
    source: str
    per_operation: bool = False


def _ecs(name: str, burst: float, rate: float, *ops: str) -> Quota:
    return Quota(name, "ecs", burst, rate, frozenset(ops), ECS_SOURCE)


DOCUMENTED: tuple[Quota, ...] = (
    _ecs("cluster modify", 20, 1, "create_cluster", "delete_cluster",
         "put_cluster_capacity_providers", "update_cluster", "update_cluster_settings"),
    _ecs("cluster read", 50, 20, "describe_clusters", "list_clusters"),
    _ecs("task definition modify", 20, 1, "deregister_task_definition",
         "register_task_definition"),
    _ecs("task definition read", 50, 20, "describe_task_definition", "list_task_definitions",
         "list_task_definition_families"),
    _ecs("task definition deletion", 5, 1, "delete_task_definitions"),
    _ecs("capacity provider modify", 10, 1, "create_capacity_provider",
         "delete_capacity_provider", "update_capacity_provider"),
    _ecs("capacity provider read", 50, 20, "describe_capacity_providers"),
    _ecs("tag modify", 20, 10, "tag_resource", "untag_resource"),
    _ecs("tag read", 50, 20, "list_tags_for_resource"),
    _ecs("service modify", 50, 5, "create_service", "delete_service", "update_service"),
    # The throttling page predates the service-deployment API (2024-10) and does not list it:
    # pacing it inside "service read" can only be slower than a bucket of its own.
    _ecs("service read", 100, 20, "describe_services", "list_services",
         "describe_service_deployments", "describe_service_revisions",
         "list_service_deployments"),
    # "The rate quota for calls to the Amazon ECS RunTask API is 20 calls per second (burst
    # and sustained)" (Fargate's RunTask throttle; each call may start up to 10 tasks).
    Quota("run task", "ecs", 20, 20, frozenset({"run_task"}), FARGATE_SOURCE),
    # About 20 a second, shared with DescribeContainerInstances; no burst was found written
    # down, so none above the rate is assumed. StopTask: no figure found; paced the same.
    _ecs("task read", 20, 20, "describe_tasks", "list_tasks"),
    _ecs("task stop", 20, 20, "stop_task"),
    # "All EventBridge APIs other than PutEvents are limited to 50 requests per second."
    Quota("each EventBridge API", "events", 50, 50, frozenset({"put_events"}), EVENTS_SOURCE,
          per_operation=True),
    # "GetResources: 15 requests per second" (not adjustable); no burst is documented.
    Quota("tagging GetResources", "resourcegroupstaggingapi", 15, 15,
          frozenset({"get_resources"}), TAGGING_SOURCE),
    # "GetMetricData: 50 transactions per second (TPS)"; no burst is documented.
    Quota("CloudWatch GetMetricData", "cloudwatch", 50, 50, frozenset({"get_metric_data"}),
          CLOUDWATCH_SOURCE),
    # "The rate of lookup requests is limited to two per second, per account, per Region."
    Quota("CloudTrail LookupEvents", "cloudtrail", 2, 2, frozenset({"lookup_events"}),
          CLOUDTRAIL_SOURCE),
    # "Get, describe, and list APIs: 10 transactions per second (TPS)" (LookupEvents aside)
    Quota("CloudTrail get, describe and list", "cloudtrail", 10, 10,
          frozenset({"describe_trails", "get_trail_status"}), CLOUDTRAIL_LIMITS),
)


@dataclass(frozen=True)
class Unpaced:
    """Operations whose documented quota is "nearly unlimited": nothing to pace."""

    service: str
    operations: frozenset[str]
    source: str


UNPACED: tuple[Unpaced, ...] = (
    # "Standard queues support a nearly unlimited number of API calls per second, per API
    # action (SendMessage, ReceiveMessage, or DeleteMessage)."
    Unpaced("sqs", frozenset({"receive_message", "delete_message_batch",
                              "change_message_visibility_batch"}), SQS_SOURCE),
)


# AWS counts a call when it arrives, not when it leaves: paced exactly at the documented
# rates, jitter on the way makes the odd call arrive early and be refused. A little below
# them, the server's bucket keeps a few tokens in hand.
HEADROOM = (0.9, 0.95)  # shares of the documented burst and rate this process uses


class Bucket:
    """A token bucket that lends: a call takes a token even when none is left and waits for
    it, so waiting callers keep their order and the rate holds on average. A throttled
    answer means AWS's bucket is empty (someone else in the account draws on the same
    quota): ours is emptied too, so what follows waits for tokens that exist."""

    def __init__(self, burst: float, rate: float, now: float) -> None:
        self.burst, self.rate = burst, rate
        self.tokens, self.last = burst, now

    def _refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.last) * self.rate)
        self.last = now

    def reserve(self, now: float) -> float:
        """Take one token; how long the caller must wait before using it."""
        self._refill(now)
        self.tokens -= 1
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def throttled(self, now: float) -> None:
        self._refill(now)
        self.tokens = min(self.tokens, 0.0)


class Pacer:
    """The buckets of one account and Region, as seen from this process. `scale` multiplies
    every quota (2 for an account whose quotas were raised to twice the defaults, 0.5 to
    leave half to others); `headroom` keeps a margin below them."""

    def __init__(
        self,
        quotas: Iterable[Quota] = DOCUMENTED,
        *,
        scale: float = 1.0,
        headroom: tuple[float, float] = HEADROOM,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self._quotas = tuple(quotas)
        self._burst_share, self._rate_share = scale * headroom[0], scale * headroom[1]
        self._clock = clock
        self._sleep = sleep
        # Two buckets per quota: calls queue for a token before they queue for a slot in
        # flight ("ahead"), so a paced operation does not sit in the slots others need; and
        # take one again when they really leave ("sending"), since a slot may hold them back
        # and then let several go at once, while AWS counts arrivals.
        self._buckets: dict[tuple[str, str, str], Bucket] = {}
        self.waited = 0.0  # call-seconds spent waiting for tokens, summed over calls
        self.longest = 0.0  # the longest any one call waited

    def quota(self, service: str, operation: str) -> Quota | None:
        for q in self._quotas:
            if q.service != service:
                continue
            if q.per_operation and operation not in q.operations:
                return q
            if not q.per_operation and operation in q.operations:
                return q
        return None

    def _bucket(self, service: str, operation: str, stage: str) -> Bucket | None:
        q = self.quota(service, operation)
        if q is None:
            return None
        key = (stage, service, operation if q.per_operation else q.name)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = Bucket(q.burst * self._burst_share,
                                                 q.rate * self._rate_share, self._clock())
        return bucket

    def delay(self, service: str, operation: str, stage: str = "ahead") -> float:
        """Reserve a token for one call; the seconds to wait before making it."""
        bucket = self._bucket(service, operation, stage)
        return 0.0 if bucket is None else bucket.reserve(self._clock())

    def throttled(self, service: str, operation: str) -> None:
        """AWS refused a call for want of tokens: ours are spent too."""
        for stage in ("ahead", "sending"):
            bucket = self._bucket(service, operation, stage)
            if bucket is not None:
                bucket.throttled(self._clock())

    async def _wait(self, service: str, operation: str, stage: str) -> float:
        seconds = self.delay(service, operation, stage)
        if seconds > 0:
            self.waited += seconds
            self.longest = max(self.longest, seconds)
            await self._sleep(seconds)
        return seconds

    async def wait(self, service: str, operation: str) -> float:
        """Before queueing for a slot in flight: the call's turn under the quota. Returns
        how long it waited (0: its bucket had a token)."""
        return await self._wait(service, operation, "ahead")

    async def sending(self, service: str, operation: str) -> None:
        """In its slot, just before the request leaves: rarely a wait, only when slots held
        calls back and now let them go together."""
        await self._wait(service, operation, "sending")


def scale_from(value: str | None) -> float | None:
    """RECONCILER_API_QUOTAS: unset or "documented" = 1, a number scales them, "off" = none."""
    text = (value or "documented").strip().lower()
    if text in ("documented", "default", ""):
        return 1.0
    if text in ("off", "none", "0"):
        return None
    scale = float(text)
    if scale <= 0:
        raise ValueError(f"{ENV} must be 'documented', 'off' or a positive number, not {value!r}")
    return scale


def pacer_from_env() -> Pacer | None:
    """The pacer RECONCILER_API_QUOTAS asks for, or None when it is off."""
    scale = scale_from(os.environ.get(ENV))
    return None if scale is None else Pacer(scale=scale)
