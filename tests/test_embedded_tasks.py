"""Tasks that run on the embedded default (reconciler/embedded/patches/tasks.py). Each
`test_moto_still_*` checks that moto as shipped still lacks the behaviour; when one fails,
moto does it itself: drop that part of the simulation and its test. The others drive the
simulation over HTTP on the moto server, moving the embedded clock by hand."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from reconciler.embedded import EmbeddedAws
from reconciler.embedded.clock import CLOCK
from reconciler.embedded.network import seed_network
from reconciler.embedded.patches import tasks as sim
from tests.conftest import REGION
from tests.support_embedded import unpatched

NET = {"awsvpcConfiguration": {"subnets": ["subnet-0a1"], "securityGroups": ["sg-0c3"]}}
JOB = {"family": "job", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
       "cpu": "256", "memory": "512",
       "containerDefinitions": [
           {"name": "app", "image": "app", "command": ["sh", "-c", "migrate && exit 3"]},
           {"name": "log-router", "image": "fluent-bit", "essential": False}]}


@pytest.fixture
def ecs(aws: EmbeddedAws) -> Iterator[Any]:
    """A cluster with Fargate capacity and the job's task definition, on a clean server."""
    seed_network(aws.url, REGION, ["subnet-0a1"], ["sg-0c3"])
    client = boto3.client("ecs", region_name=REGION)
    client.create_cluster(clusterName="c", capacityProviders=["FARGATE", "FARGATE_SPOT"])
    client.register_task_definition(**JOB)
    yield client
    sim.unavailable()


def _task(ecs: Any, arn: str) -> dict[str, Any]:
    found: dict[str, Any] = ecs.describe_tasks(cluster="c", tasks=[arn])["tasks"][0]
    return found


def test_a_task_runs_its_course_on_the_clock(ecs: Any) -> None:
    """A task is provisioned, runs, and stops when its essential container exits, with the
    exit code its command asks for; a non-essential sidecar is stopped with it."""
    arn = ecs.run_task(cluster="c", taskDefinition="job", launchType="FARGATE",
                       networkConfiguration=NET, startedBy="reconciler")["tasks"][0]["taskArn"]
    assert _task(ecs, arn)["lastStatus"] == "PROVISIONING"
    assert _task(ecs, arn)["lastStatus"] == "PROVISIONING"  # describing does not move time
    CLOCK.advance(sim.PENDING + 1)
    running = _task(ecs, arn)
    assert running["lastStatus"] == "RUNNING" and running["startedAt"]
    assert ecs.list_tasks(cluster="c", startedBy="reconciler")["taskArns"] == [arn]
    CLOCK.advance(sim.DEFAULT_RUNTIME)
    stopped = _task(ecs, arn)
    assert (stopped["lastStatus"], stopped["desiredStatus"], stopped["stopCode"]) == (
        "STOPPED", "STOPPED", "EssentialContainerExited")
    assert {c["name"]: c["exitCode"] for c in stopped["containers"]} == {
        "app": 3, "log-router": 143}
    assert ecs.list_tasks(cluster="c")["taskArns"] == []  # RUNNING is ListTasks' default
    assert ecs.list_tasks(cluster="c", desiredStatus="STOPPED")["taskArns"] == [arn]


def test_overrides_decide_the_outcome(ecs: Any) -> None:
    """A command or environment override changes what the container does, as on AWS."""
    over = {"containerOverrides": [{"name": "app", "command": ["migrate"], "environment": [
        {"name": sim.SECONDS_ENV, "value": "100"}]}]}
    arn = ecs.run_task(cluster="c", taskDefinition="job", launchType="FARGATE",
                       networkConfiguration=NET, overrides=over)["tasks"][0]["taskArn"]
    CLOCK.advance(sim.PENDING + 90)
    assert _task(ecs, arn)["lastStatus"] == "RUNNING"
    CLOCK.advance(20)
    assert {c["name"]: c["exitCode"] for c in _task(ecs, arn)["containers"]}["app"] == 0


def test_stopping_a_task_by_hand(ecs: Any) -> None:
    """StopTask ends a running task with the caller's reason and UserInitiated."""
    arn = ecs.run_task(cluster="c", taskDefinition="job", launchType="FARGATE",
                       networkConfiguration=NET)["tasks"][0]["taskArn"]
    CLOCK.advance(sim.PENDING + 1)
    ecs.stop_task(cluster="c", task=arn, reason="deploy cancelled")
    task = _task(ecs, arn)
    assert (task["lastStatus"], task["stopCode"], task["stoppedReason"]) == (
        "STOPPED", "UserInitiated", "deploy cancelled")


