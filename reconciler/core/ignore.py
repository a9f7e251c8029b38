"""Ignore rules: paths a manifest does not own, from `metadata.ignore`, `reconciler.yaml` and the
kinds themselves (fields something else owns).

Pure. A path is written as users read the spec: `spec.desiredCount`,
`spec.containerDefinitions[*].image`, `spec.containerDefinitions[app].environment[LOG_LEVEL]`.
Items of lists keyed by name (containers, environment, secrets, volumes, tags) are addressed by
their name; `[*]` is any item; `[3]` is a position in an ordered list.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

Segment = str | int


class Field(str):
    """A `.name` segment: a field of the API's shape, matched however its case is written
    (EventBridge, Application Auto Scaling and EC2 spell fields in PascalCase, and manifests
    may write them camelCase). `[name]` segments are user data, matched exactly."""

    __slots__ = ()

_TOKEN = re.compile(r"\[([^\]]*)\]|([^.\[\]]+)")
WILDCARD = "*"


class PatternError(ValueError):
    """An ignore path that cannot be parsed."""


@dataclass(frozen=True)
class IgnoreRule:
    """One ignored path and why it is ignored (shown in the diff). `external` rules come from
    another owner found live (autoscaling), not from git."""

    pattern: str
    reason: str
    external: bool = False

    @property
    def segments(self) -> tuple[Segment, ...]:
        return parse(self.pattern)


def parse(pattern: str) -> tuple[Segment, ...]:
    """'spec.a[*].b' -> ('a', '*', 'b'). The leading 'spec.' is required."""
    text = pattern.strip()
    if not text.startswith("spec.") and text != "spec":
        raise PatternError(f"ignore path {pattern!r} must start with 'spec.'")
    body = text[len("spec") :]
    segments: list[Segment] = []
    pos = 0
    while pos < len(body):
        if body[pos] == ".":
            pos += 1
            continue
        m = _TOKEN.match(body, pos)
        if not m:
            raise PatternError(f"ignore path {pattern!r} cannot be read at {body[pos:]!r}")
        if m.group(1) is not None:
            inner = m.group(1).strip().strip("'\"")
            if not inner:
                raise PatternError(f"ignore path {pattern!r} has an empty []")
            segments.append(int(inner) if inner.isdigit() else inner)
        else:
            name = m.group(2)
            segments.append(WILDCARD if name == WILDCARD else Field(name))
        pos = m.end()
    if not segments:
        raise PatternError(f"ignore path {pattern!r} names no field")
    return tuple(segments)


def _seg_matches(seg: Segment, key: Any) -> bool:
    if isinstance(seg, Field):
        return seg.lower() == str(key).lower()
    return seg in (WILDCARD, key) or (isinstance(seg, str) and str(key) == seg)


def matches(pattern: tuple[Segment, ...], path: tuple[Any, ...]) -> bool:
    """True when `path` is the pattern's field or lies below it."""
    if len(path) < len(pattern):
        return False
    return all(_seg_matches(s, p) for s, p in zip(pattern, path, strict=False))


def remove(doc: Any, pattern: tuple[Segment, ...]) -> None:
    """Delete every concrete path matching `pattern` from a comparison-form document."""
    if not pattern:
        return
    seg, rest = pattern[0], pattern[1:]
    if isinstance(doc, dict):
        for key in [k for k in doc if _seg_matches(seg, k)]:
            if rest:
                remove(doc[key], rest)
            else:
                del doc[key]
    elif isinstance(doc, list):
        hits = [i for i in range(len(doc)) if _seg_matches(seg, i)]
        if rest:
            for i in hits:
                remove(doc[i], rest)
        else:
            for i in reversed(hits):
                del doc[i]


def collect(doc: Any, pattern: tuple[Segment, ...], prefix: tuple[Any, ...] = ()) -> dict[
    tuple[Any, ...], Any
]:
    """Every concrete path matching `pattern` with its value."""
    if not pattern:
        return {prefix: doc}
    seg, rest = pattern[0], pattern[1:]
    out: dict[tuple[Any, ...], Any] = {}
    if isinstance(doc, dict):
        for k, v in doc.items():
            if _seg_matches(seg, k):
                out.update(collect(v, rest, (*prefix, k)))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            if _seg_matches(seg, i):
                out.update(collect(v, rest, (*prefix, i)))
    return out


def _item_name(item: Any) -> Any:
    if isinstance(item, dict):
        for k in ("name", "key", "Key", "Name"):
            if k in item:
                return item[k]
    return None


def overlay(desired: Any, live: Any, pattern: tuple[Segment, ...]) -> None:
    """Copy the live value of every path matching `pattern` into the desired request (and drop
    desired values that live does not have): an update leaves ignored fields as they are."""
    if not pattern:
        return
    seg, rest = pattern[0], pattern[1:]
    if isinstance(desired, dict) and isinstance(live, dict):
        for key in [k for k in {**live, **desired} if _seg_matches(seg, k)]:
            if not rest:
                if key in live:
                    desired[key] = copy.deepcopy(live[key])
                else:
                    desired.pop(key, None)
            elif key in desired and key in live:
                overlay(desired[key], live[key], rest)
    elif isinstance(desired, list) and isinstance(live, list):
        live_by_name = {_item_name(x): x for x in live if _item_name(x) is not None}
        for i, item in enumerate(desired):
            name = _item_name(item)
            if name is not None:
                if not _seg_matches(seg, name):
                    continue
                other = live_by_name.get(name)
            else:
                if not _seg_matches(seg, i) or i >= len(live):
                    continue
                other = live[i]
            if other is None:
                continue
            if rest:
                overlay(item, other, rest)
            else:
                desired[i] = copy.deepcopy(other)


# Fields whose keys in the comparison form are user data (names), not model members.
MAP_FIELDS = frozenset({
    "containerDefinitions", "environment", "secrets", "volumes", "tags", "settings",
    "properties", "dockerLabels", "options", "containerOverrides", "Targets", "Tags",
    "Policies", "ScheduledActions",
})


def show(path: tuple[Any, ...]) -> str:
    """('containerDefinitions', 'app', 'image') -> 'spec.containerDefinitions[app].image'."""
    out = "spec"
    parent: Any = None
    for p in path:
        if isinstance(p, int) or parent in MAP_FIELDS or not re.fullmatch(r"[A-Za-z_]\w*", str(p)):
            out += f"[{p}]"
        else:
            out += f".{p}"
        parent = p
    return out
