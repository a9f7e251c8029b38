"""Retries in the adapter: botocore's standard policy decides what is retryable; throttled
answers go back through the pacer. Against a loopback server that answers like AWS."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from reconciler.aws import Aws, AwsError, retry
from reconciler.aws.quotas import Pacer


def _client_error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "DescribeServices")


@pytest.mark.parametrize(("exc", "expected"), [
    (_client_error("ThrottlingException", 400), "throttled"),
    (_client_error("TooManyRequestsException", 400), "throttled"),
    (_client_error("RequestLimitExceeded", 400), "throttled"),
    (_client_error("SomethingNew", 429), "throttled"),
    (_client_error("InternalFailure", 500), "transient"),
    (_client_error("ServiceUnavailable", 503), "transient"),
    (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), "transient"),
    (_client_error("ClientException", 400), None),
    (_client_error("AccessDeniedException", 400), None),
])
@pytest.mark.parametrize(("service", "operation"), [
    ("ecs", "DescribeServices"), ("dynamodb", "GetItem")])
def test_what_is_retried(exc: BaseException, expected: str | None, service: str,
                         operation: str) -> None:
    import botocore.session

    op = botocore.session.get_session().get_service_model(service).operation_model(operation)
    assert retry.verdict(exc, op, 1) == expected
    assert retry.verdict(exc, op, retry.MAX_ATTEMPTS) is None  # the last attempt is final


def test_backoff_grows_with_jitter_and_a_ceiling() -> None:
    import random

    rng = random.Random(1)
    assert all(0 <= retry.backoff(1, rng) <= 0.05 for _ in range(100))
    assert max(retry.backoff(4, rng) for _ in range(200)) > 0.2
    assert all(retry.backoff(30, rng) <= retry.MAX_BACKOFF_SECONDS for _ in range(100))


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        server: Any = self.server
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        server.requests += 1
        if server.requests <= server.refuse:
            status, body = 400, {"__type": server.code, "message": "Rate exceeded"}
        else:
            status, body = 200, {"clusterArns": ["arn:aws:ecs:eu-west-1:1:cluster/c"]}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def fake_ecs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    server: Any = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.requests, server.refuse, server.code = 0, 0, "ThrottlingException"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_address[1]}")
    for var, value in (("AWS_ACCESS_KEY_ID", "t"), ("AWS_SECRET_ACCESS_KEY", "t"),
                       ("AWS_REGION", "eu-west-1")):
        monkeypatch.setenv(var, value)
    yield server
    server.shutdown()


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def _adapter(clock: _Clock) -> Aws:
    pacer = Pacer(headroom=(1.0, 1.0), clock=clock, sleep=clock.sleep)
    return Aws(session=boto3.session.Session(), pacer=pacer, sleep=clock.sleep)


async def test_throttled_calls_are_retried_through_the_pacer(fake_ecs: Any) -> None:
    fake_ecs.refuse = 3
    clock = _Clock()
    client = _adapter(clock)
    out = await client.call("ecs", "list_clusters")
    assert out["clusterArns"] and fake_ecs.requests == 4
    assert client.calls["ecs:list_clusters"] == 1 and client.retries["ecs:list_clusters"] == 3
    assert client.errors == {}
    # the first throttle emptied the "cluster read" bucket: the retries waited for tokens
    assert len(clock.slept) >= 6 and max(clock.slept) <= 1.0


async def test_a_call_that_cannot_succeed_is_not_retried(fake_ecs: Any) -> None:
    fake_ecs.refuse, fake_ecs.code = 1, "ClientException"
    client = _adapter(_Clock())
    with pytest.raises(AwsError, match="ClientException"):
        await client.call("ecs", "list_clusters")
    assert fake_ecs.requests == 1 and client.errors["ecs:list_clusters"] == 1


async def test_throttling_that_never_ends_fails_after_the_last_attempt(fake_ecs: Any) -> None:
    fake_ecs.refuse = 1000
    client = _adapter(_Clock())
    with pytest.raises(AwsError, match="ThrottlingException"):
        await client.call("ecs", "list_clusters")
    assert fake_ecs.requests == retry.MAX_ATTEMPTS
