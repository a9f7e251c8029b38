"""Alerts to Slack (or the terminal) from a bounded queue that never blocks the loop.

Messages go out oldest first. Rate limits (429 + Retry-After), 5xx and connection errors are
retried with backoff, head of line, so order is kept; while Slack is down messages wait in the
queue and are sent when it is back. With a bot token, the first message about a thing is
posted and later ones update it in place and follow up in its thread.
"""

from __future__ import annotations

import asyncio
import collections
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from reconciler.core.mask import mask_text

log = structlog.get_logger(__name__)

DEFAULT_CAPACITY = 10_000


@dataclass(frozen=True)
class Alert:
    """One message. `thread` groups the messages about one thing (a drift, a revision)."""

    kind: str
    title: str
    lines: tuple[str, ...] = ()
    thread: str | None = None

    @property
    def text(self) -> str:
        return mask_text("\n".join([self.title, *self.lines]))


class RetryAfter(Exception):
    def __init__(self, seconds: float) -> None:
        super().__init__(f"rate limited; retry after {seconds}s")
        self.seconds = seconds


class TransientError(Exception):
    """Worth retrying: 5xx, connection refused, timeout."""


class PermanentError(Exception):
    """Not worth retrying: a 4xx other than 429 (bad URL, revoked token)."""


class Sink(Protocol):
    async def send(self, alert: Alert) -> None: ...


class TerminalSink:
    """Without Slack: print the alert on stdout, flushed at once (a pipe, a file, systemd),
    so stderr stays the log's, JSON on every line."""

    def __init__(self, write: Callable[[str], Any] | None = None) -> None:
        self._write = write or (lambda s: print(s, file=sys.stdout, flush=True))

    async def send(self, alert: Alert) -> None:
        self._write(f"[alert] {alert.text}")


def _status_error(status: int, headers: Any, body: str) -> Exception | None:
    if status == 429:
        try:
            seconds = float((headers or {}).get("Retry-After", 1))
        except (TypeError, ValueError):
            seconds = 1.0
        return RetryAfter(seconds)
    if status >= 500:
        return TransientError(f"Slack answered {status}")
    if status >= 400:
        return PermanentError(f"Slack answered {status}: {body[:200]}")
    return None


class WebhookSink:
    """A Slack incoming webhook, through slack_sdk's client (its own retries off: ours keep
    order and never block the loop)."""

    def __init__(self, url: str, timeout: int = 10) -> None:
        from slack_sdk.webhook.async_client import AsyncWebhookClient

        self._client = AsyncWebhookClient(url=url, timeout=timeout, retry_handlers=[])

    async def send(self, alert: Alert) -> None:
        try:
            resp = await self._client.send(text=alert.text)
        except (TimeoutError, OSError) as exc:
            raise TransientError(str(exc)) from exc
        except Exception as exc:  # aiohttp's client errors
            raise TransientError(f"{type(exc).__name__}: {exc}") from exc
        error = _status_error(resp.status_code, resp.headers, str(resp.body))
        if error:
            raise error


class BotSink:
    """A Slack app with a bot token: post once per thing, then update that message in place
    and reply in its thread."""

    def __init__(self, token: str, channel: str, base_url: str | None = None) -> None:
        from slack_sdk.web.async_client import AsyncWebClient

        kwargs: dict[str, Any] = {"token": token, "retry_handlers": []}
        if base_url:
            kwargs["base_url"] = base_url
        self._client = AsyncWebClient(**kwargs)
        self._channel = channel
        self.threads: dict[str, str] = {}

    async def _call(self, fn: Callable[..., Awaitable[Any]], **kwargs: Any) -> Any:
        from slack_sdk.errors import SlackApiError

        try:
            return await fn(channel=self._channel, **kwargs)
        except SlackApiError as exc:
            resp = exc.response
            error = _status_error(resp.status_code, resp.headers, str(resp.data))
            raise (error or PermanentError(str(exc))) from exc
        except (TimeoutError, OSError) as exc:
            raise TransientError(str(exc)) from exc
        except Exception as exc:
            raise TransientError(f"{type(exc).__name__}: {exc}") from exc

    async def send(self, alert: Alert) -> None:
        ts = self.threads.get(alert.thread) if alert.thread else None
        if ts is None:
            resp = await self._call(self._client.chat_postMessage, text=alert.text)
            if alert.thread:
                self.threads[alert.thread] = str(resp["ts"])
            return
        await self._call(self._client.chat_update, ts=ts, text=alert.text)
        await self._call(self._client.chat_postMessage, thread_ts=ts, text=alert.text)


@dataclass
class Notifier:
    """Queue + one worker. `send` returns at once; `run` delivers in order."""

    sink: Sink
    capacity: int = DEFAULT_CAPACITY
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    max_retry_after: float = 300.0
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep  # injectable: tests wait for nothing
    queue: collections.deque[Alert] = field(default_factory=collections.deque)
    delivered: list[Alert] = field(default_factory=list)
    dropped: int = 0
    _wake: asyncio.Event | None = None
    _idle: asyncio.Event | None = None

    def _events(self) -> tuple[asyncio.Event, asyncio.Event]:
        if self._wake is None or self._idle is None:
            self._wake, self._idle = asyncio.Event(), asyncio.Event()
            self._idle.set()
        return self._wake, self._idle

    def send(self, alert: Alert) -> None:
        """Enqueue without waiting. At capacity the oldest message is dropped (and counted)."""
        if len(self.queue) >= self.capacity:
            self.queue.popleft()
            self.dropped += 1
            log.warning("notify.dropped", dropped=self.dropped)
        self.queue.append(alert)
        wake, idle = self._events()
        idle.clear()
        wake.set()

    async def run(self) -> None:
        wake, idle = self._events()
        failures = 0
        while True:
            if not self.queue:
                idle.set()
                wake.clear()
                await wake.wait()
                continue
            alert = self.queue[0]
            try:
                await self.sink.send(alert)
            except RetryAfter as exc:
                log.info("notify.rate_limited", retry_after=exc.seconds)
                await self.sleep(min(exc.seconds, self.max_retry_after))
                continue
            except TransientError as exc:
                failures += 1
                delay = min(self.backoff_base * 2 ** (failures - 1), self.backoff_max)
                log.warning("notify.retry", error=str(exc), delay=delay)
                await self.sleep(delay)
                continue
            except PermanentError as exc:
                log.error("notify.rejected", error=str(exc), kind=alert.kind)
            failures = 0
            if self.queue and self.queue[0] is alert:
                self.queue.popleft()
            self.delivered.append(alert)

    async def flush(self) -> None:
        """Wait until everything queued so far was delivered (or rejected)."""
        _wake, idle = self._events()
        await idle.wait()


def sink_from_environment(environ: dict[str, str], aws_secret: Callable[[str], str] | None = None
                          ) -> Sink:
    """SLACK_BOT_TOKEN + SLACK_CHANNEL, SLACK_WEBHOOK_URL, SLACK_WEBHOOK_SECRET_ARN (Secrets
    Manager), or the terminal."""
    token = environ.get("SLACK_BOT_TOKEN")
    if token and environ.get("SLACK_CHANNEL"):
        return BotSink(token, environ["SLACK_CHANNEL"], environ.get("SLACK_API_URL"))
    url = environ.get("SLACK_WEBHOOK_URL")
    if not url and environ.get("SLACK_WEBHOOK_SECRET_ARN") and aws_secret:
        url = aws_secret(environ["SLACK_WEBHOOK_SECRET_ARN"])
    if url:
        return WebhookSink(url)
    return TerminalSink()
