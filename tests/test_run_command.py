"""`reconciler run` against the embedded default: it starts the task the manifests define,
follows it on the (sped-up) embedded clock and exits with the essential container's code."""

from __future__ import annotations

from pathlib import Path

import boto3

from reconciler.embedded import EmbeddedAws
from tests.conftest import REGION, cli
from tests.support_hooks import fast_clock, seed, write_estate

FAST = ("--poll", "0.05")


def test_run_exits_with_the_containers_exit_code(aws: EmbeddedAws, tmp_path: Path) -> None:
    seed(aws)
    root = write_estate(tmp_path / "m", migrate_exit=None)
    assert cli("apply", str(root)).exit_code == 0
    write_estate(root, migrate_exit=3)  # the Job is added; nothing it gates changes
    with fast_clock():
        failed = cli("run", "migrate", str(root), *FAST)
        assert failed.exit_code == 3, failed.output
        assert "container app: exit 3" in failed.output
        assert "log group /ecs/app, stream app/app/" in failed.output
        fixed = cli("run", "migrate", str(root), "--command", "sh -c 'exit 0'", *FAST)
        assert fixed.exit_code == 0, fixed.output
        by_env = cli("run", "app", str(root), "-e", "RECONCILER_SIMULATE_EXIT=5", *FAST)
        assert by_env.exit_code == 5, by_env.output
        assert "networked and placed like Service/c/api" in by_env.output
    started = cli("run", "app", str(root), "--no-wait")
    assert started.exit_code == 0
    arn = started.output.strip().splitlines()[-1]
    task = boto3.client("ecs", region_name=REGION).describe_tasks(cluster="c", tasks=[arn],
                                                              include=["TAGS"])
    assert task["tasks"][0]["launchType"] == "FARGATE"
    assert {t["key"]: t["value"] for t in task["tasks"][0]["tags"]}["reconciler:job"] == "app"
    with fast_clock():
        patient = cli("run", "app", str(root), "--timeout", "30m", *FAST)  # a duration
        assert patient.exit_code == 0, patient.output
    # the embedded clock at its own pace: the task is still provisioning after one second
    slow = cli("run", "app", str(root), "--timeout", "1s", *FAST)
    assert slow.exit_code == 124, slow.output
    assert "still running after 1 s: arn:aws:ecs:" in slow.output
    assert cli("run", "app", str(root), "--timeout", "soon").exit_code == 1
    unknown = cli("run", "nothing", str(root))
    assert unknown.exit_code == 1 and "no Job and no TaskDefinition is named nothing" in \
        unknown.output
    assert cli("diff", str(root)).exit_code == 0  # running by hand is not a hook's run


def test_a_batch_definition_runs_networked_like_its_schedule() -> None:
    """No Service runs the ledger sync's definition; its ScheduledTask's target says where
    and how (EventBridge's EcsParameters name the fields as RunTask does)."""
    from reconciler.kinds import load_tree
    from reconciler.sync.oneoff import find
    from tests.conftest import MANIFESTS

    tree = load_tree(MANIFESTS, region=REGION)
    job, notes = find(tree.manifests, "accounting-ledger-sync", None)
    assert job.cluster == "accounting-prd"
    assert job.spec["launchType"] == "FARGATE"
    assert job.spec["networkConfiguration"]["awsvpcConfiguration"]["securityGroups"] == [
        "sg-0a1b2c3d4e5f60002"]
    assert notes == ["networked and placed like ScheduledTask/accounting-prd/"
                     "accounting-ledger-sync (no Service runs it)"]
