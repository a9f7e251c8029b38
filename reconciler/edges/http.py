"""The controller's HTTP side: GitHub webhooks (signature checked in constant time, only
pushes to the watched branch trigger a fetch), health, readiness, metrics and status."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
from aiohttp import web

if TYPE_CHECKING:
    from reconciler.controller.loop import Controller

log = structlog.get_logger(__name__)

MAX_BODY = 1024 * 1024


def sign(secret: str, body: bytes) -> str:
    """The X-Hub-Signature-256 value GitHub sends for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def valid_signature(secret: str, body: bytes, header: str | None) -> bool:
    if not secret or not header or not header.startswith("sha256="):
        return False
    return hmac.compare_digest(sign(secret, body), header)


@dataclass(frozen=True)
class Verdict:
    status: int
    reason: str
    trigger: bool = False


def judge(secret: str, event: str | None, body: bytes, signature: str | None,
          branch: str) -> Verdict:
    """What to answer a webhook delivery, and whether it should trigger a fetch."""
    if len(body) > MAX_BODY:
        return Verdict(413, "body too large")
    if not valid_signature(secret, body, signature):
        return Verdict(401, "missing or wrong signature")
    if event == "ping":
        return Verdict(200, "pong")
    if event != "push":
        return Verdict(202, f"ignored event {event!r}")
    try:
        payload = json.loads(body)
    except ValueError:
        return Verdict(400, "body is not JSON")
    ref = payload.get("ref") if isinstance(payload, dict) else None
    if ref != f"refs/heads/{branch}":
        return Verdict(202, f"ignored push to {ref!r}")
    return Verdict(202, "fetch triggered", trigger=True)


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
