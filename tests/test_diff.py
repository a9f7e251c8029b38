"""Field-level comparison of normalised documents."""

from __future__ import annotations

from reconciler.core.diff import ABSENT, compare, top_fields


def test_equal_documents_have_no_change() -> None:
    assert compare({"a": 1, "b": [1, 2]}, {"a": 1, "b": [1, 2]}) == []


def test_numbers_compare_by_value() -> None:
    assert compare({"a": 1.0}, {"a": 1}) == []


def test_changes_added_removed() -> None:
    changes = compare({"a": 2, "new": True}, {"a": 1, "old": "x"})
    got = {(c.path, c.op) for c in changes}
    assert got == {(("a",), "change"), (("new",), "add"), (("old",), "remove")}
    removed = next(c for c in changes if c.op == "remove")
    assert removed.old == "x" and removed.new is ABSENT


def test_list_changes_are_reported_on_the_whole_list() -> None:
    [c] = compare({"subnets": ["a", "c"]}, {"subnets": ["a", "b"]})
    assert c.path == ("subnets",)
    assert (c.old, c.new) == (["a", "b"], ["a", "c"])


def test_nested_maps_report_the_leaf() -> None:
    [c] = compare({"c": {"app": {"env": {"X": "2"}}}}, {"c": {"app": {"env": {"X": "1"}}}})
    assert c.path == ("c", "app", "env", "X")
    assert top_fields([c]) == {"c"}
