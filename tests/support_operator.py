"""Helpers for the operator-facing tests (issue 17): a realistic task definition and its live
twin for the pure format tests, a small manifest tree for the CLI tests, and a process whose
stdout and stderr are read line by line while it runs."""

from __future__ import annotations

import copy
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reconciler.core.kind import Context, Live
from reconciler.core.manifest import Manifest
from reconciler.core.plan import Change, plan_resource
from reconciler.kinds import REGISTRY
from reconciler.kinds.task_definition import TaskDefinition
from tests.core.build import manifest

ACCOUNT = "123456789012"
REGION = "eu-west-1"
OWNER = "accounting-reconciler"
TD_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/accounting-api:7"
SVC_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/accounting-prd/accounting-api"
CLEAR_SECRET = "hunter2-in-the-clear"
ECR = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"


def realistic_task_definition() -> dict[str, Any]:
    """A production API's task definition: three containers, environment, secrets, health
    check, log routing, long ARNs and image names (what made the old one-liners 800 wide)."""
    return {
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": "1024",
        "memory": "2048",
        "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/accounting-execution",
        "taskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/accounting-api",
        "runtimePlatform": {"operatingSystemFamily": "LINUX", "cpuArchitecture": "ARM64"},
        "containerDefinitions": [
            {
                "name": "app",
                "image": f"{ECR}/accounting-api:1.42.0",
                "portMappings": [{"containerPort": 8000}],
                "environment": [
                    {"name": "DJANGO_SETTINGS_MODULE", "value": "accounting.settings.production"},
                    {"name": "LOG_LEVEL", "value": "info"},
                    {"name": "DATABASE_PASSWORD", "value": CLEAR_SECRET},
                    {"name": "QUEUE_URL",
                     "value": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/accounting-jobs"},
                ],
                "secrets": [{"name": "DJANGO_SECRET_KEY", "valueFrom":
                             f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:accounting/dj"}],
                "healthCheck": {"command": ["CMD-SHELL",
                                            "curl -fsS http://localhost:8000/healthz || exit 1"],
                                "startPeriod": 30},
                "dependsOn": [{"containerName": "log-router", "condition": "START"}],
                "logConfiguration": {"logDriver": "awsfirelens", "options": {
                    "Name": "cloudwatch_logs", "region": REGION,
                    "log_group_name": "/accounting/api", "log_stream_prefix": "app"}},
            },
            {
                "name": "log-router",
                "image": "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.0",
                "essential": True,
                "firelensConfiguration": {"type": "fluentbit"},
                "memoryReservation": 64,
            },
            {
                "name": "metrics-agent",
                "image": "public.ecr.aws/cloudwatch-agent/cloudwatch-agent:1.300035.0",
                "essential": False,
                "memoryReservation": 128,
                "environment": [{"name": "PROMETHEUS_SCRAPE_PORT", "value": "8000"}],
            },
        ],
        "tags": [{"key": "team", "value": "accounting"}],
    }


def context() -> Context:
    return Context(owner=OWNER, revision="r2", account=ACCOUNT, region=REGION)


def td_manifest(spec: dict[str, Any]) -> Manifest:
    m = manifest("TaskDefinition", "accounting-api", spec)
    m.file, m.line = "apps/api/task-definition.yaml", 4
    return m


def td_live(spec: dict[str, Any]) -> Live:
    """What DescribeTaskDefinition says of a revision registered from `spec` by an earlier
    revision of git (owned, tagged with that older revision)."""
    kind = TaskDefinition()
    request = kind.desired(td_manifest(spec), Context(owner=OWNER, revision="r1",
                                                      account=ACCOUNT, region=REGION))
    tags = request.pop("tags")
    return kind.to_live({**request, "family": "accounting-api", "taskDefinitionArn": TD_ARN,
                         "revision": 7, "status": "ACTIVE"}, tags)


def td_change(git: dict[str, Any], aws: dict[str, Any] | None) -> Change:
    """The planned change of the task definition: git's spec against AWS's (None: absent)."""
    kind = REGISTRY["TaskDefinition"]
    return plan_resource(kind, td_manifest(git), td_live(aws) if aws is not None else None,
                         context(), [])


def container(spec: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in spec["containerDefinitions"] if c["name"] == name)
    return found


def edited(spec: dict[str, Any], edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    out = copy.deepcopy(spec)
    edit(out)
    return out


# --- a small tree for the CLI ---------------------------------------------------------------

SMALL_TREE = {
    "reconciler.yaml": f"controller: {OWNER}\nprune: false\n",
    "cluster.yaml": """\
apiVersion: reconciler/v1
kind: Cluster
metadata: {name: accounting-prd, labels: {team: accounting}}
spec:
  capacityProviders: [FARGATE]
""",
    "api/task-definition.yaml": f"""\
apiVersion: reconciler/v1
kind: TaskDefinition
metadata: {{name: accounting-api, labels: {{team: accounting, app: api}}}}
spec:
  requiresCompatibilities: [FARGATE]
  networkMode: awsvpc
  cpu: "256"
  memory: "512"
  containerDefinitions:
    - name: app
      image: {ECR}/accounting-api:1.42.0
      portMappings: [{{containerPort: 8000}}]
      environment:
        - {{name: LOG_LEVEL, value: info}}
""",
    "api/service.yaml": """\
apiVersion: reconciler/v1
kind: Service
metadata: {name: accounting-api, cluster: accounting-prd, labels: {team: accounting, app: api}}
spec:
  taskDefinition: accounting-api
  desiredCount: 1
  launchType: FARGATE
  networkConfiguration:
    awsvpcConfiguration:
      subnets: [subnet-0a1b2c3d4e5f60001]
      securityGroups: [sg-0a1b2c3d4e5f60001]
""",
    "api/autoscaling.yaml": """\
apiVersion: reconciler/v1
kind: ScalableTarget
metadata: {name: accounting-api, cluster: accounting-prd, labels: {team: accounting, app: api}}
spec:
  service: accounting-api
  minCapacity: 1
  maxCapacity: 4
""",
}


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


# --- processes --------------------------------------------------------------------------------

def console_script() -> str:
    """The venv's `reconciler`, as a user runs it."""
    return str(Path(sys.executable).parent / "reconciler")


class Running:
    """A process whose stdout and stderr lines are collected while it runs, so a test can wait
    for a line without waiting for the process to end."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.lines: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._new: queue.Queue[tuple[str, str]] = queue.Queue()
        self._readers = [threading.Thread(target=self._read, args=(name,), daemon=True)
                         for name in self.lines]
        for reader in self._readers:
            reader.start()

    def _read(self, name: str) -> None:
        stream = getattr(self.proc, name)
        for line in stream:
            self._new.put((name, line.rstrip("\n")))
        self._new.put((name, ""))

    def wait_for(self, stream: str, found: Callable[[str], bool], timeout: float = 90.0) -> str:
        """The first line of `stream` (seen so far or to come) for which `found` holds; the
        timeout only stops a hung test, it is not what is tested."""
        for line in self.lines[stream]:
            if found(line):
                return line
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                name, line = self._new.get(timeout=0.2)
            except queue.Empty:
                continue
            self.lines[name].append(line)
            if name == stream and found(line):
                return line
        raise AssertionError(f"no such line on {stream}; got {self.lines}")

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM, then every remaining line."""
        self.proc.terminate()
        code = self.proc.wait(timeout=timeout)
        for reader in self._readers:
            reader.join(timeout=10)
        while not self._new.empty():
            name, line = self._new.get()
            self.lines[name].append(line)
        for name in self.lines:
            self.lines[name] = [x for x in self.lines[name] if x]
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment (moto's endpoint and dummy credentials) without Slack."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLACK_", "RECONCILER_", "PYTEST_"))}
    return {**env, **extra}
