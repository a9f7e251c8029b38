"""A Service's rollout: what its current ECS service deployment is doing, judged from what
AWS says of it. Pure: the Service kind reads (DescribeServices, DescribeServiceDeployments,
DescribeServiceRevisions), this module judges; the Service's health, the controller's
rollout tracking, `/status`, the metrics, Slack and `reconciler rollout` all show the one
`Rollout` it returns.

AWS's service-deployment statuses and lifecycle stages are folded into one `Phase` that
people read ("canary at 10 %", "baking", "rolled back"); the AWS words stay alongside.
Without the service-deployment API (a CODE_DEPLOY or EXTERNAL controller, or a service
deployed before 2024-10-25), the PRIMARY entry of `deployments[]` is judged instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from reconciler.core.manifest import ResourceKey
from reconciler.core.ownership import REVISION_TAG
from reconciler.core.vocab import Health

Doc = dict[str, Any]

# Keys the Service reader adds to the DescribeServices answer it keeps in `Live.raw`: the
# current service deployment and the service revisions it names, as AWS describes them.
DEPLOYMENT_KEY = "reconciler:serviceDeployment"
REVISIONS_KEY = "reconciler:serviceRevisions"


class Phase(StrEnum):
    """Where a rollout is, in people's words. Ordered as a rollout moves."""

    STARTED = "started"
    TEST_TRAFFIC = "test traffic"
    SHIFTING = "shifting traffic"
    BAKING = "baking"
    CLEANING_UP = "cleaning up"
    ROLLING_BACK = "rolling back"
    SUCCEEDED = "succeeded"
    ROLLED_BACK = "rolled back"
    FAILED = "failed"
    STOPPED = "stopped"

    @property
    def done(self) -> bool:
        return self in (Phase.SUCCEEDED, Phase.ROLLED_BACK, Phase.FAILED, Phase.STOPPED)

    @property
    def reverted(self) -> bool:
        """AWS took (or is taking) the service back to the revision before."""
        return self in (Phase.ROLLING_BACK, Phase.ROLLED_BACK)


_STATUS = {  # ServiceDeploymentStatus -> phase (IN_PROGRESS goes by lifecycle stage)
    "PENDING": Phase.STARTED,
    "SUCCESSFUL": Phase.SUCCEEDED,
    "STOPPED": Phase.STOPPED,
    "STOP_REQUESTED": Phase.ROLLING_BACK,
    "ROLLBACK_REQUESTED": Phase.ROLLING_BACK,
    "ROLLBACK_IN_PROGRESS": Phase.ROLLING_BACK,
    "ROLLBACK_SUCCESSFUL": Phase.ROLLED_BACK,
    "ROLLBACK_FAILED": Phase.FAILED,
}
_STAGE = {  # ServiceDeploymentLifecycleStage -> phase
    "TEST_TRAFFIC_SHIFT": Phase.TEST_TRAFFIC,
    "POST_TEST_TRAFFIC_SHIFT": Phase.TEST_TRAFFIC,
    "PRODUCTION_TRAFFIC_SHIFT": Phase.SHIFTING,
    "POST_PRODUCTION_TRAFFIC_SHIFT": Phase.SHIFTING,
    "BAKE_TIME": Phase.BAKING,
    "CLEAN_UP": Phase.CLEANING_UP,
}
_ROLLOUT_STATE = {"IN_PROGRESS": Phase.STARTED, "COMPLETED": Phase.SUCCEEDED,
                  "FAILED": Phase.FAILED}


def short_td(arn: Any) -> str | None:
    """`arn:...:task-definition/api:12` -> `api:12`."""
    return str(arn).rsplit("/", 1)[-1] if arn else None


def _pct(value: float) -> str:
    return f"{value:g} %"


