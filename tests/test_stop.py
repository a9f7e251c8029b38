"""SIGTERM leaves nothing said half-way: alerts still queued when the controller stops are
delivered first (bounded, so a Slack outage cannot hold the shutdown)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from reconciler.aws.client import Aws
from reconciler.controller.loop import Controller, Settings
from reconciler.edges.git import LocalSource
from reconciler.edges.slack import Alert, Notifier
from reconciler.embedded import EmbeddedAws
from tests.conftest import write


class SlowSink:
    """A Slack that answers, slowly."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.sent = seconds, []  # type: ignore[var-annotated]

    async def send(self, alert: Alert) -> None:
        await asyncio.sleep(self.seconds)
        self.sent.append(alert.title)


def controller(root: Path, sink: SlowSink, flush: float) -> Controller:
    return Controller(LocalSource(root), Aws(), Notifier(sink),
                      Settings(resync_interval=3600, fetch_interval=3600, flush_on_stop=flush))


async def stop_with_alerts_queued(ctl: Controller) -> None:
    running = asyncio.create_task(ctl.run())
    while not ctl.synced:
        await asyncio.sleep(0.01)
    for i in range(3):
        ctl.alert(Alert("test", f"alert {i}"))
    ctl.stop()
    await asyncio.wait_for(running, 30)


def test_alerts_queued_at_sigterm_are_delivered_before_the_controller_stops(
        tmp_path: Path, aws: EmbeddedAws) -> None:
    write(tmp_path, "reconciler.yaml", "controller: stop-test\n")
    sink = SlowSink(0.05)
    asyncio.run(stop_with_alerts_queued(controller(tmp_path, sink, flush=5.0)))
    assert sink.sent == ["alert 0", "alert 1", "alert 2"]


def test_a_slack_that_does_not_answer_does_not_hold_the_shutdown(
        tmp_path: Path, aws: EmbeddedAws) -> None:
    write(tmp_path, "reconciler.yaml", "controller: stop-test\n")
    sink = SlowSink(3600)
    asyncio.run(stop_with_alerts_queued(controller(tmp_path, sink, flush=0.2)))
    assert sink.sent == []
