"""The controller against real parts on 127.0.0.1: a bare git remote, the moto server, a
local receiver answering like Slack, and the controller's own HTTP server."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from reconciler.aws.client import Aws
from reconciler.controller.loop import Controller, PassReport, Settings
from reconciler.edges.git import GitSource
from reconciler.edges.http import make_app, sign, start
from reconciler.edges.slack import Alert, Notifier, WebhookSink
from reconciler.embedded import EmbeddedAws
from reconciler.embedded.clock import CLOCK
from tests.conftest import EXAMPLES, REGION, SlackReceiver, deliver, push, seed_for, wait_for

SECRET = "s3cret-webhook"


@pytest.fixture
def remote(git_remote: tuple[Path, Path], aws: EmbeddedAws) -> tuple[Path, Path]:
    """The example manifests committed and pushed to a bare remote; their network seeded."""
    bare, work = git_remote
    shutil.copytree(EXAMPLES, work / "manifests")
    push(work, "initial manifests")
    seed_for(aws, work / "manifests")
    return bare, work


def make_controller(bare: Path, tmp: Path, slack: SlackReceiver, **settings: Any) -> Controller:
    source = GitSource(str(bare), "main", "manifests", workdir=tmp / "checkout")
    notifier = Notifier(WebhookSink(slack.webhook_url), backoff_base=0.01)
    return Controller(source, Aws(), notifier,
                      Settings(resync_interval=3600, fetch_interval=3600, **settings))


def set_config(work: Path, **values: Any) -> None:
    path = work / "manifests/reconciler.yaml"
    text = path.read_text()
    for key, value in values.items():
        text += f"{key}: {json.dumps(value)}\n"
    path.write_text(text)




def http(url: str, body: bytes | None = None, headers: dict[str, str] | None = None
         ) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, headers=headers or {},
                                 method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture
async def served(remote: tuple[Path, Path], tmp_path: Path, slack: SlackReceiver
                 ) -> AsyncIterator[tuple[Controller, int, Path]]:
    """A controller running on the remote, serving HTTP, after its first pass."""
    bare, work = remote
    controller = make_controller(bare, tmp_path, slack)
    app = make_app(controller, SECRET, "main")
    runner, port = await start(app, "127.0.0.1", 0)
    task = asyncio.create_task(controller.run())
    await wait_for(lambda: controller.ready)
    yield controller, port, work
    controller.stop()
    await asyncio.wait_for(task, 30)
    await runner.cleanup()




def webhook(port: int, ref: str = "refs/heads/main", secret: str = SECRET,
            signature: str | None = None) -> tuple[int, bytes]:
    body = json.dumps({"ref": ref, "after": "0" * 40}).encode()
    headers = {"X-GitHub-Event": "push", "Content-Type": "application/json"}
    if signature != "":  # "" means: send no signature at all
        headers["X-Hub-Signature-256"] = signature or sign(secret, body)
    return http(f"http://127.0.0.1:{port}/webhooks/github", body, headers)


async def test_signed_webhook_push_is_applied_by_the_next_pass_not_the_next_poll(
    served: tuple[Controller, int, Path], record_property: Any
) -> None:
    """A signed push webhook starts a pass at once: the first AWS write comes after the
    webhook, in the first pass after it, with the poll and the resync an hour away, and the
    commit is recorded on what it applied (the latency is recorded, not asserted)."""
    controller, port, work = served
    path = work / "manifests/apps/worker/service.yaml"
    path.write_text(path.read_text().replace("desiredCount: 1", "desiredCount: 2"))
    sha = push(work, "scale the worker")
    reports: list[PassReport] = []
    controller.on_pass = reports.append
    controller.aws.first_write_at = None
    passes = controller.passes
    sent = time.monotonic()
    status, _ = await asyncio.to_thread(webhook, port)
    assert status == 202
    await wait_for(lambda: controller.aws.first_write_at is not None)
    first_write = controller.aws.first_write_at
    assert first_write is not None and first_write > sent
    latency = first_write - sent
    record_property("webhook_to_first_write_seconds", round(latency, 3))
    print(f"webhook -> first AWS write: {latency * 1000:.0f} ms")
    await wait_for(lambda: controller.applied_revision == sha)
    # the write was made by the first pass after the webhook: nothing else was due
    assert controller.settings.fetch_interval == controller.settings.resync_interval == 3600
    assert reports and reports[0].revision == sha and reports[0].new_revision
    assert reports[0].wrote and reports[0].trigger == "fetch"
    assert controller.passes == passes + len(reports)
    ecs = boto3.client("ecs", region_name=REGION)
    svc = ecs.describe_services(cluster="accounting-prd", services=["accounting-worker"],
                                include=["TAGS"])["services"][0]
    assert svc["desiredCount"] == 2
    tags = {t["key"]: t["value"] for t in svc["tags"]}
    assert tags["reconciler:revision"] == sha  # the commit is recorded on what it applied


async def test_bad_signature_gets_401_and_triggers_nothing(
    served: tuple[Controller, int, Path]
) -> None:
    """A wrong or missing signature gets 401, an oversized body 413, and neither (nor a push
    to another branch) starts a pass."""
    controller, port, work = served
    path = work / "manifests/apps/worker/service.yaml"
    path.write_text(path.read_text().replace("desiredCount: 1", "desiredCount: 2"))
    push(work, "not announced properly")
    passes = controller.passes
    assert (await asyncio.to_thread(webhook, port, secret="wrong"))[0] == 401
    assert (await asyncio.to_thread(webhook, port, signature=""))[0] == 401
    body = b"x" * (1024 * 1024 + 10)
    status, _ = await asyncio.to_thread(
        http, f"http://127.0.0.1:{port}/webhooks/github", body,
        {"X-GitHub-Event": "push", "X-Hub-Signature-256": sign(SECRET, body)})
    assert status == 413
    await asyncio.sleep(0)
    assert controller.passes == passes and not controller._fetch_now.is_set()
    assert (await asyncio.to_thread(webhook, port, ref="refs/heads/other"))[0] == 202
    assert controller.passes == passes and not controller._fetch_now.is_set()


async def test_health_ready_metrics_status(served: tuple[Controller, int, Path]) -> None:
    """/healthz, /readyz, /metrics (every metric family) and /status (every resource, in
    sync after the first pass) answer."""
    controller, port, _ = served
    base = f"http://127.0.0.1:{port}"
    assert (await asyncio.to_thread(http, f"{base}/healthz"))[0] == 200
    assert (await asyncio.to_thread(http, f"{base}/readyz"))[0] == 200
    status, body = await asyncio.to_thread(http, f"{base}/metrics")
    text = body.decode()
    assert status == 200
    for metric in ("reconciler_pass_duration_seconds", 'reconciler_resources{state="Synced"}',
                   "reconciler_drift_resources", "reconciler_aws_api_calls_total",
                   "reconciler_last_applied_revision_info",
                   "reconciler_last_applied_timestamp_seconds",
                   "reconciler_aws_paced_seconds_total",
                   'reconciler_resource_health{health="Healthy"}',
                   'reconciler_resource_health{health="Degraded"} 0.0'):
        assert metric in text, metric
    healthy = {h: float(v) for h, v in re.findall(
        r'^reconciler_resource_health\{health="(\w+)"\} (\S+)$', text, re.M)}
    synced = {st: float(v) for st, v in re.findall(
        r'^reconciler_resources\{state="(\w+)"\} (\S+)$', text, re.M)}
    assert sum(healthy.values()) == sum(synced.values()) == len(controller.statuses)
    assert 'operation="ecs:describe_services"' in text
    status, body = await asyncio.to_thread(http, f"{base}/status")
    data = json.loads(body)
    assert data["revision"] == controller.last_good.sha  # type: ignore[union-attr]
    states = {(r["kind"], r["name"]): r["state"] for r in data["resources"]}
    assert states[("Cluster", "accounting-prd")] == "Synced"
    assert set(states.values()) <= {"Synced", "Progressing"}
    assert len(states) == len(controller.last_tree.manifests)  # type: ignore[union-attr]


async def test_invalid_commit_applies_nothing_and_alerts_once(
    remote: tuple[Path, Path], tmp_path: Path, slack: SlackReceiver
) -> None:
    """A commit with an invalid manifest applies nothing of it (the last good revision
    stays) over five passes, and Slack is told once, with the commit and the error."""
    bare, work = remote
    controller = make_controller(bare, tmp_path, slack)
    first = await controller.run_pass(fetch=True)
    good = first.revision
    path = work / "manifests/apps/worker/service.yaml"
    path.write_text(path.read_text().replace("desiredCount: 1", "desiredCount: 4"))
    (work / "manifests/broken.yaml").write_text(
        "apiVersion: reconciler/v1\nkind: Service\nmetadata: {name: x, cluster: c}\n"
        "spec: {desiredCount: lots}\n")
    bad = push(work, "a valid change and an invalid manifest")
    writes_before = sum(n for op, n in controller.aws.calls.items()
                        if not op.split(":")[1].startswith(("describe", "list", "get")))
    for _ in range(5):
        report = await controller.run_pass(fetch=True)
        assert report.invalid and not report.wrote
    writes_after = sum(n for op, n in controller.aws.calls.items()
                       if not op.split(":")[1].startswith(("describe", "list", "get")))
    assert writes_after == writes_before
    assert controller.last_good.sha == good  # type: ignore[union-attr]
    ecs = boto3.client("ecs", region_name=REGION)
    svc = ecs.describe_services(cluster="accounting-prd", services=["accounting-worker"])
    assert svc["services"][0]["desiredCount"] == 1
    await deliver(controller)
    invalid = [t for t in slack.texts() if "invalid" in t]
    assert len(invalid) == 1
    assert bad[:12] in invalid[0] and "broken.yaml:4: Service/x" in invalid[0]


async def test_hand_edit_one_message_over_ten_resyncs_then_resolved(
    remote: tuple[Path, Path], tmp_path: Path, slack: SlackReceiver
) -> None:
    """Without selfHeal a hand edit is drift on every resync but not healed, and Slack gets
    one message over ten resyncs, then one "resolved" when it is reverted by hand."""
    bare, _ = remote
    controller = make_controller(bare, tmp_path, slack)
    await controller.run_pass(fetch=True)
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.update_service(cluster="accounting-prd", service="accounting-worker",
                       enableExecuteCommand=False)
    for _ in range(10):
        report = await controller.run_pass(fetch=False)
        assert [str(k) for k in report.drifted] == ["Service/accounting-prd/accounting-worker"]
        assert report.healed == [] and not report.wrote
    await deliver(controller)
    assert len(slack.texts()) == 1
    [message] = slack.texts()
    assert "accounting-worker" in message and "enableExecuteCommand" in message
    assert "not healed" in message
    # reverted by hand: exactly one "resolved"
    ecs.update_service(cluster="accounting-prd", service="accounting-worker",
                       enableExecuteCommand=True)
    for _ in range(3):
        await controller.run_pass(fetch=False)
    await deliver(controller)
    assert len(slack.texts()) == 2 and "resolved" in slack.texts()[1]


async def test_self_heal_reverts_and_says_so_but_never_reverts_autoscaling(
    remote: tuple[Path, Path], tmp_path: Path, slack: SlackReceiver
) -> None:
    """With selfHeal on, a scaling event is never drift (nothing written, no message); a hand
    edit is reverted at the next pass, stays reverted, and Slack is told once."""
    bare, work = remote
    set_config(work, selfHeal=True)
    push(work, "self-heal on")
    controller = make_controller(bare, tmp_path, slack)
    await controller.run_pass(fetch=True)
    ecs = boto3.client("ecs", region_name=REGION)
    ecs.update_service(cluster="accounting-prd", service="accounting-api", desiredCount=7)
    for _ in range(3):
        report = await controller.run_pass(fetch=False)
        assert report.drifted == [] and not report.wrote
    svc = ecs.describe_services(cluster="accounting-prd", services=["accounting-api"])
    assert svc["services"][0]["desiredCount"] == 7
    await deliver(controller)
    assert slack.texts() == []

    ecs.update_service(cluster="accounting-prd", service="accounting-worker",
                       enableExecuteCommand=False)
    report = await controller.run_pass(fetch=False)
    assert [str(k) for k in report.healed] == ["Service/accounting-prd/accounting-worker"]
    svc = ecs.describe_services(cluster="accounting-prd", services=["accounting-worker"])
    assert svc["services"][0]["enableExecuteCommand"] is True
    for _ in range(5):
        assert (await controller.run_pass(fetch=False)).drifted == []
    await deliver(controller)
    [message] = slack.texts()
    assert "healed" in message and "accounting-worker" in message


async def test_self_heal_can_be_set_per_manifest(
    remote: tuple[Path, Path], tmp_path: Path, slack: SlackReceiver
) -> None:
    """selfHeal on one manifest heals that resource only; the other's drift is reported."""
    bare, work = remote
    path = work / "manifests/apps/worker/service.yaml"
    path.write_text(path.read_text().replace("  labels: {team: accounting, app: worker}",
                                             "  labels: {team: accounting, app: worker}\n"
                                             "  selfHeal: true"))
    push(work, "self-heal the worker only")
    controller = make_controller(bare, tmp_path, slack)
    await controller.run_pass(fetch=True)
    ecs = boto3.client("ecs", region_name=REGION)
    for name in ("accounting-worker", "accounting-api"):
        ecs.update_service(cluster="accounting-prd", service=name, propagateTags="TASK_DEFINITION")
    report = await controller.run_pass(fetch=False)
    assert [str(k) for k in report.healed] == ["Service/accounting-prd/accounting-worker"]
    assert len(report.drifted) == 2


