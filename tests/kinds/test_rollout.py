"""Judging a Service's rollout from what AWS says of it (kinds/_rollout.py). Pure: the
documents are DescribeServices and DescribeServiceDeployments answers."""

from __future__ import annotations

from typing import Any

from reconciler.core.kind import Live
from reconciler.core.manifest import ResourceKey
from reconciler.core.vocab import Health
from reconciler.kinds._rollout import DEPLOYMENT_KEY, REVISIONS_KEY, Phase, judge
from reconciler.kinds.service import Service

KEY = ResourceKey("Service", "api", "prd")
REV = "arn:aws:ecs:eu-west-1:1:service-revision/prd/api/"
REVISIONS = {REV + "11": {"taskDefinition": "arn:aws:ecs:eu-west-1:1:task-definition/api:11"},
             REV + "12": {"taskDefinition": "arn:aws:ecs:eu-west-1:1:task-definition/api:12"}}
CANARY = {"strategy": "CANARY", "canaryConfiguration": {"canaryPercent": 10.0}}


def service(deployment: dict[str, Any] | None, **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "serviceName": "api", "deploymentConfiguration": CANARY,
        "tags": [{"key": "reconciler:revision", "value": "4f2c9e1d0b7a"}],
        "deployments": [{"id": "ecs-svc/12", "status": "PRIMARY", "rolloutState": "IN_PROGRESS",
                         "taskDefinition": "arn:aws:ecs:eu-west-1:1:task-definition/api:12"}],
        **extra}
    if deployment is not None:
        doc[DEPLOYMENT_KEY] = {"serviceDeploymentArn": "arn:sd/1",
                               "deploymentConfiguration": CANARY, **deployment}
        doc[REVISIONS_KEY] = REVISIONS
    return doc


def moving(stage: str, weight: float, status: str = "IN_PROGRESS") -> dict[str, Any]:
    return {"status": status, "lifecycleStage": stage,
            "targetServiceRevision": {"arn": REV + "12", "requestedTaskCount": 4,
                                      "runningTaskCount": 4,
                                      "requestedProductionTrafficWeight": weight},
            "sourceServiceRevisions": [{"arn": REV + "11", "requestedTaskCount": 4,
                                        "runningTaskCount": 4}]}


def test_a_canary_moves_through_its_phases_in_words_people_read() -> None:
    seen = [judge(KEY, service(moving(stage, weight))) for stage, weight in (
        ("SCALE_UP", 0.0), ("TEST_TRAFFIC_SHIFT", 0.0), ("PRODUCTION_TRAFFIC_SHIFT", 10.0),
        ("BAKE_TIME", 100.0), ("CLEAN_UP", 100.0))]
    assert [r.phase for r in seen if r] == [Phase.STARTED, Phase.TEST_TRAFFIC, Phase.SHIFTING,
                                            Phase.BAKING, Phase.CLEANING_UP]
    canary = seen[2]
    assert canary is not None
    assert canary.summary == "canary at 10 % of traffic on api:12"
    assert canary.health() == (Health.PROGRESSING, canary.summary)
    assert (canary.progress, canary.target, canary.source) == (10.0, "api:12", "api:11")
    assert canary.git_revision == "4f2c9e1d0b7a"
    done = judge(KEY, service(moving("CLEAN_UP", 100.0, status="SUCCESSFUL")))
    assert done is not None and done.ok and done.health() == (Health.HEALTHY, "")


def test_a_first_deployment_replaces_nothing_and_says_so() -> None:
    """A new service's first deployment has no source revision: nothing is replaced, kept
    for a rollback or cleaned up."""
    first = {**moving("SCALE_UP", 0.0), "sourceServiceRevisions": []}
    started = judge(KEY, service(first))
    assert started is not None and started.source is None
    assert started.summary == "started: api:12 (CANARY): 4/4 tasks running"
    baking = judge(KEY, service({**first, "lifecycleStage": "BAKE_TIME"}))
    assert baking is not None and baking.summary == "baking: api:12 serves all traffic"
    second = judge(KEY, service(moving("SCALE_UP", 0.0)))
    assert second is not None and second.summary == (
        "started: api:12 replacing api:11 (CANARY): 4/4 tasks running")


def test_a_rollback_says_which_revision_why_and_what_git_asked_for() -> None:
    rolled = {**moving("BAKE_TIME", 0.0, status="ROLLBACK_SUCCESSFUL"),
              "rollback": {"reason": "rolled back", "serviceRevisionArn": REV + "11"},
              "deploymentCircuitBreaker": {"status": "TRIGGERED", "failureCount": 3,
                                           "threshold": 3}}
    rollout = judge(KEY, service(rolled))
    assert rollout is not None and rollout.phase is Phase.ROLLED_BACK and rollout.done
    assert rollout.summary == (
        "rolled back to api:11: circuit breaker: 3 tasks failed (threshold 3); git asks for "
        "api:12 (git revision 4f2c9e1d0b7a), ECS runs api:11 again")
    assert rollout.health()[0] is Health.DEGRADED
    live = Live(KEY, "arn:svc", {}, raw=service(rolled))
    assert Service().reverted(live) == rollout.summary
    assert Service().health(live) == (Health.DEGRADED, rollout.summary)


def test_the_cause_is_the_monitor_that_tripped() -> None:
    alarm = judge(KEY, service({**moving("BAKE_TIME", 100.0, status="ROLLBACK_IN_PROGRESS"),
                                "alarms": {"status": "TRIGGERED",
                                           "triggeredAlarmNames": ["api-5xx"]}}))
    assert alarm is not None and alarm.phase is Phase.ROLLING_BACK
    assert alarm.cause == "CloudWatch alarm api-5xx went off"
    hook = judge(KEY, service({**moving("POST_TEST_TRAFFIC_SHIFT", 0.0,
                                        status="ROLLBACK_SUCCESSFUL"),
                               "lifecycleHookDetails": [{"hookId": "h1", "status": "TIMED_OUT",
                                                         "targetArn": "arn:fn"}]}))
    assert hook is not None and hook.cause == "lifecycle hook arn:fn timed out"
    failed = judge(KEY, service({"status": "ROLLBACK_FAILED", "statusReason": "no revision"}))
    assert failed is not None and failed.phase is Phase.FAILED and failed.cause == "no revision"
    assert Service().reverted(Live(KEY, "a", {}, raw=service(
        {"status": "ROLLBACK_FAILED"}))) is None


def test_without_the_service_deployment_api_the_primary_deployment_is_judged() -> None:
    assert judge(KEY, service(None)).phase is Phase.STARTED  # type: ignore[union-attr]
    failed = service(None, deployments=[{"id": "ecs-svc/1", "status": "PRIMARY",
                                         "rolloutState": "FAILED",
                                         "rolloutStateReason": "circuit breaker"}])
    assert Service().health(Live(KEY, "a", {}, raw=failed)) == (
        Health.DEGRADED, "failed: circuit breaker")
    draining = service(None, deployments=[{"status": "PRIMARY", "rolloutState": "COMPLETED"},
                                          {"status": "ACTIVE"}])
    assert judge(KEY, draining).phase is Phase.STARTED  # type: ignore[union-attr]
    assert Service().health(Live(KEY, "a", {}, raw=service(None, deployments=[]))) == (
        Health.UNKNOWN, "no primary deployment")
    assert Service().health(None) == (Health.MISSING, "not in AWS")
