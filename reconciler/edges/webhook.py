"""GitHub webhook checks. Pure: the signature (HMAC-SHA256, compared in constant time) and
whether a push concerns the watched branch."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass

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
