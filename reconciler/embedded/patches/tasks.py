"""ECS tasks that run, on the embedded clock. moto starts tasks but never runs them: a task
advances one state per DescribeTasks call, every container "exits" 0, only the first
container is modelled, there are no timestamps, RunTask never reports a failure, and it
crashes on a container without container-level memory. Here a task started by RunTask moves
PROVISIONING → PENDING → RUNNING → STOPPED as `embedded.clock.CLOCK` advances, each container
exits with the code its command asks for, and a capacity provider can be made unavailable.

How a simulated container behaves, from its effective command and environment (overrides
applied), so tests, the demo and users of the embedded default can ask for outcomes:
- `RECONCILER_SIMULATE_EXIT=<n>` in its environment, or a command containing `exit <n>`
  (`["sh", "-c", "exit 3"]`), or `false`: it exits with that code (else 0);
- `RECONCILER_SIMULATE_SECONDS=<s>`: it runs that long (else `DEFAULT_RUNTIME`).
`unavailable("FARGATE_SPOT")` (or `RECONCILER_SIMULATE_UNAVAILABLE=FARGATE_SPOT`) makes
RunTask on that capacity provider fail as AWS does: no task, a `failures[]` entry.
A stopped task stays describable for `RETENTION` (AWS: at least an hour), then it is MISSING.
RunTask's `clientToken` is honoured as AWS documents it ("ensures the idempotency of the
request"): the same token again answers the tasks it started, and starts none (moto ignores it).
"""

from __future__ import annotations

import os
import re
import threading
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from reconciler.embedded.clock import CLOCK
from reconciler.embedded.patches import replace

EXIT_ENV = "RECONCILER_SIMULATE_EXIT"
SECONDS_ENV = "RECONCILER_SIMULATE_SECONDS"
UNAVAILABLE_ENV = "RECONCILER_SIMULATE_UNAVAILABLE"
DEFAULT_RUNTIME = 30.0
PROVISIONING, PENDING = 2.0, 5.0  # seconds after creation each phase ends
RETENTION = timedelta(hours=1)
CAPACITY_UNAVAILABLE = ("Capacity is unavailable at this time. Please try again later or in a "
                        "different availability zone")
_EXIT_IN_COMMAND = re.compile(r"\bexit\s+(\d+)\b")

_unavailable: set[str] = {p.strip() for p in os.environ.get(UNAVAILABLE_ENV, "").split(",")
                          if p.strip()}
_lock = threading.Lock()
_simulated: weakref.WeakValueDictionary[str, Any] = weakref.WeakValueDictionary()
# (account, region, cluster name, clientToken) -> the task ARNs that request started
_tokens: dict[tuple[str, str, str, str], list[str]] = {}


def unavailable(*providers: str) -> None:
    """Make RunTask on these capacity providers fail for want of capacity (none: all back)."""
    with _lock:
        _unavailable.clear()
        _unavailable.update(providers)


class CapacityUnavailable(Exception):
    def __init__(self, provider: str) -> None:
        super().__init__(provider)
        self.provider = provider


@dataclass
class SimContainer:
    """One container of a running task, as DescribeTasks shows it."""

    container_arn: str
    task_arn: str
    name: str
    image: str
    essential: bool
    exit_after: float
    exit_code_when_done: int
    last_status: str = "PENDING"
    exit_code: int | None = None
    reason: str | None = None
    health_status: str = "UNKNOWN"
    cpu: str = "0"
    network_interfaces: list[Any] = field(default_factory=list)


@dataclass
class Plan:
    """What a simulated task will do."""

    created: datetime
    runtime: float  # seconds RUNNING before the first essential container exits
    stopped_by: str | None = None  # StopTask's reason
    stopped_at: datetime | None = None


def _effective(container: dict[str, Any], overrides: dict[str, Any]
               ) -> tuple[list[str], dict[str, str]]:
    over: dict[str, Any] = next((o for o in overrides.get("containerOverrides") or []
                 if o.get("name") == container.get("name")), {})
    env = {e["name"]: str(e.get("value", "")) for e in container.get("environment") or []}
    env.update({e["name"]: str(e.get("value", "")) for e in over.get("environment") or []})
    command = over.get("command") or container.get("command") or []
    return [str(c) for c in command], env


def exit_code_of(command: list[str], env: dict[str, str]) -> int:
    """The exit code a simulated container asks for (see the module docstring)."""
    if env.get(EXIT_ENV, "").lstrip("-").isdigit():
        return int(env[EXIT_ENV])
    text = " ".join(command)
    found = _EXIT_IN_COMMAND.search(text)
    if found:
        return int(found.group(1))
    if command and command[-1].strip().rsplit("/", 1)[-1] == "false":
        return 1
    return 0


def runtime_of(env: dict[str, str]) -> float:
    try:
        return max(float(env[SECONDS_ENV]), 0.0)
    except (KeyError, ValueError):
        return DEFAULT_RUNTIME


