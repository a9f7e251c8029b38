"""What an operator types and reads (issue 17), through the CLI against the moto server:
aiming with --target and -l, the AWS flags, a mistyped profile, and each message the issue
found misleading, on its new wording."""

from __future__ import annotations

import asyncio
import json
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from reconciler.embedded import EmbeddedAws
from tests.conftest import EXAMPLES, SlackReceiver, cli, cli_json, git, seed_for
from tests.support_operator import (
    SMALL_TREE,
    clean_env,
    console_script,
    edit,
    write_tree,
)

API = "Service/accounting-prd/accounting-api"


def planned(out: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(c["kind"], c["name"], c["action"]) for c in out["changes"]}


def tree(tmp_path: Path, aws: EmbeddedAws, files: dict[str, str]) -> Path:
    root = write_tree(tmp_path / "manifests", files)
    seed_for(aws, root)
    return root


# --- aiming: --target and -l ----------------------------------------------------------------


def test_a_target_plans_that_service_and_only_what_it_needs(examples: Path) -> None:
    """On an empty account the service needs its cluster and task definition, and nothing
    else (not its ScalableTarget, not the other service). Once they exist, a cluster that
    differs from git is not the target's business; a task definition that differs is, since
    the service will point at its next revision."""
    code, out = cli_json("diff", str(examples), "--target", API)
    assert code == 2, out
    assert planned(out) == {("Cluster", "accounting-prd", "create"),
                            ("TaskDefinition", "accounting-api", "create"),
                            ("Service", "accounting-api", "create")}

    applied = cli("apply", str(examples), "--target", API, "-o", "json")
    assert applied.exit_code == 0, applied.output
    assert {(a["kind"], a["result"]) for a in json.loads(applied.stdout)["applied"]} == {
        ("Cluster", "created"), ("TaskDefinition", "created"), ("Service", "created")}
    code, out = cli_json("diff", str(examples), "--target", API)
    assert (code, out["changes"]) == (0, [])

    edit(examples / "clusters/accounting-prd.yaml", "value: enabled", "value: disabled")
    edit(examples / "apps/api/service.yaml", "healthCheckGracePeriodSeconds: 60",
         "healthCheckGracePeriodSeconds: 90")
    code, out = cli_json("diff", str(examples), "--target", API)
    assert code == 2, out
    assert planned(out) == {("Service", "accounting-api", "update")}

    edit(examples / "apps/api/task-definition.yaml", "{name: LOG_LEVEL, value: info}",
         "{name: LOG_LEVEL, value: debug}")
    code, out = cli_json("diff", str(examples), "--target", API)
    assert planned(out) == {("TaskDefinition", "accounting-api", "update"),
                            ("Service", "accounting-api", "update")}
    _code, cluster = cli_json("diff", str(examples), "--target", "Cluster/accounting-prd")
    assert planned(cluster) == {("Cluster", "accounting-prd", "update")}


def test_labels_select_and_a_selector_matching_nothing_is_an_error(examples: Path) -> None:
    code, out = cli_json("diff", str(examples), "-l", "app=worker")
    assert code == 2
    assert planned(out) == {("Cluster", "accounting-prd", "create"),
                            ("TaskDefinition", "accounting-worker", "create"),
                            ("Service", "accounting-worker", "create")}
    _code, out = cli_json("diff", str(examples), "-l", "team=accounting", "-l", "size=heavy")
    assert planned(out) == {("TaskDefinition", "accounting-batch-heavy", "create"),
                            ("ScheduledTask", "accounting-nightly-heavy", "create"),
                            ("Cluster", "accounting-prd", "create")}
    _code, out = cli_json("diff", str(examples), "-l", "team=accounting")
    assert len(out["changes"]) == 13

    for args, said in ((("-l", "team=nobody"), "-l team=nobody matches no manifest"),
                       (("--target", "Service/accounting-prd/nope"),
                        "--target 'Service/accounting-prd/nope' matches no manifest"),
                       (("--target", "Service"), "expected Kind/name or Kind/cluster/name")):
        result = cli("diff", str(examples), *args)
        assert result.exit_code == 1, (args, result.output)
        assert result.stdout == ""
        assert said in result.stderr