@dataclass(frozen=True)
class Rollout:
    """One service deployment as people follow it."""

    key: ResourceKey
    arn: str  # the service deployment's ARN (or, without that API, the deployments[] id)
    phase: Phase
    status: str  # AWS's own status and lifecycle stage, as it says them
    stage: str | None = None
    strategy: str = "ROLLING"
    traffic: float | None = None  # % of production traffic on the new revision
    running: int | None = None  # tasks of the new revision running, of `requested`
    requested: int | None = None
    target: str | None = None  # task definition of the new revision (`api:12`)
    source: str | None = None  # task definition it replaces
    cause: str = ""  # why it rolled back, failed or stopped
    git_revision: str | None = None  # what the service's reconciler:revision tag says
    started_at: str | None = None
    finished_at: str | None = None

    @property
    def done(self) -> bool:
        return self.phase.done

    @property
    def ok(self) -> bool:
        return self.phase is Phase.SUCCEEDED

    @property
    def progress(self) -> float | None:
        """% of the way: traffic on the new revision where AWS says it, else its tasks."""
        if self.traffic is not None:
            return self.traffic
        if self.requested:
            return round(100.0 * (self.running or 0) / self.requested, 1)
        return None

    @property
    def summary(self) -> str:
        """One line a person reads: "canary at 10 % of traffic on api:12"."""
        new = self.target or "the new revision"
        old = self.source or "the revision before"
        if self.phase is Phase.STARTED:
            tasks = (f": {self.running or 0}/{self.requested} tasks running"
                     if self.requested else "")
            if self.source is None:  # a service's first deployment replaces nothing
                return f"started: {new} ({self.strategy}){tasks}"
            return f"started: {new} replacing {old} ({self.strategy}){tasks}"
        if self.phase is Phase.TEST_TRAFFIC:
            return f"test traffic on {new}"
        if self.phase is Phase.SHIFTING:
            share = self.traffic if self.traffic is not None else 100.0
            if self.strategy == "CANARY" and share < 100:
                return f"canary at {_pct(share)} of traffic on {new}"
            if self.strategy == "LINEAR" and share < 100:
                return f"linear: {_pct(share)} of traffic on {new}"
            return f"shifting all traffic to {new}"
        if self.phase is Phase.BAKING:
            if self.source is None:
                return f"baking: {new} serves all traffic"
            return f"baking: {new} serves all traffic, {old} kept for a rollback"
        if self.phase is Phase.CLEANING_UP:
            return f"cleaning up {old}" if self.source is not None else f"finishing {new}"
        if self.phase is Phase.SUCCEEDED:
            return f"succeeded: {new} serves all traffic"
        why = f": {self.cause}" if self.cause else ""
        if self.phase is Phase.ROLLING_BACK:
            return f"rolling back to {old}{why}"
        if self.phase is Phase.ROLLED_BACK:
            by = f" (git revision {self.git_revision[:12]})" if self.git_revision else ""
            return (f"rolled back to {old}{why}; git asks for {new}{by}, ECS runs {old} again")
        return f"{self.phase}{why}"

    def health(self) -> tuple[Health, str]:
        if self.phase is Phase.SUCCEEDED:
            return Health.HEALTHY, ""
        if self.done:
            return Health.DEGRADED, self.summary
        return Health.PROGRESSING, self.summary

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.key.kind, "name": self.key.name, "cluster": self.key.cluster,
                "deployment": self.arn, "phase": str(self.phase), "status": self.status,
                "stage": self.stage, "strategy": self.strategy, "traffic": self.traffic,
                "running": self.running, "requested": self.requested,
                "progress": self.progress, "target": self.target, "source": self.source,
                "cause": self.cause, "gitRevision": self.git_revision,
                "startedAt": self.started_at, "finishedAt": self.finished_at,
                "summary": self.summary}


def _when(value: Any) -> str | None:
    if value is None:
        return None
    iso = getattr(value, "isoformat", None)
    return str(iso()) if callable(iso) else str(value)


def _cause(d: Doc) -> str:
    """Why AWS rolled back or stopped: the monitor that tripped, else what it says."""
    cb = d.get("deploymentCircuitBreaker") or {}
    alarms = d.get("alarms") or {}
    if alarms.get("status") == "TRIGGERED":
        names = ", ".join(alarms.get("triggeredAlarmNames") or alarms.get("alarmNames") or [])
        return f"CloudWatch alarm {names} went off" if names else "a CloudWatch alarm went off"
    if cb.get("status") == "TRIGGERED":
        return (f"circuit breaker: {cb.get('failureCount', '?')} tasks failed "
                f"(threshold {cb.get('threshold', '?')})")
    for hook in d.get("lifecycleHookDetails") or []:
        if hook.get("status") in ("FAILED", "TIMED_OUT"):
            target = hook.get("targetArn") or hook.get("hookId") or "a lifecycle hook"
            return f"lifecycle hook {target} {str(hook['status']).lower().replace('_', ' ')}"
    return str((d.get("rollback") or {}).get("reason") or d.get("statusReason") or "")


