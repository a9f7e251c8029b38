"""ECS service deployments as AWS runs them, on the embedded clock.

moto 5.2.5 has none of the service-deployment API (ListServiceDeployments,
DescribeServiceDeployments, DescribeServiceRevisions answer NotImplementedError) and never
moves a deployment: `deployments[]` stays as CreateService left it, one PRIMARY IN_PROGRESS
with no task running, whatever UpdateService does (research note issue13 §3). Here,
CreateService and every UpdateService that changes what the tasks run start a service
deployment that walks through the lifecycle stages of the service's strategy as `CLOCK`
advances, read lazily whenever someone looks:

- ROLLING: scale up the new revision, bake (`bakeTimeInMinutes`), clean up.
- BLUE_GREEN: scale up, test traffic, all production traffic at once, bake, clean up.
- CANARY: scale up, test traffic, `canaryPercent` of production traffic for
  `canaryBakeTimeInMinutes`, then the rest, bake, clean up.
- LINEAR: scale up, test traffic, `stepPercent` more production traffic every
  `stepBakeTimeInMinutes` (no wait after the step reaching 100 %), bake, clean up.

It succeeds, unless the target task definition has a container whose environment sets
`RECONCILER_SIMULATE`: `fail` (its tasks never start: the circuit breaker trips when the
scale-up ends) or `alarm` (the first CloudWatch alarm of `deploymentConfiguration.alarms` goes
off halfway through the first bake with production traffic on the new revision). The
tripped monitor rolls the service back to the revision before when its `rollback` is on,
and otherwise leaves the deployment STOPPED; a service's first deployment has nothing to roll
back to. A ROLLING service whose tasks fail with no circuit breaker keeps trying, as on AWS.

DescribeServices then answers `deployments[]` (PRIMARY and, while both run, ACTIVE, with
rolloutState, rolloutStateReason and task counts), `currentServiceDeployment` and
`currentServiceRevisions` from the same timeline, and the service's task definition goes back
to the previous revision when a rollback starts. The durations of the stages AWS does not
document (scale-up, traffic shifts, clean-up) are fixed below.
"""

from __future__ import annotations

import random
import string
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from reconciler.embedded.clock import CLOCK
from reconciler.embedded.patches import replace

SIMULATE_ENV = "RECONCILER_SIMULATE"
FAIL, ALARM = "fail", "alarm"

PENDING_SECONDS = 5.0
SCALE_UP_SECONDS = 60.0
SHIFT_SECONDS = 10.0  # each test or production traffic shift
HOOK_SECONDS = 5.0  # the POST_* stages where lifecycle hooks would run
CLEAN_UP_SECONDS = 30.0
ROLLBACK_SECONDS = 30.0
CIRCUIT_BREAKER_THRESHOLD = 3  # failed tasks: 0.5 x desired, clamped to 3..200 (docs)

# UpdateService fields that make AWS start a new deployment (a count or a deployment
# configuration alone does not).
DEPLOYING_FIELDS = ("task_definition", "network_configuration", "load_balancers",
                    "capacity_provider_strategy", "platform_version", "launch_type",
                    "service_connect_configuration", "service_registries",
                    "volume_configurations")
_lock = threading.Lock()


def _new_id(length: int = 22) -> str:
    return "".join(random.choices(string.ascii_letters + string.digits, k=length))


@dataclass(frozen=True)
class Step:
    stage: str
    seconds: float
    weight: float | None = None  # production traffic on the new revision (None: tasks only)
    bake: bool = False


@dataclass
class Revision:
    arn: str
    number: str  # also the `ecs-svc/<number>` id of its entry in deployments[]
    task_definition: str
    created: datetime
    snapshot: dict[str, Any]


@dataclass
class State:
    """One deployment at one moment: what DescribeServiceDeployments says of it."""

    status: str
    stage: str | None
    weight: float | None  # production traffic on the target (traffic-shifting strategies)
    scaled: float  # share of the target's tasks running, 0..1
    reason: str = ""
    finished: datetime | None = None
    rollback_started: datetime | None = None
    tripped: str = ""  # "circuit breaker" / "alarm"

    @property
    def rolling_back(self) -> bool:
        return self.status in ("ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED")


