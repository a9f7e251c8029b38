"""A proxy on 127.0.0.1 in front of the moto server: adds a round-trip latency to every
request, answers a share of requests with ThrottlingException, can enforce AWS's documented
API quotas as AWS does (a call finding its token bucket empty is refused with
ThrottlingException), and counts requests by operation (retries included, unlike the
reconciler's own counter).

moto is one Python process: with a thousand services each of its answers costs milliseconds
of CPU, one at a time, which real AWS does not. So the proxy can record read answers once and
replay them: a measured run then sees `latency` per call and nothing else, as the benchmark's
model of AWS intends. Writes are always forwarded."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs

from botocore import xform_name

from reconciler.aws.quotas import DOCUMENTED, Pacer

THROTTLE_BODY = b'{"__type":"ThrottlingException","message":"Rate exceeded"}'
SERVICES = {"AmazonEC2ContainerServiceV20141113": "ecs", "AWSEvents": "events",
            "AnyScaleFrontendService": "application-autoscaling",
            "ResourceGroupsTaggingAPI_20170126": "resourcegroupstaggingapi"}
JSON, CBOR, QUERY = "json", "cbor", "query"


def _cbor_text(text: str) -> bytes:
    data = text.encode()
    assert len(data) < 256
    return (bytes([0x60 + len(data)]) if len(data) < 24 else bytes([0x78, len(data)])) + data


def _cbor_map(pairs: dict[str, str]) -> bytes:
    """A small CBOR map of text to text: the body of an rpc-v2-cbor error."""
    assert len(pairs) < 24
    return bytes([0xA0 + len(pairs)]) + b"".join(
        _cbor_text(k) + _cbor_text(v) for k, v in pairs.items())


# The Resource Groups Tagging API speaks Smithy RPC v2 CBOR: its throttling error in kind.
CBOR_THROTTLE_BODY = _cbor_map({"__type": "ThrottledException", "message": "Rate exceeded"})


def throttle_response(protocol: str) -> bytes:
    """What AWS answers a call over its quota, in the call's own protocol."""
    if protocol == CBOR:
        head = b"Content-Type: application/cbor\r\nsmithy-protocol: rpc-v2-cbor\r\n"
        body = CBOR_THROTTLE_BODY
    else:
        head, body = b"Content-Type: application/x-amz-json-1.1\r\n", THROTTLE_BODY
    return (b"HTTP/1.1 400 Bad Request\r\n" + head + b"Content-Length: "
            + str(len(body)).encode() + b"\r\n\r\n" + body)


class AwsQuotas:
    """The documented buckets as AWS applies them: a call takes a token if there is one and
    is refused otherwise (unlike the reconciler's pacer, which waits for it)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lookup = Pacer(DOCUMENTED)
        self._clock = clock
        self._buckets: dict[tuple[str, str], list[float]] = {}  # [tokens, last refill]

    def admit(self, target: str) -> bool:
        prefix, _, action = target.partition(".")
        service, op = SERVICES.get(prefix, prefix), xform_name(action)
        q = self._lookup.quota(service, op)
        if q is None:
            return True
        now = self._clock()
        key = (service, op if q.per_operation else q.name)
        bucket = self._buckets.setdefault(key, [q.burst, now])
        bucket[0] = min(q.burst, bucket[0] + (now - bucket[1]) * q.rate)
        bucket[1] = now
        if bucket[0] < 1:
            return False
        bucket[0] -= 1
        return True


@dataclass
class Proxy:
    upstream_port: int
    latency: float = 0.05
    throttle_share: float = 0.0
    seed: int = 7
    requests: Counter[str] = field(default_factory=Counter)
    throttled: Counter[str] = field(default_factory=Counter)
    replay: bool = False
    cache: dict[tuple[str, str, bytes], bytes] = field(default_factory=dict)
    replayed: int = 0
    quotas: AwsQuotas | None = None
    port: int = 0
    _server: asyncio.AbstractServer | None = None

    async def start(self) -> int:
        self._rng = random.Random(self.seed)
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server:
            self._server.close()
            await self._server.wait_closed()

    @staticmethod
    def _operation(head: bytes, body: bytes) -> tuple[str, str]:
        """('AmazonEC2ContainerServiceV20141113.DescribeServices', protocol) from the request:
        JSON names it in X-Amz-Target, Smithy RPC v2 CBOR in the path
        (`/service/<prefix>/operation/<Name>`), the query protocol in the body."""
        target = ""
        lines = head.split(b"\r\n")
        for line in lines:
            if line.lower().startswith(b"x-amz-target:"):
                target = line.split(b":", 1)[1].strip().decode()
        if target:
            return target, JSON
        path = lines[0].split(b" ")[1].decode() if len(lines[0].split(b" ")) > 1 else ""
        parts = path.strip("/").split("/")
        if len(parts) == 4 and parts[0] == "service" and parts[2] == "operation":
            return f"{parts[1]}.{parts[3]}", CBOR
        action = parse_qs(body.decode(errors="replace")).get("Action", ["?"])[0]
        return f"query.{action}", QUERY

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length) if length else b""
                op, protocol = self._operation(head, body)
                self.requests[op] += 1
                await asyncio.sleep(self.latency)
                paced = protocol != QUERY  # STS: no documented quota, nothing to throttle
                refused = paced and self.quotas is not None and not self.quotas.admit(op)
                if refused or (paced and self._rng.random() < self.throttle_share):
                    self.throttled[op] += 1
                    writer.write(throttle_response(protocol))
                    await writer.drain()
                    continue
                key = (op, _region(head), body)
                if self.replay and key in self.cache:
                    self.replayed += 1
                    response = self.cache[key]
                else:
                    response = await self._forward(head, body)
                    if _is_read(op):
                        self.cache[key] = response
                writer.write(response)
                await writer.drain()
        finally:
            writer.close()

    async def _forward(self, head: bytes, body: bytes) -> bytes:
        """One request to moto (which closes each connection), its whole response back with
        the connection kept open for the client."""
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        up_writer.write(head + body)
        await up_writer.drain()
        data = await up_reader.read()
        up_writer.close()
        head_end = data.find(b"\r\n\r\n")
        lines = [ln for ln in data[:head_end].split(b"\r\n")
                 if not ln.lower().startswith((b"connection:", b"transfer-encoding:"))]
        payload = data[head_end + 4:]
        if not any(ln.lower().startswith(b"content-length:") for ln in lines):
            lines.append(b"Content-Length: " + str(len(payload)).encode())
        return b"\r\n".join(lines) + b"\r\n\r\n" + payload


def _region(head: bytes) -> str:
    """The Region the request was signed for (its answer differs by Region, its body not)."""
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"authorization:") and b"Credential=" in line:
            scope = line.split(b"Credential=", 1)[1].split(b",", 1)[0].split(b"/")
            return scope[2].decode() if len(scope) > 2 else ""
    return ""


def _is_read(op: str) -> bool:
    name = op.rsplit(".", 1)[-1]
    return name.startswith(("Describe", "List", "Get"))
