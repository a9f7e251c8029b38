"""ScheduledTask against moto: EventBridge rules with ECS targets.

One applied estate per test; each test goes through its steps in order (a step starts where
the one before left AWS, in sync with git)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import REGION, cli, cli_json


@pytest.fixture
def events(examples: Path) -> Any:
    """The example estate applied; an EventBridge client."""
    assert cli("apply", str(examples)).exit_code == 0
    return boto3.client("events", region_name=REGION)


def _target(events: Any, rule: str) -> dict[str, Any]:
    [target] = events.list_targets_by_rule(Rule=rule)["Targets"]
    return dict(target)


def test_applied_then_hand_edits_are_exactly_that_drift_and_healed(
    examples: Path, events: Any
) -> None:
    """The rule, its ECS target (task definition revision, input) and ownership tag are
    applied; input reformatted by hand is not drift (compared as JSON); a hand-edited
    schedule and task count show as exactly those fields and apply heals them; a target
    added by hand is drift and apply removes it."""
    rule = events.describe_rule(Name="accounting-ledger-sync")
    assert rule["ScheduleExpression"] == "rate(15 minutes)" and rule["State"] == "ENABLED"
    target = _target(events, "accounting-ledger-sync")
    assert target["Arn"].endswith(":cluster/accounting-prd")
    assert target["EcsParameters"]["TaskDefinitionArn"].endswith("accounting-batch-light:1")
    assert json.loads(target["Input"]) == {"containerOverrides": [
        {"name": "batch", "command": ["python", "manage.py", "sync_ledgers"]}]}
    tags = events.list_tags_for_resource(ResourceARN=rule["Arn"])["Tags"]
    assert {"Key": "reconciler:managed-by", "Value": "accounting-reconciler"} in tags

    target["Input"] = json.dumps(json.loads(target["Input"]), indent=4)
    events.put_targets(Rule="accounting-ledger-sync", Targets=[target])
    assert cli("diff", str(examples)).exit_code == 0

    events.put_rule(Name="accounting-ledger-sync", ScheduleExpression="rate(5 minutes)",
                    State="ENABLED", Description="Sync ledgers with the bank feed")
    heavy = _target(events, "accounting-nightly-heavy")
    heavy["EcsParameters"]["TaskCount"] = 3
    events.put_targets(Rule="accounting-nightly-heavy", Targets=[heavy])
    code, out = cli_json("diff", str(examples))
    assert code == 2
    got = {(c["name"], d["path"]) for c in out["changes"] for d in c["diff"]}
    assert got == {("accounting-ledger-sync", "spec.ScheduleExpression"),
                   ("accounting-nightly-heavy", "spec.Targets[ecs-task].EcsParameters.TaskCount")}
    assert cli("apply", str(examples)).exit_code == 0
    assert cli("diff", str(examples)).exit_code == 0

    light = _target(events, "accounting-nightly-light")
    events.put_targets(Rule="accounting-nightly-light", Targets=[{**light, "Id": "by-hand"}])
    code, _out = cli_json("diff", str(examples))
    assert code == 2
    assert cli("apply", str(examples)).exit_code == 0
    assert [t["Id"] for t in events.list_targets_by_rule(Rule="accounting-nightly-light")[
        "Targets"]] == ["ecs-task"]


def test_git_changes_disable_override_and_move_the_schedule(
    examples: Path, events: Any
) -> None:
    """Disabling in git is the one-field change State and disables the rule; a changed
    container override is exactly that path and converges; a changed task definition moves
    the schedules running it to the new revision and leaves the others alone."""
    path = examples / "schedules/batches.yaml"
    path.write_text(path.read_text().replace("state: ENABLED", "state: DISABLED", 1))
    code, out = cli_json("diff", str(examples))
    assert code == 2
    [change] = out["changes"]
    assert change["diff"] == [{"path": "spec.State", "op": "add", "new": "DISABLED"}]
    assert cli("apply", str(examples)).exit_code == 0
    assert events.describe_rule(Name="accounting-ledger-sync")["State"] == "DISABLED"
    assert cli("diff", str(examples)).exit_code == 0

    path.write_text(path.read_text().replace("sync_ledgers]", "sync_ledgers, --all]"))
    _code, out = cli_json("diff", str(examples))
    [change] = out["changes"]
    assert [d["path"] for d in change["diff"]] == [
        "spec.Targets[ecs-task].Input.containerOverrides[batch].command"]
    assert cli("apply", str(examples)).exit_code == 0
    assert json.loads(_target(events, "accounting-ledger-sync")["Input"])[
        "containerOverrides"][0]["command"][-1] == "--all"

    tds = examples / "batches/task-definitions.yaml"
    tds.write_text(tds.read_text().replace("--size, light]", "--size, light, --fast]"))
    assert cli("apply", str(examples)).exit_code == 0
    for rule in ("accounting-ledger-sync", "accounting-nightly-light"):
        arn = _target(events, rule)["EcsParameters"]["TaskDefinitionArn"]
        assert arn.endswith("accounting-batch-light:2"), rule
    assert _target(events, "accounting-nightly-heavy")["EcsParameters"][
        "TaskDefinitionArn"].endswith("accounting-batch-heavy:1")
    assert cli("diff", str(examples)).exit_code == 0


def test_validation_names_the_line(tmp_path: Path) -> None:
    """A bad enum value and a wrongly typed target field are reported at their lines."""
    from tests.conftest import write

    write(tmp_path, "s.yaml", """apiVersion: reconciler/v1
kind: ScheduledTask
metadata: {name: s, cluster: c}
spec:
  scheduleExpression: rate(1 hour)
  state: SOMETIMES
  target:
    ecsParameters:
      taskDefinitionArn: "arn:aws:ecs:eu-west-1:1:task-definition/x:1"
      taskCount: many
  watch: {retries: 2, tolerance: 2h}
---
apiVersion: reconciler/v1
kind: ScheduledTask
metadata: {name: t, cluster: c}
spec:
  scheduleExpression: cron(0 10 * * * *)
  target: {ecsParameters: {taskDefinitionArn: "x:1"}}
""")
    result = cli("validate", str(tmp_path))
    assert result.exit_code == 1
    assert "s.yaml:6: ScheduledTask/s: spec.State: 'SOMETIMES' is not one of" in result.output
    assert "s.yaml:10: ScheduledTask/s: spec.target.EcsParameters.TaskCount" in result.output
    assert "s.yaml:11: ScheduledTask/s: spec.watch.retries needs fallbackCapacityProvider" in (
        result.output)
    assert "s.yaml:11: ScheduledTask/s: spec.watch.tolerance must be from 1m to 45m" in (
        result.output)
    assert ("s.yaml:17: ScheduledTask/t: spec.scheduleExpression: 'cron(0 10 * * * *)': one of "
            "Day-of-month / Day-of-week must be '?'") in result.output
