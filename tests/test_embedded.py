"""The embedded default's moto patches. Each `test_moto_still_*` checks that moto as shipped
still has the gap; when one fails, moto has fixed it: delete that patch from
reconciler/embedded.py and this test. The `test_patched_*` tests check the fix over HTTP."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from reconciler.embedded import EmbeddedAws
from tests.conftest import REGION
from tests.support_embedded import unpatched

FARGATE_TD = {"family": "web", "networkMode": "awsvpc", "requiresCompatibilities": ["FARGATE"],
              "cpu": "256", "memory": "512",
              "containerDefinitions": [{"name": "app", "image": "nginx",
                                        "portMappings": [{"containerPort": 80}],
                                        "healthCheck": {"command": ["CMD", "true"]}}]}
SERVICE = {"cluster": "c", "serviceName": "s", "taskDefinition": "web", "desiredCount": 1,
           "enableExecuteCommand": True, "healthCheckGracePeriodSeconds": 30,
           "deploymentConfiguration": {"deploymentCircuitBreaker": {"enable": True,
                                                                    "rollback": True}},
           "capacityProviderStrategy": [{"capacityProvider": "FARGATE", "weight": 1}]}


def _make(ecs: Any) -> dict[str, Any]:
    ecs.create_cluster(clusterName="c")
    ecs.register_task_definition(**FARGATE_TD)
    ecs.create_service(**SERVICE)
    svc: dict[str, Any] = ecs.describe_services(cluster="c", services=["s"])["services"][0]
    return svc


def test_moto_still_drops_create_service_fields() -> None:
    """moto as shipped still drops fields CreateService was given."""
    with unpatched(), mock_aws():
        svc = _make(boto3.client("ecs", region_name=REGION))
    dropped = [k for k in ("enableExecuteCommand", "healthCheckGracePeriodSeconds",
                           "capacityProviderStrategy") if svc.get(k) != SERVICE[k]]
    cb = svc.get("deploymentConfiguration", {}).get("deploymentCircuitBreaker")
    assert dropped or cb != {"enable": True, "rollback": True}, "moto keeps them now"


def test_moto_still_reports_ec2_with_a_strategy() -> None:
    """moto as shipped still reports launchType EC2 for a service with a capacity provider strategy."""
    with unpatched(), mock_aws():
        svc = _make(boto3.client("ecs", region_name=REGION))
    assert svc.get("launchType") == "EC2"


def test_moto_still_creates_an_active_service_twice() -> None:
    """moto as shipped still creates an active service a second time."""
    with unpatched(), mock_aws():
        ecs = boto3.client("ecs", region_name=REGION)
        _make(ecs)
        ecs.create_service(**SERVICE)  # AWS refuses this


def test_moto_still_leaves_port_and_health_check_defaults_out() -> None:
    """moto as shipped still leaves out the port mapping and health check defaults AWS fills in."""
    with unpatched(), mock_aws():
        ecs = boto3.client("ecs", region_name=REGION)
        ecs.register_task_definition(**FARGATE_TD)
        c = ecs.describe_task_definition(taskDefinition="web")["taskDefinition"][
            "containerDefinitions"][0]
    assert "hostPort" not in c["portMappings"][0] or "interval" not in c["healthCheck"]


def test_moto_still_stores_task_definition_as_sent_on_update() -> None:
    """moto as shipped still stores UpdateService's taskDefinition as sent, not as an ARN."""
    with unpatched(), mock_aws():
        ecs = boto3.client("ecs", region_name=REGION)
        _make(ecs)
        ecs.update_service(cluster="c", service="s", taskDefinition="web:1")
        svc = ecs.describe_services(cluster="c", services=["s"])["services"][0]
    assert svc["taskDefinition"] == "web:1"


def test_patched_server_keeps_create_fields_and_fills_defaults(aws: EmbeddedAws) -> None:
    """The patched server keeps CreateService's fields and fills AWS's defaults."""
    ecs = boto3.client("ecs", region_name=REGION)
    svc = _make(ecs)
    assert svc["enableExecuteCommand"] is True
    assert svc["healthCheckGracePeriodSeconds"] == 30
    assert svc["capacityProviderStrategy"] == [
        {"capacityProvider": "FARGATE", "weight": 1, "base": 0}]
    assert "launchType" not in svc
    assert svc["platformVersion"] == "LATEST"
    assert svc["deploymentConfiguration"] == {
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        "maximumPercent": 200, "minimumHealthyPercent": 100, "strategy": "ROLLING",
        "bakeTimeInMinutes": 0}
    c = ecs.describe_task_definition(taskDefinition="web")["taskDefinition"][
        "containerDefinitions"][0]
    assert c["portMappings"][0] == {"containerPort": 80, "hostPort": 80, "protocol": "tcp"}
    assert c["healthCheck"] == {"command": ["CMD", "true"], "interval": 30, "retries": 3,
                                "timeout": 5}


def test_patched_server_refuses_a_second_create(aws: EmbeddedAws) -> None:
    """The patched server refuses a second create of an active service, as AWS does."""
    ecs = boto3.client("ecs", region_name=REGION)
    _make(ecs)
    with pytest.raises(ClientError, match="not idempotent"):
        ecs.create_service(**SERVICE)


def test_patched_server_stores_task_definition_arns(aws: EmbeddedAws) -> None:
    """The patched server stores a service's task definition as an ARN."""
    ecs = boto3.client("ecs", region_name=REGION)
    _make(ecs)
    ecs.update_service(cluster="c", service="s", taskDefinition="web:1")
    svc = ecs.describe_services(cluster="c", services=["s"])["services"][0]
    assert svc["taskDefinition"].endswith(":task-definition/web:1")


def _deregister_newest(ecs: Any) -> None:
    ecs.register_task_definition(**FARGATE_TD)
    ecs.register_task_definition(**{**FARGATE_TD, "cpu": "512", "memory": "1024"})
    ecs.deregister_task_definition(taskDefinition="web:2")


def test_moto_still_describes_a_deregistered_revision_by_family() -> None:
    """moto as shipped still describes a deregistered newest revision by family."""
    with unpatched(), mock_aws():
        ecs = boto3.client("ecs", region_name=REGION)
        _deregister_newest(ecs)
        td = ecs.describe_task_definition(taskDefinition="web")["taskDefinition"]
    assert td["revision"] == 2 and td["status"] == "INACTIVE"


def test_patched_server_describes_the_newest_active_revision_by_family(aws: EmbeddedAws) -> None:
    """The patched server describes the newest ACTIVE revision by family, and none when none is left."""
    ecs = boto3.client("ecs", region_name=REGION)
    _deregister_newest(ecs)
    td = ecs.describe_task_definition(taskDefinition="web", include=["TAGS"])["taskDefinition"]
    assert (td["revision"], td["status"]) == (1, "ACTIVE")
    ecs.deregister_task_definition(taskDefinition="web:1")
    with pytest.raises(ClientError, match="ClientException"):
        ecs.describe_task_definition(taskDefinition="web")