@dataclass
class Deployment:
    arn: str
    service_arn: str
    cluster_arn: str
    created: datetime
    config: dict[str, Any]
    source: Revision | None
    target: Revision
    steps: list[Step]
    desired: int
    failure: str = ""
    stopped: datetime | None = None  # a newer deployment took over

    @property
    def strategy(self) -> str:
        return str(self.config.get("strategy") or "ROLLING")

    def _fail_at(self) -> float | None:
        """Seconds after creation at which the failure is found, if it ever is."""
        if not self.failure:
            return None
        t = PENDING_SECONDS
        if self.failure == FAIL:
            return t + SCALE_UP_SECONDS if self._monitor()[0] else None
        alarms = self.config.get("alarms") or {}
        if not (alarms.get("enable") and alarms.get("alarmNames")):
            return None
        for step in self.steps:
            if step.bake and (step.weight is None or step.weight > 0):
                return t + step.seconds / 2
            t += step.seconds
        return None

    def _monitor(self) -> tuple[bool, bool, str]:
        """(enabled, rolls back, its name) of the monitor this deployment's failure trips."""
        if self.failure == ALARM:
            alarms = self.config.get("alarms") or {}
            return bool(alarms.get("enable")), bool(alarms.get("rollback")), "alarm"
        cb = self.config.get("deploymentCircuitBreaker") or {}
        return bool(cb.get("enable")), bool(cb.get("rollback")), "circuit breaker"

    def alarm_names(self) -> list[str]:
        return list((self.config.get("alarms") or {}).get("alarmNames") or [])

    def state(self, now: datetime) -> State:
        elapsed = (now - self.created).total_seconds()
        if self.stopped is not None and now >= self.stopped:
            return State("STOPPED", None, None, 0.0, "stopped: a newer service deployment "
                         "started", finished=self.stopped)
        fail_at = self._fail_at()
        if fail_at is not None and elapsed >= fail_at:
            return self._failed(elapsed, fail_at)
        if elapsed < PENDING_SECONDS:
            return State("PENDING", None, None, 0.0)
        if self.failure == FAIL and fail_at is None and elapsed >= PENDING_SECONDS + \
                SCALE_UP_SECONDS:  # no circuit breaker: ECS keeps starting tasks that fail
            return State("IN_PROGRESS", "SCALE_UP", None, 0.0)
        t = PENDING_SECONDS
        weight: float | None = None if self.strategy == "ROLLING" or self.source is None else 0.0
        for step in self.steps:
            if elapsed < t + step.seconds:
                scaled = 1.0
                if step.stage == "SCALE_UP":
                    scaled = (elapsed - t) / step.seconds
                    if self.failure == FAIL:
                        scaled = 0.0
                w = step.weight if step.weight is not None else weight
                return State("IN_PROGRESS", step.stage, w, scaled)
            t += step.seconds
            if step.weight is not None:
                weight = step.weight
        return State("SUCCESSFUL", None, weight, 1.0,
                     finished=self.created + timedelta(seconds=t))

    def _failed(self, elapsed: float, fail_at: float) -> State:
        enabled, rolls_back, name = self._monitor()
        at = self.created + timedelta(seconds=fail_at)
        if name == "alarm":
            why = f"alarm {', '.join(self.alarm_names()[:1])} in ALARM"
        else:
            why = f"circuit breaker: {CIRCUIT_BREAKER_THRESHOLD} tasks failed to start"
        scaled = 1.0 if self.failure == ALARM else 0.0
        if not enabled or not rolls_back:
            return State("STOPPED", None, None, scaled, f"{why}; rollback is off",
                         finished=at, tripped=name)
        if self.source is None:
            return State("ROLLBACK_FAILED", None, None, scaled,
                         f"{why}; no earlier service revision to roll back to", finished=at,
                         rollback_started=at, tripped=name)
        done = at + timedelta(seconds=ROLLBACK_SECONDS)
        if elapsed < fail_at + ROLLBACK_SECONDS:
            return State("ROLLBACK_IN_PROGRESS", None, 0.0, scaled, f"{why}: rolling back",
                         rollback_started=at, tripped=name)
        return State("ROLLBACK_SUCCESSFUL", None, 0.0, 0.0, f"{why}: rolled back",
                     finished=done, rollback_started=at, tripped=name)


