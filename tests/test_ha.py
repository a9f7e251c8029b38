"""Two controllers on one DynamoDB lease: one writer, and a handover when the lease expires.

The lease's expiry is judged on its injected clocks (`wall`, `monotonic`), which the test
holds still and moves past the dead leader's expiry by hand: the handover is asserted on that
clock and on the order of events, never on how long anything took (that is recorded)."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from reconciler.aws.client import Aws
from reconciler.controller.lease import Lease
from reconciler.controller.loop import Controller, Settings
from reconciler.edges.git import GitSource
from reconciler.edges.slack import Notifier, WebhookSink
from reconciler.embedded import EmbeddedAws
from tests.conftest import EXAMPLES, SlackReceiver, ensure_lease_table, push, seed_for, wait_for

LEASE = 0.6  # seconds on the injected clock; also sets how often the replicas try (real time)


class Clock:
    """The leases' wall and monotonic clock: still unless the test moves it."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def writes(aws: Aws) -> int:
    return sum(n for op, n in aws.calls.items() if not op.startswith("dynamodb:")
               and not op.split(":")[1].startswith(("describe", "list", "get")))


def attempts(c: Controller) -> int:
    """How many times this replica has tried to take or renew the lease."""
    assert c.lease is not None
    return int(c.lease.aws.calls["dynamodb:put_item"])


def replica(name: str, bare: Path, tmp: Path, slack: SlackReceiver, clock: Clock) -> Controller:
    aws = Aws()
    source = GitSource(str(bare), "main", "manifests", workdir=tmp / name)
    lease = Lease(aws, "reconciler-lease", "accounting", name, LEASE, wall=clock,
                  monotonic=clock)
    return Controller(source, aws, Notifier(WebhookSink(slack.webhook_url)),
                      Settings(resync_interval=0.3, fetch_interval=0.3), lease)


async def more_attempts(c: Controller, n: int) -> None:
    """Wait until the replica has tried the lease `n` more times."""
    target = attempts(c) + n
    await wait_for(lambda: attempts(c) >= target, timeout=30)


async def test_one_writer_and_handover_when_the_lease_expires(
    git_remote: tuple[Path, Path], aws: EmbeddedAws, tmp_path: Path, slack: SlackReceiver,
    record_property: Callable[[str, object], None],
) -> None:
    """While one replica leads, the other tries the lease and never writes; when the leader
    dies without releasing it, the standby takes over only once the lease has expired on the
    injected clock, at its first try after that, and then applies new commits itself."""
    bare, work = git_remote
    shutil.copytree(EXAMPLES, work / "manifests")
    push(work, "initial")
    seed_for(aws, work / "manifests")
    await ensure_lease_table(Aws(), "reconciler-lease")
    clock = Clock()
    a, b = (replica("a", bare, tmp_path, slack, clock), replica("b", bare, tmp_path, slack, clock))
    task_a = asyncio.create_task(a.run())
    await wait_for(lambda: a.is_leader() and a.applied_revision is not None)
    task_b = asyncio.create_task(b.run())
    path = work / "manifests/apps/worker/service.yaml"
    path.write_text(path.read_text().replace("desiredCount: 1", "desiredCount: 2"))
    second = push(work, "scale")
    a.request_fetch()
    b.request_fetch()
    await wait_for(lambda: a.applied_revision == second)
    await more_attempts(b, 3)  # b keeps trying the lease and keeps failing
    assert writes(a.aws) > 0 and writes(b.aws) == 0 and not b.is_leader()

    async def no_release() -> None:  # a crash: the lease is not given back
        return None

    a.lease.release = no_release  # type: ignore[union-attr, method-assign]
    a.stop()
    await task_a
    expires = clock.now + LEASE  # a's last renewal was made at this (still) clock's time
    await more_attempts(b, 3)
    assert not b.is_leader()  # the dead leader's lease still runs
    clock.now = expires - 0.01
    await more_attempts(b, 3)
    assert not b.is_leader() and writes(b.aws) == 0  # not even a moment before expiry
    clock.now = expires + 0.01
    tried, moved = attempts(b), time.monotonic()
    await wait_for(b.is_leader, timeout=30)
    record_property("handover_after_expiry_seconds", round(time.monotonic() - moved, 3))
    record_property("handover_attempts_after_expiry", attempts(b) - tried)
    # the try that was under way when the clock moved may still have read the old time
    assert attempts(b) - tried <= 2
    path.write_text(path.read_text().replace("desiredCount: 2", "desiredCount: 3"))
    third = push(work, "scale again")
    b.request_fetch()
    await wait_for(lambda: b.applied_revision == third)
    assert writes(b.aws) > 0
    b.stop()
    await task_b
