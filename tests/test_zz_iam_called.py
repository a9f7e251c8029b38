"""Runs last (file name): every AWS operation the test suite really called is allowed by
deploy/iam-policy.json, so the policy cannot fall behind the code."""

from __future__ import annotations

import json

from reconciler.aws.client import CALLED
from tests.conftest import REPO
from tests.support_iam import iam_action
from tests.test_deploy import policy_actions

NOT_THE_CONTROLLERS = {"dynamodb:create_table", "dynamodb:describe_table"}  # test set-up only


def test_every_operation_called_is_in_the_policy() -> None:
    allowed = policy_actions(json.loads((REPO / "deploy/iam-policy.json").read_text()))
    called = {iam_action(op) for op in CALLED - NOT_THE_CONTROLLERS}
    assert called <= allowed, sorted(called - allowed)
