"""The controller's HTTP side: GitHub webhooks, health, readiness, metrics and status."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import structlog
from aiohttp import web

from reconciler.edges.webhook import MAX_BODY, judge

if TYPE_CHECKING:
    from reconciler.controller.loop import Controller

log = structlog.get_logger(__name__)

CONTROLLER: web.AppKey[Controller] = web.AppKey("controller", object)  # type: ignore[arg-type]


def make_app(controller: Controller, webhook_secret: str, branch: str) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY + 1)
    app[CONTROLLER] = controller
    stale_after = 3 * max(controller.settings.resync_interval, controller.settings.fetch_interval)

    async def github(request: web.Request) -> web.Response:
        if (request.content_length or 0) > MAX_BODY:
            return web.json_response({"status": "body too large"}, status=413)
        body = b""
        while len(body) <= MAX_BODY:
            chunk = await request.content.read(MAX_BODY + 1 - len(body))
            if not chunk:
                break
            body += chunk
        verdict = judge(webhook_secret, request.headers.get("X-GitHub-Event"), body,
                        request.headers.get("X-Hub-Signature-256"), branch)
        log.info("webhook", status=verdict.status, reason=verdict.reason)
        if verdict.trigger:
            controller.request_fetch()
        return web.json_response({"status": verdict.reason}, status=verdict.status)

    async def healthz(_request: web.Request) -> web.Response:
        age = controller.clock() - controller.last_tick
        busy = controller.busy_since is not None and controller.clock() - controller.busy_since < stale_after
        ok = age < stale_after or busy
        return web.json_response({"ok": ok, "lastTickSecondsAgo": round(age, 3)},
                                 status=200 if ok else 503)

    async def readyz(_request: web.Request) -> web.Response:
        return web.json_response({"ready": controller.ready}, status=200 if controller.ready else 503)

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(body=controller.metrics.render(),
                            content_type="text/plain", charset="utf-8")

    async def status(_request: web.Request) -> web.Response:
        return web.json_response({
            "revision": controller.last_good.sha if controller.last_good else None,
            "invalidRevision": controller.invalid_revision,
            "appliedRevision": controller.applied_revision,
            "appliedAt": controller.applied_at,
            "leader": controller.is_leader(),
            "time": time.time(),
            "resources": [s.to_json() for s in sorted(controller.statuses.values(),
                                                       key=lambda s: str(s.key))],
        })

    app.router.add_post("/webhooks/github", github)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/status", status)
    return app


async def start(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Serve `app`; returns the runner (to clean up) and the port actually bound."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server
    sockets = getattr(server, "sockets", None) or []
    bound = sockets[0].getsockname()[1] if sockets else port
    return runner, int(bound)
