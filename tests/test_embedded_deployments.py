"""The embedded default's service-deployment simulation (reconciler/embedded/patches/
deployments.py). Each `test_moto_still_*` checks that moto as shipped still lacks the
behaviour; when one fails, moto has it: drop the simulation and that test."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from moto import mock_aws

from reconciler.embedded import EmbeddedAws
from reconciler.embedded.clock import CLOCK
from reconciler.embedded.patches.deployments import steps_for
from tests.conftest import REGION
from tests.support_embedded import unpatched

TARGET_GROUP = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/1"
CANARY = {"strategy": "CANARY", "bakeTimeInMinutes": 2,
          "canaryConfiguration": {"canaryPercent": 10, "canaryBakeTimeInMinutes": 5},
          "deploymentCircuitBreaker": {"enable": True, "rollback": True}}


def _td(image: str, simulate: str | None = None) -> dict[str, Any]:
    env = [{"name": "RECONCILER_SIMULATE", "value": simulate}] if simulate else []
    return {"family": "web", "containerDefinitions": [
        {"name": "app", "image": image, "memory": 128, "environment": env}]}


def _service(ecs: Any, config: dict[str, Any]) -> None:
    ecs.create_cluster(clusterName="c")
    ecs.register_task_definition(**_td("nginx:1"))
    ecs.create_service(cluster="c", serviceName="s", taskDefinition="web:1", desiredCount=2,
                       loadBalancers=[{"targetGroupArn": TARGET_GROUP, "containerName": "app",
                                       "containerPort": 80}],
                       deploymentConfiguration=config)


def _now(ecs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The service and its current service deployment."""
    svc: dict[str, Any] = ecs.describe_services(cluster="c", services=["s"])["services"][0]
    [sd] = ecs.describe_service_deployments(
        serviceDeploymentArns=[svc["currentServiceDeployment"]])["serviceDeployments"]
    return svc, sd


@pytest.fixture
def in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto in this process, not the session's server (AWS_ENDPOINT_URL would send it there)."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)


@pytest.mark.usefixtures("in_process")
def test_moto_still_has_no_service_deployment_api() -> None:
    with unpatched(), mock_aws():
        ecs = boto3.client("ecs", region_name=REGION)
        _service(ecs, CANARY)
        with pytest.raises(NotImplementedError):
            ecs.list_service_deployments(cluster="c", service="s")
        with pytest.raises(NotImplementedError):
            ecs.describe_service_deployments(serviceDeploymentArns=["arn:x"])


@pytest.mark.usefixtures("in_process")
def test_moto_still_never_moves_a_deployment_nor_fills_deployment_defaults() -> None:
    with unpatched(), mock_aws():
        ecs = boto3.client("ecs", region_name=REGION)
        _service(ecs, CANARY)
        ecs.register_task_definition(**_td("nginx:2"))
        before = ecs.describe_services(cluster="c", services=["s"])["services"][0]
        ecs.update_service(cluster="c", service="s", taskDefinition="web:2",
                           deploymentConfiguration={"strategy": "LINEAR"})
        after = ecs.describe_services(cluster="c", services=["s"])["services"][0]
    assert after["deploymentConfiguration"] == {"strategy": "LINEAR"}  # as sent: no defaults
    assert "currentServiceDeployment" not in after
    assert [d["id"] for d in after["deployments"]] == [d["id"] for d in before["deployments"]]
    assert after["deployments"][0]["taskDefinition"].endswith("web:1")
    assert "strategy" not in (before.get("deploymentConfiguration") or {})


def test_patched_canary_moves_through_its_stages_and_succeeds(aws: EmbeddedAws) -> None:
    ecs = boto3.client("ecs", region_name=REGION)
    _service(ecs, CANARY)
    svc, sd = _now(ecs)
    assert svc["deploymentConfiguration"]["canaryConfiguration"] == {
        "canaryPercent": 10.0, "canaryBakeTimeInMinutes": 5}
    CLOCK.advance(120)  # the first deployment only scales up
    svc, sd = _now(ecs)
    assert sd["status"] == "SUCCESSFUL" and svc["deployments"][0]["rolloutState"] == "COMPLETED"
    assert svc["runningCount"] == 2
    ecs.register_task_definition(**_td("nginx:2"))
    ecs.update_service(cluster="c", service="s", taskDefinition="web:2")
    seen = []
    for seconds in (3, 60, 15, 30, 300, 60, 60, 60):
        CLOCK.advance(seconds)
        svc, sd = _now(ecs)
        seen.append((sd["status"], sd.get("lifecycleStage"),
                     sd["targetServiceRevision"].get("requestedProductionTrafficWeight")))
    assert ("IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", 10.0) in seen
    assert ("IN_PROGRESS", "BAKE_TIME", 100.0) in seen
    assert seen[-1][0] == "SUCCESSFUL"
    assert [d["status"] for d in svc["deployments"]] == ["PRIMARY"]
    assert svc["taskDefinition"].endswith("web:2")
    [rev] = ecs.describe_service_revisions(
        serviceRevisionArns=[sd["targetServiceRevision"]["arn"]])["serviceRevisions"]
    assert rev["taskDefinition"].endswith("web:2")
    page = ecs.list_service_deployments(cluster="c", service="s", maxResults=1)
    assert page["serviceDeployments"][0]["status"] == "SUCCESSFUL" and page["nextToken"]