async def test_observe_mode_never_writes(
    remote: tuple[Path, Path], tmp_path: Path, slack: SlackReceiver
) -> None:
    """In observe mode a pass makes no write call and every resource is OutOfSync."""
    bare, work = remote
    set_config(work, mode="observe")
    push(work, "shadow mode")
    controller = make_controller(bare, tmp_path, slack)
    report = await controller.run_pass(fetch=True)
    assert not report.wrote
    writes = [op for op in controller.aws.calls
              if not op.split(":")[1].startswith(("describe", "list", "get"))]
    assert writes == []
    assert {s.state for s in controller.statuses.values()} == {"OutOfSync"}


async def test_failing_resource_backs_off_and_does_not_block_others(
    remote: tuple[Path, Path], tmp_path: Path, slack: SlackReceiver
) -> None:
    """A service that cannot be created fails alone (Degraded, with the error), is not
    retried within its backoff, and is alerted once; the others are created."""
    bare, work = remote
    path = work / "manifests/apps/worker/service.yaml"
    path.write_text(path.read_text().replace("sg-0a1b2c3d4e5f60002", "sg-0000000000000dead"))
    push(work, "a security group that does not exist")
    controller = make_controller(bare, tmp_path, slack)
    report = await controller.run_pass(fetch=True)
    results = {str(o.change.key): o.result for o in report.applied.outcomes}  # type: ignore[union-attr]
    assert results["Service/accounting-prd/accounting-worker"] == "failed"
    assert results["Service/accounting-prd/accounting-api"] == "created"
    status = controller.statuses[next(k for k in controller.statuses
                                      if k.name == "accounting-worker" and k.kind == "Service")]
    assert status.state == "Degraded" and "sg-0000000000000dead" in status.last_error
    # within the backoff window the failing resource is not retried
    calls = controller.aws.calls["ecs:create_service"]
    await controller.run_pass(fetch=False)
    assert controller.aws.calls["ecs:create_service"] == calls
    await deliver(controller)
    failed = [t for t in slack.texts() if "Apply failed" in t]
    assert len(failed) == 1


