"""EventBridge's scheduler on the embedded default (reconciler/embedded/scheduler.py), over
HTTP on the moto server with the embedded clock moved by hand. `test_moto_still_*` checks
that moto as shipped still fires nothing: when it fails, drop the simulation."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from reconciler.embedded import EmbeddedAws
from reconciler.embedded.clock import CLOCK
from reconciler.embedded.network import seed_network
from reconciler.embedded.patches import tasks as sim
from reconciler.embedded.scheduler import Fire
from tests.conftest import REGION
from tests.support_embedded import unpatched

JOB: dict[str, Any] = {"family": "job", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
       "cpu": "256", "memory": "512",
       "containerDefinitions": [{"name": "app", "image": "app", "command": ["run"]}]}
NET = {"awsvpcConfiguration": {"Subnets": ["subnet-0a1"], "SecurityGroups": ["sg-0c3"]}}


@pytest.fixture
def cloud(aws: EmbeddedAws) -> Iterator[dict[str, Any]]:
    """A cluster with Fargate and Fargate Spot, the job, a dead-letter queue."""
    seed_network(aws.url, REGION, ["subnet-0a1"], ["sg-0c3"])
    ecs = boto3.client("ecs", region_name=REGION)
    cluster = ecs.create_cluster(clusterName="c", capacityProviders=["FARGATE", "FARGATE_SPOT"])
    ecs.register_task_definition(**JOB)
    sqs = boto3.client("sqs", region_name=REGION)
    queue = sqs.create_queue(QueueName="dlq")["QueueUrl"]
    yield {"ecs": ecs, "events": boto3.client("events", region_name=REGION), "sqs": sqs,
           "queue": queue, "cluster": cluster["cluster"]["clusterArn"],
           "cloudwatch": boto3.client("cloudwatch", region_name=REGION), "server": aws}
    sim.unavailable()


def rule(cloud: dict[str, Any], name: str, expression: str, *, spot: bool = False,
         definition: str = "job", state: str = "ENABLED") -> None:
    ecs: dict[str, Any] = {"TaskDefinitionArn": definition, "NetworkConfiguration": NET,
                           "Group": f"reconciler:{name}"}
    if spot:
        ecs["CapacityProviderStrategy"] = [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]
    else:
        ecs["LaunchType"] = "FARGATE"
    cloud["events"].put_rule(Name=name, ScheduleExpression=expression, State=state)
    cloud["events"].put_targets(Rule=name, Targets=[{
        "Id": "t", "Arn": cloud["cluster"], "EcsParameters": ecs,
        "Input": json.dumps({"containerOverrides": [{"name": "app", "command": ["sh", "-c",
                                                                               "exit 4"]}]}),
        "DeadLetterConfig": {"Arn": f"arn:aws:sqs:{REGION}:123456789012:dlq"}}])


def after(cloud: dict[str, Any], seconds: float) -> list[Fire]:
    """Move the clock on and let the scheduler look: what it fired meanwhile."""
    scheduler = cloud["server"].scheduler
    seen = len(scheduler.fired)
    CLOCK.advance(seconds)
    scheduler.tick()
    return list(scheduler.fired[seen:])


def metric(cloud: dict[str, Any], name: str, metric: str, at: datetime) -> float:
    got = cloud["cloudwatch"].get_metric_data(
        StartTime=at - timedelta(minutes=1), EndTime=at + timedelta(minutes=2), MetricDataQueries=[
            {"Id": "m", "MetricStat": {"Metric": {"Namespace": "AWS/Events", "MetricName": metric,
                                                  "Dimensions": [{"Name": "RuleName",
                                                                  "Value": name}]},
                                       "Period": 60, "Stat": "Sum"}}])
    return float(sum(got["MetricDataResults"][0]["Values"]))


def test_a_rule_fires_its_target_as_eventbridge_does(cloud: dict[str, Any]) -> None:
    """At its minute: RunTask with the target's overrides and group, startedBy as EventBridge
    sets it (36 characters at most), the task created at the fire time; Invocations 1."""
    name = "a-rule-whose-name-is-longer-than-twenty-four"
    rule(cloud, name, "cron(* * * * ? *)")
    [fire] = after(cloud, 60)
    assert fire.at.second == 0 and len(fire.tasks) == 1 and not (fire.failures or fire.error)
    task = cloud["ecs"].describe_tasks(cluster="c", tasks=fire.tasks)["tasks"][0]
    assert task["startedBy"] == "events-rule/a-rule-whose-name-is-lon"
    assert task["group"] == f"reconciler:{name}" and task["createdAt"] == fire.at
    assert task["overrides"]["containerOverrides"][0]["command"] == ["sh", "-c", "exit 4"]
    after(cloud, sim.PENDING + sim.DEFAULT_RUNTIME)
    stopped = cloud["ecs"].describe_tasks(cluster="c", tasks=fire.tasks)["tasks"][0]
    assert stopped["containers"][0]["exitCode"] == 4
    assert metric(cloud, name, "Invocations", fire.at) >= 1
    assert metric(cloud, name, "FailedInvocations", fire.at) == 0


def test_no_capacity_is_not_a_failed_invocation(cloud: dict[str, Any]) -> None:
    """RunTask on Fargate Spot without capacity: failures[], no task, no failed invocation,
    nothing in the dead-letter queue; EventBridge counted the invocation."""
    sim.unavailable("FARGATE_SPOT")
    rule(cloud, "spot", "rate(5 minutes)", spot=True)
    [fire] = after(cloud, 300)
    assert fire.tasks == [] and fire.failures == [sim.CAPACITY_UNAVAILABLE] and not fire.error
    assert metric(cloud, "spot", "Invocations", fire.at) == 1
    assert metric(cloud, "spot", "FailedInvocations", fire.at) == 0
    assert "Messages" not in cloud["sqs"].receive_message(QueueUrl=cloud["queue"])


def test_a_refused_runtask_is_a_failed_invocation_with_a_dead_letter(cloud: dict[str, Any]
                                                                      ) -> None:
    rule(cloud, "broken", "cron(* * * * ? *)", definition="missing:1")
    [fire] = after(cloud, 60)
    assert fire.error and fire.tasks == []
    assert metric(cloud, "broken", "FailedInvocations", fire.at) == 1
    [message] = cloud["sqs"].receive_message(QueueUrl=cloud["queue"],
                                             MessageAttributeNames=["All"])["Messages"]
    attrs = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attrs["RULE_ARN"].endswith(":rule/broken") and attrs["ERROR_CODE"]
    assert json.loads(message["Body"])["time"] == fire.at.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_disabled_rule_does_not_fire_and_rates_count_from_creation(cloud: dict[str, Any]
                                                                      ) -> None:
    rule(cloud, "off", "cron(* * * * ? *)", state="DISABLED")
    rule(cloud, "rate", "rate(10 minutes)")
    assert [f.rule for f in after(cloud, 9 * 60)] == []
    assert [f.rule for f in after(cloud, 60)] == ["rate"]


def test_moto_still_fires_no_schedule(moto_server: EmbeddedAws) -> None:
    """moto as shipped keeps a scheduled rule and never starts its target, however late it
    is (moto's clock moved a day on)."""
    from unittest import mock

    assert moto_server.scheduler is not None
    with moto_server.scheduler.paused(), unpatched(), mock_aws():
        ecs = boto3.client("ecs", region_name=REGION)
        cluster = ecs.create_cluster(clusterName="c")["cluster"]["clusterArn"]
        ecs.register_task_definition(**{**JOB, "containerDefinitions": [
            {**JOB["containerDefinitions"][0], "memory": 256}]})
        events = boto3.client("events", region_name=REGION)
        events.put_rule(Name="r", ScheduleExpression="rate(1 minute)")
        events.put_targets(Rule="r", Targets=[{"Id": "t", "Arn": cluster, "EcsParameters": {
            "TaskDefinitionArn": "job", "LaunchType": "EC2"}}])
        from moto.core import utils

        later = utils.utcnow() + timedelta(days=1)
        with mock.patch.object(utils, "utcnow", return_value=later):
            assert ecs.list_tasks(cluster="c")["taskArns"] == [], "moto fires schedules now"
            assert ecs.list_tasks(cluster="c", desiredStatus="STOPPED")["taskArns"] == []
