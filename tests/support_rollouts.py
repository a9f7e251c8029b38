"""For the rollout tests: a small estate with one service per traffic-shifting strategy,
kept in a git repository, and the embedded clock run at a chosen speed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from reconciler.core.manifest import ResourceKey
from reconciler.embedded.clock import CLOCK
from tests.conftest import git, write

CLUSTER = "rollouts"
CANARY = ResourceKey("Service", "web", CLUSTER)
BLUE_GREEN = ResourceKey("Service", "green", CLUSTER)
LINEAR = ResourceKey("Service", "steps", CLUSTER)
ACCOUNT = "123456789012"


def _lb(name: str) -> str:
    tg = f"arn:aws:elasticloadbalancing:eu-west-1:{ACCOUNT}:targetgroup"
    return f"""  loadBalancers:
    - targetGroupArn: {tg}/{name}-blue/0123456789abcdef
      containerName: app
      containerPort: 80
      advancedConfiguration:
        alternateTargetGroupArn: {tg}/{name}-green/fedcba9876543210
        productionListenerRule: arn:aws:elasticloadbalancing:eu-west-1:{ACCOUNT}:listener-rule/app/edge/1/2/3
        roleArn: arn:aws:iam::{ACCOUNT}:role/ecs-load-balancers
"""


def _app(name: str, image: str, strategy: str) -> str:
    return f"""apiVersion: reconciler/v1
kind: TaskDefinition
metadata: {{name: {name}}}
spec:
  containerDefinitions:
    - name: app
      image: {image}
      memory: 128
      portMappings: [{{containerPort: 80}}]
      environment: [{{name: APP, value: {name}}}]
---
apiVersion: reconciler/v1
kind: Service
metadata: {{name: {name}, cluster: {CLUSTER}}}
spec:
  taskDefinition: {name}
  desiredCount: 2
  launchType: EC2
{_lb(name)}  deploymentConfiguration:
{strategy}"""


STRATEGIES = {
    "web": """    strategy: CANARY
    canaryConfiguration: {canaryPercent: 10, canaryBakeTimeInMinutes: 5}
    bakeTimeInMinutes: 2
    deploymentCircuitBreaker: {enable: true, rollback: true}
""",
    "green": """    strategy: BLUE_GREEN
    bakeTimeInMinutes: 1
    deploymentCircuitBreaker: {enable: true, rollback: true}
""",
    "steps": """    strategy: LINEAR
    linearConfiguration: {stepPercent: 50, stepBakeTimeInMinutes: 5}
    deploymentCircuitBreaker: {enable: true, rollback: true}
""",
}


def estate(root: Path) -> Path:
    """The manifests, in a git repository of their own, committed."""
    write(root, "reconciler.yaml", "controller: reconciler\n")
    write(root, "cluster.yaml", f"apiVersion: reconciler/v1\nkind: Cluster\n"
                                f"metadata: {{name: {CLUSTER}}}\nspec: {{}}\n")
    for name, strategy in STRATEGIES.items():
        write(root, f"{name}.yaml", _app(name, "nginx:1.27", strategy))
    git(root, "init", "-q", "-b", "main")
    commit(root, "three services, three strategies")
    return root


def release(root: Path, name: str, image: str, fail: bool = False) -> str:
    """A new image for one app (its tasks failing to start with `fail`), committed."""
    path = root / f"{name}.yaml"
    text = _app(name, image, STRATEGIES[name])
    if fail:
        text = text.replace("[{name: APP,", "[{name: RECONCILER_SIMULATE, value: fail}, "
                                           "{name: APP,")
    path.write_text(text)
    return commit(root, f"{name} {image}")


def commit(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD")


@contextmanager
def clock_speed(speed: float) -> Iterator[None]:
    """The embedded clock at `speed` (0: moved only by CLOCK.advance), then back to real time."""
    CLOCK.set_speed(speed)
    try:
        yield
    finally:
        CLOCK.set_speed(1.0)
