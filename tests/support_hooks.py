"""A small estate with hooks for the tests of hooks and `reconciler run`: a cluster, a task
definition, the service that runs it, a PreSync migration gating the service and, when asked,
a PostSync smoke test. The simulated containers exit with the code their command asks for
(reconciler/embedded/patches/tasks.py), on the embedded clock the tests move."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.embedded import EmbeddedAws, seed_network
from reconciler.embedded.clock import CLOCK
from tests.conftest import REGION, deliver, wait_for

if TYPE_CHECKING:
    pass

NET = "{awsvpcConfiguration: {subnets: [subnet-0a1], securityGroups: [sg-0c3]}}"


def write_estate(root: Path, *, image: str = "app:1", migrate_exit: int | None = 0,
                 smoke_exit: int | None = None, seconds: int | None = None,
                 timeout: int | None = None) -> Path:
    """The manifests under root (None: leave that hook out). `seconds`: how long the
    migration runs; `timeout`: its timeoutSeconds."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "reconciler.yaml").write_text("controller: hooks-test\n")
    docs = ["""
        apiVersion: reconciler/v1
        kind: Cluster
        metadata: {name: c}
        spec: {capacityProviders: [FARGATE]}
        """, f"""
        apiVersion: reconciler/v1
        kind: TaskDefinition
        metadata: {{name: app}}
        spec:
          requiresCompatibilities: [FARGATE]
          networkMode: awsvpc
          cpu: "256"
          memory: "512"
          containerDefinitions:
            - name: app
              image: {image}
              command: [serve]
              logConfiguration:
                logDriver: awslogs
                options: {{awslogs-group: /ecs/app, awslogs-region: {REGION},
                           awslogs-stream-prefix: app}}
        """, f"""
        apiVersion: reconciler/v1
        kind: Service
        metadata: {{name: api, cluster: c}}
        spec:
          taskDefinition: app
          desiredCount: 1
          launchType: FARGATE
          networkConfiguration: {NET}
        """]
    env = f", environment: [{{name: RECONCILER_SIMULATE_SECONDS, value: '{seconds}'}}]" \
        if seconds is not None else ""
    if migrate_exit is not None:
        docs.append(f"""
        apiVersion: reconciler/v1
        kind: Job
        metadata: {{name: migrate, cluster: c, hook: PreSync}}
        spec:
          gates: [Service/api]
          {f"timeoutSeconds: {timeout}" if timeout else ""}
          taskDefinition: app
          launchType: FARGATE
          networkConfiguration: {NET}
          overrides:
            containerOverrides:
              - {{name: app, command: [sh, -c, "./migrate && exit {migrate_exit}"]{env}}}
        """)
    if smoke_exit is not None:
        docs.append(f"""
        apiVersion: reconciler/v1
        kind: Job
        metadata: {{name: smoke, cluster: c, hook: PostSync}}
        spec:
          gates: [Service/api]
          taskDefinition: app
          launchType: FARGATE
          networkConfiguration: {NET}
          overrides: {{containerOverrides: [{{name: app, command: [sh, -c, "exit {smoke_exit}"]}}]}}
        """)
    (root / "estate.yaml").write_text("---".join(textwrap.dedent(d) for d in docs))
    return root


def seed(server: EmbeddedAws) -> None:
    seed_network(server.url, REGION, ["subnet-0a1"], ["sg-0c3"])


async def sleep_on_embedded_clock(seconds: float) -> None:
    """An injectable sleep for passes: the embedded clock moves, no time passes."""
    CLOCK.advance(seconds)
    await asyncio.sleep(0)


def embedded_now() -> float:
    return CLOCK.now().timestamp()


@contextmanager
def fast_clock(speed: float = 2000.0) -> Iterator[None]:
    """The embedded clock running `speed` times faster, for commands that sleep for real
    (`reconciler apply` waiting for a hook, `reconciler run` following a task)."""
    CLOCK.set_speed(speed)
    try:
        yield
    finally:
        CLOCK.set_speed(1.0)






__all__ = ["deliver", "embedded_now", "fast_clock", "seed", "sleep_on_embedded_clock",
           "wait_for", "write_estate"]
