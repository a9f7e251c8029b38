"""The controller tells an operator the truth (issue 12), with real parts: a bare git remote
(moved away, or replaced by one that hangs), moto behind a loopback proxy that can hold a
pass mid-apply, a Slack receiver, two replicas on a DynamoDB lease, and the controller's
own HTTP server. /healthz is the loop turning, never "the pass is long"; /readyz waits for
the replica's own first sync and says leader or standby; a git outage is one alert, one
recovery, a status and metrics; a hanging git times out without printing credentials; an
owned resource that left git is `orphaned` everywhere; webhooks are deduplicated and a
standby hands them to the leader, and says when it leads."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import structlog

from reconciler.aws.client import Aws
from reconciler.controller.lease import Lease
from reconciler.controller.loop import Controller, Settings
from reconciler.edges.git import GitSource
from reconciler.edges.http import make_app, sign, start
from reconciler.edges.slack import Notifier, WebhookSink
from reconciler.embedded import EmbeddedAws
from tests.conftest import SlackReceiver, cli, push, write
from tests.support_hardening import AwsProxy, HangingRemote, create_lease_table, http_get

SECRET = "webhook-secret"
CLUSTERS = ("truth-a", "truth-b")
NEVER = 1e9  # no timer-driven pass: every pass in these tests is asked for


def cluster(name: str) -> str:
    return f"apiVersion: reconciler/v1\nkind: Cluster\nmetadata: {{name: {name}}}\nspec: {{}}\n"


@pytest.fixture
def remote(git_remote: tuple[Path, Path], aws: EmbeddedAws) -> tuple[Path, Path]:
    bare, work = git_remote
    write(work, "manifests/reconciler.yaml", "controller: truth\n")
    for name in CLUSTERS:
        write(work, f"manifests/{name}.yaml", cluster(name))
    push(work, "two clusters")
    return bare, work


class Clock:
    """The monotonic clock, plus what the test adds: an hour-long pass without the hour."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset


@dataclass
class Served:
    controller: Controller
    port: int
    task: asyncio.Task[None]
    runner: Any
    slack: SlackReceiver
    extra: dict[str, Any] = field(default_factory=dict)

    async def get(self, path: str) -> tuple[int, Any]:
        status, body = await asyncio.to_thread(http_get, f"http://127.0.0.1:{self.port}{path}")
        text = body.decode()
        return status, json.loads(text) if text.startswith(("{", "[")) else text

    async def webhook(self, delivery: str, ref: str = "refs/heads/main") -> tuple[int, Any]:
        import urllib.error
        import urllib.request

        body = json.dumps({"ref": ref}).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/webhooks/github", data=body, method="POST",
            headers={"X-GitHub-Event": "push", "X-GitHub-Delivery": delivery,
                     "X-Hub-Signature-256": sign(SECRET, body),
                     "Content-Type": "application/json"})

        def send() -> tuple[int, Any]:
            try:
                with urllib.request.urlopen(req, timeout=10) as resp:
                    return resp.status, json.loads(resp.read())
            except urllib.error.HTTPError as exc:
                return exc.code, json.loads(exc.read())

        return await asyncio.to_thread(send)

    def metric(self, text: str, line: str) -> float | None:
        for ln in text.splitlines():
            if ln.startswith(line + " "):
                return float(ln.rsplit(" ", 1)[1])
        return None

    async def stop(self) -> None:
        self.controller.stop()
        await asyncio.wait_for(self.task, 30)
        await self.runner.cleanup()


async def serve(source: Any, slack: SlackReceiver, aws: Aws | None = None,
                lease: Lease | None = None, clock: Callable[[], float] = time.monotonic
                ) -> Served:
    controller = Controller(source, aws or Aws(),
                            Notifier(WebhookSink(slack.webhook_url), backoff_base=0.01),
                            Settings(resync_interval=NEVER, fetch_interval=NEVER), lease,
                            clock=clock)
    runner, port = await start(make_app(controller, SECRET, "main"), "127.0.0.1", 0)
    if lease is not None:
        lease.url = f"http://127.0.0.1:{port}"
    return Served(controller, port, asyncio.create_task(controller.run()), runner, slack)


