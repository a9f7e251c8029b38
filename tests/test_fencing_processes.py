"""Two controller replicas as real `reconciler serve` processes on one DynamoDB lease (moto),
reading a real git remote, while the leader is stopped mid-apply: SIGTERM, SIGSTOP past its
lease then SIGCONT, and kill -9. Each replica reaches AWS through its own loopback proxy
(tests/support_hardening.py), which is how every write is attributed to the replica that
sent it, and which holds the answer to each write a moment so that an apply lasts long
enough to be interrupted. Never two writers, nothing registered twice, and AWS converges."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from reconciler.aws.client import Aws
from reconciler.controller.lease import Lease
from reconciler.core.ownership import DESIRED_HASH_TAG, NAME_TAG
from reconciler.embedded import EmbeddedAws
from tests.conftest import EXAMPLES, REGION, cli, push, seed_for
from tests.support_hardening import AwsProxy, Replica, Trap, create_lease_table, wait_until

LEASE_SECONDS = 3.0
WRITE_DELAY = 0.1  # seconds each write's answer is held: a cold apply lasts seconds
TABLE = "reconciler-lease"


@pytest.fixture
def estate(git_remote: tuple[Path, Path], aws: EmbeddedAws) -> Path:
    """The example estate without its apps (a cluster, two task definitions, a Spot Fleet and
    its scalable target, one schedule: every phase of an apply, and the schedule's rule the
    only write of its phase) pushed to a bare remote, its network seeded, the lease table
    made."""
    _, work = git_remote
    shutil.copytree(EXAMPLES, work / "manifests")
    shutil.rmtree(work / "manifests/apps")
    schedules = work / "manifests/schedules/batches.yaml"
    schedules.write_text(schedules.read_text().split("\n---\n")[0] + "\n")
    push(work, "the estate")
    seed_for(aws, work / "manifests")
    create_lease_table(TABLE)
    return work / "manifests"


@pytest.fixture
def pair(estate: Path, git_remote: tuple[Path, Path], aws: EmbeddedAws, tmp_path: Path
         ) -> Iterator[list[Replica]]:
    """Two replicas started together; either may win the lease."""
    bare, _ = git_remote
    args = ["--repo", str(bare), "--path", "manifests", "--lease-table", TABLE,
            "--lease-name", "fence", "--lease-seconds", str(LEASE_SECONDS),
            "--resync", "3600", "--fetch-interval", "3600"]
    replicas = [Replica.start(name, args, AwsProxy(aws.url, WRITE_DELAY), tmp_path)
                for name in ("one", "two")]
    try:
        yield replicas
    finally:
        for r in replicas:
            r.stop()


def leading_and_synced(replica: Replica) -> bool:
    status, body = replica.get("/readyz")
    return status == 200 and json.loads(body)["role"] == "leader"


def assert_never_two_writers(replicas: list[Replica]) -> None:
    """Whenever the replica writing changes, the new writer took the lease (a conditional
    write DynamoDB accepted) after the previous writer's last write reached AWS: the lease
    passed between them, so they never wrote at the same time."""
    events = sorted(((c.at, r.name, c) for r in replicas for c in r.proxy.calls
                     if c.write or (c.operation == "PutItem" and c.status == 200)),
                    key=lambda e: e[0])
    writers = [name for _, name, c in events if c.write]
    assert len(set(writers)) == 2, writers  # both wrote: there was a handover to check
    last: str | None = None
    took_lease: set[str] = set()  # replicas that took or renewed the lease since `last` wrote
    for at, name, call in events:
        if not call.write:
            took_lease.add(name)
            continue
        assert last in (None, name) or name in took_lease, \
            f"{name} sent {call.operation} at {at:.3f} while {last} was writing"
        last, took_lease = name, set()


def assert_nothing_duplicated() -> None:
    """One revision per distinct content in every task definition family, one fleet (AWS
    gives fleets no name: a second request would be a second fleet)."""
    ecs = boto3.client("ecs", region_name=REGION)
    families = ecs.list_task_definition_families(status="ACTIVE")["families"]
    assert families
    for family in families:
        arns = ecs.list_task_definitions(familyPrefix=family, status="ACTIVE")["taskDefinitionArns"]
        hashes: Counter[str | None] = Counter()
        for arn in arns:
            tags = {t["key"]: t["value"] for t in ecs.describe_task_definition(
                taskDefinition=arn, include=["TAGS"]).get("tags", [])}
            hashes[tags.get(DESIRED_HASH_TAG)] += 1
        assert all(n == 1 for n in hashes.values()), (family, arns)
    ec2 = boto3.client("ec2", region_name=REGION)
    fleets = [f for f in ec2.describe_spot_fleet_requests()["SpotFleetRequestConfigs"]
              if f["SpotFleetRequestState"] in ("submitted", "active", "modifying")]
    names = Counter(t["Value"] for f in fleets for t in f.get("Tags", []) if t["Key"] == NAME_TAG)
    assert all(n == 1 for n in names.values()) and len(names) == len(fleets) == 1, fleets


def assert_converged(root: Path) -> None:
    result = cli("diff", str(root))
    assert result.exit_code == 0, result.output


def test_sigterm_mid_apply_finishes_what_is_in_flight_then_hands_over(
    pair: list[Replica], estate: Path, record_property: Any
) -> None:
    trap = Trap(pair, "RegisterTaskDefinition", signal.SIGTERM)
    leader, _ = trap.wait()
    standby = next(r for r in pair if r is not leader)
    assert leader.proc.wait(timeout=30) == 0
    assert leader.events("controller.stopped")
    wait_until(lambda: leading_and_synced(standby), 60, "the standby leading and synced")
    # after SIGTERM only the phase under way finished (no fleet, schedule... was started),
    # then the lease was given back, and only then did the other replica write
    assert {c.operation for c in leader.proxy.writes(after=trap.at)} <= {"RegisterTaskDefinition"}
    released = next(c for c in leader.proxy.calls if c.operation == "DeleteItem")
    took_over = min(c.at for c in standby.proxy.writes(after=trap.at))
    assert max(c.at for c in leader.proxy.writes()) < released.at < took_over
    assert_never_two_writers(pair)
    assert_nothing_duplicated()
    assert_converged(estate)
    record_property("handover_after_sigterm_s", round(took_over - trap.at, 3))
    record_property("writes", f"{len(leader.proxy.writes())}+{len(standby.proxy.writes())}")


def test_a_leader_paused_past_its_lease_writes_nothing_when_it_resumes(
    pair: list[Replica], estate: Path, record_property: Any
) -> None:
    # paused with the rule sent and its target not yet: the one write in flight. (With
    # several in flight, a request that had passed the last check an instant before the
    # pause may still leave after it: see README, "High availability".)
    trap = Trap(pair, "PutRule", signal.SIGSTOP)
    leader, _ = trap.wait()
    standby = next(r for r in pair if r is not leader)
    wait_until(lambda: leading_and_synced(standby), 60, "the standby leading and synced")
    resumed = leader.send(signal.SIGCONT)
    # it gets the answers it was waiting for, and its next write is refused by the fence
    wait_until(lambda: leader.events("apply.fenced"), 30, "a write refused by the fence")
    wait_until(lambda: leader.events("pass.done"), 30, "the resumed pass ending")
    assert leader.proxy.writes(after=resumed) == []
    assert_never_two_writers(pair)
    fenced = leader.events("apply.fenced")
    assert fenced and all("put_targets: Fenced: not sent" in e["error"] for e in fenced)
    assert json.loads(leader.get("/readyz")[1])["role"] == "standby"
    # the rule it left without a target was finished by the new leader as a deploy, not
    # held back as drift (selfHeal is off in this estate)
    assert_nothing_duplicated()
    assert_converged(estate)
    record_property("paused_s", round(resumed - trap.at, 3))
    record_property("fenced_writes", len(fenced))


def test_kill_9_mid_apply_converges_with_nothing_duplicated(
    pair: list[Replica], estate: Path, record_property: Any
) -> None:
    trap = Trap(pair, "RequestSpotFleet", signal.SIGKILL)  # the one kind AWS does not name
    leader, _ = trap.wait()
    standby = next(r for r in pair if r is not leader)
    leader.proc.wait(timeout=10)
    wait_until(lambda: leading_and_synced(standby), 60, "the standby leading and synced")
    assert_never_two_writers(pair)
    assert_nothing_duplicated()
    assert_converged(estate)
    record_property("takeover_after_kill_s",
                    round(min(c.at for c in standby.proxy.writes(after=trap.at)) - trap.at, 3))


async def test_a_lease_that_lapses_while_its_renewal_is_in_flight_is_a_new_term(
    aws: EmbeddedAws
) -> None:
    """What the processes above ran into under load: a renewal's conditional write is slow,
    the lease lapses on this replica's clock meanwhile (its writes are fenced), then the write
    lands and the lease is valid again. Leadership was lost and regained: the controller must
    hear it, to re-run what the fence stopped (before, it heard nothing, and waited for the
    next resync)."""
    create_lease_table(TABLE)
    offset = 0.0
    lease = Lease(Aws(), TABLE, "lapse", "me", 3.0, monotonic=lambda: time.monotonic() + offset)
    real = lease.aws.call
    slow = asyncio.Event()

    async def call(service: str, operation: str, /, **params: Any) -> dict[str, Any]:
        nonlocal offset
        if slow.is_set():
            slow.clear()
            offset += 2.0  # past the last validity (2.4 s), within this renewal's
        return await real(service, operation, **params)

    lease.aws.call = call  # type: ignore[method-assign]
    heard: list[bool] = []
    stop = asyncio.Event()
    keep = asyncio.create_task(lease.keep(stop, heard.append))
    deadline = time.monotonic() + 30
    while heard != [True] and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    term = lease.term
    slow.set()
    while len(heard) < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    leading = lease.is_leader()
    stop.set()
    await keep
    assert heard == [True, True] and lease.term == term + 1 and leading