async def test_failed_rollout_is_alerted_once(
    remote: tuple[Path, Path], tmp_path: Path, slack: SlackReceiver
) -> None:
    """A deployment failed by the circuit breaker is alerted once over several passes."""
    bare, work = remote
    td = work / "manifests/apps/api/task-definition.yaml"  # its tasks never start (embedded)
    td.write_text(td.read_text().replace(
        "        - {name: LOG_LEVEL, value: info}\n",
        "        - {name: LOG_LEVEL, value: info}\n"
        "        - {name: RECONCILER_SIMULATE, value: fail}\n", 1))
    push(work, "a revision whose tasks fail")
    controller = make_controller(bare, tmp_path, slack)
    await controller.run_pass(fetch=True)
    CLOCK.advance(120)  # the circuit breaker trips; a first deployment has no rollback
    for _ in range(4):
        await controller.run_pass(fetch=False)
    await deliver(controller)
    failed = [t for t in slack.texts() if "circuit breaker" in t]
    assert len(failed) == 1 and "accounting-api" in failed[0]


def test_slack_url_from_secrets_manager(aws: EmbeddedAws, slack: SlackReceiver) -> None:
    """The Slack webhook URL can come from Secrets Manager by ARN."""
    from reconciler.controller.wiring import _secret
    from reconciler.edges.slack import sink_from_environment

    sm = boto3.client("secretsmanager", region_name=REGION)
    arn = sm.create_secret(Name="slack-url", SecretString=slack.webhook_url)["ARN"]
    sink = sink_from_environment({"SLACK_WEBHOOK_SECRET_ARN": arn}, _secret)
    assert isinstance(sink, WebhookSink)
    asyncio.run(sink.send(Alert("x", "via secret")))
    assert slack.texts() == ["via secret"]


