"""The normalisation table: one test per rule (its own example), and the server-chosen list."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from reconciler.core.normalize import (
    Doc,
    Rule,
    ServerChosen,
    apply_rules,
    canonical_json,
    clone,
    cpu_units,
    delete_path,
    drop_default,
    drop_server_chosen,
    each,
    get_path,
    has_path,
    key_by,
    last_segment,
    memory_units,
    prune_empty,
    prune_in_place,
    sort_set,
    sort_set_fields,
    tags_as_map,
)
from reconciler.core.ownership import OWNERSHIP_TAGS
from reconciler.kinds import REGISTRY

MISSING = object()
DOC: Doc = {"a": {"b": 1}, "list": ["first", {"x": 2}], "text": "abc", "n": 5}

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
    """Every rule id names one rule, so a failing example points at one row."""
    ids = [r.id for _k, r in ALL_RULES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(
    ("given", "expected"),
    [("0.25 vCPU", "256"), ("1 vCPU", "1024"), (256, "256"), ("256", "256"), ("2 vcpu", "2048")],
)
def test_cpu_units(given: object, expected: str) -> None:
    """Task cpu in vCPU or units, as text or number, becomes AWS's text in units."""
    assert cpu_units(given) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [("1 GB", "1024"), ("0.5GB", "512"), (2048, "2048"), ("512", "512"), ("3 GiB", "3072")],
)
def test_memory_units(given: object, expected: str) -> None:
    """Task memory in GB, GiB or MiB, as text or number, becomes AWS's text in MiB."""
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
    """placementStrategy is ordered (first strategy wins), so it is never sorted."""
    svc = REGISTRY["Service"]
    spec = {"placementStrategy": [{"type": "spread", "field": "attribute:ecs.availability-zone"},
                                  {"type": "binpack", "field": "cpu"}]}
    out = svc.normalize(spec)
    assert [s["type"] for s in out["placementStrategy"]] == ["spread", "binpack"]


def test_prune_empty_compacts_sparse_lists() -> None:
    """Empty maps, lists and nulls go, while 0 and false are values and stay."""
    assert prune_empty({"a": [None, {}], "b": {"c": []}, "d": 0, "e": False}) == {"d": 0, "e": False}


SERVER_CHOSEN = {
    (kind.kind, ".".join(row.path)) for kind in REGISTRY.values() for row in kind.server_chosen
}


def test_server_chosen_list_is_explicit() -> None:
    """The fields AWS picks itself when omitted: adding one is a decision, made in this list."""
    assert {
        ("TaskDefinition", "runtimePlatform"),
        ("TaskDefinition", "networkMode"),
        ("Service", "desiredCount"),
        ("Service", "capacityProviderStrategy"),
        ("Service", "launchType"),
        ("Service", "availabilityZoneRebalancing"),
        ("Service", "role"),
        ("Service", "deploymentConfiguration.bakeTimeInMinutes"),
        ("Cluster", "settings.containerInsights"),
    } == SERVER_CHOSEN


@pytest.mark.parametrize(("kind", "path"), sorted(SERVER_CHOSEN))
def test_server_chosen_is_dropped_only_when_omitted(kind: str, path: str) -> None:
    """Each server-chosen field leaves live only when git omits it, and is reported as used."""
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


# --- the helpers the rules are written with ----------------------------------------------------


def test_clone_is_deep() -> None:
    """clone copies nested maps and lists, so editing the copy never reaches the original."""
    original = {"a": {"b": [1, {"c": 2}]}, "d": [[3]]}
    copied = clone(original)
    copied["a"]["b"][1]["c"] = 99
    copied["a"]["b"].append(4)
    copied["d"][0].append(5)
    assert original == {"a": {"b": [1, {"c": 2}]}, "d": [[3]]}


def test_apply_rules_leaves_its_input_untouched() -> None:
    """apply_rules works on a copy: the manifest's spec and the live response stay as they were."""

    def strip_image(doc: Doc) -> None:
        for c in doc["containerDefinitions"]:
            c.pop("image")
            c["environment"].clear()

    rule = Rule("strip", "test", strip_image, ({}, {}))
    doc = {"containerDefinitions": [{"name": "app", "image": "x", "environment": [{"name": "A"}]}]}
    before = copy.deepcopy(doc)
    assert apply_rules(doc, [rule]) == {"containerDefinitions": [{"name": "app"}]}
    assert doc == before


def test_kind_normalize_leaves_the_manifest_untouched() -> None:
    """Normalising a task definition (keying, sorting, unit conversion) does not edit the spec."""
    spec = {"cpu": "0.25 vCPU", "memory": "0.5 GB", "containerDefinitions": [
        {"name": "app", "image": "x", "environment": [{"name": "B", "value": "2"},
                                                     {"name": "A", "value": "1"}]}],
        "tags": [{"key": "team", "value": "web"}]}
    before = copy.deepcopy(spec)
    REGISTRY["TaskDefinition"].normalize(spec)
    assert spec == before


