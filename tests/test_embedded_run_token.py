"""RunTask's clientToken on the embedded default (reconciler/embedded/patches/tasks.py): a
hook that retries its RunTask after a lost answer must not start a second migration. The
`test_moto_still_*` test fails once moto honours the token itself: then drop that patch."""

from __future__ import annotations

from typing import Any

import boto3
from moto import mock_aws

from reconciler.embedded import EmbeddedAws
from reconciler.embedded.network import seed_network
from tests.conftest import REGION
from tests.support_embedded import unpatched
from tests.test_embedded_tasks import JOB, NET, _moto_job


def _run(ecs: Any, token: str, net: dict[str, Any] = NET) -> str:
    arn: str = ecs.run_task(cluster="c", taskDefinition="job", launchType="FARGATE",
                            networkConfiguration=net, clientToken=token)["tasks"][0]["taskArn"]
    return arn


def test_the_same_client_token_starts_no_second_task(aws: EmbeddedAws) -> None:
    seed_network(aws.url, REGION, ["subnet-0a1"], ["sg-0c3"])
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.create_cluster(clusterName="c", capacityProviders=["FARGATE"])
    ecs.register_task_definition(**JOB)
    first = _run(ecs, "hook-abc-1")
    assert _run(ecs, "hook-abc-1") == first
    assert _run(ecs, "hook-abc-2") != first
    assert len(ecs.list_tasks(cluster="c")["taskArns"]) == 2


def test_moto_still_ignores_the_client_token() -> None:
    with unpatched(), mock_aws():
        ecs = boto3.client("ecs", region_name=REGION)
        ec2 = boto3.client("ec2", region_name=REGION)
        _moto_job(ecs)  # the network, the cluster and the task definition moto can run
        subnet = ec2.describe_subnets(Filters=[{"Name": "cidr-block", "Values": [
            "10.0.0.0/24"]}])["Subnets"][0]["SubnetId"]
        group = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": [
            "g"]}])["SecurityGroups"][0]["GroupId"]
        net = {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}}
        assert _run(ecs, "same", net) != _run(ecs, "same", net), \
            "moto honours RunTask's clientToken now: drop the patch"
