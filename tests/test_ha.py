"""Two controllers on one DynamoDB lease: one writer, and a handover within the lease time."""

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
from tests.conftest import EXAMPLES, SlackReceiver, ensure_lease_table, push, seed_for
from tests.test_controller import wait_for

LEASE = 1.5


def writes(aws: Aws) -> int:
    return sum(n for op, n in aws.calls.items() if not op.startswith("dynamodb:")
               and not op.split(":")[1].startswith(("describe", "list", "get")))


def replica(name: str, bare: Path, tmp: Path, slack: SlackReceiver) -> Controller:
    aws = Aws()
    source = GitSource(str(bare), "main", "manifests", workdir=tmp / name)
    lease = Lease(aws, "reconciler-lease", "accounting", name, LEASE)
    return Controller(source, aws, Notifier(WebhookSink(slack.webhook_url)),
                      Settings(resync_interval=0.3, fetch_interval=0.3), lease)


async def test_one_writer_and_handover(
    git_remote: tuple[Path, Path], aws: EmbeddedAws, tmp_path: Path, slack: SlackReceiver,
    record_property: Callable[[str, object], None],
) -> None:
    bare, work = git_remote
    shutil.copytree(EXAMPLES, work / "manifests")
    push(work, "initial")
    seed_for(aws, work / "manifests")
    await ensure_lease_table(Aws(), "reconciler-lease")
    a, b = replica("a", bare, tmp_path, slack), replica("b", bare, tmp_path, slack)
    task_a = asyncio.create_task(a.run())
    await wait_for(lambda: a.is_leader() and a.applied_revision is not None)
    task_b = asyncio.create_task(b.run())
    path = work / "manifests/apps/worker/service.yaml"
    path.write_text(path.read_text().replace("desiredCount: 1", "desiredCount: 2"))
    second = push(work, "scale")
    a.request_fetch()
    b.request_fetch()
    await wait_for(lambda: a.applied_revision == second)
    for _ in range(3):  # b keeps trying the lease and keeps failing
        await asyncio.sleep(LEASE / 3)
    assert writes(a.aws) > 0 and writes(b.aws) == 0 and not b.is_leader()

    async def no_release() -> None:  # a crash: the lease is not given back
        return None

    a.lease.release = no_release  # type: ignore[union-attr, method-assign]
    killed = time.monotonic()
    a.stop()
    await task_a
    await wait_for(b.is_leader, timeout=LEASE * 3)
    handover = time.monotonic() - killed
    record_property("handover_seconds", round(handover, 3))
    print(f"handover after the leader died: {handover:.2f} s (lease {LEASE} s)")
    assert handover <= LEASE + LEASE / 10 + 0.3
    path.write_text(path.read_text().replace("desiredCount: 2", "desiredCount: 3"))
    third = push(work, "scale again")
    b.request_fetch()
    await wait_for(lambda: b.applied_revision == third)
    assert writes(b.aws) > 0
    b.stop()
    await task_b
