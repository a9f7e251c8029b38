"""The controller's HTTP side: GitHub webhooks (signature checked in constant time, only
pushes to the watched branch trigger a fetch), health, readiness, metrics and status."""

from __future__ import annotations

import base64
import collections
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

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
FORWARDED = "X-Reconciler-Forwarded"
DELIVERY = "X-GitHub-Delivery"
HEALTHY_WITHIN = 15.0  # seconds since the event loop last turned (the heartbeat is 1 s)


class Deliveries:
    """The delivery ids seen lately: GitHub redelivers, and a delivery forwarded by a standby
    may arrive twice. Bounded, oldest forgotten first."""

    def __init__(self, size: int = 1024) -> None:
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()
        self._size = size

    def first(self, delivery: str | None) -> bool:
        if not delivery:
            return True
        if delivery in self._seen:
            return False
        self._seen[delivery] = None
        if len(self._seen) > self._size:
            self._seen.popitem(last=False)
        return True


async def _forward(url: str, body: bytes, headers: dict[str, str]) -> bool:
    """Hand a delivery to the leader, signature and all (it checks it again)."""
    from aiohttp import ClientError, ClientSession, ClientTimeout

    try:
        async with ClientSession(timeout=ClientTimeout(total=5)) as session, \
                session.post(url.rstrip("/") + "/webhooks/github", data=body,
                             headers={**headers, FORWARDED: "1"}) as resp:
            return resp.status < 300
    except (ClientError, TimeoutError, OSError) as exc:
        log.warning("webhook.forward_failed", error=str(exc))
        return False


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str)


def status_document(controller: Controller) -> dict[str, Any]:
    """What `/status` and the page at `/` show (masked where it holds values)."""
    try:
        region: str | None = controller.aws.region
    except Exception:  # no Region configured: the page still renders
        region = None
    tree = controller.last_tree
    return {
        "controller": tree.config.controller if tree is not None else None,
        "region": region,
        "revision": controller.last_good.sha if controller.last_good else None,
        "invalidRevision": controller.invalid_revision,
        "appliedRevision": controller.applied_revision,
        "appliedAt": controller.applied_at,
        "leader": controller.is_leader(),
        **{k: v for k, v in controller.readiness().items() if k != "reason"},
        "source": controller.source_health.to_json(),
        **{ext.name: ext.status() for ext in controller.extensions},
        "time": time.time(),
        "resources": [s.to_json() for s in sorted(controller.statuses.values(),
                                                   key=lambda s: str(s.key))],
    }


def authorized(request: web.Request, token: str, user: str, password: str) -> bool:
    """The page and /status when the port is exposed: a bearer token (header or ?token=)
    or basic auth, compared in constant time; open when neither is configured."""
    if not token and not password:
        return True
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip() \
            or request.query.get("token", "")
        if given and hmac.compare_digest(given.encode(), token.encode()):
            return True
    if password:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                who, _, said = base64.b64decode(header[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
            return hmac.compare_digest(f"{who}:{said}".encode(), f"{user}:{password}".encode())
    return False


def make_app(controller: Controller, webhook_secret: str, branch: str,
             page_token: str = "", page_user: str = "", page_password: str = ""
             ) -> web.Application:
    app = web.Application(client_max_size=MAX_BODY + 1)
    app[CONTROLLER] = controller
    deliveries = Deliveries()

    def denied() -> web.Response:
        return web.Response(status=401, text="authorization required\n",
                            headers={"WWW-Authenticate": 'Basic realm="ecs-reconciler"'})

    def counted(outcome: str, status: int, reason: str) -> web.Response:
        controller.metrics.webhooks.labels(outcome).inc()
        log.info("webhook", status=status, reason=reason, outcome=outcome)
        return web.json_response({"status": reason}, status=status)

    async def github(request: web.Request) -> web.Response:
        if (request.content_length or 0) > MAX_BODY:
            return counted("too_large", 413, "body too large")
        body = b""
        while len(body) <= MAX_BODY:
            chunk = await request.content.read(MAX_BODY + 1 - len(body))
            if not chunk:
                break
            body += chunk
        verdict = judge(webhook_secret, request.headers.get("X-GitHub-Event"), body,
                        request.headers.get("X-Hub-Signature-256"), branch)
        if not verdict.trigger:
            outcome = {401: "rejected", 413: "too_large", 400: "malformed"}.get(
                verdict.status, "ignored")
            return counted(outcome, verdict.status, verdict.reason)
        if not deliveries.first(request.headers.get(DELIVERY)):
            return counted("duplicate", 200, "duplicate delivery: already handled")
        controller.request_fetch()
        if controller.is_leader() or request.headers.get(FORWARDED) or controller.lease is None:
            return counted("triggered", verdict.status, verdict.reason)
        leader = await controller.lease.leader_url()
        keep = ("X-GitHub-Event", "X-Hub-Signature-256", DELIVERY, "Content-Type")
        headers = {k: v for k in keep if (v := request.headers.get(k))}
        if leader and await _forward(leader, body, headers):
            return counted("forwarded", 202, "forwarded to the leader")
        return counted("accepted_standby", 202,
                       "accepted by a standby; the leader's next poll fetches it")

    async def healthz(_request: web.Request) -> web.Response:
        beat = controller.clock() - controller.heartbeat
        ok = beat < HEALTHY_WITHIN
        running = controller.clock() - controller.busy_since if controller.busy_since else None
        return web.json_response(
            {"ok": ok, "heartbeatSecondsAgo": round(beat, 3),
             "passRunningSeconds": round(running, 3) if running is not None else None},
            status=200 if ok else 503)

    async def readyz(_request: web.Request) -> web.Response:
        body = controller.readiness()
        return web.json_response(body, status=200 if body["ready"] else 503)

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(body=controller.metrics.render(),
                            content_type="text/plain", charset="utf-8")

    async def status(request: web.Request) -> web.Response:
        if not authorized(request, page_token, page_user, page_password):
            return denied()
        return web.json_response(status_document(controller), dumps=_dumps)

    async def page(request: web.Request) -> web.Response:
        if not authorized(request, page_token, page_user, page_password):
            return denied()
        from reconciler.edges.page import render

        return web.Response(text=render(status_document(controller)),
                            content_type="text/html", charset="utf-8",
                            headers={"Cache-Control": "no-store",
                                     "Content-Security-Policy": "default-src 'none'; "
                                     "style-src 'unsafe-inline'"})

    app.router.add_post("/webhooks/github", github)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/status", status)
    app.router.add_get("/", page)
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
