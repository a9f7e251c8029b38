"""Ignore paths: parsing, matching, removing from comparison, overlaying live values."""

from __future__ import annotations

import copy

import pytest

from reconciler.core.ignore import (
    IgnoreRule,
    PatternError,
    collect,
    matches,
    overlay,
    parse,
    remove,
    show,
)


def test_parse() -> None:
    """Paths read as users write them: fields, names in [], [*] and positions."""
    assert parse("spec.desiredCount") == ("desiredCount",)
    assert parse("spec.containerDefinitions[*].image") == ("containerDefinitions", "*", "image")
    assert parse("spec.containerDefinitions[app].environment[LOG_LEVEL]") == (
        "containerDefinitions", "app", "environment", "LOG_LEVEL")
    assert parse("spec.placementStrategy[0].field") == ("placementStrategy", 0, "field")


@pytest.mark.parametrize("bad", ["desiredCount", "spec.a[", "spec.a[]", "spec"])
def test_parse_rejects(bad: str) -> None:
    """Paths outside spec, with an open or empty [], or naming nothing are refused."""
    with pytest.raises(PatternError):
        parse(bad)


def test_matches_prefix_and_wildcard() -> None:
    """A pattern matches its field and everything below it, with [*] matching any name."""
    pat = parse("spec.containerDefinitions[*].image")
    assert matches(pat, ("containerDefinitions", "app", "image"))
    assert not matches(pat, ("containerDefinitions", "app", "cpu"))
    assert matches(parse("spec.networkConfiguration"), ("networkConfiguration", "x", "y"))


def test_remove_and_collect_on_comparison_form() -> None:
    """collect finds every field a wildcard pattern names and remove takes them out."""
    doc = {"containerDefinitions": {"a": {"image": "1", "cpu": 1}, "b": {"image": "2"}}}
    pat = parse("spec.containerDefinitions[*].image")
    assert collect(doc, pat) == {("containerDefinitions", "a", "image"): "1",
                                 ("containerDefinitions", "b", "image"): "2"}
    remove(doc, pat)
    assert doc == {"containerDefinitions": {"a": {"cpu": 1}, "b": {}}}


def test_overlay_matches_list_items_by_name() -> None:
    """overlay copies live's values into the request by container name and for plain fields."""
    desired = {"containerDefinitions": [{"name": "b", "image": "new-b"},
                                        {"name": "a", "image": "new-a"}], "desiredCount": 3}
    live = {"containerDefinitions": [{"name": "a", "image": "ci-a"}], "desiredCount": 7}
    overlay(desired, live, parse("spec.containerDefinitions[*].image"))
    overlay(desired, live, parse("spec.desiredCount"))
    assert desired == {"containerDefinitions": [{"name": "b", "image": "new-b"},
                                                {"name": "a", "image": "ci-a"}], "desiredCount": 7}


def test_overlay_drops_what_live_lacks() -> None:
    """An ignored field live does not have is left out of the request too."""
    desired = {"desiredCount": 3}
    overlay(desired, {}, parse("spec.desiredCount"))
    assert desired == {}


def test_show_uses_brackets_for_names() -> None:
    """Map keys are shown in brackets and model members with dots."""
    assert show(("containerDefinitions", "app", "environment", "LOG_LEVEL")) == (
        "spec.containerDefinitions[app].environment[LOG_LEVEL]")
    assert show(("networkConfiguration", "awsvpcConfiguration", "subnets")) == (
        "spec.networkConfiguration.awsvpcConfiguration.subnets")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("desiredCount", "ignore path 'desiredCount' must start with 'spec.'"),
        ("specs.desiredCount", "ignore path 'specs.desiredCount' must start with 'spec.'"),
        ("spec.a[", "ignore path 'spec.a[' cannot be read at '['"),
        ("spec.a[ ]", "ignore path 'spec.a[ ]' has an empty []"),
        ("spec.a['']", "ignore path \"spec.a['']\" has an empty []"),
        ("spec", "ignore path 'spec' names no field"),
        ("spec.", "ignore path 'spec.' names no field"),
        ("  spec  ", "ignore path '  spec  ' names no field"),
    ],
)
def test_parse_errors_say_what_is_wrong(bad: str, message: str) -> None:
    """The message a user reads in `validate` names the path as written and what is wrong."""
    with pytest.raises(PatternError) as err:
        parse(bad)
    assert str(err.value) == message


