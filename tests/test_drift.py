"""Drift bookkeeping: once per drift, reminders, resolved, healed."""

from __future__ import annotations

from reconciler.core.diff import ABSENT, FieldChange
from reconciler.core.drift import DriftTracker, fingerprint
from reconciler.core.manifest import ResourceKey

KEY = ResourceKey("Service", "api", "c")
CHANGE = [FieldChange(("enableExecuteCommand",), ABSENT, True)]


def test_same_drift_same_fingerprint_other_drift_other() -> None:
    assert fingerprint(KEY, CHANGE) == fingerprint(KEY, list(CHANGE))
    other = [FieldChange(("desiredCount",), 5, 2)]
    assert fingerprint(KEY, CHANGE) != fingerprint(KEY, other)
    assert fingerprint(KEY, CHANGE) != fingerprint(ResourceKey("Service", "b", "c"), CHANGE)


def test_once_then_reminder_then_resolved() -> None:
    t = DriftTracker(remind_after=100)
    assert [e.kind for e in t.observe(0, {KEY: CHANGE}, set(), set())] == ["drift"]
    for now in range(1, 100, 10):
        assert t.observe(now, {KEY: CHANGE}, set(), set()) == []
    assert [e.kind for e in t.observe(100, {KEY: CHANGE}, set(), set())] == ["reminder"]
    assert t.observe(150, {KEY: CHANGE}, set(), set()) == []
    assert [e.kind for e in t.observe(160, {}, set(), {KEY})] == ["resolved"]
    assert t.observe(170, {}, set(), {KEY}) == []


def test_a_different_drift_on_the_same_resource_is_new() -> None:
    t = DriftTracker()
    t.observe(0, {KEY: CHANGE}, set(), set())
    other = [FieldChange(("desiredCount",), 5, 2)]
    assert [e.kind for e in t.observe(1, {KEY: other}, set(), set())] == ["drift"]


def test_healed_is_reported_once_and_needs_no_resolved() -> None:
    t = DriftTracker()
    assert [e.kind for e in t.observe(0, {KEY: CHANGE}, {KEY}, set())] == ["healed"]
    assert t.observe(1, {}, set(), {KEY}) == []


def test_secret_values_are_masked_in_events() -> None:
    t = DriftTracker()
    change = [FieldChange(("containerDefinitions", "app", "environment", "DB_PASSWORD"),
                          "old-pass", "new-pass")]
    [event] = t.observe(0, {KEY: change}, set(), set())
    assert "old-pass" not in str(event.fields) and "new-pass" not in str(event.fields)
