"""Ignore paths: parsing, matching, removing from comparison, overlaying live values."""

from __future__ import annotations

import pytest

from reconciler.core.ignore import PatternError, collect, matches, overlay, parse, remove, show


def test_parse() -> None:
    assert parse("spec.desiredCount") == ("desiredCount",)
    assert parse("spec.containerDefinitions[*].image") == ("containerDefinitions", "*", "image")
    assert parse("spec.containerDefinitions[app].environment[LOG_LEVEL]") == (
        "containerDefinitions", "app", "environment", "LOG_LEVEL")
    assert parse("spec.placementStrategy[0].field") == ("placementStrategy", 0, "field")


@pytest.mark.parametrize("bad", ["desiredCount", "spec.a[", "spec.a[]", "spec"])
def test_parse_rejects(bad: str) -> None:
    with pytest.raises(PatternError):
        parse(bad)


def test_matches_prefix_and_wildcard() -> None:
    pat = parse("spec.containerDefinitions[*].image")
    assert matches(pat, ("containerDefinitions", "app", "image"))
    assert not matches(pat, ("containerDefinitions", "app", "cpu"))
    assert matches(parse("spec.networkConfiguration"), ("networkConfiguration", "x", "y"))


def test_remove_and_collect_on_comparison_form() -> None:
    doc = {"containerDefinitions": {"a": {"image": "1", "cpu": 1}, "b": {"image": "2"}}}
    pat = parse("spec.containerDefinitions[*].image")
    assert collect(doc, pat) == {("containerDefinitions", "a", "image"): "1",
                                 ("containerDefinitions", "b", "image"): "2"}
    remove(doc, pat)
    assert doc == {"containerDefinitions": {"a": {"cpu": 1}, "b": {}}}


def test_overlay_matches_list_items_by_name() -> None:
    desired = {"containerDefinitions": [{"name": "b", "image": "new-b"},
                                        {"name": "a", "image": "new-a"}], "desiredCount": 3}
    live = {"containerDefinitions": [{"name": "a", "image": "ci-a"}], "desiredCount": 7}
    overlay(desired, live, parse("spec.containerDefinitions[*].image"))
    overlay(desired, live, parse("spec.desiredCount"))
    assert desired == {"containerDefinitions": [{"name": "b", "image": "new-b"},
                                                {"name": "a", "image": "ci-a"}], "desiredCount": 7}


def test_overlay_drops_what_live_lacks() -> None:
    desired = {"desiredCount": 3}
    overlay(desired, {}, parse("spec.desiredCount"))
    assert desired == {}


def test_show_uses_brackets_for_names() -> None:
    assert show(("containerDefinitions", "app", "environment", "LOG_LEVEL")) == (
        "spec.containerDefinitions[app].environment[LOG_LEVEL]")
    assert show(("networkConfiguration", "awsvpcConfiguration", "subnets")) == (
        "spec.networkConfiguration.awsvpcConfiguration.subnets")
