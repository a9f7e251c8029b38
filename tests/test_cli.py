"""End to end through the CLI against the moto server: apply, diff, drift, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reconciler.embedded import EmbeddedAws
from reconciler.kinds import load_tree
from tests.conftest import cli, cli_json, write


def test_first_diff_lists_creates_and_exits_2_in_every_output(examples: Path) -> None:
    """On an empty account diff lists a create for every manifest and exits 2, in JSON, in
    text (secrets masked) and in markdown."""
    code, out = cli_json("diff", str(examples))
    assert code == 2
    actions = {(c["kind"], c["name"]): c["action"] for c in out["changes"]}
    assert actions[("Cluster", "accounting-prd")] == "create"
    assert actions[("Service", "accounting-api")] == "create"
    assert len(actions) == len(load_tree(examples).manifests)
    result = cli("diff", str(examples))
    assert result.exit_code == 2
    assert "secretsmanager" not in result.output
    assert "(sensitive)" in result.output
    result = cli("diff", str(examples), "--output", "markdown")
    assert result.exit_code == 2
    assert result.output.startswith("### reconciler diff")
    assert "```diff" in result.output


def test_hand_edits_show_exactly_those_fields(examples: Path, ecs: Any) -> None:
    """Each change made behind the reconciler's back (apply puts it back between them) is
    exactly that drift: a service's count and exec flag; a public IP turned on, though the
    manifest never mentions it; a task definition revision registered by hand, with the
    schedules running it moving to the revision that puts it back."""
    assert cli("apply", str(examples)).exit_code == 0
    ecs.update_service(cluster="accounting-prd", service="accounting-worker", desiredCount=5,
                       enableExecuteCommand=False)
    code, out = cli_json("diff", str(examples))
    assert code == 2
    [change] = out["changes"]
    assert (change["kind"], change["name"], change["cluster"]) == (
        "Service", "accounting-worker", "accounting-prd")
    assert change["action"] == "update"
    by_path = {d["path"]: d for d in change["diff"]}
    assert set(by_path) == {"spec.desiredCount", "spec.enableExecuteCommand"}
    assert by_path["spec.desiredCount"]["old"] == 5 and by_path["spec.desiredCount"]["new"] == 1
    assert cli("apply", str(examples)).exit_code == 0

    ecs.update_service(
        cluster="accounting-prd", service="accounting-api",
        networkConfiguration={"awsvpcConfiguration": {
            "subnets": ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"],
            "securityGroups": ["sg-0a1b2c3d4e5f60001"], "assignPublicIp": "ENABLED"}})
    code, out = cli_json("diff", str(examples))
    assert code == 2
    [change] = out["changes"]
    [entry] = change["diff"]
    assert entry["path"] == "spec.networkConfiguration.awsvpcConfiguration.assignPublicIp"
    assert entry["old"] == "ENABLED" and entry["op"] == "remove"
    assert cli("apply", str(examples)).exit_code == 0

    td = ecs.describe_task_definition(taskDefinition="accounting-batch-light")["taskDefinition"]
    keep = ("containerDefinitions", "cpu", "memory", "networkMode", "requiresCompatibilities",
            "executionRoleArn", "taskRoleArn")
    request = {k: td[k] for k in keep}
    request["containerDefinitions"][0]["command"] = ["python", "manage.py", "other"]
    ecs.register_task_definition(family="accounting-batch-light", **request)
    code, out = cli_json("diff", str(examples))
    assert code == 2
    [change] = [c for c in out["changes"] if c["kind"] == "TaskDefinition"]
    assert change["name"] == "accounting-batch-light"
    # the schedules running it will move to the revision that puts it back
    assert {c["kind"] for c in out["changes"]} == {"TaskDefinition", "ScheduledTask"}
    paths = {d["path"] for d in change["diff"]}
    assert paths == {"spec.containerDefinitions[batch].command"}


def test_apply_then_diff_is_empty_and_a_second_apply_writes_nothing(
    examples: Path, ecs: Any
) -> None:
    """After apply, diff exits 0 and lists no change; a second apply, through the CLI or the
    one pass, applies nothing, registers no revision and makes no write call."""
    import asyncio

    from reconciler.aws.client import Aws
    from reconciler.sync.run import Options, run

    assert cli("apply", str(examples)).exit_code == 0
    code, out = cli_json("diff", str(examples))
    assert code == 0, out
    assert out["changes"] == []
    revisions = ecs.list_task_definitions()["taskDefinitionArns"]
    second = cli("apply", str(examples), "--output", "json")
    assert second.exit_code == 0
    assert json.loads(second.output)["applied"] == []
    assert ecs.list_task_definitions()["taskDefinitionArns"] == revisions
    aws = Aws()
    asyncio.run(run(load_tree(examples), aws, Options(apply=True)))
    writes = [op for op in aws.calls
              if not op.split(":")[1].startswith(("describe", "list", "get"))]
    assert writes == []


def test_interrupted_apply_converges_without_duplicates(examples: Path, ecs: Any) -> None:
    """Killed after the task definitions were registered: the next run only does the rest."""
    import asyncio

    from reconciler.aws.client import Aws
    from reconciler.kinds import REGISTRY
    from reconciler.sync.apply import apply_plan
    from reconciler.sync.run import run

    aws = Aws()
    planned = asyncio.run(run(load_tree(examples), aws))
    partial = [c for c in planned.plan.changes if c.key.kind != "Service"]
    planned.plan.changes = partial
    asyncio.run(apply_plan(aws, planned.plan, planned.ctx, planned.tree.config, REGISTRY))
    assert ecs.list_services(cluster="accounting-prd")["serviceArns"] == []
    assert cli("apply", str(examples)).exit_code == 0
    assert cli("diff", str(examples)).exit_code == 0
    families = ecs.list_task_definitions()["taskDefinitionArns"]
    assert len(families) == 4, families  # one revision each, nothing registered twice
    assert len(ecs.list_services(cluster="accounting-prd")["serviceArns"]) == 2


def test_manifest_changes_converge(examples: Path, ecs: Any) -> None:
    """A changed count is exactly that diff and converges; a changed task definition
    registers the next revision and moves the service to it."""
    assert cli("apply", str(examples)).exit_code == 0
    path = examples / "apps/worker/service.yaml"
    path.write_text(path.read_text().replace("desiredCount: 1", "desiredCount: 3"))
    code, out = cli_json("diff", str(examples))
    assert code == 2 and [d["path"] for d in out["changes"][0]["diff"]] == ["spec.desiredCount"]
    assert cli("apply", str(examples)).exit_code == 0
    assert cli("diff", str(examples)).exit_code == 0
    svc = ecs.describe_services(cluster="accounting-prd", services=["accounting-worker"])
    assert svc["services"][0]["desiredCount"] == 3

    path = examples / "apps/api/task-definition.yaml"
    path.write_text(path.read_text().replace("value: info", "value: debug"))
    code, out = cli_json("diff", str(examples))
    assert code == 2
    by_kind = {c["kind"]: c for c in out["changes"]}
    assert by_kind["Service"]["diff"][0]["new"] == "accounting-api:(next revision)"
    assert cli("apply", str(examples)).exit_code == 0
    svc = ecs.describe_services(cluster="accounting-prd", services=["accounting-api"])["services"][0]
    assert svc["taskDefinition"].endswith("accounting-api:2")
    assert cli("diff", str(examples)).exit_code == 0


def test_invalid_tree_applies_nothing(examples: Path, ecs: Any) -> None:
    """apply refuses a tree with an error, naming its file and line, and creates nothing."""
    write(examples, "broken.yaml", "apiVersion: reconciler/v1\nkind: Service\nmetadata:\n"
          "  name: x\n  cluster: accounting-prd\nspec:\n  desiredCount: two\n")
    result = cli("apply", str(examples))
    assert result.exit_code == 1
    assert "broken.yaml:7: Service/x: spec.desiredCount: expected an integer" in result.output
    assert ecs.list_clusters()["clusterArns"] == []


def test_diff_refuses_an_invalid_tree(examples: Path) -> None:
    """diff refuses a tree with invalid YAML (exit 1), naming the file."""
    write(examples, "bad.yaml", "kind: [unclosed\n")
    result = cli("diff", str(examples))
    assert result.exit_code == 1
    assert "bad.yaml:" in result.output and "invalid YAML" in result.output


def test_ignored_image_is_used_on_create_and_left_alone_then_replace_needs_allowing(
    examples: Path, ecs: Any
) -> None:
    """CI owns the worker's image: it is used on create, a CI deploy is not drift, and apply
    keeps CI's image; then a launch type change is a replace that apply refuses without
    --allow-replace and carries out with it."""
    assert cli("apply", str(examples)).exit_code == 0
    td = ecs.describe_task_definition(taskDefinition="accounting-worker",
                                      include=["TAGS"])
    image = td["taskDefinition"]["containerDefinitions"][0]["image"]
    assert image.endswith("accounting-api:1.42.0")  # used on create
    request = {k: td["taskDefinition"][k] for k in (
        "containerDefinitions", "cpu", "memory", "networkMode", "requiresCompatibilities",
        "executionRoleArn", "taskRoleArn")}
    request["containerDefinitions"][0]["image"] = image.replace("1.42.0", "1.43.0")
    new = ecs.register_task_definition(family="accounting-worker", tags=td["tags"], **request)
    ecs.update_service(cluster="accounting-prd", service="accounting-worker",
                       taskDefinition=new["taskDefinition"]["taskDefinitionArn"])
    code, out = cli_json("diff", str(examples))
    assert code == 0, out
    # a real change elsewhere registers a revision that keeps CI's image
    path = examples / "apps/worker/task-definition.yaml"
    path.write_text(path.read_text().replace('"4"]', '"8"]'))
    code, out = cli_json("diff", str(examples))
    worker = next(c for c in out["changes"] if c["kind"] == "TaskDefinition")
    assert worker["ignored"] == [{"path": "spec.containerDefinitions[app].image",
                                  "reason": "reconciler.yaml ignore rule"}]
    assert cli("apply", str(examples)).exit_code == 0
    latest = ecs.describe_task_definition(taskDefinition="accounting-worker")["taskDefinition"]
    assert latest["containerDefinitions"][0]["image"].endswith("1.43.0")
    assert "8" in latest["containerDefinitions"][0]["command"]

    path = examples / "apps/api/service.yaml"
    path.write_text(path.read_text().replace("launchType: FARGATE", "launchType: EC2"))
    code, out = cli_json("diff", str(examples))
    assert code == 2 and out["changes"][0]["action"] == "replace"
    refused = cli("apply", str(examples))
    assert refused.exit_code == 1 and "--allow-replace" in refused.output
    assert cli("apply", str(examples), "--allow-replace").exit_code == 0
    svc = ecs.describe_services(cluster="accounting-prd", services=["accounting-api"])
    assert svc["services"][0]["launchType"] == "EC2"
    assert cli("diff", str(examples)).exit_code == 0


def test_validate_examples() -> None:
    """The example manifests are valid."""
    from tests.conftest import EXAMPLES

    result = cli("validate", str(EXAMPLES))
    assert result.exit_code == 0, result.output


def test_same_command_against_a_given_endpoint(examples: Path, aws: EmbeddedAws) -> None:
    """The real console script, in a new process, reaching moto only through AWS_ENDPOINT_URL."""
    import os
    import subprocess
    import sys

    env = {**os.environ, **aws.environment(), "AWS_REGION": "eu-west-1"}
    proc = subprocess.run([sys.executable, "-m", "reconciler", "diff", str(examples), "-o", "json"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert len(json.loads(proc.stdout)["changes"]) == len(load_tree(examples).manifests)


def test_existing_unowned_resource_is_adopted_not_changed(examples: Path, ecs: Any) -> None:
    """A cluster made by hand exactly as git says is in sync (exit 0), listed for adoption,
    and apply tags it as owned without changing it."""
    ecs.create_cluster(clusterName="accounting-prd",
                       capacityProviders=["FARGATE", "FARGATE_SPOT"],
                       defaultCapacityProviderStrategy=[
                           {"capacityProvider": "FARGATE", "base": 1, "weight": 1},
                           {"capacityProvider": "FARGATE_SPOT", "weight": 3}],
                       settings=[{"name": "containerInsights", "value": "enabled"}],
                       tags=[{"key": "team", "value": "accounting"}, {"key": "env", "value": "prd"}])
    _code, out = cli_json("diff", str(examples))
    assert not any(c["kind"] == "Cluster" for c in out["changes"])
    assert {"kind": "Cluster", "name": "accounting-prd", "cluster": None} in [
        {k: a[k] for k in ("kind", "name", "cluster")} for a in out["adopt"]]
    assert "adopting" in cli("diff", str(examples)).output
    result = cli("apply", str(examples), "--output", "json")
    applied = {(a["kind"], a["name"]): a["result"] for a in json.loads(result.output)["applied"]}
    assert applied[("Cluster", "accounting-prd")] == "adopted"
    tags = ecs.describe_clusters(clusters=["accounting-prd"], include=["TAGS"])["clusters"][0][
        "tags"]
    assert {"key": "reconciler:managed-by", "value": "accounting-reconciler"} in tags
    _code, out = cli_json("diff", str(examples))
    assert out["adopt"] == []


def test_an_unowned_resource_that_differs_is_configured_and_owned(examples: Path,
                                                                  ecs: Any) -> None:
    """Made by hand with Container Insights off: apply changes that field and takes it over
    in the same write; the result says what happened to the resource (configured), not only
    that it is owned now."""
    ecs.create_cluster(clusterName="accounting-prd",
                       capacityProviders=["FARGATE", "FARGATE_SPOT"],
                       defaultCapacityProviderStrategy=[
                           {"capacityProvider": "FARGATE", "base": 1, "weight": 1},
                           {"capacityProvider": "FARGATE_SPOT", "weight": 3}],
                       settings=[{"name": "containerInsights", "value": "disabled"}],
                       tags=[{"key": "team", "value": "accounting"}, {"key": "env", "value": "prd"}])
    result = cli("apply", str(examples), "--output", "json")
    applied = {(a["kind"], a["name"]): a["result"] for a in json.loads(result.output)["applied"]}
    assert applied[("Cluster", "accounting-prd")] == "configured"
    cluster = ecs.describe_clusters(clusters=["accounting-prd"], include=["TAGS", "SETTINGS"])[
        "clusters"][0]
    assert {"name": "containerInsights", "value": "enabled"} in cluster["settings"]
    assert {"key": "reconciler:managed-by", "value": "accounting-reconciler"} in cluster["tags"]
    code, out = cli_json("diff", str(examples))
    assert code == 0 and out["adopt"] == [] and out["changes"] == []


def test_resource_owned_by_another_controller_is_left_alone(examples: Path, ecs: Any) -> None:
    """A cluster tagged as another controller's makes apply exit 1, saying so, and keeps its
    tags untouched."""
    ecs.create_cluster(clusterName="accounting-prd",
                       tags=[{"key": "reconciler:managed-by", "value": "someone-else"}])
    result = cli("apply", str(examples))
    assert result.exit_code == 1
    assert "owned by another controller (someone-else)" in result.output
    tags = ecs.describe_clusters(clusters=["accounting-prd"], include=["TAGS"])["clusters"][0][
        "tags"]
    assert tags == [{"key": "reconciler:managed-by", "value": "someone-else"}]
