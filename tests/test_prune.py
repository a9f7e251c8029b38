"""Pruning: only owned resources, only when asked, never a mass deletion by accident."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reconciler.validate import load_tree
from tests.conftest import cli, cli_json


def _unowned(ecs: Any) -> None:
    """Resources made by hand in the same account and cluster: never the reconciler's."""
    ecs.create_cluster(clusterName="hand-made")
    ecs.register_task_definition(family="hand-made", containerDefinitions=[
        {"name": "a", "image": "nginx", "memory": 64}])
    ecs.create_service(cluster="accounting-prd", serviceName="hand-made",
                       taskDefinition="hand-made", desiredCount=0)


def test_prune_is_off_unless_asked(examples: Path, ecs: Any) -> None:
    assert cli("apply", str(examples)).exit_code == 0
    (examples / "apps/worker/service.yaml").unlink()
    code, out = cli_json("diff", str(examples))
    assert code == 0 and out["changes"] == []


def test_deleting_one_manifest_prunes_exactly_its_resource(examples: Path, ecs: Any) -> None:
    assert cli("apply", str(examples)).exit_code == 0
    _unowned(ecs)
    (examples / "apps/worker/service.yaml").unlink()
    code, out = cli_json("diff", str(examples), "--prune")
    assert code == 2
    assert [(c["kind"], c["name"], c["action"]) for c in out["changes"]] == [
        ("Service", "accounting-worker", "delete")]
    assert cli("apply", str(examples), "--prune").exit_code == 0
    services = ecs.describe_services(cluster="accounting-prd",
                                     services=["accounting-worker", "hand-made",
                                               "accounting-api"])["services"]
    assert {s["serviceName"]: s["status"] for s in services} == {
        "accounting-worker": "INACTIVE", "hand-made": "ACTIVE", "accounting-api": "ACTIVE"}
    assert cli("diff", str(examples), "--prune").exit_code == 0


def test_unowned_resources_survive_any_prune(examples: Path, ecs: Any) -> None:
    assert cli("apply", str(examples)).exit_code == 0
    _unowned(ecs)
    for f in examples.rglob("*.yaml"):
        if f.name != "reconciler.yaml":
            f.unlink()
    result = cli("apply", str(examples), "--prune", "--allow-mass-prune")
    assert result.exit_code == 0, result.output
    assert ecs.describe_clusters(clusters=["hand-made"])["clusters"][0]["status"] == "ACTIVE"
    svc = ecs.describe_services(cluster="accounting-prd", services=["hand-made"])["services"]
    assert svc and svc[0]["status"] == "ACTIVE"
    assert ecs.describe_task_definition(taskDefinition="hand-made")["taskDefinition"]


def test_emptying_the_folder_is_refused(examples: Path, ecs: Any) -> None:
    assert cli("apply", str(examples)).exit_code == 0
    total = len(load_tree(examples).manifests)
    for f in examples.rglob("*.yaml"):
        if f.name != "reconciler.yaml":
            f.unlink()
    result = cli("apply", str(examples), "--prune")
    assert result.exit_code == 1
    assert f"prune would delete {total} of {total} owned resources" in result.output
    assert "nothing will be deleted" in result.output
    assert len(ecs.list_services(cluster="accounting-prd")["serviceArns"]) == 2
    code, out = cli_json("diff", str(examples), "--prune")
    assert code == 1 and out["refused"]


def test_prune_from_config(examples: Path, ecs: Any) -> None:
    assert cli("apply", str(examples)).exit_code == 0
    cfg = examples / "reconciler.yaml"
    cfg.write_text(cfg.read_text().replace("prune: false", "prune: true"))
    (examples / "apps/worker/service.yaml").unlink()
    code, out = cli_json("diff", str(examples))
    assert code == 2 and out["changes"][0]["action"] == "delete"