def steps_for(config: dict[str, Any], first: bool) -> list[Step]:
    """The lifecycle of one deployment of this configuration (a first deployment has no
    traffic to move: it only scales up)."""
    strategy = config.get("strategy") or "ROLLING"
    bake = float(config.get("bakeTimeInMinutes") or 0) * 60
    scale = [Step("SCALE_UP", SCALE_UP_SECONDS), Step("POST_SCALE_UP", HOOK_SECONDS)]
    if first:
        return [*scale, Step("CLEAN_UP", CLEAN_UP_SECONDS)]
    if strategy == "ROLLING":
        return [*scale, *([Step("BAKE_TIME", bake, bake=True)] if bake else []),
                Step("CLEAN_UP", CLEAN_UP_SECONDS)]
    shifts: list[Step] = []
    if strategy == "CANARY":
        canary = config.get("canaryConfiguration") or {}
        percent = float(canary.get("canaryPercent", 5.0))
        minutes = float(canary.get("canaryBakeTimeInMinutes", 10))
        shifts = [Step("PRODUCTION_TRAFFIC_SHIFT", SHIFT_SECONDS + minutes * 60, percent,
                       bake=True)]
    elif strategy == "LINEAR":
        linear = config.get("linearConfiguration") or {}
        step = float(linear.get("stepPercent", 10.0))
        minutes = float(linear.get("stepBakeTimeInMinutes", 6))
        k = 1
        while k * step < 100:
            shifts.append(Step("PRODUCTION_TRAFFIC_SHIFT", SHIFT_SECONDS + minutes * 60,
                               round(k * step, 1), bake=True))
            k += 1
    return [*scale, Step("TEST_TRAFFIC_SHIFT", SHIFT_SECONDS, 0.0),
            Step("POST_TEST_TRAFFIC_SHIFT", HOOK_SECONDS, 0.0), *shifts,
            Step("PRODUCTION_TRAFFIC_SHIFT", SHIFT_SECONDS, 100.0),
            Step("POST_PRODUCTION_TRAFFIC_SHIFT", HOOK_SECONDS, 100.0),
            *([Step("BAKE_TIME", bake, 100.0, bake=True)] if bake else []),
            Step("CLEAN_UP", CLEAN_UP_SECONDS, 100.0)]


@dataclass
class History:
    """What one moto service has been through: its revisions and deployments, newest last."""

    revisions: list[Revision] = field(default_factory=list)
    deployments: list[Deployment] = field(default_factory=list)
    base: dict[str, Any] = field(default_factory=dict)  # moto's own deployments[0]

    @property
    def current(self) -> Deployment | None:
        return self.deployments[-1] if self.deployments else None


def _history(service: Any) -> History:
    hist = getattr(service, "reconciler_history", None)
    if hist is None:
        hist = History(base=dict((service.deployments or [{}])[0]))
        service.reconciler_history = hist
    assert isinstance(hist, History)
    return hist


def _failure_marker(backend: Any, td_arn: str | None) -> str:
    if not td_arn:
        return ""
    try:
        td = backend.describe_task_definition(td_arn)
    except Exception:  # a task definition gone since: nothing to simulate
        return ""
    for c in td.container_definitions or []:
        for env in c.get("environment") or []:
            if env.get("name") == SIMULATE_ENV and env.get("value") in (FAIL, ALARM):
                return str(env["value"])
    return ""


def _snapshot(service: Any) -> dict[str, Any]:
    return {f: getattr(service, f, None) for f in DEPLOYING_FIELDS}