def test_under_a_selector_nothing_is_pruned_unless_asked(tmp_path: Path, aws: EmbeddedAws
                                                          ) -> None:
    """prune: true in reconciler.yaml; a task definition leaves git. A selected diff does not
    delete it; with --prune it does, judged against the whole tree (the manifests outside the
    selection are not taken for deleted)."""
    files = {k: v for k, v in SMALL_TREE.items() if not k.startswith("api/")}
    batch = SMALL_TREE["api/task-definition.yaml"].replace("accounting-api", "accounting-batch")
    files["api/task-definition.yaml"] = SMALL_TREE["api/task-definition.yaml"]
    files["batch/task-definition.yaml"] = batch.replace("app: api", "app: batch")
    files["reconciler.yaml"] = files["reconciler.yaml"].replace(
        "prune: false", "prune: true\npruneMaxShare: 0.5")
    root = tree(tmp_path, aws, files)
    assert cli("apply", str(root)).exit_code == 0
    (root / "batch/task-definition.yaml").unlink()

    code, out = cli_json("diff", str(root), "-l", "app=api")
    assert (code, out["changes"], out["refused"]) == (0, [], [])
    code, out = cli_json("diff", str(root), "-l", "app=api", "--prune")
    assert code == 2, out
    assert planned(out) == {("TaskDefinition", "accounting-batch", "delete")}
    assert planned(cli_json("diff", str(root))[1]) == {
        ("TaskDefinition", "accounting-batch", "delete")}


# --- connecting --------------------------------------------------------------------------------


def test_a_mistyped_profile_is_one_line_and_offline_commands_never_notice(tmp_path: Path
                                                                          ) -> None:
    """The installed console script in a fresh process, AWS_PROFILE naming no profile."""
    empty = tmp_path / "aws-config"
    empty.write_text("")
    env = {k: v for k, v in clean_env().items() if not k.startswith("AWS_")}
    env.update(AWS_PROFILE="nope", AWS_CONFIG_FILE=str(empty),
               AWS_SHARED_CREDENTIALS_FILE=str(empty))

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([console_script(), *args], env=env, capture_output=True,
                              text=True, timeout=120)

    assert run("--help").returncode == 0
    valid = run("validate", str(EXAMPLES))
    assert valid.returncode == 0, valid.stderr
    failed = run("diff", str(EXAMPLES))
    assert failed.returncode == 1
    assert failed.stdout == ""
    assert failed.stderr.splitlines() == ["error: The config profile (nope) could not be found"]


