"""Leader election through a DynamoDB lease, so two replicas never apply at once.

One item per controller name: {lease, holder, expiresAt, url}. A replica takes the lease with
a conditional write that only succeeds when nobody holds it, the holder is itself, or it has
expired; the leader renews it well before expiry. A replica considers itself leader only while
its own last successful write is younger than the lease minus a safety margin, measured on its
monotonic clock. The controller asks that right before every AWS write (the fence), so a
leader that cannot renew, or was paused past its lease, stops writing before anybody else can
start. `url` is where the holder serves webhooks: a standby forwards deliveries there.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import structlog

from reconciler.aws import Aws, AwsError

log = structlog.get_logger(__name__)


class LeaseUnavailable(Exception):
    """The lease could not be taken: somebody else holds it, or the table did not answer."""

    def __init__(self, message: str, holder: str | None = None) -> None:
        super().__init__(message)
        self.holder = holder


@dataclass
class Lease:
    aws: Aws
    table: str
    name: str
    holder: str
    duration: float = 15.0
    wall: Callable[[], float] = time.time
    monotonic: Callable[[], float] = time.monotonic
    url: str = ""  # where this replica serves HTTP, for a standby to forward webhooks to
    _valid_until: float = field(default=0.0, init=False)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    quiet: bool = False  # a one-off holder reports a failure itself instead of logging it
    healthy: bool = field(default=False, init=False)  # the lease table answered last time
    error: str = field(default="", init=False)
    term: int = field(default=0, init=False)  # times leadership was taken (lapses included)

    @property
    def margin(self) -> float:
        return self.duration / 5

    def is_leader(self) -> bool:
        return self.monotonic() < self._valid_until

    async def try_acquire(self) -> bool:
        """Take or renew the lease; True if this replica holds it now."""
        started = self.monotonic()
        now = self.wall()
        item = {"lease": {"S": self.name}, "holder": {"S": self.holder},
                "expiresAt": {"N": f"{now + self.duration:.3f}"}}
        if self.url:
            item["url"] = {"S": self.url}
        try:
            await self.aws.call(
                "dynamodb", "put_item", TableName=self.table, Item=item,
                ConditionExpression="attribute_not_exists(#l) OR #h = :me OR #e < :now",
                ExpressionAttributeNames={"#l": "lease", "#h": "holder", "#e": "expiresAt"},
                ExpressionAttributeValues={":me": {"S": self.holder}, ":now": {"N": f"{now:.3f}"}},
            )
        except AwsError as exc:
            self.healthy = exc.code == "ConditionalCheckFailedException"
            if not self.healthy:
                self.error = f"{exc.code}: {exc.message}" if exc.message else exc.code
                if not self.quiet:
                    log.warning("lease.error", error=str(exc))
            self._valid_until = 0.0
            return False
        self.healthy = True
        was_leader = self.is_leader()
        self._valid_until = started + self.duration - self.margin
        if not was_leader:
            self.term += 1
            log.info("lease.acquired", holder=self.holder, lease=self.name)
        return True

    async def current(self) -> tuple[str, float, str] | None:
        """The holder, its lease's expiry (wall clock) and its URL, if the lease is current."""
        resp = await self.aws.call("dynamodb", "get_item", TableName=self.table,
                                   Key={"lease": {"S": self.name}}, ConsistentRead=True)
        item = resp.get("Item") or {}
        expires = float((item.get("expiresAt") or {}).get("N", "0"))
        if not item or expires < self.wall():
            return None
        return (str((item.get("holder") or {}).get("S", "")), expires,
                str((item.get("url") or {}).get("S", "")))

    async def leader_url(self) -> str | None:
        """Where the current holder serves HTTP, if it said and its lease is current."""
        try:
            now = await self.current()
        except AwsError:
            return None
        if now is None or not now[2] or now[0] == self.holder:
            return None
        return now[2]

    @asynccontextmanager
    async def held(self, wait: float = 0.0) -> AsyncIterator[None]:
        """Hold the lease for the body (renewed meanwhile, released after): how a one-off
        writer such as `reconciler apply` keeps out of the controller's way. Waits up to
        `wait` seconds for a holder to let go, then raises LeaseUnavailable."""
        deadline = self.monotonic() + wait
        while not await self.try_acquire():
            if not self.healthy:
                raise LeaseUnavailable(f"the lease table {self.table} did not answer "
                                       f"({self.error})")
            if self.monotonic() >= deadline:
                now = await self.current()
                holder = now[0] if now else "somebody"
                until = time.strftime("%H:%M:%SZ", time.gmtime(now[1])) if now else "now"
                raise LeaseUnavailable(
                    f"{holder} holds the lease {self.name!r} in {self.table} (renewed until "
                    f"{until}); a person and the controller never write at once", holder)
            await self.sleep(min(1.0, self.duration / 10))
        stop = asyncio.Event()
        renewing = asyncio.create_task(self.keep(stop))
        try:
            yield
        finally:
            stop.set()
            await renewing
            await self.release()

    async def release(self) -> None:
        """Give the lease up (clean shutdown) so a standby takes over at once."""
        self._valid_until = 0.0
        try:
            await self.aws.call(
                "dynamodb", "delete_item", TableName=self.table, Key={"lease": {"S": self.name}},
                ConditionExpression="#h = :me", ExpressionAttributeNames={"#h": "holder"},
                ExpressionAttributeValues={":me": {"S": self.holder}},
            )
        except AwsError:
            pass

    async def keep(self, stop: asyncio.Event, on_change: Callable[[bool], None] | None = None
                   ) -> None:
        """Renew every third of the lease while leading; while standing by, try ten times per
        lease so a dead leader is replaced right after its lease runs out."""
        leader = False
        while not stop.is_set():
            term = self.term
            now_leader = await self.try_acquire()
            # a lease that lapsed before a renewal landed (a pause, a starved loop, a slow
            # table) was lost and regained, a new term: the controller must hear it, since
            # what it was applying meanwhile was fenced
            if on_change and (now_leader != leader or self.term != term):
                on_change(now_leader)
            leader = now_leader
            try:
                await asyncio.wait_for(stop.wait(), self.duration / (3 if leader else 10))
            except TimeoutError:
                pass