def start(service: Any, backend: Any, now: datetime | None = None) -> Deployment:
    """A new service deployment of what the service says now (CreateService, or an
    UpdateService that changes what its tasks run)."""
    now = now or CLOCK.now()
    hist = _history(service)
    settle(service, backend, now)
    previous = hist.current
    source: Revision | None = None
    if previous is not None:  # what serves now is what the new deployment replaces
        status = previous.state(now).status
        source = previous.target if status == "SUCCESSFUL" else (
            previous.source or previous.target)
        if status in ("PENDING", "IN_PROGRESS"):
            previous.stopped = now
    prefix = f"{service.cluster_name}/{service.name}"
    region_part = service.arn.split(":service/")[0]
    number = str(random.randint(10**18, 10**19 - 1))
    revision = Revision(f"{region_part}:service-revision/{prefix}/{number}", number,
                        str(service.task_definition), now, _snapshot(service))
    hist.revisions.append(revision)
    config = dict(getattr(service, "deployment_configuration", None) or {})
    deployment = Deployment(
        f"{region_part}:service-deployment/{prefix}/{_new_id()}", service.arn,
        service.cluster_arn, now, config, source, revision,
        steps_for(config, first=source is None), int(service.desired_count or 0),
        _failure_marker(backend, service.task_definition))
    hist.deployments.append(deployment)
    settle(service, backend, now)
    return deployment


def _td_short(arn: str | None) -> str:
    return str(arn or "").rsplit("/", 1)[-1]


def settle(service: Any, backend: Any, now: datetime | None = None) -> None:
    """Bring what DescribeServices answers up to the clock: deployments[], counts, the
    current deployment and revisions, and the task definition after a rollback."""
    hist = getattr(service, "reconciler_history", None)
    if not isinstance(hist, History) or hist.current is None:
        return
    now = now or CLOCK.now()
    d = hist.current
    state = d.state(now)
    desired = int(service.desired_count or 0)
    new_running = round(desired * state.scaled)
    entry = {**hist.base, "desiredCount": desired, "createdAt": d.created, "updatedAt": now,
             "failedTasks": CIRCUIT_BREAKER_THRESHOLD if state.tripped == "circuit breaker"
             else 0}
    target = {**entry, "id": f"ecs-svc/{d.target.number}", "taskDefinition": d.target.task_definition}
    source = ({**entry, "id": f"ecs-svc/{d.source.number}",
               "taskDefinition": d.source.task_definition} if d.source else None)
    done = state.status in ("SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED")
    if state.rolling_back and source is not None:
        service.task_definition = d.source.task_definition if d.source else service.task_definition
        finished = state.status == "ROLLBACK_SUCCESSFUL"
        deployments = [{**source, "status": "PRIMARY", "runningCount": desired,
                        "pendingCount": 0,
                        "rolloutState": "COMPLETED" if finished else "IN_PROGRESS",
                        "rolloutStateReason": f"ECS deployment ecs-svc/{d.target.number} "
                        f"{state.reason}."}]
        if not finished:
            deployments.append({**target, "status": "ACTIVE", "runningCount": new_running,
                                "pendingCount": 0, "rolloutState": "FAILED",
                                "rolloutStateReason": state.reason})
    else:
        rollout = "COMPLETED" if state.status == "SUCCESSFUL" else (
            "FAILED" if done else "IN_PROGRESS")
        reason = {"COMPLETED": f"ECS deployment ecs-svc/{d.target.number} completed.",
                  "IN_PROGRESS": f"ECS deployment ecs-svc/{d.target.number} in progress."}.get(
            rollout, state.reason)
        deployments = [{**target, "status": "PRIMARY", "runningCount": new_running,
                        "pendingCount": desired - new_running, "rolloutState": rollout,
                        "rolloutStateReason": reason}]
        if source is not None and not done:
            deployments.append({**source, "status": "ACTIVE", "runningCount": desired,
                                "pendingCount": 0, "rolloutState": "COMPLETED",
                                "rolloutStateReason": ""})
    service.deployments = deployments
    service.running_count = sum(int(x.get("runningCount", 0)) for x in deployments)
    service.pending_count = sum(int(x.get("pendingCount", 0)) for x in deployments)
    service.current_service_deployment = d.arn
    service.current_service_revisions = [
        {"arn": rev.arn, "requestedTaskCount": desired, "runningTaskCount": x["runningCount"],
         "pendingTaskCount": x["pendingCount"]}
        for rev, x in zip(_revisions_of(d, state), deployments, strict=False)]


def _revisions_of(d: Deployment, state: State) -> list[Revision]:
    """The revisions in the order `settle` lists their deployments[] entries."""
    if state.rolling_back and d.source is not None:
        return [d.source, d.target]
    return [d.target, *([d.source] if d.source else [])]


