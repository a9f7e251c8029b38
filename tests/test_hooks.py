"""Hooks against the embedded default: the moto server runs the tasks (the task simulation,
on the embedded clock the tests move), the controller alerts a real local Slack receiver.
The acceptance criteria of issue 13 for PreSync hooks, one test each."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import boto3
from click.testing import Result as CliResult

from reconciler.aws.client import Aws
from reconciler.controller.hooks import HooksExtension
from reconciler.controller.loop import Controller, Settings
from reconciler.core.hooks import HOOK_TAG, Record
from reconciler.core.vocab import Health, Hold, Result, RunState
from reconciler.edges.git import LocalSource
from reconciler.edges.slack import Notifier, WebhookSink
from reconciler.embedded import EmbeddedAws
from reconciler.embedded.clock import CLOCK
from reconciler.kinds import load_tree
from reconciler.sync.run import Options, run
from tests.conftest import REGION, SlackReceiver, cli, cli_json
from tests.support_hooks import (
    deliver,
    embedded_now,
    fast_clock,
    seed,
    sleep_on_embedded_clock,
    wait_for,
    write_estate,
)


async def acli(*args: str) -> CliResult:
    """The CLI from an async test (it runs its own event loop)."""
    return await asyncio.to_thread(cli, *args)


async def acli_json(*args: str) -> tuple[int, Any]:
    return await asyncio.to_thread(cli_json, *args)


def controller(root: Path, slack: SlackReceiver) -> Controller:
    """A controller on the local directory that does not wait for hooks inside a pass: each
    pass looks where the hook is and the next one carries on (as after a restart)."""
    return Controller(LocalSource(root), Aws(), Notifier(WebhookSink(slack.webhook_url),
                                                         backoff_base=0.01),
                      Settings(resync_interval=3600, fetch_interval=3600, hook_wait=0))


def _record() -> Record | None:
    tags = boto3.client("ecs", region_name=REGION).describe_clusters(
        clusters=["c"], include=["TAGS"])["clusters"][0].get("tags", [])
    return Record.from_tag({t["key"]: t["value"] for t in tags}.get(HOOK_TAG + "migrate"))


def _image(ecs: Any) -> str:
    svc = ecs.describe_services(cluster="c", services=["api"])["services"][0]
    td = ecs.describe_task_definition(taskDefinition=svc["taskDefinition"])["taskDefinition"]
    return str(td["containerDefinitions"][0]["image"])


async def test_a_failing_migration_holds_the_service_alerts_once_and_survives_a_restart(
        aws: EmbeddedAws, tmp_path: Path, slack: SlackReceiver) -> None:
    seed(aws)
    root = write_estate(tmp_path / "m", migrate_exit=None)
    assert (await acli("apply", str(root))).exit_code == 0
    write_estate(root, image="app:2", migrate_exit=1)
    first = controller(root, slack)
    started = await first.run_pass()  # starts the migration, leaves it running
    assert started.result is not None
    assert [str(c.hook.state) for c in started.result.plan.runs if c.hook] == ["due"]
    status = {str(k): s for k, s in first.statuses.items()}
    assert status["Service/c/api"].held.startswith("waiting for PreSync hook Job/c/migrate")
    assert status["Job/c/migrate"].health is Health.PROGRESSING
    CLOCK.advance(60)
    report = await first.run_pass(fetch=False)  # sees it stopped: exit 1
    assert report.applied is not None
    [failed] = [o for o in report.applied.outcomes if o.result is Result.FAILED]
    assert "exit 1 from app" in failed.error and "stream app/app/" in failed.error
    record = _record()
    assert record is not None and (record.state, record.exit) == (RunState.FAILED, 1)
    for _ in range(2):
        await first.run_pass(fetch=False)
    await deliver(first)

    restarted = controller(root, slack)  # a new process: nothing remembered but AWS
    report = await restarted.run_pass()
    await deliver(restarted)
    assert report.result is not None
    held = {str(k): v for k, v in report.result.verdicts.items() if v.hold is not None}
    assert held["Service/c/api"].hold is Hold.HOOK_FAILED
    assert held["Service/c/api"].reason == "PreSync hook Job/c/migrate failed (exit 1)"
    for c in (first, restarted):
        assert c.aws.calls["ecs:update_service"] == 0
    assert first.aws.calls["ecs:run_task"] == 1 and restarted.aws.calls["ecs:run_task"] == 0
    ecs = boto3.client("ecs", region_name=REGION)
    assert _image(ecs) == "app:1"
    alerts = [t for t in slack.texts() if "migrate" in t]
    assert len(alerts) == 1, alerts
    assert "Job/c/migrate" in alerts[0] and "exit 1" in alerts[0]
    assert "log group /ecs/app" in alerts[0]
    with fast_clock():  # by hand: it runs again (a new attempt), fails again, holds again
        rerun = await acli("apply", str(root), "--rerun-hooks")
    assert rerun.exit_code == 1 and "Job/c/migrate: failed" in rerun.output
    assert "Service/c/api: held: PreSync hook Job/c/migrate failed" in rerun.output
    record = _record()
    assert record is not None and (record.attempt, record.state) == (2, RunState.FAILED)
    assert _image(ecs) == "app:1"


async def test_a_passing_migration_runs_once_and_the_update_follows(
        aws: EmbeddedAws, tmp_path: Path) -> None:
    """Through the one pass as the CLI runs it: the migration, then the service, then the
    PostSync smoke test; a second apply runs nothing."""
    seed(aws)
    root = write_estate(tmp_path / "m", migrate_exit=None)
    assert (await acli("apply", str(root))).exit_code == 0
    write_estate(root, image="app:2", migrate_exit=0, smoke_exit=0)
    order: list[str] = []
    adapter = Aws()
    await run(load_tree(root), adapter, Options(
        apply=True, revision="b" * 40, sleep=sleep_on_embedded_clock, clock=embedded_now,
        listener=lambda o: order.append(f"{o.change.key}: {o.result}")))
    assert order == ["TaskDefinition/app: configured", "Job/c/migrate: ran",
                     "Service/c/api: configured", "Job/c/smoke: ran"], order
    assert adapter.calls["ecs:run_task"] == 2 and adapter.calls["ecs:update_service"] == 1
    ecs = boto3.client("ecs", region_name=REGION)
    assert _image(ecs) == "app:2"
    with fast_clock():
        again = await acli("apply", str(root))
    assert again.exit_code == 0 and "Nothing to apply." in again.output
    assert len(ecs.list_tasks(cluster="c", desiredStatus="STOPPED")["taskArns"]) == 2
    assert (await acli_json("diff", str(root)))[0] == 0


async def test_a_hook_past_its_timeout_is_stopped_and_fails(
        aws: EmbeddedAws, tmp_path: Path) -> None:
    seed(aws)
    root = write_estate(tmp_path / "m", migrate_exit=None)
    assert (await acli("apply", str(root))).exit_code == 0
    write_estate(root, image="app:2", migrate_exit=0, seconds=7200, timeout=60)
    result = await run(load_tree(root), Aws(), Options(
        apply=True, sleep=sleep_on_embedded_clock, clock=embedded_now))
    assert result.applied is not None
    [job] = [o for o in result.applied.outcomes if o.change.key.kind == "Job"]
    assert job.result is Result.FAILED and "timed out after 60 s" in job.error
    assert "UserInitiated" in job.error
    assert result.verdicts[next(k for k in result.verdicts if k.kind == "Service")].hold \
        is Hold.HOOK_FAILED
    assert _image(boto3.client("ecs", region_name=REGION)) == "app:1"


async def test_the_controller_follows_a_running_hook_between_passes(
        aws: EmbeddedAws, tmp_path: Path, slack: SlackReceiver) -> None:
    """The controller's loop: a pass starts the migration and leaves it running, the hooks
    extension asks for targeted passes until it has stopped, then the update goes."""
    seed(aws)
    root = write_estate(tmp_path / "m", migrate_exit=None)
    assert (await acli("apply", str(root))).exit_code == 0
    write_estate(root, image="app:2", migrate_exit=0)
    c = controller(root, slack)
    hooks = HooksExtension(poll=0.05)
    c.extensions.append(hooks)
    loop = asyncio.create_task(c.run())
    ecs = boto3.client("ecs", region_name=REGION)
    try:
        with fast_clock(speed=500):
            # the call counter moves when a call is issued; the image once AWS has answered
            await wait_for(lambda: c.aws.calls["ecs:update_service"] == 1
                           and _image(ecs) == "app:2", timeout=30)
    finally:
        c.stop()
        await asyncio.wait_for(loop, 30)
    assert c.aws.calls["ecs:run_task"] == 1 and hooks.running == set()
    assert _image(ecs) == "app:2"
    record = _record()
    assert record is not None and record.state is RunState.SUCCEEDED
