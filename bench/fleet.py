"""A synthetic estate: N services with their task definitions, a share of them with an
EventBridge schedule and a share with a scalable target and a CPU policy."""

from __future__ import annotations

from pathlib import Path

import yaml

SUBNETS = ["subnet-0bench00000000001", "subnet-0bench00000000002"]
GROUPS = ["sg-0bench000000000001"]
CLUSTER = "bench"


def shares(n: int) -> tuple[int, int]:
    """(scheduled tasks, scalable targets): 300 and 500 at N = 1,000."""
    return round(n * 0.3), round(n * 0.5)


def write_fleet(root: Path, n: int) -> dict[str, int]:
    """Write the manifests of an N-service estate under root; return resource counts."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "reconciler.yaml").write_text("controller: bench\n")
    schedules, scalers = shares(n)
    docs: list[dict] = [{"apiVersion": "reconciler/v1", "kind": "Cluster",  # type: ignore[type-arg]
                         "metadata": {"name": CLUSTER},
                         "spec": {"capacityProviders": ["FARGATE", "FARGATE_SPOT"]}}]
    for i in range(n):
        name = f"svc-{i:04d}"
        docs.append({"apiVersion": "reconciler/v1", "kind": "TaskDefinition",
                     "metadata": {"name": name}, "spec": {
                         "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc",
                         "cpu": "256", "memory": "512",
                         "containerDefinitions": [{
                             "name": "app", "image": f"registry.example/app:{i % 7}",
                             "portMappings": [{"containerPort": 8080}],
                             "environment": [{"name": "INDEX", "value": str(i)}]}]}})
        docs.append({"apiVersion": "reconciler/v1", "kind": "Service",
                     "metadata": {"name": name, "cluster": CLUSTER}, "spec": {
                         "taskDefinition": name, "desiredCount": 1, "launchType": "FARGATE",
                         "networkConfiguration": {"awsvpcConfiguration": {
                             "subnets": SUBNETS, "securityGroups": GROUPS}}}})
        if i < schedules:
            docs.append({"apiVersion": "reconciler/v1", "kind": "ScheduledTask",
                         "metadata": {"name": f"job-{i:04d}", "cluster": CLUSTER}, "spec": {
                             "scheduleExpression": f"cron({i % 60} 2 * * ? *)",
                             "target": {"roleArn": "arn:aws:iam::123456789012:role/events",
                                        "ecsParameters": {
                                            "taskDefinitionArn": name, "launchType": "FARGATE",
                                            "networkConfiguration": {"awsvpcConfiguration": {
                                                "subnets": SUBNETS}}}}}})
        if i < scalers:
            docs.append({"apiVersion": "reconciler/v1", "kind": "ScalableTarget",
                         "metadata": {"name": name, "cluster": CLUSTER}, "spec": {
                             "service": name, "minCapacity": 1, "maxCapacity": 4,
                             "policies": [{"policyName": "cpu", "policyType": "TargetTrackingScaling",
                                           "targetTrackingScalingPolicyConfiguration": {
                                               "targetValue": 60, "predefinedMetricSpecification": {
                                                   "predefinedMetricType":
                                                       "ECSServiceAverageCPUUtilization"}}}]}})
    chunk = 200
    for start in range(0, len(docs), chunk):
        (root / f"fleet-{start // chunk:03d}.yaml").write_text(
            yaml.safe_dump_all(docs[start:start + chunk], sort_keys=False))
    return counts(n)


def counts(n: int) -> dict[str, int]:
    """How many resources of each kind an N-service estate has."""
    schedules, scalers = shares(n)
    return {"services": n, "taskDefinitions": n, "scheduledTasks": schedules,
            "scalableTargets": scalers, "clusters": 1,
            "resources": 1 + 2 * n + schedules + scalers}