def test_patched_failing_revision_is_rolled_back_by_the_circuit_breaker(aws: EmbeddedAws
                                                                         ) -> None:
    ecs = boto3.client("ecs", region_name=REGION)
    _service(ecs, CANARY)
    CLOCK.advance(120)
    ecs.register_task_definition(**_td("nginx:bad", simulate="fail"))
    ecs.update_service(cluster="c", service="s", taskDefinition="web:2")
    CLOCK.advance(70)
    svc, sd = _now(ecs)
    assert sd["status"] == "ROLLBACK_IN_PROGRESS"
    assert svc["taskDefinition"].endswith("web:1")
    assert [(d["status"], d["rolloutState"]) for d in svc["deployments"]] == [
        ("PRIMARY", "IN_PROGRESS"), ("ACTIVE", "FAILED")]
    CLOCK.advance(60)
    svc, sd = _now(ecs)
    assert sd["status"] == "ROLLBACK_SUCCESSFUL"
    assert sd["deploymentCircuitBreaker"]["status"] == "TRIGGERED"
    assert "circuit breaker" in sd["rollback"]["reason"]
    assert sd["rollback"]["serviceRevisionArn"] == sd["sourceServiceRevisions"][0]["arn"]
    assert ecs.describe_service_deployments(serviceDeploymentArns=["arn:nope"])["failures"] == [
        {"arn": "arn:nope", "reason": "MISSING"}]


def test_each_strategy_has_its_lifecycle() -> None:
    def stages(config: dict[str, Any]) -> list[tuple[str, float | None]]:
        return [(s.stage, s.weight) for s in steps_for(config, first=False)
                if s.stage in ("PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME")]

    assert stages({"strategy": "ROLLING"}) == []
    assert stages({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 5}) == [
        ("PRODUCTION_TRAFFIC_SHIFT", 100.0), ("BAKE_TIME", 100.0)]
    assert stages({"strategy": "CANARY"}) == [
        ("PRODUCTION_TRAFFIC_SHIFT", 5.0), ("PRODUCTION_TRAFFIC_SHIFT", 100.0)]
    assert [w for _s, w in stages({"strategy": "LINEAR", "linearConfiguration": {
        "stepPercent": 30.0}})] == [30.0, 60.0, 90.0, 100.0]
    assert [s.stage for s in steps_for({"strategy": "CANARY"}, first=True)] == [
        "SCALE_UP", "POST_SCALE_UP", "CLEAN_UP"]


def test_an_alarm_rolls_back_during_the_first_bake_and_without_rollback_it_stops() -> None:
    from datetime import UTC, datetime, timedelta

    from reconciler.embedded.patches.deployments import ALARM, FAIL, Deployment, Revision

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    old, new = (Revision(f"arn:rev/{n}", str(n), f"web:{n}", t0, {}) for n in (1, 2))
    alarms = {"alarmNames": ["web-5xx"], "enable": True, "rollback": True}
    config = {**CANARY, "alarms": alarms}

    def at(config: dict[str, Any], failure: str, seconds: float) -> Any:
        d = Deployment("arn:d", "arn:s", "arn:c", t0, config, old, new,
                       steps_for(config, first=False), 2, failure)
        return d.state(t0 + timedelta(seconds=seconds))

    assert at(config, ALARM, 100).stage == "PRODUCTION_TRAFFIC_SHIFT"  # the canary bakes...
    rolling_back = at(config, ALARM, 250)  # ...and halfway through its 5 minutes, the alarm
    assert (rolling_back.status, rolling_back.tripped) == ("ROLLBACK_IN_PROGRESS", "alarm")
    assert rolling_back.reason == "alarm web-5xx in ALARM: rolling back"
    assert at(config, ALARM, 300).status == "ROLLBACK_SUCCESSFUL"
    no_rollback = {**config, "alarms": {**alarms, "rollback": False},
                   "deploymentCircuitBreaker": {"enable": True, "rollback": False}}
    assert at(no_rollback, ALARM, 400).status == "STOPPED"
    assert at(no_rollback, FAIL, 100).reason.endswith("rollback is off")
    unwatched = {"strategy": "ROLLING"}  # failing tasks, no circuit breaker: ECS keeps trying
    assert at(unwatched, FAIL, 10_000).status == "IN_PROGRESS"
