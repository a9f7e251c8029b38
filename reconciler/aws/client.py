"""The one door to AWS (it implements `reconciler.core.ports.AwsApi`): boto3 clients
retrying throttled calls, called from asyncio with a bounded number of calls in flight,
paced to the documented API quotas, and counted by operation.

Region, endpoint and credentials come from the standard AWS environment (AWS_REGION,
AWS_ENDPOINT_URL, profiles), so the same code runs against AWS or a local moto server.
"""

from __future__ import annotations

import asyncio
import functools
import os
import platform
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import boto3
import botocore
import structlog
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from reconciler import __version__
from reconciler.aws import retry
from reconciler.aws.quotas import Pacer, pacer_from_env
from reconciler.aws.slots import PrioritySlots
from reconciler.aws.store import DiskStore, default_dir
from reconciler.core.ports import AwsError, Fenced, gather_limited

log = structlog.get_logger(__name__)

DEFAULT_MAX_IN_FLIGHT = 16
# Every operation called in this process ("ecs:describe_services"): the IAM policy test checks
# deploy/iam-policy.json against what the test suite really called.
CALLED: set[str] = set()
READ_PREFIXES = ("describe_", "list_", "get_")
# Slot priorities: a call its quota made wait has its turn already (a slot's wait on top
# would only push back the bucket's schedule, which the rest of the bucket's calls follow);
# a page leads to another call, a per-item read to none.
PACED, CHAIN, LEAF = -1, 0, 1


# Names the reconciler in CloudTrail's userAgent, so its changes are told from people's. Set
# whole, botocore also skips rebuilding its own header on every request (a tenth of the CPU a
# describe costs, measured in bench/README.md).
USER_AGENT = (f"ecs-reconciler/{__version__} Boto3/{boto3.__version__} "
              f"Botocore/{botocore.__version__} Python/{platform.python_version()}")


class NoRegionError(Exception):
    """No Region configured: an error, never a silent us-east-1 (a diff there would show the
    whole estate missing, and an apply would create it all again in the wrong Region)."""

    def __init__(self) -> None:
        super().__init__("no AWS Region configured: set AWS_REGION (or AWS_DEFAULT_REGION, or "
                         "region in the AWS profile)")


def region_of(session: boto3.session.Session | None = None) -> str:
    """The session's Region (AWS_DEFAULT_REGION or the profile), else AWS_REGION, which the
    other AWS SDKs, the CLI v2 and ECS tasks use but botocore does not read."""
    region = (session or boto3.session.Session()).region_name or os.environ.get("AWS_REGION")
    if not region:
        raise NoRegionError()
    return str(region)


class ConnectError(Exception):
    """AWS cannot be reached as configured (a profile that does not exist, no Region): one
    line for the person who typed it."""


def connect(profile: str | None = None, region: str | None = None,
            endpoint_url: str | None = None, parallelism: int = 16) -> Aws:
    """The adapter for explicit settings, each falling back on the standard AWS
    environment; a configuration problem is a ConnectError, not a traceback."""
    try:
        session = boto3.session.Session(profile_name=profile, region_name=region)
        region_of(session)
    except NoRegionError as exc:
        raise ConnectError(str(exc)) from exc
    except BotoCoreError as exc:
        raise ConnectError(str(exc)) from exc
    return Aws(session=session, max_in_flight=parallelism, endpoint_url=endpoint_url)