def test_drop_server_chosen_checks_every_row() -> None:
    """A declared server-chosen field does not stop the rows after it from being dropped."""
    rows = [ServerChosen(("desiredCount",), "kept"), ServerChosen(("launchType",), "chosen")]
    live = {"desiredCount": 2, "launchType": "FARGATE"}
    used = drop_server_chosen({"desiredCount": 3}, live, rows)
    assert used == [rows[1]]
    assert live == {"desiredCount": 2}


def test_drop_server_chosen_reports_only_rows_live_has() -> None:
    """A row counts as used only when live carried the field and it was removed."""
    rows = [ServerChosen(("role",), "a"), ServerChosen(("settings", "containerInsights"), "b")]
    live: Doc = {"settings": {}}
    assert drop_server_chosen({}, live, rows) == []
    assert live == {"settings": {}}


def test_drop_server_chosen_honours_when() -> None:
    """A row narrowed by `when` is looked at with the desired spec and skipped when it says no."""
    row = ServerChosen(("launchType",), "only without a strategy",
                       when=lambda d: "capacityProviderStrategy" not in d)
    live = {"launchType": "FARGATE"}
    assert drop_server_chosen({"capacityProviderStrategy": [{"capacityProvider": "x"}]}, live,
                              [row]) == []
    assert live == {"launchType": "FARGATE"}
    assert drop_server_chosen({}, live, [row]) == [row]
    assert live == {}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("a", "b"), 1),
        (("list", 0), "first"),
        (("list", 1, "x"), 2),
        (("list", 2), MISSING),
        (("list", -1), MISSING),
        (("list", "0"), MISSING),
        (("text", 0), MISSING),
        (("n", 0), MISSING),
        (("a", "nope"), MISSING),
        ((), DOC),
    ],
)
def test_get_path(path: tuple[str | int, ...], expected: object) -> None:
    """get_path walks maps by key and lists by in-range, non-negative int index, nothing else."""
    got = get_path(DOC, path)
    if expected is MISSING:
        assert not has_path(DOC, path)
    else:
        assert got == expected
        assert has_path(DOC, path)


def test_get_path_returns_falsy_values_as_they_are() -> None:
    """A present 0, "" or None is a value, not absence."""
    doc = {"zero": 0, "list": [None]}
    assert get_path(doc, ("zero",)) == 0
    assert has_path(doc, ("list", 0))
    assert get_path(doc, ("list", 0)) is None


def test_delete_path() -> None:
    """delete_path removes a map key and says whether it did; it never deletes list items."""
    doc: Doc = {"a": {"b": 1, "c": 2}, "l": [1, 2]}
    assert delete_path(doc, ("a", "b")) is True
    assert doc == {"a": {"c": 2}, "l": [1, 2]}
    assert delete_path(doc, ("a", "b")) is False
    assert delete_path(doc, ("x", "y")) is False
    assert delete_path(doc, ("l", 0)) is False
    assert doc == {"a": {"c": 2}, "l": [1, 2]}


def test_drop_default_keeps_booleans_and_numbers_apart() -> None:
    """true is not the default 1, and 0 is not the default false: only equal values are dropped."""
    d: Doc = {"flag": True, "count": 0, "ratio": 1.0, "off": False, "mode": "x"}
    drop_default(d, "flag", 1)
    drop_default(d, "count", False)
    drop_default(d, "ratio", 1)
    drop_default(d, "off", False)
    drop_default(d, "mode", "y", "x")
    drop_default(d, "missing", None)
    assert d == {"flag": True, "count": 0}
    drop_default(["not", "a", "map"], "flag", 1)


def test_canonical_json_is_a_stable_text() -> None:
    """canonical_json is the hashed form (desired-hash tag, task definition digest): keys sorted,
    no spaces, unknown types as text; changing it would change every stored hash."""
    assert canonical_json({"b": [1, {"d": 1, "c": None}], "a": "x"}) == (
        '{"a":"x","b":[1,{"c":null,"d":1}]}')
    when = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    assert canonical_json({"at": when}) == '{"at":"2024-05-01 12:00:00+00:00"}'


def test_sort_set_ignores_how_each_side_wrote_its_keys() -> None:
    """Git and AWS write a strategy's keys in different orders; the set sorts the same."""
    fargate = {"weight": 1, "base": 0, "capacityProvider": "FARGATE"}
    spot = {"capacityProvider": "FARGATE_SPOT", "weight": 2}
    assert sort_set([spot, fargate]) == [fargate, spot]
    assert [canonical_json(x) for x in sort_set([fargate, spot])] == [
        canonical_json(fargate), canonical_json(spot)]
    assert sort_set("not a list") == "not a list"


def test_sort_set_fields_sorts_only_the_named_lists() -> None:
    """sort_set_fields sorts the named list fields in place and leaves the others in order."""
    d: Doc = {"subnets": ["b", "a"], "command": ["b", "a"], "x": "y"}
    sort_set_fields(d, "subnets", "x", "missing")
    assert d == {"subnets": ["a", "b"], "command": ["b", "a"], "x": "y"}
    sort_set_fields(["b", "a"], "subnets")


