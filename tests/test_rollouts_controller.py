"""The controller following rollouts (controller/rollouts.py) against the embedded default,
its clock moved by hand: a canary is one Slack message updated in place as it moves, seen
in /status and the metrics as it goes; a rolled-back revision is told once, in that same
way, and held rather than deployed again."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reconciler.aws.client import Aws
from reconciler.controller.loop import Controller, Settings
from reconciler.controller.rollouts import Rollouts
from reconciler.core.vocab import Health, Hold
from reconciler.edges.git import LocalSource
from reconciler.edges.http import make_app, start
from reconciler.edges.slack import BotSink, Notifier
from reconciler.embedded import EmbeddedAws
from reconciler.embedded.clock import CLOCK
from reconciler.kinds._rollout import Phase
from tests.conftest import SlackReceiver, deliver
from tests.support_rollouts import CANARY, clock_speed, estate, release


async def _until(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Wait for something the system under test will make true (not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


async def _get(port: int, path: str) -> str:
    def fetch() -> str:
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as resp:
            return str(resp.read().decode())

    return await asyncio.to_thread(fetch)


def _messages(slack: SlackReceiver, needle: str) -> tuple[list[str], list[str]]:
    """The top-level posts and the in-place updates whose text holds `needle`."""
    posts = [str(m["text"]) for m in slack.accepted if m["path"].endswith("chat.postMessage")
             and not m.get("thread_ts") and needle in str(m.get("text"))]
    updates = [str(m["text"]) for m in slack.accepted if m["path"].endswith("chat.update")
               and needle in str(m.get("text"))]
    return posts, updates


async def test_rollouts_move_in_one_message_status_and_metrics_and_a_rollback_is_held(
        aws: EmbeddedAws, tmp_path: Path, slack: SlackReceiver) -> None:
    root = estate(tmp_path / "repo")
    (root / "reconciler.yaml").write_text("controller: reconciler\nselfHeal: true\n")
    follow = Rollouts(interval=0.01)
    controller = Controller(
        LocalSource(root), Aws(), Notifier(BotSink("xoxb-test", "C1", base_url=slack.api_url),
                                           backoff_base=0.01),
        Settings(resync_interval=3600, fetch_interval=3600), extensions=[follow])
    runner, port = await start(make_app(controller, "s", "main"), "127.0.0.1", 0)
    with clock_speed(0):
        await controller.run_pass(fetch=True)  # three services created, their rollouts followed
        assert len(follow.active) == 3
        CLOCK.advance(120)
        await follow.poll(controller)
        assert not follow.active and {r.phase for r in follow.recent} == {Phase.SUCCEEDED}

        release(root, "web", "nginx:1.28")
        await controller.run_pass(fetch=True)
        assert list(follow.active) == [CANARY]
        seen = []
        for seconds in (1, 70, 20, 60, 200, 100, 130, 40):
            CLOCK.advance(seconds)
            await follow.poll(controller)
            seen.append(controller.statuses[CANARY].health_reason)
            if "canary at 10 %" in seen[-1] and len(seen) < 9:
                status = json.loads(await _get(port, "/status"))
                [moving] = status["rollouts"]["active"]
                assert (moving["phase"], moving["traffic"]) == ("shifting traffic", 10.0)
                [web] = [r for r in status["resources"] if (r["kind"], r["name"]) == (
                    "Service", "web")]
                assert (web["health"], web["healthReason"]) == (
                    "Progressing", "canary at 10 % of traffic on web:2")
                metrics = await _get(port, "/metrics")
                assert "reconciler_rollouts_active 1.0" in metrics
                assert ('reconciler_rollout_progress_percent{cluster="rollouts",'
                        'phase="shifting traffic",service="web"} 10.0') in metrics
        assert "canary at 10 % of traffic on web:2" in seen
        assert any(s.startswith("baking: web:2 serves all traffic") for s in seen)
        assert controller.statuses[CANARY].health is Health.HEALTHY
        assert follow.recent[0].phase is Phase.SUCCEEDED and not follow.active
        metrics = controller.metrics.render().decode()
        assert 'reconciler_rollouts_finished_total{phase="succeeded"} 4.0' in metrics

        release(root, "web", "nginx:broken", fail=True)
        await controller.run_pass(fetch=True)
        polling = asyncio.create_task(follow.run(controller))  # the extension's own loop
        def at(phase: Phase) -> Callable[[], bool]:
            return lambda: getattr(follow.active[CANARY].rollout, "phase", None) is phase

        for seconds, phase in ((3, Phase.STARTED), (70, Phase.ROLLING_BACK)):
            CLOCK.advance(seconds)
            await _until(at(phase))
        CLOCK.advance(60)
        await _until(lambda: follow.recent[0].phase is Phase.ROLLED_BACK)
        polling.cancel()
        writes = controller.aws.calls["ecs:update_service"]
        for _ in range(2):  # self-heal is on, yet web:3 is not deployed again
            await controller.run_pass(fetch=False)
        assert controller.aws.calls["ecs:update_service"] == writes
        status = controller.statuses[CANARY]
        assert status.held == str(Hold.ROLLED_BACK) and status.health is Health.DEGRADED
        assert status.health_reason.startswith(
            "rolled back to web:2: circuit breaker: 3 tasks failed (threshold 3); git asks "
            "for web:3 (git revision local-")
    await deliver(controller)
    await runner.cleanup()

    posts, updates = _messages(slack, "Rollout of Service/rollouts/web")
    good = [p for p in posts if "web:2 replacing web:1" in p]
    assert len(good) == 1, posts  # one message per rollout...
    assert any("canary at 10 % of traffic on web:2" in u for u in updates)  # ...moving in place
    assert any("succeeded: web:2 serves all traffic" in u for u in updates)
    bad = [p for p in posts if "web:3" in p]
    assert len(bad) == 1, posts
    told = [u for u in updates if "rolled back to web:2" in u]
    assert len(told) == 1 and "held: the controller does not deploy it again" in told[0]
    texts = " ".join(slack.texts())
    assert "drifted from git" not in texts and "is Degraded" not in texts


def test_the_served_controller_follows_rollouts() -> None:
    from reconciler.controller.wiring import ServeOptions, build

    controller: Any = build(ServeOptions(directory=Path("."), rollout_interval=2.0), Aws())
    [ext] = [e for e in controller.extensions if isinstance(e, Rollouts)]
    assert ext.interval == 2.0
    assert ext.status() == {"active": [], "recent": [], "pollSeconds": 2.0}
