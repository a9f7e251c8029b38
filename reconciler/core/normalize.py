"""Normalisation: turning a request (from git) and a describe response (from AWS) into one
comparison form, so that they compare equal when nobody changed anything.

Pure data manipulation: no I/O. Each kind declares its rules as `Rule` rows (see
`reconciler/kinds/*.py`); every rule carries an example that the tests run, so the table is
its own specification. `SERVER_CHOSEN` rows are the explicit, short list of fields that AWS
fills in itself when a manifest leaves them out, and that are then not compared.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.core.ownership import is_foreign_tag

Doc = dict[str, Any]

@dataclass(frozen=True)
class Rule:
    """One normalisation rule, applied identically to the desired and the live side."""

    id: str
    doc: str
    fn: Callable[[Doc], None]
    example: tuple[Doc, Doc]
    case: int | None = None  # the case number in shared/NORMALIZATION.md

    def __call__(self, doc: Doc) -> None:
        self.fn(doc)


@dataclass(frozen=True)
class ServerChosen:
    """A field AWS picks for itself when the manifest omits it; compared only when declared.

    `when` may narrow it to desired specs of a certain shape (e.g. only without launchType)."""

    path: tuple[str, ...]
    doc: str
    when: Callable[[Doc], bool] = field(default=lambda _d: True)
    case: int | None = None


def clone(value: Any) -> Any:
    """A deep copy of plain data (dicts, lists, scalars): several times faster than
    copy.deepcopy, which matters at thousands of resources per pass."""
    if isinstance(value, dict):
        return {k: clone(v) if isinstance(v, (dict, list)) else v for k, v in value.items()}
    if isinstance(value, list):
        return [clone(v) if isinstance(v, (dict, list)) else v for v in value]
    return value


def apply_rules(doc: Doc, rules: Sequence[Rule]) -> Doc:
    out = clone(doc)
    for rule in rules:
        rule(out)
    pruned: Doc = prune_empty(out)
    return pruned


def drop_server_chosen(desired: Doc, live: Doc, rows: Iterable[ServerChosen]) -> list[ServerChosen]:
    """Remove from `live` each server-chosen field that `desired` omits; return the rows used."""
    used = []
    for row in rows:
        if get_path(desired, row.path) is not _MISSING or not row.when(desired):
            continue
        if delete_path(live, row.path):
            used.append(row)
    return used


# --- small helpers the kinds' rules are written with -------------------------------------------

_MISSING = object()


def get_path(doc: Any, path: Sequence[str | int]) -> Any:
    cur = doc
    for p in path:
        if isinstance(cur, dict):
            if p not in cur:
                return _MISSING
            cur = cur[p]
        elif isinstance(cur, list) and isinstance(p, int) and 0 <= p < len(cur):
            cur = cur[p]
        else:
            return _MISSING
    return cur


def has_path(doc: Any, path: Sequence[str | int]) -> bool:
    return get_path(doc, path) is not _MISSING


def delete_path(doc: Any, path: Sequence[str | int]) -> bool:
    parent = get_path(doc, path[:-1])
    if isinstance(parent, dict) and path[-1] in parent:
        del parent[path[-1]]
        return True
    return False


def drop_default(d: Any, key: str, *defaults: Any) -> None:
    """Remove d[key] when it equals one of AWS's defaults (absent and default are the same)."""
    if isinstance(d, dict) and key in d and any(_same(d[key], x) for x in defaults):
        del d[key]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return bool(a == b)


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def hash_of(doc: Any) -> str:
    """A short content hash of a document (what the desired-hash and hook tags carry)."""
    return hashlib.sha256(canonical_json(doc).encode()).hexdigest()[:32]


def sort_set(items: Any) -> Any:
    """Sort a list that AWS treats as a set, by a stable canonical key."""
    if not isinstance(items, list):
        return items
    return sorted(items, key=canonical_json)


def sort_set_fields(d: Any, *keys: str) -> None:
    if isinstance(d, dict):
        for k in keys:
            if isinstance(d.get(k), list):
                d[k] = sort_set(d[k])


def key_by(items: Any, name_field: str, value_field: str | None = None) -> Any:
    """[{name: a, ...}, ...] -> {a: {...}} (or {a: value} with value_field): order-free lists."""
    if not isinstance(items, list):
        return items
    out: dict[str, Any] = {}
    for item in items:
        if not isinstance(item, dict) or name_field not in item:
            return items
        rest = {k: v for k, v in item.items() if k != name_field}
        out[str(item[name_field])] = rest.get(value_field) if value_field else rest
    return out


def tags_as_map(doc: Doc, key: str = "tags", k: str = "key", v: str = "value") -> None:
    if isinstance(doc.get(key), list):
        doc[key] = key_by(doc[key], k, v)
    if isinstance(doc.get(key), dict):
        doc[key] = {t: x for t, x in doc[key].items() if not is_foreign_tag(str(t))}


def prune_empty(value: Any) -> Any:
    """Drop None, {} and [] (AWS returns [] for what was never set) and compact sparse lists."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if isinstance(v, (dict, list)):
                v = prune_empty(v)
                if not v:
                    continue
            elif v is None:
                continue
            out[k] = v
        return out
    if isinstance(value, list):
        items = []
        for v in value:
            if isinstance(v, (dict, list)):
                v = prune_empty(v)
                if not v:
                    continue
            elif v is None:
                continue
            items.append(v)
        return items
    return value


def prune_in_place(doc: Doc) -> None:
    """The rule every kind ends with: [] / {} / null are absent (AWS returns [] for unset)."""
    pruned = prune_empty(doc)
    doc.clear()
    doc.update(pruned)


def each(d: Any, key: str) -> Iterator[Any]:
    """The values of a keyed map or the items of a list at d[key]."""
    v = d.get(key) if isinstance(d, dict) else None
    if isinstance(v, dict):
        yield from v.values()
    elif isinstance(v, list):
        yield from v


_CPU = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(vcpu)?\s*$", re.IGNORECASE)
_MEM = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(gb|mb|gib|mib)?\s*$", re.IGNORECASE)


def cpu_units(value: Any) -> Any:
    """'0.25 vCPU' / 256 / '256' -> '256' (task-level cpu, as AWS returns it)."""
    m = _CPU.match(str(value))
    if not m:
        return value
    n = float(m.group(1))
    return str(round(n * 1024 if m.group(2) else n))


def memory_units(value: Any) -> Any:
    """'1 GB' / 1024 / '1024' -> '1024' (task-level memory in MiB, as AWS returns it)."""
    m = _MEM.match(str(value))
    if not m:
        return value
    n = float(m.group(1))
    unit = (m.group(2) or "").lower()
    return str(round(n * 1024 if unit in ("gb", "gib") else n))


def last_segment(arn_or_name: Any, sep: str = "/") -> Any:
    if isinstance(arn_or_name, str) and arn_or_name.startswith("arn:"):
        return arn_or_name.split(sep)[-1]
    return arn_or_name