@pytest.mark.parametrize(
    ("pattern", "segments"),
    [
        ("spec.containerDefinitions[app].environment['LOG_LEVEL']",
         ("containerDefinitions", "app", "environment", "LOG_LEVEL")),
        ('spec.containerDefinitions["app"].image', ("containerDefinitions", "app", "image")),
        ("spec.containerDefinitions[ app ].image", ("containerDefinitions", "app", "image")),
        ("spec.environment[XRAY_DAEMON_ADDRESS]", ("environment", "XRAY_DAEMON_ADDRESS")),
        ("spec.tags['X']", ("tags", "X")),
        ("  spec.desiredCount  ", ("desiredCount",)),
        ("spec.placementStrategy[12]", ("placementStrategy", 12)),
        ("spec.tags[v1.5]", ("tags", "v1.5")),
        ("spec.tags[-1]", ("tags", "-1")),
        ("spec.a..b", ("a", "b")),
    ],
)
def test_parse_reads_names_quotes_and_positions(pattern: str, segments: tuple[object, ...]) -> None:
    """Names in [] may be quoted or padded; only digits make a position; dots may repeat."""
    assert parse(pattern) == segments


def test_ignore_rule_segments_are_parsed_from_the_pattern() -> None:
    """An IgnoreRule exposes its parsed path."""
    rule = IgnoreRule("spec.containerDefinitions[*].image", "CI sets the image")
    assert rule.segments == ("containerDefinitions", "*", "image")
    assert not rule.external


def test_fields_match_whatever_their_case() -> None:
    """`.field` names the API's field however its case is written (camelCase or PascalCase)."""
    doc = {"Tags": {"team": "x", "other": "y"}, "TargetCapacity": 5}
    assert collect(doc, parse("spec.tags[team]")) == {("Tags", "team"): "x"}
    assert collect(doc, parse("spec.targetCapacity")) == {("TargetCapacity",): 5}
    assert collect({"tags": {"team": "x"}}, parse("spec.Tags[team]")) == {("tags", "team"): "x"}
    remove(doc, parse("spec.tags[team]"))
    remove(doc, parse("spec.targetcapacity"))
    assert doc == {"Tags": {"other": "y"}}


def test_names_in_brackets_match_exactly() -> None:
    """`[team]` is user data: it does not name a tag spelled `Team`."""
    doc = {"tags": {"Team": "a", "team": "b"}}
    assert collect(doc, parse("spec.tags[team]")) == {("tags", "team"): "b"}
    desired = {"Tags": [{"Key": "Team", "Value": "git"}]}
    overlay(desired, {"Tags": [{"Key": "Team", "Value": "live"}]}, parse("spec.tags[team]"))
    assert desired == {"Tags": [{"Key": "Team", "Value": "git"}]}


def test_overlay_of_a_field_spelled_in_another_case() -> None:
    """`spec.tags[team]` on an EventBridge rule keeps the team tag another tool set on update."""
    desired = {"Tags": [{"Key": "team", "Value": "git"}, {"Key": "env", "Value": "prd"}]}
    live = {"Tags": [{"Key": "env", "Value": "prd"}, {"Key": "team", "Value": "other-tool"}]}
    overlay(desired, live, parse("spec.tags[team]"))
    assert desired == {"Tags": [{"Key": "team", "Value": "other-tool"}, {"Key": "env", "Value": "prd"}]}


# --- remove and collect: the comparison form, including positional lists ------------------------

