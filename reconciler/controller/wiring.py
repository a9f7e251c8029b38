"""`reconciler serve`: wire a source, AWS, Slack, the lease and the HTTP server to the loop."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

from reconciler.aws.client import Aws, region_of
from reconciler.controller.events import DEFAULT_RESYNC, FLOWING_RESYNC, EventSource
from reconciler.controller.hooks import HooksExtension
from reconciler.controller.lease import Lease
from reconciler.controller.loop import Controller, Settings
from reconciler.controller.rollouts import DEFAULT_INTERVAL as ROLLOUT_INTERVAL
from reconciler.controller.rollouts import Rollouts
from reconciler.controller.watchdog import DEFAULT_INTERVAL, Watchdog, utc_now
from reconciler.edges.git import DEFAULT_TIMEOUT, GitSource, LocalSource, Source
from reconciler.edges.http import make_app, start
from reconciler.edges.slack import Notifier, sink_from_environment

log = structlog.get_logger(__name__)


@dataclass
class ServeOptions:
    repo: str | None = None
    branch: str = "main"
    path: str = "manifests"
    directory: Path | None = None
    host: str = "0.0.0.0"
    port: int = 8080
    resync: float | None = None  # None: 300 s, or hourly while AWS's events flow
    fetch_interval: float = 60.0
    remind_after: float = 4 * 3600.0
    lease_table: str | None = None
    lease_name: str = "reconciler"
    lease_seconds: float = 15.0
    holder: str = ""
    advertise_url: str = ""  # where the other replicas reach this one (webhook forwarding)
    git_timeout: float = DEFAULT_TIMEOUT
    watch_interval: float = DEFAULT_INTERVAL  # seconds between looks at scheduled runs
    clock: Callable[[], datetime] = utc_now  # what "now" is to the schedule watchdog
    events_queue: str | None = None  # else `eventsQueue` in reconciler.yaml, else none
    events_wait: float = 20.0
    events_drain: float = 1.0
    events_visibility: int = 120
    rollout_interval: float = ROLLOUT_INTERVAL  # seconds between looks at a moving rollout


def _secret(arn: str) -> str:
    import boto3

    session = boto3.session.Session(region_name=region_of())
    return str(session.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"])


def build(options: ServeOptions, aws: Aws | None = None) -> Controller:
    source: Source
    if options.repo:
        source = GitSource(options.repo, options.branch, options.path,
                           timeout=options.git_timeout)
    else:
        source = LocalSource(options.directory or Path(options.path))
    aws = aws or Aws()
    resync = options.resync
    if resync is None:
        resync = FLOWING_RESYNC if options.events_queue else DEFAULT_RESYNC
    settings = Settings(resync_interval=resync, fetch_interval=options.fetch_interval,
                        remind_after=options.remind_after, branch=options.branch,
                        webhook_secret=os.environ.get("RECONCILER_WEBHOOK_SECRET", ""))
    lease = None
    if options.lease_table:
        holder = options.holder or f"{socket.gethostname()}-{os.getpid()}"
        lease = Lease(aws.unfenced(), options.lease_table, options.lease_name, holder,
                      options.lease_seconds, url=options.advertise_url)
    notifier = Notifier(sink_from_environment(dict(os.environ), _secret))
    watchdog = Watchdog(options.watch_interval, options.clock)
    events = EventSource(options.events_queue, wait=options.events_wait,
                         drain=options.events_drain, visibility=options.events_visibility,
                         flowing_resync=FLOWING_RESYNC if options.resync is None else None)
    return Controller(source, aws, notifier, settings, lease,
                      extensions=[HooksExtension(settings.hook_poll), watchdog, events,
                                  Rollouts(options.rollout_interval)])


async def serve(controller: Controller, host: str, port: int, install_signals: bool = True
                ) -> None:
    """Run the controller and its HTTP server until SIGTERM / SIGINT."""
    async with AsyncExitStack() as stack:
        app = make_app(controller, controller.settings.webhook_secret, controller.settings.branch,
                       page_token=os.environ.get("RECONCILER_STATUS_TOKEN", ""),
                       page_user=os.environ.get("RECONCILER_STATUS_USER", "admin"),
                       page_password=os.environ.get("RECONCILER_STATUS_PASSWORD", ""))
        runner, bound = await start(app, host, port)
        stack.push_async_callback(runner.cleanup)
        if controller.lease is not None and not controller.lease.url:
            controller.lease.url = advertised(host, bound)
        log.info("serve.listening", host=host, port=bound)
        await controller.run(install_signals=install_signals)


def advertised(host: str, port: int) -> str:
    """This replica's URL as the others see it: the address it listens on, or, listening on
    every interface, the address its host name resolves to (a Fargate task's own IP)."""
    if host in ("0.0.0.0", "::", ""):
        try:
            host = socket.gethostbyname(socket.gethostname())
        except OSError:
            host = "127.0.0.1"
    return f"http://{host}:{port}"


def run(options: ServeOptions, on_pass: Any = None) -> int:
    controller = build(options)
    controller.on_pass = on_pass
    try:
        asyncio.run(serve(controller, options.host, options.port))
    except KeyboardInterrupt:
        pass
    return 0
