"""A small estate of watched schedules for the schedule tests: a cluster with Fargate and
Fargate Spot, one batch task definition logging through awslogs, and three nightly rules at
01:00 UTC: `report` (its container exits 1), `close` (on Fargate Spot, re-run on Fargate)
and `paused` (disabled)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from reconciler.embedded.clock import CLOCK

NIGHTLY = "cron(0 1 * * ? *)"
NET = """      networkConfiguration:
        awsvpcConfiguration: {subnets: [subnet-0a1], securityGroups: [sg-0c3]}"""

ESTATE = f"""\
apiVersion: reconciler/v1
kind: Cluster
metadata: {{name: batch}}
spec:
  capacityProviders: [FARGATE, FARGATE_SPOT]
---
apiVersion: reconciler/v1
kind: TaskDefinition
metadata: {{name: nightly}}
spec:
  requiresCompatibilities: [FARGATE]
  networkMode: awsvpc
  cpu: "256"
  memory: "512"
  containerDefinitions:
    - name: batch
      image: batch:1
      command: [run]
      logConfiguration:
        logDriver: awslogs
        options: {{awslogs-group: /ecs/nightly, awslogs-region: eu-west-1,
                  awslogs-stream-prefix: nightly}}
---
apiVersion: reconciler/v1
kind: ScheduledTask
metadata: {{name: report, cluster: batch}}
spec:
  scheduleExpression: {NIGHTLY}
  target:
    roleArn: arn:aws:iam::123456789012:role/events
    ecsParameters:
      taskDefinitionArn: nightly
      launchType: FARGATE
{NET}
    input:
      containerOverrides: [{{name: batch, command: [sh, -c, "report && exit 1"]}}]
---
apiVersion: reconciler/v1
kind: ScheduledTask
metadata: {{name: close, cluster: batch}}
spec:
  scheduleExpression: {NIGHTLY}
  target:
    roleArn: arn:aws:iam::123456789012:role/events
    ecsParameters:
      taskDefinitionArn: nightly
      capacityProviderStrategy: [{{capacityProvider: FARGATE_SPOT, weight: 1}}]
{NET}
  watch: {{retries: 2, fallbackCapacityProvider: FARGATE, tolerance: 5m}}
---
apiVersion: reconciler/v1
kind: ScheduledTask
metadata: {{name: paused, cluster: batch}}
spec:
  scheduleExpression: {NIGHTLY}
  state: DISABLED
  target:
    roleArn: arn:aws:iam::123456789012:role/events
    ecsParameters:
      taskDefinitionArn: nightly
      launchType: FARGATE
{NET}
"""


def write_estate(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "reconciler.yaml").write_text("controller: schedules-test\n")
    (root / "nightly.yaml").write_text(ESTATE)
    return root


def next_one_am() -> datetime:
    """The next 01:00 UTC on the embedded clock (at least a minute away)."""
    now = CLOCK.now().astimezone(UTC)
    at = now.replace(hour=1, minute=0, second=0, microsecond=0)
    return at if at - now > timedelta(minutes=1) else at + timedelta(days=1)


def advance_to(when: datetime) -> None:
    """Move the embedded clock on to `when` (never back)."""
    CLOCK.advance(max((when - CLOCK.now()).total_seconds(), 0.0))
