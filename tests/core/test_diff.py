"""Field-level comparison of normalised documents."""

from __future__ import annotations

from reconciler.core.diff import ABSENT, FieldChange, compare, top_fields


def test_equal_documents_have_no_change() -> None:
    """Equal documents compare with no change at all."""
    assert compare({"a": 1, "b": [1, 2]}, {"a": 1, "b": [1, 2]}) == []


def test_numbers_compare_by_value() -> None:
    """1 and 1.0 are the same number, not drift."""
    assert compare({"a": 1.0}, {"a": 1}) == []


def test_changes_added_removed() -> None:
    """Each differing field is an add, a remove or a change, with ABSENT for the missing side."""
    changes = compare({"a": 2, "new": True}, {"a": 1, "old": "x"})
    got = {(c.path, c.op) for c in changes}
    assert got == {(("a",), "change"), (("new",), "add"), (("old",), "remove")}
    removed = next(c for c in changes if c.op == "remove")
    assert removed.old == "x" and removed.new is ABSENT


def test_list_changes_are_reported_on_the_whole_list() -> None:
    """A list that differs is reported once, old list against new list."""
    [c] = compare({"subnets": ["a", "c"]}, {"subnets": ["a", "b"]})
    assert c.path == ("subnets",)
    assert (c.old, c.new) == (["a", "b"], ["a", "c"])


def test_nested_maps_report_the_leaf() -> None:
    """A change deep in nested maps is reported at the leaf that differs."""
    [c] = compare({"c": {"app": {"env": {"X": "2"}}}}, {"c": {"app": {"env": {"X": "1"}}}})
    assert c.path == ("c", "app", "env", "X")
    assert top_fields([c]) == {"c"}


def test_changes_come_sorted_by_path() -> None:
    """The same drift prints in the same order every run: by path, field by field."""
    desired = {"zeta": 1, "alpha": {"b": 2, "a": 2}, "mid": [1], "alpha2": 1, "a": {"z": {"y": 1}}}
    live = {"zeta": 2, "alpha": {"b": 1, "a": 1}, "mid": [2], "alpha2": 2, "a": {"z": {"y": 2}}}
    paths = [c.path for c in compare(desired, live)]
    assert paths == [("a", "z", "y"), ("alpha", "a"), ("alpha", "b"), ("alpha2",), ("mid",),
                     ("zeta",)]


def test_a_list_inside_a_map_inside_a_list_is_reported_once_on_the_outer_list() -> None:
    """A change deep inside a list is reported on the first list on its path, once."""
    desired = {"c": {"app": {"ports": [{"p": 80, "hosts": ["a"]}, {"p": 443}]}}}
    live = {"c": {"app": {"ports": [{"p": 81, "hosts": ["b"]}]}}}
    [c] = compare(desired, live)
    assert c.path == ("c", "app", "ports")
    assert c.op == "change"
    assert (c.old, c.new) == (live["c"]["app"]["ports"], desired["c"]["app"]["ports"])


def test_a_field_of_another_type_is_one_change() -> None:
    """A map in git where live has a list (or a text) is one change of the whole field."""
    [c] = compare({"x": {"a": 1}}, {"x": [1]})
    assert (c.path, c.old, c.new) == (("x",), [1], {"a": 1})


def test_added_and_removed_maps_are_reported_whole() -> None:
    """A block that one side lacks is one add or remove of the whole block, not of its leaves."""
    changes = compare({"k": 1, "n": {"a": {"b": 1}}}, {"k": 1, "o": {"c": [1]}})
    assert [(c.path, c.op, c.old, c.new) for c in changes] == [
        (("n",), "add", ABSENT, {"a": {"b": 1}}), (("o",), "remove", {"c": [1]}, ABSENT)]


def test_few_shared_fields_are_still_reported_field_by_field() -> None:
    """A small manifest against a live service with many extra fields: each field is a change
    (deepdiff's default would report the whole document as one change that names no field)."""
    desired = {"taskDefinition": "web:1", "launchType": "EC2"}
    live = {"taskDefinition": "web:1", "launchType": "FARGATE", "enableExecuteCommand": True,
            "healthCheckGracePeriodSeconds": 60, "propagateTags": "SERVICE",
            "platformVersion": "1.3.0", "enableECSManagedTags": True}
    changes = compare(desired, live)
    assert top_fields(changes) == {"launchType", "enableExecuteCommand",
                                   "healthCheckGracePeriodSeconds", "propagateTags",
                                   "platformVersion", "enableECSManagedTags"}
    assert all(c.path for c in changes)


def test_maps_with_no_shared_keys_are_compared_key_by_key() -> None:
    """Two maps with disjoint keys give one add and one remove per key, at any depth."""
    assert [(c.path, c.op) for c in compare({"x": {"n": 1}}, {"x": {"o": 1}})] == [
        (("x", "n"), "add"), (("x", "o"), "remove")]
    assert [(c.path, c.op) for c in compare({"n": {"a": 1}}, {"o": [1]})] == [
        (("n",), "add"), (("o",), "remove")]


def test_absent_reads_as_absent() -> None:
    """ABSENT prints as `(absent)`: drift events and their fingerprints carry this text."""
    assert repr(ABSENT) == "(absent)"
    assert str(ABSENT) == "(absent)"


def test_top_fields() -> None:
    """top_fields names each top-level field that changed once, and ignores pathless changes."""
    changes = [FieldChange(("a", "b"), 1, 2), FieldChange(("a", "c"), 1, 2),
               FieldChange((3,), 1, 2), FieldChange((), ABSENT, 1)]
    assert top_fields(changes) == {"a", "3"}