STRATEGY = {"placementStrategy": [{"type": "spread", "field": "az"},
                                  {"type": "binpack", "field": "cpu"},
                                  {"type": "random"}]}


def test_collect_positional() -> None:
    """A position picks one item of an ordered list; [*] picks every item that has the field."""
    assert collect(STRATEGY, parse("spec.placementStrategy[1].field")) == {
        ("placementStrategy", 1, "field"): "cpu"}
    assert collect(STRATEGY, parse("spec.placementStrategy[*].field")) == {
        ("placementStrategy", 0, "field"): "az", ("placementStrategy", 1, "field"): "cpu"}
    assert collect(STRATEGY, parse("spec.placementStrategy[0]")) == {
        ("placementStrategy", 0): {"type": "spread", "field": "az"}}
    assert collect(STRATEGY, parse("spec.placementStrategy[7].field")) == {}
    assert collect({"desiredCount": 2}, parse("spec.desiredCount.deeper")) == {}


def test_remove_positional_field() -> None:
    """Removing `[1].field` takes the field out of the second item only."""
    doc = copy.deepcopy(STRATEGY)
    remove(doc, parse("spec.placementStrategy[1].field"))
    assert doc == {"placementStrategy": [{"type": "spread", "field": "az"},
                                         {"type": "binpack"}, {"type": "random"}]}


def test_remove_list_items() -> None:
    """Removing `[1]` drops that item; removing `[*]` drops them all."""
    doc = copy.deepcopy(STRATEGY)
    remove(doc, parse("spec.placementStrategy[1]"))
    assert doc == {"placementStrategy": [{"type": "spread", "field": "az"}, {"type": "random"}]}
    remove(doc, parse("spec.placementStrategy[*]"))
    assert doc == {"placementStrategy": []}


def test_remove_of_a_missing_path_changes_nothing() -> None:
    """A pattern that matches nothing (or runs into a scalar) leaves the document as it was."""
    doc = copy.deepcopy(STRATEGY)
    remove(doc, parse("spec.placementStrategy[9].field"))
    remove(doc, parse("spec.desiredCount"))
    remove(doc, parse("spec.placementStrategy[0].type.deeper"))
    remove(doc, ())
    assert doc == STRATEGY


def test_a_tag_key_yaml_read_as_a_number_is_matched_by_its_text() -> None:
    """`key: 1.5` in YAML is a float; `spec.tags[1.5]` still names that tag."""
    desired = {"tags": [{"key": 1.5, "value": "git"}]}
    overlay(desired, {"tags": [{"key": 1.5, "value": "live"}]}, parse("spec.tags[1.5]"))
    assert desired == {"tags": [{"key": 1.5, "value": "live"}]}
    doc = {"tags": {1.5: "x", "other": "y"}}
    remove(doc, parse("spec.tags[1.5]"))
    assert doc == {"tags": {"other": "y"}}


# --- overlay: the request sent on update keeps what the ignored paths hold live -----------------


def test_overlay_by_name_skips_the_sidecar_listed_first() -> None:
    """`[app]` finds the app container wherever it is, past a sidecar listed before it."""
    desired = {"containerDefinitions": [{"name": "envoy", "image": "envoy:git"},
                                        {"name": "app", "image": "app:git"},
                                        {"name": "log", "image": "log:git"}]}
    live = {"containerDefinitions": [{"name": "log", "image": "log:live"},
                                     {"name": "app", "image": "app:ci"},
                                     {"name": "envoy", "image": "envoy:live"}]}
    overlay(desired, live, parse("spec.containerDefinitions[app].image"))
    assert desired == {"containerDefinitions": [{"name": "envoy", "image": "envoy:git"},
                                                {"name": "app", "image": "app:ci"},
                                                {"name": "log", "image": "log:git"}]}