async def until(condition: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    """A hang guard, not a timing assertion."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what or 'condition'} not reached")
        await asyncio.sleep(0.01)


@pytest.fixture
async def served(remote: tuple[Path, Path], tmp_path: Path, slack: SlackReceiver
                 ) -> AsyncIterator[Served]:
    bare, _ = remote
    s = await serve(GitSource(str(bare), "main", "manifests", workdir=tmp_path / "co"), slack)
    await until(lambda: s.controller.synced, what="the first sync")
    yield s
    await s.stop()


async def test_healthz_beats_through_a_long_pass_and_readyz_waits_for_the_first_sync(
    remote: tuple[Path, Path], aws: EmbeddedAws, tmp_path: Path, slack: SlackReceiver
) -> None:
    bare, _ = remote
    proxy = AwsProxy(aws.url)
    proxy.release.clear()  # the first pass stops mid-apply until the test lets it go on
    clock = Clock()
    s = await serve(GitSource(str(bare), "main", "manifests", workdir=tmp_path / "co"), slack,
                    Aws(endpoint_url=proxy.url), clock=clock)
    try:
        await until(lambda: bool(proxy.writes()), what="the first write")
        status, body = await s.get("/readyz")
        assert (status, body["role"], body["ready"]) == (503, "leader", False)
        assert body["reason"] == "first sync not completed yet"
        clock.offset += 3600  # the pass has now been running for an hour
        jumped = clock()
        await until(lambda: s.controller.heartbeat >= jumped, what="a heartbeat")
        status, body = await s.get("/healthz")
        assert status == 200 and body["ok"] and body["passRunningSeconds"] >= 3600
        proxy.release.set()
        await until(lambda: s.controller.synced, what="the first sync")
        status, body = await s.get("/readyz")
        assert (status, body) == (200, {"ready": True, "role": "leader", "reason": "synced"})
        status, body = await s.get("/healthz")
        assert status == 200 and body["passRunningSeconds"] is None
    finally:
        proxy.release.set()
        await s.stop()
        proxy.close()


async def test_a_git_outage_is_one_alert_one_recovery_a_status_and_metrics(
    served: Served, remote: tuple[Path, Path]
) -> None:
    bare, _ = remote
    c = served.controller
    moved = bare.with_name("moved.git")
    bare.rename(moved)
    for n in (1, 2, 3):
        c.request_fetch()
        await until(lambda n=n: c.source_health.errors.get("not_found", 0) == n,  # type: ignore[misc]
                    what=f"fetch error {n}")
    await asyncio.wait_for(c.notifier.flush(), 30)
    status, doc = await served.get("/status")
    source = doc["source"]
    assert status == 200 and source["ok"] is False and source["failingSince"]
    assert source["lastError"].startswith("git fetch failed (not_found): ")
    assert source["errors"] == {"not_found": 3} and source["lastSuccess"]
    _, metrics = await served.get("/metrics")
    assert served.metric(metrics, 'reconciler_source_errors_total{kind="not_found"}') == 3
    assert served.metric(metrics, "reconciler_source_up") == 0
    assert (served.metric(metrics, "reconciler_source_last_success_timestamp_seconds") or 0) > 0
    # the replica still serves, and says it is synced on the revision it has
    assert (await served.get("/healthz"))[0] == 200 and (await served.get("/readyz"))[0] == 200

    moved.rename(bare)
    c.request_fetch()
    await until(lambda: c.source_health.ok, what="the source back")
    await asyncio.wait_for(c.notifier.flush(), 30)
    texts = served.slack.texts()
    failed = [t for t in texts if "Cannot read the git source" in t]
    recovered = [t for t in texts if "git source is readable again" in t]
    assert len(failed) == 1 and len(recovered) == 1, texts
    assert "git fetch failed (not_found)" in failed[0]
    _, metrics = await served.get("/metrics")
    assert served.metric(metrics, "reconciler_source_up") == 1
    assert (await served.get("/status"))[1]["source"]["ok"] is True


async def test_a_hanging_git_remote_times_out_as_a_source_error_without_its_credentials(
    aws: EmbeddedAws, tmp_path: Path, slack: SlackReceiver
) -> None:
    password = "hunter2-token"
    hanging = HangingRemote(password)
    with structlog.testing.capture_logs() as logs:
        s = await serve(GitSource(hanging.url, "main", "manifests", workdir=tmp_path / "co",
                                  timeout=0.5), slack)
        try:
            await until(lambda: s.controller.source_health.errors.get("timeout", 0) >= 1,
                        what="a timed-out fetch")
            await asyncio.wait_for(s.controller.notifier.flush(), 30)
            assert (await s.get("/healthz"))[0] == 200  # the loop turned while git hung
            _, doc = await s.get("/status")
            _, metrics = await s.get("/metrics")
        finally:
            await s.stop()
            hanging.close()
    error = doc["source"]["lastError"]
    assert error == "git fetch failed (timeout): no answer within 0.5 s"
    assert s.metric(metrics, 'reconciler_source_errors_total{kind="timeout"}') == 1
    [alert] = [t for t in slack.texts() if "Cannot read the git source" in t]
    assert "git fetch failed (timeout)" in alert
    for where, text in (("/status", json.dumps(doc)), ("/metrics", metrics),
                        ("Slack", json.dumps(slack.accepted)), ("logs", json.dumps(logs))):
        assert password not in text, where
    assert any(e["event"] == "source.failed" and e["kind"] == "timeout" for e in logs)


async def test_an_owned_resource_left_git_with_prune_off_is_orphaned_everywhere(
    served: Served, remote: tuple[Path, Path]
) -> None:
    _, work = remote
    (work / "manifests/truth-b.yaml").unlink()
    push(work, "truth-b leaves git")
    c = served.controller
    c.request_fetch()
    await until(lambda: c.metrics.orphaned._value.get() == 1, what="an orphan")
    _, doc = await served.get("/status")
    [orphan] = [r for r in doc["resources"] if r["name"] == "truth-b"]
    assert orphan["state"] == "Orphaned" and "prune is off" in orphan["held"]
    _, metrics = await served.get("/metrics")
    assert served.metric(metrics, "reconciler_orphaned_resources") == 1

    text = await asyncio.to_thread(cli, "diff", str(work / "manifests"))
    assert text.exit_code == 0  # nothing to change: prune is off
    assert "? Cluster/truth-b (orphaned" in text.output
    as_json = await asyncio.to_thread(cli, "diff", str(work / "manifests"), "--output", "json")
    assert [o["name"] for o in json.loads(as_json.output)["orphaned"]] == ["truth-b"]


async def test_webhooks_are_deduplicated_and_a_standby_hands_them_to_the_leader(
    remote: tuple[Path, Path], tmp_path: Path, slack: SlackReceiver
) -> None:
    bare, work = remote
    create_lease_table("truth-lease")
    replicas: list[Served] = []
    try:
        for name in ("leader", "standby"):
            aws = Aws()
            lease = Lease(aws, "truth-lease", "truth", name, 5.0)
            replicas.append(await serve(
                GitSource(str(bare), "main", "manifests", workdir=tmp_path / name), slack,
                aws, lease))
            if name == "leader":
                await until(lambda: replicas[0].controller.synced, what="the leader synced")
        leader, standby = replicas
        await until(lambda: standby.controller.lease is not None
                    and standby.controller.lease.healthy, what="the standby on the lease")
        status, body = await standby.get("/readyz")
        assert (status, body) == (200, {"ready": True, "role": "standby",
                                        "reason": "lease table reachable"})

        write(work, "manifests/truth-c.yaml", cluster("truth-c"))
        sha = push(work, "truth-c")
        status, body = await standby.webhook("delivery-1")
        assert (status, body["status"]) == (202, "forwarded to the leader")
        await until(lambda: leader.controller.applied_revision == sha,
                    what="the leader applying the forwarded push")
        assert standby.controller.applied_revision is None  # a standby never writes
        # GitHub redelivers: the same delivery, to either replica, is handled once
        for replica in (leader, standby):
            status, body = await replica.webhook("delivery-1")
            assert (status, body["status"]) == (200, "duplicate delivery: already handled")

        def outcomes(text: str) -> dict[str, float]:
            out = {}
            for ln in text.splitlines():
                if ln.startswith("reconciler_webhook_deliveries_total{"):
                    out[ln.split('"')[1]] = float(ln.rsplit(" ", 1)[1])
            return out

        assert outcomes((await leader.get("/metrics"))[1]) == {"triggered": 1, "duplicate": 1}
        assert outcomes((await standby.get("/metrics"))[1]) == {"forwarded": 1, "duplicate": 1}

        # a leader change: the standby says it leads once it does, and ready once it synced
        assert standby.metric((await standby.get("/metrics"))[1], "reconciler_leader") == 0
        await leader.stop()
        replicas.remove(leader)
        await until(standby.controller.is_leader, what="the standby taking over")
        await until(lambda: standby.controller.synced, what="the new leader's own sync")
        status, body = await standby.get("/readyz")
        assert (status, body) == (200, {"ready": True, "role": "leader", "reason": "synced"})
        assert standby.metric((await standby.get("/metrics"))[1], "reconciler_leader") == 1
    finally:
        for r in replicas:
            await r.stop()
