"""The field-level difference between two normalised documents, computed with deepdiff.

Pure. Differences inside a list are reported on the whole list (old list -> new list): lists
left after normalisation are either ordered (command) or sorted sets (subnets), and for both
the whole value reads better than an index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deepdiff import DeepDiff

from reconciler.core.normalize import get_path, has_path


class _Absent:
    def __repr__(self) -> str:
        return "(absent)"


ABSENT: Any = _Absent()


@dataclass(frozen=True)
class FieldChange:
    """One field that differs. `old` is live (AWS), `new` is desired (git); ABSENT if missing."""

    path: tuple[Any, ...]
    old: Any
    new: Any

    @property
    def op(self) -> str:
        if self.old is ABSENT:
            return "add"
        if self.new is ABSENT:
            return "remove"
        return "change"


def _cut_at_list(doc_a: Any, doc_b: Any, path: list[Any]) -> tuple[Any, ...]:
    """Shorten a path to the first list it goes into, in either document."""
    for i in range(len(path)):
        prefix = path[:i]
        for doc in (doc_a, doc_b):
            value = get_path(doc, prefix)
            if isinstance(value, list):
                return tuple(prefix)
    return tuple(path)


def _value(doc: Any, path: tuple[Any, ...]) -> Any:
    return get_path(doc, path) if has_path(doc, path) else ABSENT


def compare(desired: Any, live: Any) -> list[FieldChange]:
    """Fields where live differs from desired, sorted by path, each path reported once."""
    # threshold_to_diff_deeper=0: never report a whole map as one change because few of its
    # keys are shared (deepdiff 8's default 0.33 did, and the writer then saw no field)
    dd = DeepDiff(live, desired, ignore_numeric_type_changes=True, view="tree",
                  threshold_to_diff_deeper=0)
    paths: set[tuple[Any, ...]] = set()
    for report in dd.values():
        for level in report:
            raw = level.path(output_format="list")
            if raw is None:
                continue
            paths.add(_cut_at_list(live, desired, list(raw)))
    # a path below another reported path is already covered by it
    kept = [p for p in paths if not any(q != p and p[: len(q)] == q for q in paths)]
    changes = [FieldChange(p, _value(live, p), _value(desired, p)) for p in kept]
    return sorted(changes, key=lambda c: [str(x) for x in c.path])


def top_fields(changes: list[FieldChange]) -> set[str]:
    return {str(c.path[0]) for c in changes if c.path}