def test_key_by() -> None:
    """key_by turns a named list into a map, and leaves lists that are not all named alone."""
    env = [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]
    assert key_by(env, "name", "value") == {"B": "2", "A": "1"}
    assert key_by(env, "name") == {"B": {"value": "2"}, "A": {"value": "1"}}
    assert key_by([{"name": 8080, "value": "x"}], "name", "value") == {"8080": "x"}
    partly = [{"name": "A", "value": "1"}, {"value": "2"}]
    assert key_by(partly, "name", "value") is partly
    mixed = [{"name": "A"}, "B"]
    assert key_by(mixed, "name") is mixed
    assert key_by({"already": "a map"}, "name") == {"already": "a map"}


def test_tags_as_map_drops_aws_and_ownership_tags() -> None:
    """Tags that AWS (aws:…) or the reconciler itself put on a resource are not user drift."""
    doc: Doc = {"tags": [{"key": "team", "value": "web"},
                         {"key": "aws:cloudformation:stack-name", "value": "s"},
                         {"key": "AWS:looks-reserved", "value": "kept"},
                         *[{"key": t, "value": "x"} for t in sorted(OWNERSHIP_TAGS)]]}
    tags_as_map(doc)
    assert doc == {"tags": {"team": "web", "AWS:looks-reserved": "kept"}}


def test_tags_as_map_reads_request_shaped_and_mapped_tags() -> None:
    """EC2/EventBridge [{Key, Value}] lists and already-mapped tags come out as one map."""
    doc: Doc = {"Tags": [{"Key": "b", "Value": "2"}, {"Key": "aws:x", "Value": "1"}]}
    tags_as_map(doc, "Tags", "Key", "Value")
    assert doc == {"Tags": {"b": "2"}}
    mapped: Doc = {"tags": {"team": "web", "aws:ecs:serviceName": "s"}}
    tags_as_map(mapped)
    assert mapped == {"tags": {"team": "web"}}
    none: Doc = {}
    tags_as_map(none)
    assert none == {}


def test_prune_empty_keeps_what_follows_a_null() -> None:
    """A YAML `key:` with no value (null), or an empty item, hides none of its neighbours."""
    assert prune_empty({"a": None, "b": 1, "c": {}, "d": 2, "e": [], "f": 3}) == {
        "b": 1, "d": 2, "f": 3}
    assert prune_empty([None, "x", {}, "y", [], "z", [None], {"k": None}, "w"]) == [
        "x", "y", "z", "w"]
    assert prune_empty({"a": [{"b": None, "c": [None, {"d": 1}]}]}) == {"a": [{"c": [{"d": 1}]}]}
    assert prune_empty("scalar") == "scalar"


def test_prune_in_place() -> None:
    """prune_in_place empties the same dict object, so callers holding it see the result."""
    doc: Doc = {"a": [], "b": {"c": None}, "d": 1}
    same = doc
    prune_in_place(doc)
    assert same == {"d": 1}


def test_each() -> None:
    """each yields a map's values or a list's items, and nothing for anything else."""
    assert list(each({"m": {"a": 1, "b": 2}}, "m")) == [1, 2]
    assert list(each({"l": [3, 4]}, "l")) == [3, 4]
    assert list(each({"s": "text"}, "s")) == []
    assert list(each({}, "m")) == []
    assert list(each(None, "m")) == []
    assert list(each(["m"], "m")) == []


@pytest.mark.parametrize(
    ("given", "expected"),
    [("lots", "lots"), ("", ""), (None, None), ("1.5 vCPU", "1536"), (" 512 ", "512")],
)
def test_cpu_units_edge_cases(given: object, expected: object) -> None:
    """Values that are not a cpu amount pass through; fractions and spaces are read."""
    assert cpu_units(given) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [("lots", "lots"), ("512 MiB", "512"), ("512 mb", "512"), ("0.5 GiB", "512"), ("2 TB", "2 TB")],
)
def test_memory_units_edge_cases(given: object, expected: object) -> None:
    """MiB/MB pass as they are, GB/GiB are multiplied, anything else is left alone."""
    assert memory_units(given) == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("arn:aws:iam::123456789012:role/service-role/ecsEventsRole", "ecsEventsRole"),
        ("arn:aws:ecs:eu-west-1:123456789012:cluster/prod", "prod"),
        ("ecsEventsRole", "ecsEventsRole"),
        ("service-role/ecsEventsRole", "service-role/ecsEventsRole"),
        (None, None),
        (7, 7),
    ],
)
def test_last_segment(given: object, expected: object) -> None:
    """An ARN becomes its last segment, even with a path (role/service-role/x); names stay."""
    assert last_segment(given) == expected


def test_last_segment_other_separator() -> None:
    """The separator can be changed, e.g. ':' for ARNs whose name follows a colon."""
    assert last_segment("arn:aws:logs:eu-west-1:1:log-group:web", ":") == "web"
