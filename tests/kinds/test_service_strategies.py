"""Deployment strategies in Service manifests: what AWS refuses that botocore's model cannot
say, reported as file:line like every other error. Pure: no AWS."""

from __future__ import annotations

from pathlib import Path

from reconciler.kinds import load_tree
from tests.conftest import write

SERVICE = """apiVersion: reconciler/v1
kind: Service
metadata: {name: api, cluster: c}
spec:
  taskDefinition: web:1
  loadBalancers: [{targetGroupArn: "arn:aws:elasticloadbalancing:eu-west-1:1:targetgroup/a/1",
                   containerName: app, containerPort: 80}]
  deploymentConfiguration:
"""


def errors(tmp_path: Path, dc: str, spec: str = SERVICE) -> list[str]:
    write(tmp_path, "svc.yaml", spec + dc)
    return [str(e) for e in load_tree(tmp_path).errors]


def test_every_strategy_with_its_configuration_is_valid(tmp_path: Path) -> None:
    for dc in ("    strategy: CANARY\n    canaryConfiguration: {canaryPercent: 10, "
               "canaryBakeTimeInMinutes: 5}\n    bakeTimeInMinutes: 10\n",
               "    strategy: LINEAR\n    linearConfiguration: {stepPercent: 25.5}\n",
               "    strategy: BLUE_GREEN\n    bakeTimeInMinutes: 15\n    lifecycleHooks:\n"
               "      - {targetType: PAUSE, lifecycleStages: [POST_TEST_TRAFFIC_SHIFT]}\n",
               "    strategy: ROLLING\n"):
        assert errors(tmp_path, dc) == [], dc


def test_model_errors_come_first_and_keep_their_lines(tmp_path: Path) -> None:
    errs = errors(tmp_path, "    strategy: CANARDY\n    canaryConfiguration: {canaryPercent: ten}\n")
    assert any(e.startswith("svc.yaml:9: Service/api: spec.deploymentConfiguration.strategy: "
                            "'CANARDY' is not one of") for e in errs)
    assert any("canaryPercent: expected a number" in e for e in errs)


def test_configuration_of_another_strategy_and_out_of_range_numbers(tmp_path: Path) -> None:
    errs = errors(tmp_path, "    strategy: LINEAR\n    canaryConfiguration: {canaryPercent: 0.05}\n"
                  "    linearConfiguration: {stepPercent: 2.0, stepBakeTimeInMinutes: 2000}\n")
    assert ("svc.yaml:10: Service/api: deploymentConfiguration.canaryConfiguration is only "
            "valid with strategy CANARY, not LINEAR") in errs
    assert any("canaryPercent must be from 0.1 to 100.0 in steps of 0.1, not 0.05" in e
               for e in errs)
    assert any("stepPercent must be from 3.0 to 100.0 in steps of 0.1, not 2.0" in e for e in errs)
    assert any("stepBakeTimeInMinutes must be from 0 to 1440, not 2000" in e for e in errs)
    assert errors(tmp_path, "    strategy: CANARY\n    canaryConfiguration: {canaryPercent: 10.05}"
                  "\n")[0].endswith("in steps of 0.1, not 10.05")


def test_traffic_shifting_needs_a_load_balancer_the_ecs_controller_and_blue_green_a_bake(
        tmp_path: Path) -> None:
    bare = "apiVersion: reconciler/v1\nkind: Service\nmetadata: {name: api, cluster: c}\n" \
           "spec:\n  taskDefinition: web:1\n  deploymentController: {type: CODE_DEPLOY}\n" \
           "  deploymentConfiguration:\n"
    errs = errors(tmp_path, "    strategy: BLUE_GREEN\n", bare)
    assert ("svc.yaml:8: Service/api: strategy BLUE_GREEN shifts traffic: the service needs "
            "loadBalancers or serviceConnectConfiguration") in errs
    assert any("needs the ECS deployment controller, not CODE_DEPLOY" in e for e in errs)
    assert any("strategy BLUE_GREEN needs deploymentConfiguration.bakeTimeInMinutes" in e
               for e in errs)


def test_lifecycle_hooks_as_aws_allows_them(tmp_path: Path) -> None:
    errs = errors(tmp_path, "    strategy: CANARY\n    lifecycleHooks:\n"
                  "      - {lifecycleStages: [POST_SCALE_UP]}\n"
                  "      - {targetType: PAUSE, lifecycleStages: [PRODUCTION_TRAFFIC_SHIFT],\n"
                  "         timeoutConfiguration: {timeoutInMinutes: 0}}\n")
    assert "svc.yaml:11: Service/api: an AWS_LAMBDA lifecycle hook needs hookTargetArn" in errs
    assert any("a PAUSE hook cannot hold PRODUCTION_TRAFFIC_SHIFT" in e for e in errs)
    assert any("timeoutInMinutes must be from 1 to 20160, not 0" in e for e in errs)


def test_an_update_sends_rolling_when_git_leaves_the_strategy_out() -> None:
    """UpdateService keeps omitted nested fields: a canary set by hand would stay one."""
    from reconciler.kinds.service import _with_defaults

    sent = _with_defaults("deploymentConfiguration", {"deploymentCircuitBreaker": {
        "enable": True, "rollback": True}}, {})
    assert sent == {"maximumPercent": 200, "minimumHealthyPercent": 100, "strategy": "ROLLING",
                    "deploymentCircuitBreaker": {"enable": True, "rollback": True}}
    canary = _with_defaults("deploymentConfiguration", {"strategy": "CANARY"}, {})
    assert canary["strategy"] == "CANARY"
    code_deploy = _with_defaults("deploymentConfiguration", {},
                                 {"deploymentController": {"type": "CODE_DEPLOY"}})
    assert "strategy" not in code_deploy