def test_endpoint_and_region_flags_reach_aws(tmp_path: Path, aws: EmbeddedAws,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """With no AWS_ENDPOINT_URL and no Region in the environment, the flags alone aim the
    command: the cluster made in us-west-2 is found there, and not in eu-west-1."""
    import boto3

    boto3.client("ecs", region_name="us-west-2", endpoint_url=aws.url).create_cluster(
        clusterName="accounting-prd", capacityProviders=["FARGATE"],
        tags=[{"key": "team", "value": "accounting"}])
    root = write_tree(tmp_path / "manifests", {k: v for k, v in SMALL_TREE.items()
                                               if k in ("reconciler.yaml", "cluster.yaml")})
    edit(root / "cluster.yaml", "capacityProviders: [FARGATE]",
         "capacityProviders: [FARGATE]\n  tags: [{key: team, value: accounting}]")
    for name in ("AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)

    code, out = cli_json("diff", str(root), "--endpoint-url", aws.url, "--region", "us-west-2")
    assert code == 0, out
    assert [a["arn"] for a in out["adopt"]] == [
        "arn:aws:ecs:us-west-2:123456789012:cluster/accounting-prd"]
    code, out = cli_json("diff", str(root), "--endpoint-url", aws.url, "--region", "eu-west-1")
    assert (code, planned(out)) == (2, {("Cluster", "accounting-prd", "create")})


def test_parallelism_must_be_at_least_one() -> None:
    result = cli("diff", str(EXAMPLES), "--parallelism", "0")
    assert result.exit_code != 0
    assert "Invalid value for '--parallelism'" in result.output


# --- messages that misled ----------------------------------------------------------------------

WORKER = {
    "worker/service.yaml": SMALL_TREE["api/service.yaml"].replace(
        "name: accounting-api, cluster", "name: accounting-worker, cluster").replace(
        "app: api", "app: worker"),
    "worker/autoscaling.yaml": SMALL_TREE["api/autoscaling.yaml"].replace(
        "name: accounting-api", "name: accounting-worker").replace(
        "service: accounting-api", "service: accounting-worker"),
}


def test_apply_messages_say_what_happened_once(tmp_path: Path, aws: EmbeddedAws,
                                              ecs: Any) -> None:
    """One apply from a git work tree with an uncommitted edit, over a task definition CI
    registered by hand, where one service names a security group that does not exist:

    - the work tree is dirty: a warning, and what is written is tagged `<sha>-dirty`;
    - the new revision registered over CI's is `configured`, not `adopted`;
    - the failing service is reported once (no second, JSON, line on stderr);
    - the ScalableTarget of that service is skipped, saying why, not sent to AWS to fail
      with "ECS service doesn't exist".
    Then a replace refused names the field that cannot change in place, and the service's
    ScalableTarget waits for it, saying so."""
    repo = tmp_path / "repo"
    root = tree(repo, aws, {**SMALL_TREE, **WORKER})
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "manifests")
    sha = git(repo, "rev-parse", "HEAD")
    edit(root / "worker/service.yaml", "sg-0a1b2c3d4e5f60001", "sg-0000000000000dead")
    ecs.register_task_definition(family="accounting-api", containerDefinitions=[
        {"name": "app", "image": "registry.example/accounting-api:ci-build", "memory": 512}])

    result = cli("apply", str(root))
    assert result.exit_code == 1
    assert (f"warning: {root} has uncommitted changes: what is applied is not commit "
            f"{sha[:12]}") in result.stderr
    lines = result.stdout.splitlines()
    assert "TaskDefinition/accounting-api: configured" in lines
    assert "Service/accounting-prd/accounting-api: created" in lines
    assert ("ScalableTarget/accounting-prd/accounting-worker: skipped: not applied because "
            "Service/accounting-prd/accounting-worker was not applied") in lines
    failure = "Service/accounting-prd/accounting-worker: failed: "
    assert len([line for line in lines if line.startswith(failure)]) == 1
    assert result.output.count("InvalidGroup.NotFound") == 1
    assert "doesn't exist" not in result.output
    td = ecs.describe_task_definition(taskDefinition="accounting-api", include=["TAGS"])
    assert td["taskDefinition"]["revision"] == 2
    assert {"key": "reconciler:revision", "value": f"{sha}-dirty"} in td["tags"]

    edit(root / "api/service.yaml", "launchType: FARGATE", "launchType: EC2")
    edit(root / "api/autoscaling.yaml", "maxCapacity: 4", "maxCapacity: 6")
    refused = cli("apply", str(root))
    assert refused.exit_code == 1
    lines = refused.stdout.splitlines()
    assert ("Service/accounting-prd/accounting-api: skipped: launchType cannot be changed in "
            "place; re-run with --allow-replace") in lines
    assert ("ScalableTarget/accounting-prd/accounting-api: skipped: not applied because "
            "Service/accounting-prd/accounting-api was not applied") in lines


def test_ignoring_a_services_task_definition_warns_to_ignore_the_image(tmp_path: Path) -> None:
    """Terraform's ignore_changes habit: the service's taskDefinition ignored while the
    TaskDefinition stays in git. Valid, but a warning at the ignore entry says what to do."""
    root = write_tree(tmp_path / "manifests", SMALL_TREE)
    edit(root / "api/service.yaml", "labels: {team: accounting, app: api}}",
         "labels: {team: accounting, app: api},\n"
         "           ignore: [spec.desiredCount, spec.taskDefinition]}")
    result = cli("validate", str(root))
    assert result.exit_code == 0, result.output
    [warning] = [line for line in result.stderr.splitlines() if "warning:" in line]
    assert warning.startswith("api/service.yaml:4: warning: Service/accounting-api: ignoring "
                              "spec.taskDefinition does not keep CI's image")
    assert warning.endswith("ignore the image on the TaskDefinition instead "
                            "(spec.containerDefinitions[<name>].image)")


def test_alert_values_read_as_json_not_python(slack: SlackReceiver) -> None:
    """A drift where AWS holds a default (no value) and git says true reaches Slack as
    `(AWS default)` and `true`, nested values as JSON: never None, True or False."""
    from reconciler.controller.alerts import drift_alert
    from reconciler.core.diff import ABSENT, FieldChange
    from reconciler.core.drift import DriftEvent, describe_fields
    from reconciler.core.manifest import ResourceKey
    from reconciler.edges.slack import Notifier, WebhookSink

    fields = describe_fields([
        FieldChange(("enableExecuteCommand",), ABSENT, True),
        FieldChange(("deploymentConfiguration", "alarms"), {"enable": False, "rollback": None},
                    ABSENT),
    ])
    key = ResourceKey("Service", "accounting-api", "accounting-prd")
    alert = drift_alert(DriftEvent("drift", key, "f1", tuple(fields), "4f2c9e1"), False)

    async def deliver() -> None:
        notifier = Notifier(WebhookSink(slack.webhook_url))
        notifier.send(alert)
        worker = asyncio.create_task(notifier.run())
        await asyncio.wait_for(notifier.flush(), 30)
        worker.cancel()

    asyncio.run(deliver())
    [text] = slack.texts()
    assert "• `spec.enableExecuteCommand`: (AWS default) (AWS) → true (git)" in text
    assert ('• `spec.deploymentConfiguration.alarms`: {"enable": false, "rollback": null} (AWS)'
            " → (AWS default) (git)") in text
    for python in ("None", "True", "False"):
        assert python not in text


async def test_observe_mode_status_lists_what_it_would_apply(tmp_path: Path,
                                                             aws: EmbeddedAws) -> None:
    """`mode: observe` writes nothing, and /status says for each resource what apply would
    do: its action and the fields, not an empty OutOfSync."""
    from reconciler.aws import Aws
    from reconciler.controller.loop import Controller, Settings
    from reconciler.edges.git import LocalSource
    from reconciler.edges.http import make_app, start
    from reconciler.edges.slack import Notifier, TerminalSink

    root = write_tree(tmp_path / "manifests", {
        "reconciler.yaml": SMALL_TREE["reconciler.yaml"] + "mode: observe\n",
        "cluster.yaml": SMALL_TREE["cluster.yaml"]})
    controller = Controller(LocalSource(root), Aws(), Notifier(TerminalSink()),
                            Settings(resync_interval=3600, fetch_interval=3600))
    report = await controller.run_pass(fetch=True)
    assert not report.wrote
    runner, port = await start(make_app(controller, "", "main"), "127.0.0.1", 0)
    try:
        def get() -> Any:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=10) as r:
                return json.loads(r.read())
        status = await asyncio.to_thread(get)
    finally:
        await runner.cleanup()
    [cluster] = status["resources"]
    assert (cluster["kind"], cluster["state"], cluster["action"]) == (
        "Cluster", "OutOfSync", "create")
    assert cluster["held"]
    assert {"path": "spec.capacityProviders", "live": None, "git": ["FARGATE"]} in (
        cluster["pending"])

