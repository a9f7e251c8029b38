"""The DynamoDB lease, with clocks the test controls."""

from __future__ import annotations

from reconciler.aws.client import Aws
from reconciler.controller.lease import Lease
from reconciler.embedded import EmbeddedAws
from tests.conftest import ensure_lease_table


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_acquire_block_expire_renew_release(aws: EmbeddedAws) -> None:
    client = Aws()
    await ensure_lease_table(client, "leases")
    wall, mono = Clock(), Clock()
    a = Lease(client, "leases", "ctl", "a", 10.0, wall=wall, monotonic=mono)
    b = Lease(client, "leases", "ctl", "b", 10.0, wall=wall, monotonic=mono)
    assert await a.try_acquire() and a.is_leader()
    assert not await b.try_acquire() and not b.is_leader()
    wall.now += 5
    mono.now += 5
    assert await a.try_acquire()  # renewal by the holder
    assert not await b.try_acquire()
    mono.now += 9  # a could not renew: it stops leading before its lease runs out
    assert not a.is_leader()
    wall.now += 10.1  # the lease written at the renewal has expired
    assert await b.try_acquire() and b.is_leader()
    assert not await a.try_acquire()
    await b.release()
    assert await a.try_acquire()