def chosen_provider(strategy: list[dict[str, Any]] | None) -> str | None:
    """The capacity provider one task lands on: one with a base first, else the heaviest."""
    if not strategy:
        return None
    based = [s for s in strategy if int(s.get("base") or 0) > 0]
    pick = based[0] if based else max(strategy, key=lambda s: int(s.get("weight") or 0))
    return str(pick["capacityProvider"])


def _plan(task: Any, task_definition: Any) -> None:
    """Give a task moto just made its simulated life."""
    overrides = task.overrides or {}
    containers = []
    runtimes = []
    for c in task_definition.container_definitions:
        command, env = _effective(c, overrides)
        runtime = runtime_of(env)
        essential = c.get("essential", True) is not False
        if essential:
            runtimes.append(runtime)
        containers.append(SimContainer(
            container_arn=f"{task.task_arn.replace(':task/', ':container/')}/{c.get('name')}",
            task_arn=task.task_arn, name=str(c.get("name")), image=str(c.get("image", "")),
            essential=essential, exit_after=runtime,
            exit_code_when_done=exit_code_of(command, env)))
    task.containers = containers
    task.reconciler_sim = Plan(created=CLOCK.now(), runtime=min(runtimes, default=0.0))
    _simulated[task.task_arn] = task
    refresh(task)


def backdate(task_arn: str, created: datetime) -> None:
    """Start a simulated task's life at `created` instead of now (the embedded scheduler
    fires a rule at its fire time even when it looks later)."""
    task = _simulated.get(task_arn)
    plan: Plan | None = getattr(task, "reconciler_sim", None)
    if plan is not None and plan.stopped_at is None and created < plan.created:
        plan.created = created
        refresh(task)


def refresh(task: Any) -> None:
    """Bring a simulated task's fields to the clock's now."""
    plan: Plan | None = getattr(task, "reconciler_sim", None)
    if plan is None:
        return
    now = CLOCK.now()
    age = (now - plan.created).total_seconds()
    started = plan.created + timedelta(seconds=PENDING)
    natural_end = started + timedelta(seconds=plan.runtime)
    task.created_at = plan.created
    if plan.stopped_at is not None or now >= natural_end:
        end = plan.stopped_at or natural_end
        status = "STOPPED"
        task.started_at = started if end > started else None
        task.stopping_at = task.stopped_at = task.execution_stopped_at = end
        task.desired_status = "STOPPED"
        if plan.stopped_by is not None:
            task.stop_code, task.stopped_reason = "UserInitiated", plan.stopped_by
        else:
            task.stop_code = "EssentialContainerExited"
            task.stopped_reason = "Essential container in task exited"
        for c in task.containers:
            if isinstance(c, SimContainer):
                c.last_status = "STOPPED"
                natural = plan.stopped_by is None and c.essential and c.exit_after <= plan.runtime
                c.exit_code = c.exit_code_when_done if natural else 143
    else:
        status = "PROVISIONING" if age < PROVISIONING else "PENDING" if age < PENDING \
            else "RUNNING"
        task.started_at = started if status == "RUNNING" else None
        for c in task.containers:
            if isinstance(c, SimContainer):
                c.last_status = status if status != "PROVISIONING" else "PENDING"
    task.reconciler_status = status


def _expired(task: Any) -> bool:
    plan: Plan | None = getattr(task, "reconciler_sim", None)
    end = getattr(task, "stopped_at", None)
    return plan is not None and end is not None and CLOCK.now() - end > RETENTION