def test_overlay_whole_named_item() -> None:
    """`[app]` alone copies the whole live container over git's."""
    desired = {"containerDefinitions": [{"name": "envoy", "image": "e"},
                                        {"name": "app", "image": "git", "cpu": 1}]}
    live = {"containerDefinitions": [{"name": "app", "image": "ci", "memory": 2}]}
    overlay(desired, live, parse("spec.containerDefinitions[app]"))
    assert desired == {"containerDefinitions": [{"name": "envoy", "image": "e"},
                                                {"name": "app", "image": "ci", "memory": 2}]}


def test_overlay_leaves_an_item_live_does_not_have() -> None:
    """A container new in git has no live value to copy: it is sent as git wrote it."""
    desired = {"containerDefinitions": [{"name": "new", "image": "git"}]}
    overlay(desired, {"containerDefinitions": [{"name": "old", "image": "ci"}]},
            parse("spec.containerDefinitions[*].image"))
    assert desired == {"containerDefinitions": [{"name": "new", "image": "git"}]}


@pytest.mark.parametrize(
    ("field", "k", "v"),
    [("tags", "key", "value"), ("Tags", "Key", "Value"), ("Dimensions", "Name", "Value")],
)
def test_overlay_request_shaped_name_value_lists(field: str, k: str, v: str) -> None:
    """ECS tags {key, value}, EC2/EventBridge tags {Key, Value} and CloudWatch dimensions
    {Name, Value} are matched by their name, whatever their order on each side."""
    desired = {field: [{k: "team", v: "git-team"}, {k: "owner", v: "git-owner"},
                       {k: "cost", v: "git-cost"}]}
    live = {field: [{k: "owner", v: "live-owner"}, {k: "cost", v: "live-cost"},
                    {k: "team", v: "live-team"}]}
    overlay(desired, live, parse(f"spec.{field}[owner]"))
    assert desired == {field: [{k: "team", v: "git-team"}, {k: "owner", v: "live-owner"},
                               {k: "cost", v: "git-cost"}]}


def test_overlay_positional() -> None:
    """`[1].field` takes live's value for the second item only; items keep their positions."""
    desired = {"placementStrategy": [{"type": "spread", "field": "az"},
                                     {"type": "binpack", "field": "cpu"}]}
    live = {"placementStrategy": [{"type": "spread", "field": "instanceId"},
                                  {"type": "binpack", "field": "memory"}]}
    overlay(desired, live, parse("spec.placementStrategy[1].field"))
    assert desired == {"placementStrategy": [{"type": "spread", "field": "az"},
                                             {"type": "binpack", "field": "memory"}]}


def test_overlay_positional_whole_item() -> None:
    """`[0]` alone replaces the first item with live's."""
    desired = {"placementStrategy": [{"type": "spread", "field": "az"}, {"type": "random"}]}
    live = {"placementStrategy": [{"type": "binpack", "field": "cpu"}]}
    overlay(desired, live, parse("spec.placementStrategy[0]"))
    assert desired == {"placementStrategy": [{"type": "binpack", "field": "cpu"},
                                             {"type": "random"}]}


def test_overlay_positional_items_past_the_end_of_live() -> None:
    """Items git adds beyond live's length have nothing to take and are sent as written."""
    desired = {"placementStrategy": [{"type": "spread", "field": "az"},
                                     {"type": "binpack", "field": "cpu"},
                                     {"type": "random", "field": "x"}]}
    live = {"placementStrategy": [{"type": "spread", "field": "instanceId"},
                                  {"type": "binpack", "field": "memory"}]}
    overlay(desired, live, parse("spec.placementStrategy[*].field"))
    assert desired == {"placementStrategy": [{"type": "spread", "field": "instanceId"},
                                             {"type": "binpack", "field": "memory"},
                                             {"type": "random", "field": "x"}]}
    overlay(desired, live, parse("spec.placementStrategy[2].field"))
    assert desired["placementStrategy"][2] == {"type": "random", "field": "x"}