async def test_a_replace_not_allowed_is_alerted_as_not_applied_not_failed(
    remote: tuple[Path, Path], tmp_path: Path, slack: SlackReceiver
) -> None:
    """A change the controller holds back (launchType cannot change in place, replace not
    allowed) was never tried: one alert saying it is not applied and why, no "Apply failed";
    what depends on it is held with it."""
    bare, work = remote
    controller = make_controller(bare, tmp_path, slack)
    await controller.run_pass(fetch=True)
    path = work / "manifests/apps/api/service.yaml"
    path.write_text(path.read_text().replace("launchType: FARGATE", "launchType: EC2"))
    push(work, "api on EC2")
    report = await controller.run_pass(fetch=True)
    results = {str(o.change.key): o.result for o in report.applied.outcomes}  # type: ignore[union-attr]
    assert results["Service/accounting-prd/accounting-api"] == "skipped"
    await controller.run_pass(fetch=False)  # said once
    await deliver(controller)
    texts = slack.texts()
    assert not [t for t in texts if "Apply failed" in t]
    [held] = [t for t in texts if "Not applied: Service/accounting-prd/accounting-api" in t]
    assert held.startswith(":warning: Not applied: Service/accounting-prd/accounting-api\n")
    assert "launchType cannot be changed in place; re-run with --allow-replace" in held
    assert boto3.client("ecs", region_name=REGION).describe_services(
        cluster="accounting-prd", services=["accounting-api"])["services"][0][
        "launchType"] == "FARGATE"