def patch() -> None:
    from moto.core.responses import ActionResult
    from moto.ecs.models import EC2ContainerServiceBackend, Task
    from moto.ecs.responses import EC2ContainerServiceResponse
    from moto.moto_api._internal.managed_state_model import ManagedState

    original_run = EC2ContainerServiceBackend.run_task
    original_describe = EC2ContainerServiceBackend.describe_tasks
    original_list = EC2ContainerServiceBackend.list_tasks
    original_stop = EC2ContainerServiceBackend.stop_task
    original_requirements = EC2ContainerServiceBackend.__dict__["_calculate_task_resource_requirements"]
    status_property: Any = Task.__dict__["last_status"]

    def requirements(task_definition: Any) -> dict[str, Any]:
        """moto adds up container memory and fails on a container that has none (AWS takes
        the task-level memory then): count such a container as 0."""
        saved = task_definition.container_definitions
        task_definition.container_definitions = [
            {"memory": 0, **c} if c.get("memory") is None and c.get("memoryReservation") is None
            else c for c in saved]
        try:
            result: dict[str, Any] = original_requirements.__func__(task_definition)
            return result
        finally:
            task_definition.container_definitions = saved

    def run_task(self: Any, cluster_str: str, task_definition_str: str, count: int,
                 overrides: Any, started_by: str, tags: Any, launch_type: Any,
                 networking_configuration: Any = None, group: Any = None,
                 platform_version: Any = None, capacity_provider_strategy: Any = None) -> Any:
        strategy = capacity_provider_strategy
        if not launch_type and not strategy:
            strategy = self._get_cluster(cluster_str).default_capacity_provider_strategy
        provider = chosen_provider(strategy) or launch_type
        with _lock:
            if provider in _unavailable:
                raise CapacityUnavailable(str(provider))
        vpc = (networking_configuration or {}).get("awsvpcConfiguration")
        if isinstance(vpc, dict):  # AWS uses the VPC's default group when none is given
            vpc.setdefault("securityGroups", [])
        tasks = original_run(self, cluster_str, task_definition_str, count, overrides,
                             started_by, tags, launch_type, networking_configuration, group,
                             platform_version, capacity_provider_strategy)
        definition = self.describe_task_definition(task_definition_str)
        for task in tasks:
            if provider and not task.capacity_provider_name and strategy:
                task.capacity_provider_name = provider
            _plan(task, definition)
        return tasks

    def describe_tasks(self: Any, cluster_str: str, tasks: list[str]) -> list[Any]:
        found = [t for t in original_describe(self, cluster_str, tasks) if not _expired(t)]
        for t in found:
            refresh(t)
        return found

    def list_tasks(self: Any, cluster_str: Any = None, container_instance: Any = None,
                   family: Any = None, started_by: Any = None, service_name: Any = None,
                   desiredStatus: Any = None) -> list[Any]:
        for by_arn in self.tasks.values():
            for t in by_arn.values():
                refresh(t)
        found = original_list(self, cluster_str, container_instance, family, started_by,
                              service_name, desiredStatus or "RUNNING")
        return [t for t in found if not _expired(t)]

    def stop_task(self: Any, cluster_str: str, task_str: str, reason: str) -> Any:
        task = original_stop(self, cluster_str, task_str, reason)
        plan: Plan | None = getattr(task, "reconciler_sim", None)
        if plan is not None and plan.stopped_at is None:
            refresh(task)
            if getattr(task, "reconciler_status", "") != "STOPPED":
                plan.stopped_by, plan.stopped_at = reason or "Task stopped by user", CLOCK.now()
            refresh(task)
        return task

    def last_status(self: Any) -> Any:
        if getattr(self, "reconciler_sim", None) is not None:
            return getattr(self, "reconciler_status", "PROVISIONING")
        return status_property.fget(self)

    def advance(self: Any) -> None:
        if getattr(self, "reconciler_sim", None) is None:
            ManagedState.advance(self)

    def run_task_response(self: Any) -> Any:
        token = self._get_param("clientToken")
        cluster = str(self._get_param("cluster", "default")).rsplit("/", 1)[-1]
        key = (self.current_account, self.region, cluster, str(token))
        if token:
            known = self.ecs_backend.tasks.get(cluster, {})
            with _lock:
                arns = _tokens.get(key)
            if arns and all(a in known for a in arns):  # answered before (and not reset since)
                return ActionResult({"tasks": [known[a] for a in arns], "failures": []})
        try:
            result = original_run_response(self)
        except CapacityUnavailable:
            arn = f"arn:aws:ecs:{self.region}:{self.current_account}:capacity-provider"
            return ActionResult({"tasks": [], "failures": [
                {"arn": arn, "reason": CAPACITY_UNAVAILABLE}]})
        body: Any = result.result
        started = [t.task_arn for t in body.get("tasks", [])]
        if token and started:
            with _lock:
                _tokens[key] = started
        return result

    def describe_tasks_response(self: Any) -> Any:
        result = original_describe_response(self)
        body: Any = result.result
        wanted = self._get_param("tasks", [])
        shown = {t.task_arn for t in body.get("tasks", [])}
        missing = [w for w in wanted if w not in shown and not any(
            s.endswith("/" + w.rsplit("/", 1)[-1]) for s in shown)]
        body["failures"] = [{"arn": w, "reason": "MISSING"} for w in missing]
        return result

    original_run_response = EC2ContainerServiceResponse.run_task
    original_describe_response = EC2ContainerServiceResponse.describe_tasks
    replace(EC2ContainerServiceBackend, "_calculate_task_resource_requirements",
            staticmethod(requirements))
    replace(EC2ContainerServiceBackend, "run_task", run_task)
    replace(EC2ContainerServiceBackend, "describe_tasks", describe_tasks)
    replace(EC2ContainerServiceBackend, "list_tasks", list_tasks)
    replace(EC2ContainerServiceBackend, "stop_task", stop_task)
    replace(Task, "last_status", property(last_status, status_property.fset))
    replace(Task, "advance", advance)
    replace(EC2ContainerServiceResponse, "run_task", run_task_response)
    replace(EC2ContainerServiceResponse, "describe_tasks", describe_tasks_response)


__all__ = ["CAPACITY_UNAVAILABLE", "EXIT_ENV", "SECONDS_ENV", "backdate", "chosen_provider",
           "exit_code_of", "refresh", "unavailable"]
