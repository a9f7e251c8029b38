"""Slack delivery against a local receiver that answers like Slack (200, 429, 500)."""

from __future__ import annotations

import asyncio

from reconciler.edges.slack import Alert, BotSink, Notifier, WebhookSink
from tests.conftest import SlackReceiver


async def _deliver(notifier: Notifier, alerts: list[Alert]) -> None:
    worker = asyncio.create_task(notifier.run())
    for a in alerts:
        notifier.send(a)
    await asyncio.wait_for(notifier.flush(), 30)
    worker.cancel()


def test_429_then_500_then_200_every_message_once_in_order(slack: SlackReceiver) -> None:
    slack.script = [429, 500, 200, 500, 200]
    notifier = Notifier(WebhookSink(slack.webhook_url), backoff_base=0.01)
    alerts = [Alert("drift", f"message {i}") for i in range(4)]
    asyncio.run(_deliver(notifier, alerts))
    assert slack.texts() == ["message 0", "message 1", "message 2", "message 3"]
    assert [s for s, _ in slack.attempts] == [429, 500, 200, 500, 200, 200, 200]


def test_messages_wait_while_slack_is_down_and_go_out_oldest_first(slack: SlackReceiver) -> None:
    slack.script = [500] * 6
    notifier = Notifier(WebhookSink(slack.webhook_url), backoff_base=0.001)

    async def scenario() -> None:
        worker = asyncio.create_task(notifier.run())
        for i in range(3):
            notifier.send(Alert("drift", f"m{i}"))
            await asyncio.sleep(0)  # the loop is never blocked by sending
        await asyncio.wait_for(notifier.flush(), 30)
        worker.cancel()

    asyncio.run(scenario())
    assert slack.texts() == ["m0", "m1", "m2"]


def test_send_never_blocks_and_capacity_drops_oldest() -> None:
    class Never:
        async def send(self, alert: Alert) -> None:
            raise AssertionError("not called: the worker is not running")

    notifier = Notifier(Never(), capacity=2)
    for i in range(3):
        notifier.send(Alert("x", str(i)))
    assert [a.title for a in notifier.queue] == ["1", "2"] and notifier.dropped == 1


def test_bot_token_posts_once_then_updates_and_threads(slack: SlackReceiver) -> None:
    sink = BotSink("xoxb-test", "C123", base_url=slack.api_url)
    notifier = Notifier(sink, backoff_base=0.01)
    alerts = [Alert("drift", "drifted", thread="drift:svc"),
              Alert("reminder", "still drifted", thread="drift:svc"),
              Alert("resolved", "resolved", thread="drift:svc")]
    asyncio.run(_deliver(notifier, alerts))
    paths = [m["path"] for m in slack.accepted]
    assert paths == ["/api/chat.postMessage", "/api/chat.update", "/api/chat.postMessage",
                     "/api/chat.update", "/api/chat.postMessage"]
    ts = slack.accepted[0]["ts_assigned"]
    assert all(m.get("ts") == ts for m in slack.accepted if m["path"].endswith("update"))
    assert all(m.get("thread_ts") == ts for m in slack.accepted[1:]
               if m["path"].endswith("postMessage"))


def test_bot_token_rate_limit_is_retried(slack: SlackReceiver) -> None:
    slack.script = [429]
    slack.retry_after = "0"
    notifier = Notifier(BotSink("xoxb-test", "C123", base_url=slack.api_url), backoff_base=0.01)
    asyncio.run(_deliver(notifier, [Alert("drift", "one")]))
    assert slack.texts() == ["one"]


def test_secrets_are_masked_in_messages() -> None:
    alert = Alert("drift", "x", ("url postgres://admin:hunter2@db/x",))
    assert "hunter2" not in alert.text
