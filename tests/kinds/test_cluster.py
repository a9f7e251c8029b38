"""Cluster against moto: capacity providers, default strategy and settings.

One applied estate per test; each test goes through its steps in order (a step starts where
the one before left AWS, in sync with git)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import cli, cli_json


def test_created_then_hand_edits_are_exactly_that_drift_and_healed(
    examples: Path, ecs: Any
) -> None:
    """Apply creates the cluster with its capacity providers and settings; hand edits to its
    default strategy and Container Insights, and to a service's capacity provider strategy,
    are each exactly that drift, and apply heals the cluster's."""
    assert cli("apply", str(examples)).exit_code == 0
    c = ecs.describe_clusters(clusters=["accounting-prd"], include=["SETTINGS", "TAGS"])[
        "clusters"][0]
    assert sorted(c["capacityProviders"]) == ["FARGATE", "FARGATE_SPOT"]
    assert {"name": "containerInsights", "value": "enabled"} in c["settings"]

    ecs.put_cluster_capacity_providers(
        cluster="accounting-prd", capacityProviders=["FARGATE", "FARGATE_SPOT"],
        defaultCapacityProviderStrategy=[{"capacityProvider": "FARGATE", "weight": 1}])
    ecs.update_cluster(cluster="accounting-prd",
                       settings=[{"name": "containerInsights", "value": "disabled"}])
    code, out = cli_json("diff", str(examples))
    assert code == 2
    [change] = out["changes"]
    assert {d["path"] for d in change["diff"]} == {
        "spec.defaultCapacityProviderStrategy", "spec.settings[containerInsights]"}
    assert cli("apply", str(examples)).exit_code == 0
    assert cli("diff", str(examples)).exit_code == 0

    ecs.update_service(cluster="accounting-prd", service="accounting-worker",
                       capacityProviderStrategy=[{"capacityProvider": "FARGATE_SPOT",
                                                  "weight": 1}])
    code, out = cli_json("diff", str(examples))
    assert code == 2
    assert [d["path"] for d in out["changes"][0]["diff"]] == ["spec.capacityProviderStrategy"]
