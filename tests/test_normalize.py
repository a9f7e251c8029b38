"""The normalisation table: one test per rule (its own example), and the server-chosen list."""

from __future__ import annotations

import copy

import pytest

from reconciler.core.normalize import (
    Rule,
    cpu_units,
    drop_server_chosen,
    memory_units,
    prune_empty,
)
from reconciler.kinds import REGISTRY

ALL_RULES: list[tuple[str, Rule]] = [
    (kind.kind, rule) for kind in REGISTRY.values() for rule in kind.rules
]


@pytest.mark.parametrize(("kind", "rule"), ALL_RULES, ids=[r.id for _k, r in ALL_RULES])
def test_rule(kind: str, rule: Rule) -> None:
    """Each rule turns its example input into its example output, and the example is not
    already normalised (so the test would fail if the rule did nothing)."""
    before, after = rule.example
    assert before != after
    doc = copy.deepcopy(before)
    rule(doc)
    assert doc == after


def test_rule_ids_are_unique() -> None:
    ids = [r.id for _k, r in ALL_RULES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(
    ("given", "expected"),
    [("0.25 vCPU", "256"), ("1 vCPU", "1024"), (256, "256"), ("256", "256"), ("2 vcpu", "2048")],
)
def test_cpu_units(given: object, expected: str) -> None:
    assert cpu_units(given) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [("1 GB", "1024"), ("0.5GB", "512"), (2048, "2048"), ("512", "512"), ("3 GiB", "3072")],
)
def test_memory_units(given: object, expected: str) -> None:
    assert memory_units(given) == expected


def test_ordered_lists_are_never_sorted() -> None:
    """command, entryPoint, healthCheck.command and dnsServers keep their order (case 16)."""
    td = REGISTRY["TaskDefinition"]
    spec = {"containerDefinitions": [{
        "name": "a", "image": "x", "command": ["z", "a"], "entryPoint": ["sh", "-c"],
        "dnsServers": ["10.0.0.2", "10.0.0.1"],
        "healthCheck": {"command": ["CMD-SHELL", "b", "a"]}}]}
    out = td.normalize(spec)["containerDefinitions"]["a"]
    assert out["command"] == ["z", "a"]
    assert out["entryPoint"] == ["sh", "-c"]
    assert out["dnsServers"] == ["10.0.0.2", "10.0.0.1"]
    assert out["healthCheck"]["command"] == ["CMD-SHELL", "b", "a"]


def test_placement_strategy_order_is_kept() -> None:
    svc = REGISTRY["Service"]
    spec = {"placementStrategy": [{"type": "spread", "field": "attribute:ecs.availability-zone"},
                                  {"type": "binpack", "field": "cpu"}]}
    out = svc.normalize(spec)
    assert [s["type"] for s in out["placementStrategy"]] == ["spread", "binpack"]


def test_prune_empty_compacts_sparse_lists() -> None:
    assert prune_empty({"a": [None, {}], "b": {"c": []}, "d": 0, "e": False}) == {"d": 0, "e": False}


SERVER_CHOSEN = {
    (kind.kind, ".".join(row.path)) for kind in REGISTRY.values() for row in kind.server_chosen
}


def test_server_chosen_list_is_explicit() -> None:
    """The fields AWS picks itself when omitted. Adding one is a decision: change this list."""
    assert {
        ("TaskDefinition", "runtimePlatform"),
        ("TaskDefinition", "networkMode"),
        ("Service", "desiredCount"),
        ("Service", "capacityProviderStrategy"),
        ("Service", "launchType"),
        ("Service", "availabilityZoneRebalancing"),
        ("Service", "role"),
        ("Cluster", "settings.containerInsights"),
    } == SERVER_CHOSEN


@pytest.mark.parametrize(("kind", "path"), sorted(SERVER_CHOSEN))
def test_server_chosen_is_dropped_only_when_omitted(kind: str, path: str) -> None:
    k = REGISTRY[kind]
    rows = [r for r in k.server_chosen if ".".join(r.path) == path]
    keys = path.split(".")
    live: dict[str, object] = {}
    cur = live
    for key in keys[:-1]:
        cur = cur.setdefault(key, {})  # type: ignore[assignment]
    cur[keys[-1]] = "chosen-by-aws"
    omitted = copy.deepcopy(live)
    assert drop_server_chosen({}, omitted, rows) == rows
    assert "chosen-by-aws" not in str(omitted)
    declared = copy.deepcopy(live)
    assert drop_server_chosen(copy.deepcopy(live), declared, rows) == []
    assert declared == live


def test_fields_that_are_not_server_chosen_are_drift_when_omitted() -> None:
    """ECS Exec or a public IP turned on by hand is drift although the manifest omits it."""
    from reconciler.core.diff import compare

    svc = REGISTRY["Service"]
    desired = svc.normalize({"taskDefinition": "web:1"})
    live = svc.normalize({"taskDefinition": "web:1", "enableExecuteCommand": True,
                          "networkConfiguration": {"awsvpcConfiguration": {
                              "subnets": ["s"], "assignPublicIp": "ENABLED"}}})
    drop_server_chosen(desired, live, svc.server_chosen)
    paths = {c.path for c in compare(desired, live)}
    assert ("enableExecuteCommand",) in paths
    assert ("networkConfiguration",) in paths