def _summary(rev: Revision | None, requested: int, running: int, weight: float | None
             ) -> dict[str, Any]:
    out: dict[str, Any] = {"arn": rev.arn if rev else None, "requestedTaskCount": requested,
                           "runningTaskCount": running, "pendingTaskCount": requested - running}
    if weight is not None:
        out["requestedProductionTrafficWeight"] = weight
    return out


def _monitor_status(enabled: bool, tripped: bool, state: State) -> str:
    if tripped:
        return "TRIGGERED"
    if not enabled:
        return "DISABLED"
    return "MONITORING_COMPLETE" if state.finished else "MONITORING"


def describe(d: Deployment, now: datetime) -> dict[str, Any]:
    """The ServiceDeployment as DescribeServiceDeployments answers it."""
    state = d.state(now)
    desired = d.desired
    target_running = round(desired * state.scaled)
    out: dict[str, Any] = {
        "serviceDeploymentArn": d.arn, "serviceArn": d.service_arn, "clusterArn": d.cluster_arn,
        "createdAt": d.created, "updatedAt": now, "status": state.status,
        "deploymentConfiguration": d.config,
        "targetServiceRevision": _summary(d.target, desired, target_running, state.weight),
    }
    if state.status != "PENDING":
        out["startedAt"] = d.created + timedelta(seconds=PENDING_SECONDS)
    if state.stage:
        out["lifecycleStage"] = state.stage
    if state.reason:
        out["statusReason"] = state.reason
    if state.finished is not None:
        out["finishedAt"] = state.finished
    if d.stopped is not None and state.status == "STOPPED":
        out["stoppedAt"] = d.stopped
    if d.source is not None:
        source_weight = None if state.weight is None else 100.0 - state.weight
        running = desired if state.status != "SUCCESSFUL" else 0
        out["sourceServiceRevisions"] = [_summary(d.source, running, running, source_weight)]
    cb = d.config.get("deploymentCircuitBreaker") or {}
    failures = CIRCUIT_BREAKER_THRESHOLD if state.tripped == "circuit breaker" else 0
    out["deploymentCircuitBreaker"] = {
        "status": _monitor_status(bool(cb.get("enable")), bool(failures), state),
        "failureCount": failures, "threshold": CIRCUIT_BREAKER_THRESHOLD}
    alarms = d.config.get("alarms") or {}
    fired = state.tripped == "alarm"
    out["alarms"] = {"status": _monitor_status(bool(alarms.get("enable")), fired, state),
                     "alarmNames": d.alarm_names(),
                     "triggeredAlarmNames": d.alarm_names()[:1] if fired else []}
    if state.rollback_started is not None and d.source is not None:
        out["rollback"] = {"reason": state.reason, "startedAt": state.rollback_started,
                           "serviceRevisionArn": d.source.arn}
    return out


def describe_revision(rev: Revision, service: Any) -> dict[str, Any]:
    snap = rev.snapshot
    out: dict[str, Any] = {"serviceRevisionArn": rev.arn, "serviceArn": service.arn,
                           "clusterArn": service.cluster_arn,
                           "taskDefinition": rev.task_definition, "createdAt": rev.created}
    for key, attr in (("loadBalancers", "load_balancers"),
                      ("networkConfiguration", "network_configuration"),
                      ("capacityProviderStrategy", "capacity_provider_strategy"),
                      ("platformVersion", "platform_version"), ("launchType", "launch_type"),
                      ("serviceRegistries", "service_registries")):
        if snap.get(attr):
            out[key] = snap[attr]
    return out


def _services(backend: Any) -> list[Any]:
    return [s for s in backend.services.values()
            if isinstance(getattr(s, "reconciler_history", None), History)]