def test_overlay_copies_are_independent_of_live() -> None:
    """What overlay copies into the request is a copy: editing the request never edits live."""
    live = {"networkConfiguration": {"awsvpcConfiguration": {"subnets": ["a"]}},
            "containerDefinitions": [{"name": "app", "logConfiguration": {"options": {"k": "v"}}}]}
    before = copy.deepcopy(live)
    desired: dict[str, object] = {"containerDefinitions": [{"name": "app"}]}
    overlay(desired, live, parse("spec.networkConfiguration"))
    overlay(desired, live, parse("spec.containerDefinitions[app]"))
    desired["networkConfiguration"]["awsvpcConfiguration"]["subnets"].append("b")  # type: ignore[index]
    desired["containerDefinitions"][0]["logConfiguration"]["options"]["k"] = "x"  # type: ignore[index]
    assert live == before


def test_overlay_below_a_block_only_one_side_has() -> None:
    """Ignoring a field under a block that only git or only live declares changes nothing."""
    desired = {"deploymentConfiguration": {"maximumPercent": 200}}
    overlay(desired, {}, parse("spec.deploymentConfiguration.maximumPercent"))
    assert desired == {"deploymentConfiguration": {"maximumPercent": 200}}
    empty: dict[str, object] = {}
    overlay(empty, {"deploymentConfiguration": {"maximumPercent": 150}},
            parse("spec.deploymentConfiguration.maximumPercent"))
    assert empty == {}


def test_overlay_with_shapes_that_differ_changes_nothing() -> None:
    """When live holds another shape than git (null for a map, a map for a list), git's stays."""
    desired = {"deploymentConfiguration": {"maximumPercent": 200}, "command": ["a", "b"]}
    live = {"deploymentConfiguration": None, "command": {"0": "x"}}
    overlay(desired, live, parse("spec.deploymentConfiguration.maximumPercent"))
    overlay(desired, live, parse("spec.command[0]"))
    overlay(desired, live, parse("spec.command[*].x"))
    assert desired == {"deploymentConfiguration": {"maximumPercent": 200}, "command": ["a", "b"]}
    overlay(desired, live, ())
    assert desired == {"deploymentConfiguration": {"maximumPercent": 200}, "command": ["a", "b"]}


def test_overlay_adds_what_only_live_has() -> None:
    """An ignored field git omits is sent with live's value, so the update keeps it."""
    desired: dict[str, object] = {"serviceName": "web"}
    overlay(desired, {"serviceName": "web", "desiredCount": 7}, parse("spec.desiredCount"))
    assert desired == {"serviceName": "web", "desiredCount": 7}


# --- show: the path as users write it ----------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (("SpotFleetRequestConfig", "TargetCapacity"), "spec.SpotFleetRequestConfig.TargetCapacity"),
        (("_private",), "spec._private"),
        (("placementStrategy", 0, "field"), "spec.placementStrategy[0].field"),
        (("newMap", "with-dash"), "spec.newMap[with-dash]"),
        (("newMap", "9lives"), "spec.newMap[9lives]"),
        (("Tags", "team"), "spec.Tags[team]"),
        (("containerDefinitions", "app", "logConfiguration", "options", "awslogs-group"),
         "spec.containerDefinitions[app].logConfiguration.options[awslogs-group]"),
        ((), "spec"),
    ],
)
def test_show(path: tuple[object, ...], text: str) -> None:
    """Identifiers (either case) are dotted; positions, map keys and other names are bracketed."""
    assert show(path) == text


@pytest.mark.parametrize(
    "path",
    [
        ("containerDefinitions", "app", "environment", "LOG_LEVEL"),
        ("placementStrategy", 1, "field"),
        ("newMap", "with-dash", "x"),
        ("Policies", "cpu", "TargetTrackingScalingPolicyConfiguration"),
    ],
)
def test_shown_paths_parse_back(path: tuple[object, ...]) -> None:
    """A path printed in a diff can be pasted into metadata.ignore and means the same field."""
    assert parse(show(path)) == path
