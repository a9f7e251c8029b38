"""No secret value in any output (issue 12): a manifest holding credential-shaped values under
innocent names (an AWS secret access key, a GitHub token, a JWT, a password in a URL) and
look-alikes that must stay readable (an image digest, ARNs, a UUID), through every command,
the logs on and off a terminal, the controller's /status, page and /metrics, and a Slack body
as a real HTTP receiver gets it."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from reconciler.embedded import EmbeddedAws
from tests.conftest import REGION, SlackReceiver, cli, push, seed_for, write
from tests.support_hardening import AwsProxy, Replica, wait_until

AWS_SECRET = "8ISsWbV9J6Das4VuRAhzjRZlchCl24o2rOugvkZ1"  # 40 characters, an innocent name
GITHUB_TOKEN = "ghp_QMEEMyIbPUf9mYQqw8x3SyRthqpvxxGKZWGl"
JWT = ("eyJhbGciOiAiSFMyNTYiLCAidHlwIjogIkpXVCJ9.eyJzdWIiOiAiMTIzNDU2Nzg5MCIsICJuYW1lIjogIngi"
       "LCAiaWF0IjogMTUxNjIzOTAyMn0.by02BcHboRBcynXMgWJoleSrcBrFwMOUdGDxnvsDES9")
PASSWORD = "Tr0ub4dor-Horse-Battery"
ROTATED = "Qm7Xv2LpR9sTz4Kw8NcYb1HdJf6Ga3Ue5Wi0OqPy"  # the next value, and a hand edit's
SECRETS = (AWS_SECRET, GITHUB_TOKEN, JWT, PASSWORD, ROTATED)
DIGEST = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:orders-topic"
REQUEST_ID = "123e4567-e89b-12d3-a456-426614174000"
LOOKALIKES = (DIGEST, TOPIC, REQUEST_ID)
SUBNET = "subnet-0a1b2c3d4e5f6a001"

MANIFESTS = f"""apiVersion: reconciler/v1
kind: Cluster
metadata: {{name: vault}}
spec: {{}}
---
apiVersion: reconciler/v1
kind: TaskDefinition
metadata: {{name: vault-app}}
spec:
  requiresCompatibilities: [FARGATE]
  networkMode: awsvpc
  cpu: "256"
  memory: "512"
  containerDefinitions:
    - name: app
      image: "registry.example.com/app@{DIGEST}"
      environment:
        - {{name: SETTING_A, value: "{AWS_SECRET}"}}
        - {{name: UPSTREAM, value: "{GITHUB_TOKEN}"}}
        - {{name: SESSION_HINT, value: "{JWT}"}}
        - {{name: DATABASE_URL, value: "postgres://app:{PASSWORD}@db.example.com:5432/app"}}
        - {{name: TOPIC, value: "{TOPIC}"}}
        - {{name: REQUEST_ID, value: "{REQUEST_ID}"}}
---
apiVersion: reconciler/v1
kind: ScheduledTask
metadata: {{name: vault-nightly, cluster: vault}}
spec:
  scheduleExpression: cron(0 3 * * ? *)
  target:
    roleArn: arn:aws:iam::123456789012:role/events
    ecsParameters:
      taskDefinitionArn: vault-app
      launchType: FARGATE
      networkConfiguration: {{awsvpcConfiguration: {{subnets: [{SUBNET}]}}}}
    input:
      containerOverrides:
        - name: app
          environment:
            - {{name: SETTING_B, value: "{AWS_SECRET}"}}
