"""Prometheus metrics of one controller (its own registry, so tests can run several)."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from reconciler.aws.client import Aws
from reconciler.core.vocab import Health, State


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.pass_duration = Histogram("reconciler_pass_duration_seconds",
                                       "Duration of a reconcile pass", ["trigger"], registry=r)
        self.resources = Gauge("reconciler_resources", "Resources by sync state", ["state"],
                               registry=r)
        self.health = Gauge("reconciler_resource_health", "Resources by health",
                            ["health"], registry=r)
        self.drift = Gauge("reconciler_drift_resources", "Resources drifted and not healed",
                           registry=r)
        self.api_calls = Counter("reconciler_aws_api_calls", "AWS API calls", ["operation"],
                                 registry=r)
        self.api_errors = Counter("reconciler_aws_api_errors", "AWS API calls that failed",
                                  ["operation"], registry=r)
        self.api_retries = Counter("reconciler_aws_api_retries",
                                   "AWS API attempts after the first (throttled or transient)",
                                   ["operation"], registry=r)
        self.paced = Counter("reconciler_aws_paced_seconds",
                             "Call-seconds spent waiting to stay under the documented API quotas",
                             registry=r)
        self.applied_revision = Gauge("reconciler_last_applied_revision_info",
                                      "The last git revision applied", ["revision"], registry=r)
        self.applied_time = Gauge("reconciler_last_applied_timestamp_seconds",
                                  "When the last apply finished (Unix time)", registry=r)
        self.leader = Gauge("reconciler_leader", "1 while this replica holds the lease",
                            registry=r)
        self.source_up = Gauge("reconciler_source_up",
                               "1 while the last fetch of the git source succeeded", registry=r)
        self.source_last_success = Gauge("reconciler_source_last_success_timestamp_seconds",
                                         "When the git source was last fetched (Unix time)",
                                         registry=r)
        self.source_errors = Counter("reconciler_source_errors", "Failed fetches of the git "
                                     "source, by kind", ["kind"], registry=r)
        self.webhooks = Counter("reconciler_webhook_deliveries", "GitHub webhook deliveries "
                                "by outcome", ["outcome"], registry=r)
        self.orphaned = Gauge("reconciler_orphaned_resources", "Owned resources no longer in "
                              "git (prune off)", registry=r)
        self.invalid_revision = Gauge("reconciler_invalid_revision",
                                      "1 while the newest revision is invalid", registry=r)
        self._seen_paced = 0.0
        self._seen_calls: Tally[str] = Tally()
        self._seen_errors: Tally[str] = Tally()
        self._seen_retries: Tally[str] = Tally()
        self._revision: str | None = None

    def observe_calls(self, aws: Aws) -> None:
        for op, n in aws.calls.items():
            if n > self._seen_calls[op]:
                self.api_calls.labels(op).inc(n - self._seen_calls[op])
                self._seen_calls[op] = n
        for op, n in aws.errors.items():
            if n > self._seen_errors[op]:
                self.api_errors.labels(op).inc(n - self._seen_errors[op])
                self._seen_errors[op] = n
        for op, n in aws.retries.items():
            if n > self._seen_retries[op]:
                self.api_retries.labels(op).inc(n - self._seen_retries[op])
                self._seen_retries[op] = n
        if aws.pacer is not None and aws.pacer.waited > self._seen_paced:
            self.paced.inc(aws.pacer.waited - self._seen_paced)
            self._seen_paced = aws.pacer.waited

    def observe_statuses(self, statuses: Iterable[Any], drifted: int) -> None:
        statuses = list(statuses)
        counts = Tally(str(s.state) for s in statuses)
        for state in State:
            self.resources.labels(str(state)).set(counts.get(str(state), 0))
        healths = Tally(str(s.health) for s in statuses if s.health is not None)
        for health in Health:
            self.health.labels(str(health)).set(healths.get(str(health), 0))
        self.drift.set(max(drifted, 0))

    def set_applied(self, revision: str, at: float) -> None:
        if self._revision and self._revision != revision:
            self.applied_revision.remove(self._revision)
        self._revision = revision
        self.applied_revision.labels(revision).set(1)
        self.applied_time.set(at)

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))