def _from_deployment(key: ResourceKey, service: Doc, d: Doc, revisions: Mapping[str, Doc]
                     ) -> Rollout:
    status = str(d.get("status", ""))
    stage = d.get("lifecycleStage")
    phase = _STATUS.get(status, Phase.STARTED)
    if status == "IN_PROGRESS":
        phase = _STAGE.get(str(stage), Phase.STARTED)
    target = d.get("targetServiceRevision") or {}
    sources = d.get("sourceServiceRevisions") or []
    source_arn = (d.get("rollback") or {}).get("serviceRevisionArn") or (
        sources[0].get("arn") if sources else None)

    def td(arn: Any) -> str | None:
        return short_td((revisions.get(str(arn)) or {}).get("taskDefinition")) if arn else None

    config = d.get("deploymentConfiguration") or service.get("deploymentConfiguration") or {}
    weight = target.get("requestedProductionTrafficWeight")
    return Rollout(
        key=key, arn=str(d.get("serviceDeploymentArn", "")), phase=phase, status=status,
        stage=str(stage) if stage else None, strategy=str(config.get("strategy") or "ROLLING"),
        traffic=float(weight) if isinstance(weight, int | float) and sources
        and config.get("strategy", "ROLLING") != "ROLLING" else None,
        running=target.get("runningTaskCount"), requested=target.get("requestedTaskCount"),
        target=td(target.get("arn")), source=td(source_arn),
        cause=_cause(d) if phase.done or phase.reverted else "",
        git_revision=_tag(service, REVISION_TAG),
        started_at=_when(d.get("startedAt") or d.get("createdAt")),
        finished_at=_when(d.get("finishedAt")))


def _tag(service: Doc, key: str) -> str | None:
    for t in service.get("tags") or []:
        if isinstance(t, dict) and t.get("key") == key:
            return str(t.get("value"))
    return None


def _from_deployments(key: ResourceKey, service: Doc) -> Rollout | None:
    """Without the service-deployment API: the PRIMARY entry of deployments[]."""
    deployments = service.get("deployments") or []
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    if primary is None:
        return None
    state = str(primary.get("rolloutState") or "")
    phase = _ROLLOUT_STATE.get(state, Phase.SUCCEEDED)
    if phase is Phase.SUCCEEDED and len(deployments) > 1:
        phase = Phase.STARTED  # the old deployment is still draining
    active = next((d for d in deployments if d.get("status") == "ACTIVE"), None)
    config = service.get("deploymentConfiguration") or {}
    return Rollout(
        key=key, arn=str(primary.get("id", "")), phase=phase, status=state,
        strategy=str(config.get("strategy") or "ROLLING"),
        running=primary.get("runningCount"), requested=primary.get("desiredCount"),
        target=short_td(primary.get("taskDefinition")),
        source=short_td(active.get("taskDefinition")) if active else None,
        cause=str(primary.get("rolloutStateReason") or "") if phase.done else "",
        git_revision=_tag(service, REVISION_TAG), started_at=_when(primary.get("createdAt")))


def judge(key: ResourceKey, service: Doc) -> Rollout | None:
    """The rollout of a service from its DescribeServices answer, with the current service
    deployment and its revisions where the reader added them (None: no deployment at all)."""
    deployment = service.get(DEPLOYMENT_KEY)
    if isinstance(deployment, dict):
        return _from_deployment(key, service, deployment, service.get(REVISIONS_KEY) or {})
    return _from_deployments(key, service)


__all__ = ["DEPLOYMENT_KEY", "REVISIONS_KEY", "Phase", "Rollout", "judge", "short_td"]