class Aws:
    """boto3 behind the pacer and a bounded number of slots in flight, retrying what
    botocore's standard policy calls retryable. Clients are built once (they are thread-safe
    and costly)."""

    def __init__(
        self,
        *,
        session: boto3.session.Session | None = None,
        max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
        max_attempts: int = retry.MAX_ATTEMPTS,
        pacer: Pacer | Literal["env"] | None = "env",
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        store: Path | Literal["env"] | None = "env",
        endpoint_url: str | None = None,
    ) -> None:
        self._session = session or boto3.session.Session()
        self._endpoint_url = endpoint_url  # else AWS_ENDPOINT_URL, else AWS's own
        self._max_attempts = max_attempts
        self._sleep = sleep  # between attempts; tests hand in one that does not wait
        self._config = Config(
            retries={"mode": "standard", "total_max_attempts": 1},  # retry.py retries
            max_pool_connections=max(max_in_flight, 10),
            user_agent=USER_AGENT,
        )
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._slots: PrioritySlots | None = None
        self._max_in_flight = max_in_flight
        # Our own threads: asyncio's default pool has only cores + 4 of them, which would
        # cap the calls in flight far below max_in_flight on a small machine.
        self._executor = ThreadPoolExecutor(max_workers=max_in_flight,
                                            thread_name_prefix="aws")
        # Paced to the documented API quotas (reconciler/quotas.py), per adapter: one per
        # process in the CLI and the controller.
        self.pacer = pacer_from_env() if pacer == "env" else pacer
        self._inflight: dict[str, dict[str, asyncio.Future[Any]]] = {}
        self.calls: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()  # attempts after the first, by operation
        # Describe results of immutable objects (task definition revisions), by ARN.
        self.cache: dict[str, Any] = {}
        folder = default_dir(endpoint_url) if store == "env" else store
        self._store = DiskStore(folder) if folder is not None else None
        self.first_write_at: float | None = None  # monotonic time of the first write call
        # Asked immediately before every write leaves (and again by botocore's before-send
        # hook, after signing): False means the write is not sent (`Fenced`). The controller
        # sets it to "holds the lease with a margin left, and is not stopping".
        self.write_gate: Callable[[], bool] | None = None

    @property
    def region(self) -> str:
        return region_of(self._session)

    def client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                client = self._session.client(service, config=self._config,
                                              region_name=self.region,
                                              endpoint_url=self._endpoint_url)
                client.meta.events.register("before-send", self._last_check)
                self._clients[service] = client
            return self._clients[service]

    def recall(self, arn: str) -> dict[str, Any] | None:
        answer = self._store.get(arn) if self._store is not None else None
        return answer if isinstance(answer, dict) else None

    def keep(self, arn: str, answer: dict[str, Any]) -> None:
        if self._store is not None:
            self._store.put(arn, answer)

    def unfenced(self) -> Aws:
        """An adapter of its own (same credentials, no gate, no pacing) for the lease, whose
        writes are what the fence is made of."""
        return Aws(session=self._session, max_in_flight=4, pacer=None, sleep=self._sleep,
                   store=None, endpoint_url=self._endpoint_url)

    def side(self, max_in_flight: int = 2) -> Aws:
        """An adapter with slots and threads of its own, for calls that hold one for long (a
        20 s long poll of a queue must not take a pass's slot), sharing this one's session,
        pacer, fence and counters."""
        other = Aws(session=self._session, max_in_flight=max_in_flight, pacer=None,
                    sleep=self._sleep, max_attempts=self._max_attempts, store=None)
        other.pacer = self.pacer
        other.calls, other.errors, other.retries = self.calls, self.errors, self.retries
        other.write_gate = self.may_write
        return other

    def may_write(self) -> bool:
        return self.write_gate is None or self.write_gate()

    def _last_check(self, event_name: str = "", **_: Any) -> None:
        """The fence's last moment: a request that waited in a slot or a thread since the
        gate was asked is not sent if leadership was lost meanwhile."""
        operation = event_name.rsplit(".", 1)[-1]
        if not operation.startswith(("Describe", "List", "Get")) and not self.may_write():
            raise Fenced(event_name.split(".", 1)[-1].replace(".", ":"))

    def _slot(self, priority: int) -> Any:
        if self._slots is None:
            self._slots = PrioritySlots(self._max_in_flight)
        return self._slots.hold(priority)

    async def call(self, service: str, operation: str, /, **params: Any) -> dict[str, Any]:
        """Call e.g. ("ecs", "describe_services"); raises AwsError with the AWS error code."""
        return await self._call(LEAF, service, operation, params)

    async def _call(
        self, priority: int, service: str, operation: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        fn = getattr(self.client(service), operation)
        name = f"{service}:{operation}"
        if not operation.startswith(READ_PREFIXES) and self.first_write_at is None:
            self.first_write_at = time.monotonic()
        CALLED.add(name)
        self.calls[name] += 1
        for attempt in range(1, self._max_attempts + 1):
            waited = await self.pacer.wait(service, operation) if self.pacer is not None else 0.0
            async with self._slot(PACED if waited > 0 else priority):
                if self.pacer is not None:
                    await self.pacer.sending(service, operation)
                if not operation.startswith(READ_PREFIXES) and not self.may_write():
                    raise Fenced(name)
                try:
                    loop = asyncio.get_running_loop()
                    result: dict[str, Any] = await loop.run_in_executor(
                        self._executor, functools.partial(fn, **params))
                    return result
                except (ClientError, BotoCoreError) as exc:
                    meta = self.client(service).meta
                    op_model = meta.service_model.operation_model(
                        meta.method_to_api_mapping[operation])
                    why = retry.verdict(exc, op_model, attempt)
                    if why is None or attempt == self._max_attempts:
                        self.errors[name] += 1
                        if isinstance(exc, ClientError):
                            err = exc.response.get("Error", {})
                            raise AwsError(name, str(err.get("Code", "")),
                                           str(err.get("Message", ""))) from exc
                        raise
            self.retries[name] += 1
            if why == "throttled" and self.pacer is not None:
                self.pacer.throttled(service, operation)
            await self._sleep(retry.backoff(attempt))  # outside the slot: others go on
        raise AssertionError("unreachable")

    async def pages(
        self, service: str, operation: str, token_in: str, token_out: str, /, **params: Any
    ) -> AsyncIterator[dict[str, Any]]:
        """Each page of a paginated call, following `token_out` into `token_in`; pages take
        free slots before per-item calls, so a long listing is not a long queue's wait."""
        token: str | None = None
        while True:
            args = dict(params)
            if token:
                args[token_in] = token
            page = await self._call(CHAIN, service, operation, args)
            yield page
            token = page.get(token_out)
            if not token:
                return

    async def batched(
        self, scope: str, ids: Iterable[str], size: int,
        fetch: Callable[[list[str]], Awaitable[Mapping[str, Any]]],
    ) -> dict[str, Any]:
        """What `fetch` finds for each id, `size` ids a call, the calls side by side. An id
        another caller of the same `scope` is already fetching is awaited, not asked again:
        two kinds reading the same objects in one pass share the calls."""
        inflight = self._inflight.setdefault(scope, {})
        loop = asyncio.get_running_loop()
        mine: list[str] = []
        waits: dict[str, asyncio.Future[Any]] = {}
        for i in dict.fromkeys(ids):
            fut = inflight.get(i)
            if fut is None:
                fut = inflight[i] = loop.create_future()
                mine.append(i)
            waits[i] = fut

        async def one(batch: list[str]) -> None:
            try:
                found = await fetch(batch)
            except BaseException as exc:
                for i in batch:
                    f = inflight.pop(i)
                    f.set_exception(exc)
                    f.exception()  # retrieved: whoever awaits it still gets it raised
                raise
            for i in batch:
                inflight.pop(i).set_result(found.get(i))

        await gather_limited(*(one(mine[k:k + size]) for k in range(0, len(mine), size)))
        found = {i: await fut for i, fut in waits.items()}
        return {i: v for i, v in found.items() if v is not None}

    async def account_id(self) -> str:
        """The caller's account, asked of STS once per process."""
        if "account" not in self.cache:
            ident = await self.call("sts", "get_caller_identity")
            self.cache["account"] = ident["Account"]
        return str(self.cache["account"])

    @property
    def partition(self) -> str:
        region = self.region
        if region.startswith("cn-"):
            return "aws-cn"
        return "aws-us-gov" if region.startswith("us-gov-") else "aws"

    def reset_counts(self) -> None:
        self.calls.clear()
        self.errors.clear()
        self.retries.clear()