"""


def assert_no_secret(where: str, text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"a secret in {where}"


@pytest.fixture
def repo(aws: EmbeddedAws, git_remote: tuple[Path, Path]) -> Path:
    """The manifests in a git work tree whose remote the controller can read."""
    _, work = git_remote
    write(work, "manifests/reconciler.yaml", "controller: vault\n")
    write(work, "manifests/vault.yaml", MANIFESTS)
    push(work, "vault")
    seed_for(aws, work / "manifests")
    return work / "manifests"


def on_a_terminal(*args: str) -> str:
    """`reconciler ARGS` as a process whose stdout and stderr are a terminal."""
    command = [sys.executable, "-m", "reconciler", *args]
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    leader, follower = pty.openpty()
    proc = subprocess.Popen(command, stdin=follower, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is done
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    proc.wait(timeout=120)
    return b"".join(chunks).decode(errors="replace")


def test_diff_apply_render_and_logs_never_show_a_secret(repo: Path) -> None:
    text = cli("diff", str(repo))
    assert text.exit_code == 2
    for fmt in ("json", "markdown"):
        out = cli("diff", str(repo), "--output", fmt)
        assert out.exit_code == 2
        assert_no_secret(f"diff --output {fmt}", out.output)
    assert_no_secret("diff", text.output)
    assert all(look in text.output for look in LOOKALIKES), text.output  # still readable
    applied = cli("apply", str(repo))
    assert applied.exit_code == 0, applied.output
    assert_no_secret("apply", applied.output)
    held = boto3.client("ecs", region_name=REGION).describe_task_definition(
        taskDefinition="vault-app")["taskDefinition"]["containerDefinitions"][0]["environment"]
    assert {"name": "SETTING_A", "value": AWS_SECRET} in held  # masked in output only

    rendered = cli("render", str(repo))
    assert rendered.exit_code == 0 and "(sensitive)" in rendered.output
    assert_no_secret("render", rendered.output)
    assert all(look in rendered.output for look in LOOKALIKES)
    shown = cli("render", str(repo), "--show-secrets")
    assert all(s in shown.output for s in (AWS_SECRET, GITHUB_TOKEN, JWT, PASSWORD))

    # a rotation: old and new value in one diff, on a terminal, as JSON log lines, as plain
    # log lines, and applied with its logs
    (repo / "vault.yaml").write_text(MANIFESTS.replace(AWS_SECRET, ROTATED))
    terminal = on_a_terminal("--log-level", "debug", "diff", str(repo))
    assert "SETTING_A" in terminal and "\x1b[" in terminal  # coloured: a terminal
    assert_no_secret("diff on a terminal", terminal)
    json_lines = cli("--log-level", "debug", "--log-format", "json", "diff", str(repo),
                     "--output", "json").output
    assert '"op": "change"' in json_lines
    assert_no_secret("diff with JSON logs", json_lines)
    plain = cli("--log-level", "debug", "--log-format", "console", "apply", str(repo)).output
    assert "vault-app: configured" in plain
    assert_no_secret("apply with plain logs", plain)


def test_import_warns_by_name_never_by_value(aws: EmbeddedAws, tmp_path: Path) -> None:
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.create_cluster(clusterName="legacy")
    ecs.register_task_definition(
        family="legacy-web", networkMode="awsvpc", requiresCompatibilities=["FARGATE"],
        cpu="256", memory="512", containerDefinitions=[{
            "name": "web", "image": f"nginx@{DIGEST}", "environment": [
                {"name": "SETTING_A", "value": AWS_SECRET},
                {"name": "DATABASE_URL", "value": f"postgres://u:{PASSWORD}@db/x"},
                {"name": "TOPIC", "value": TOPIC}]}])
    ecs.create_service(cluster="legacy", serviceName="web", taskDefinition="legacy-web",
                       desiredCount=1, launchType="FARGATE")
    out = tmp_path / "imported"
    result = cli("import", "--cluster", "legacy", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert_no_secret("import", result.output)
    warned = [ln for ln in result.output.splitlines() if ln.startswith("warning:")]
    named = " ".join(warned)
    assert len(warned) == 2 and "environment[SETTING_A]" in named \
        and "environment[DATABASE_URL]" in named and "TOPIC" not in named
    assert "secrets" in warned[0]  # and how to move it
    written = "".join(p.read_text() for p in out.rglob("*.yaml"))
    assert AWS_SECRET in written  # the manifests stay diff-clean; the warning says so
    assert cli("diff", str(out)).exit_code == 0


def test_controller_status_page_metrics_logs_and_slack_never_show_a_secret(
    repo: Path, git_remote: tuple[Path, Path], aws: EmbeddedAws, slack: SlackReceiver,
    tmp_path: Path
) -> None:
    bare, _ = git_remote
    replica = Replica.start(
        "vault", ["--repo", str(bare), "--path", "manifests", "--resync", "0.5",
                  "--fetch-interval", "3600"], AwsProxy(aws.url), tmp_path,
        env={"SLACK_WEBHOOK_URL": slack.webhook_url, "RECONCILER_STATUS_TOKEN": "",
             "RECONCILER_LOG_LEVEL": "debug"})
    try:
        wait_until(lambda: replica.get("/readyz")[0] == 200, 90, "the first sync")
        # someone rotates the key in the schedule's override by hand: drift, with both
        # values in the alert's fields
        events = boto3.client("events", region_name=REGION)
        [target] = events.list_targets_by_rule(Rule="vault-nightly")["Targets"]
        target["Input"] = target["Input"].replace(AWS_SECRET, ROTATED)
        events.put_targets(Rule="vault-nightly", Targets=[target])
        wait_until(lambda: any("drifted" in t for t in slack.texts()), 60, "the drift alert")
        status, body = replica.get("/status")
        document = json.loads(body)
        drifted = next(r for r in document["resources"] if r["name"] == "vault-nightly")
        assert status == 200 and drifted["drift"]
        page = replica.get("/")[1].decode()
        metrics = replica.get("/metrics")[1].decode()
        assert "vault-nightly" in page and "reconciler_drift_resources" in metrics
        for where, text in (("/status", body.decode()), ("the page", page),
                            ("/metrics", metrics), ("Slack", json.dumps(slack.accepted))):
            assert_no_secret(where, text)
    finally:
        replica.stop()
    logs = replica.log_path.read_text()
    assert '"event": "pass.done"' in logs
    assert_no_secret("the controller's JSON logs", logs)
