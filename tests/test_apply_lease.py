"""`reconciler apply` and the controller share one lease: a person and the controller never
write at once (moto's DynamoDB is the lease table, the CLI runs as a user types it)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import boto3

from reconciler.aws.client import Aws
from reconciler.controller.lease import Lease
from reconciler.embedded import EmbeddedAws
from tests.conftest import REGION, cli, ensure_lease_table, write

TABLE = "reconciler-leases"
CLUSTER = "apiVersion: reconciler/v1\nkind: Cluster\nmetadata: {name: shop}\nspec: {}\n"


def estate(root: Path) -> Path:
    write(root, "c.yaml", CLUSTER)
    asyncio.run(ensure_lease_table(Aws(), TABLE))
    return root


def hold(holder: str, seconds: float) -> None:
    """The lease as a running controller leaves it in the table."""
    boto3.client("dynamodb", region_name=REGION).put_item(TableName=TABLE, Item={
        "lease": {"S": "reconciler"}, "holder": {"S": holder},
        "expiresAt": {"N": f"{time.time() + seconds:.3f}"}})


def clusters() -> list[str]:
    arns: list[str] = boto3.client("ecs", region_name=REGION).list_clusters()["clusterArns"]
    return arns


def lease_item() -> dict[str, object] | None:
    got = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=TABLE, Key={"lease": {"S": "reconciler"}}, ConsistentRead=True)
    item: dict[str, object] | None = got.get("Item")
    return item


def test_apply_refuses_while_the_controller_holds_the_lease(tmp_path: Path,
                                                             aws: EmbeddedAws) -> None:
    root = estate(tmp_path)
    hold("ip-10-0-1-7-4242", 60)
    result = cli("apply", str(root), "--lease-table", TABLE)
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ip-10-0-1-7-4242 holds the lease")
    assert "--force" in lines[0] and "Traceback" not in result.output
    assert clusters() == []


def test_force_applies_without_the_lease_and_says_so(tmp_path: Path, aws: EmbeddedAws) -> None:
    root = estate(tmp_path)
    hold("ip-10-0-1-7-4242", 60)
    result = cli("apply", str(root), "--lease-table", TABLE, "--force")
    assert result.exit_code == 0, result.output
    assert "--force: applying without the lease 'reconciler'" in result.stderr
    assert len(clusters()) == 1
    assert lease_item() is not None and "4242" in str(lease_item())


def test_apply_holds_the_lease_while_it_writes_then_lets_go(tmp_path: Path,
                                                            aws: EmbeddedAws) -> None:
    root = estate(tmp_path)
    seen: list[str] = []
    done = asyncio.Event()

    async def controller_tries_meanwhile() -> None:
        """A standby controller: while the CLI's holder is in the item, it cannot take over."""
        ctl = Lease(Aws(), TABLE, "reconciler", "controller-a", 15.0)
        while not done.is_set():
            item = lease_item()
            if item is not None and "reconciler apply (" in str(item["holder"]):
                seen.append(str(item["holder"]))
                took = await ctl.try_acquire()
                if took:  # only possible once the CLI had let go in between
                    assert lease_item() is not None and "controller-a" in str(lease_item())
                    await ctl.release()
                    seen.append("took")
            await asyncio.sleep(0.01)

    async def both() -> int:
        watcher = asyncio.create_task(controller_tries_meanwhile())
        code = (await asyncio.to_thread(cli, "apply", str(root), "--lease-table", TABLE)).exit_code
        done.set()
        await watcher
        return code

    assert asyncio.run(both()) == 0
    assert any("reconciler apply (" in holder for holder in seen)
    assert seen.count("took") <= 1
    assert lease_item() is None
    assert asyncio.run(Lease(Aws(), TABLE, "reconciler", "controller-a").try_acquire())


def test_an_expired_holder_does_not_block(tmp_path: Path, aws: EmbeddedAws) -> None:
    root = estate(tmp_path)
    hold("crashed-controller", -5)
    assert cli("apply", str(root), "--lease-table", TABLE).exit_code == 0
    assert len(clusters()) == 1


def test_lease_wait_outlasts_a_holder_that_lets_go(tmp_path: Path, aws: EmbeddedAws) -> None:
    root = estate(tmp_path)
    hold("scaled-to-zero", 1.0)
    result = cli("apply", str(root), "--lease-table", TABLE, "--lease-wait", "30")
    assert result.exit_code == 0, result.output
    assert len(clusters()) == 1


def test_a_missing_lease_table_is_one_line(tmp_path: Path, aws: EmbeddedAws) -> None:
    write(tmp_path, "c.yaml", CLUSTER)
    result = cli("apply", str(tmp_path), "--lease-table", "nope")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: the lease table nope did not answer (ResourceNotFoundException: Requested "
        "resource not found): stop the controller (or wait, "
        "--lease-wait), or apply anyway with --force"]
    assert clusters() == []


def test_without_a_lease_table_apply_takes_no_lease(tmp_path: Path, aws: EmbeddedAws) -> None:
    root = estate(tmp_path)
    hold("controller-a", 60)
    assert cli("apply", str(root)).exit_code == 0
    assert lease_item() is not None and "controller-a" in str(lease_item())