def test_capacity_can_be_unavailable(ecs: Any) -> None:
    """With FARGATE_SPOT unavailable, RunTask there starts nothing and says why, as AWS does;
    FARGATE still runs."""
    sim.unavailable("FARGATE_SPOT")
    spot = ecs.run_task(cluster="c", taskDefinition="job", networkConfiguration=NET,
                        capacityProviderStrategy=[{"capacityProvider": "FARGATE_SPOT",
                                                   "weight": 1}])
    assert spot["tasks"] == [] and spot["failures"][0]["reason"] == sim.CAPACITY_UNAVAILABLE
    ok = ecs.run_task(cluster="c", taskDefinition="job", networkConfiguration=NET,
                      capacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}])
    assert len(ok["tasks"]) == 1 and ok["failures"] == []


def test_stopped_tasks_are_forgotten_after_an_hour(ecs: Any) -> None:
    """A stopped task is describable for an hour, then it is MISSING."""
    arn = ecs.run_task(cluster="c", taskDefinition="job", launchType="FARGATE",
                       networkConfiguration=NET)["tasks"][0]["taskArn"]
    CLOCK.advance(sim.PENDING + sim.DEFAULT_RUNTIME + 3599)
    assert _task(ecs, arn)["lastStatus"] == "STOPPED"
    CLOCK.advance(2)
    assert ecs.describe_tasks(cluster="c", tasks=[arn])["failures"] == [
        {"arn": arn, "reason": "MISSING"}]


@pytest.mark.parametrize("command, env, code", [
    (["sh", "-c", "exit 2"], {}, 2), (["/bin/false"], {}, 1), (["run"], {}, 0),
    (["sh", "-c", "exit 2"], {sim.EXIT_ENV: "7"}, 7), (["exit"], {}, 0),
])
def test_exit_code_of(command: list[str], env: dict[str, str], code: int) -> None:
    """The documented ways to ask a simulated container for an exit code."""
    assert sim.exit_code_of(command, env) == code


def test_chosen_provider() -> None:
    """One task lands where a base asks for, else on the heaviest provider."""
    assert sim.chosen_provider([{"capacityProvider": "FARGATE", "weight": 1},
                                {"capacityProvider": "FARGATE_SPOT", "weight": 3}]) == "FARGATE_SPOT"
    assert sim.chosen_provider([{"capacityProvider": "FARGATE", "weight": 1, "base": 1},
                                {"capacityProvider": "FARGATE_SPOT", "weight": 3}]) == "FARGATE"
    assert sim.chosen_provider([]) is None


def _moto_job(ecs: Any, container_memory: bool = True) -> str:
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="g", Description="g", VpcId=vpc)["GroupId"]
    ecs.create_cluster(clusterName="c")
    containers: list[dict[str, Any]] = JOB["containerDefinitions"]  # type: ignore[assignment]
    job = {**JOB, "containerDefinitions": [{**c, "memory": 256} for c in containers]}
    ecs.register_task_definition(**(job if container_memory else JOB))
    net = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}}
    arn: str = ecs.run_task(cluster="c", taskDefinition="job", launchType="FARGATE",
                            networkConfiguration=net)["tasks"][0]["taskArn"]
    return arn


def test_moto_still_ends_every_task_with_exit_code_zero() -> None:
    """moto as shipped still stops a task after a few describes, every container exiting 0
    whatever its command says."""
    with unpatched(), mock_aws():
        ecs = boto3.client("ecs", region_name=REGION)
        arn = _moto_job(ecs)
        for _ in range(6):
            task = ecs.describe_tasks(cluster="c", tasks=[arn])["tasks"][0]
        assert task["lastStatus"] == "STOPPED"
        assert [c.get("exitCode") for c in task["containers"]] == [0], "moto runs tasks now"


def test_moto_still_fails_a_container_without_memory() -> None:
    """moto as shipped still cannot run a Fargate task whose containers have no memory of
    their own (AWS takes the task's)."""
    with unpatched(), mock_aws():
        ecs = boto3.client("ecs", region_name=REGION)
        with pytest.raises((TypeError, ClientError)):  # in-process, or a 500 over the server
            _moto_job(ecs, container_memory=False)


def test_moto_still_lists_stopped_tasks_by_default() -> None:
    """moto as shipped still lists stopped tasks when ListTasks is asked for none in
    particular (AWS lists RUNNING ones)."""
    with unpatched(), mock_aws():
        ecs = boto3.client("ecs", region_name=REGION)
        arn = _moto_job(ecs)
        ecs.stop_task(cluster="c", task=arn, reason="x")
        assert ecs.list_tasks(cluster="c")["taskArns"] == [arn]