def patch() -> None:
    """Serve the service-deployment API and move deployments on the embedded clock."""
    from moto.core.responses import ActionResult
    from moto.ecs.exceptions import InvalidParameterException
    from moto.ecs.responses import EC2ContainerServiceResponse

    created = EC2ContainerServiceResponse.create_service
    updated = EC2ContainerServiceResponse.update_service
    described = EC2ContainerServiceResponse.describe_services

    def _service(self: Any, cluster_param: str, name_param: str) -> Any:
        cluster = str(self._get_param(cluster_param) or "default").split("/")[-1]
        name = str(self._get_param(name_param)).split("/")[-1]
        return self.ecs_backend.services.get(f"{cluster}:{name}")

    def create_service(self: Any) -> Any:
        result = created(self)
        service = _service(self, "cluster", "serviceName")
        if service is not None and service.deployment_controller.get("type") == "ECS":
            with _lock:
                start(service, self.ecs_backend)
        return result

    def update_service(self: Any) -> Any:
        service = _service(self, "cluster", "service")
        before = _snapshot(service) if service is not None else None
        result = updated(self)
        if service is None or service.deployment_controller.get("type") != "ECS":
            return result
        after = _snapshot(service)
        if self._get_param("forceNewDeployment") or before != after:
            with _lock:
                start(service, self.ecs_backend)
        return result

    def describe_services(self: Any) -> Any:
        with _lock:
            for service in _services(self.ecs_backend):
                settle(service, self.ecs_backend)
        return described(self)

    def list_service_deployments(self: Any) -> Any:
        from moto.ecs.exceptions import ServiceNotFoundException

        service = _service(self, "cluster", "service")
        if service is None:
            raise ServiceNotFoundException()
        now = CLOCK.now()
        wanted = set(self._get_param("status") or [])
        created_at = self._get_param("createdAt") or {}
        rows = []
        for d in reversed(_history(service).deployments):
            brief = describe(d, now)
            if wanted and brief["status"] not in wanted:
                continue
            if not _within(d.created, created_at):
                continue
            rows.append({k: brief[k] for k in ("serviceDeploymentArn", "serviceArn",
                                                "clusterArn", "createdAt", "startedAt",
                                                "finishedAt", "status", "statusReason")
                         if k in brief} | {"targetServiceRevisionArn": d.target.arn})
        size = int(self._get_param("maxResults") or 20)
        if not 1 <= size <= 100:
            raise InvalidParameterException("maxResults must be between 1 and 100.")
        first = int(self._get_param("nextToken") or 0)
        page: dict[str, Any] = {"serviceDeployments": rows[first:first + size]}
        if first + size < len(rows):
            page["nextToken"] = str(first + size)
        return ActionResult(page)

    def describe_service_deployments(self: Any) -> Any:
        arns = list(self._get_param("serviceDeploymentArns") or [])
        if not 1 <= len(arns) <= 20:
            raise InvalidParameterException("serviceDeploymentArns: 1 to 20 ARNs.")
        now = CLOCK.now()
        known = {d.arn: d for s in _services(self.ecs_backend)
                 for d in _history(s).deployments}
        return ActionResult({
            "serviceDeployments": [describe(known[a], now) for a in arns if a in known],
            "failures": [{"arn": a, "reason": "MISSING"} for a in arns if a not in known]})

    def describe_service_revisions(self: Any) -> Any:
        arns = list(self._get_param("serviceRevisionArns") or [])
        if not 1 <= len(arns) <= 20:
            raise InvalidParameterException("serviceRevisionArns: 1 to 20 ARNs.")
        known = {r.arn: (r, s) for s in _services(self.ecs_backend)
                 for r in _history(s).revisions}
        return ActionResult({
            "serviceRevisions": [describe_revision(*known[a]) for a in arns if a in known],
            "failures": [{"arn": a, "reason": "MISSING"} for a in arns if a not in known]})

    replace(EC2ContainerServiceResponse, "create_service", create_service)
    replace(EC2ContainerServiceResponse, "update_service", update_service)
    replace(EC2ContainerServiceResponse, "describe_services", describe_services)
    replace(EC2ContainerServiceResponse, "list_service_deployments", list_service_deployments)
    replace(EC2ContainerServiceResponse, "describe_service_deployments",
            describe_service_deployments)
    replace(EC2ContainerServiceResponse, "describe_service_revisions",
            describe_service_revisions)


def _within(when: datetime, window: dict[str, Any]) -> bool:
    after, before = window.get("after"), window.get("before")
    stamp = when.timestamp()
    return (after is None or stamp >= _epoch(after)) and (before is None or stamp <= _epoch(before))


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


__all__ = ["ALARM", "FAIL", "SIMULATE_ENV", "Deployment", "History", "patch", "settle", "start",
           "steps_for"]
