"""Minimal manifests, as a person writes them: the normaliser is the oracle for "AWS
default", so a field is left out when removing it does not change the resource's normalised
form. `reconciler diff` on the result is then empty by construction. Pure.
"""

from __future__ import annotations

from typing import Any

from reconciler.core.kind import Context, Spec
from reconciler.core.manifest import Manifest
from reconciler.core.normalize import Doc, clone, delete_path, prune_empty


def _comparable(kind: Spec, name: str, spec: Doc, cluster: str | None, ctx: Context) -> Any:
    m = Manifest(kind=kind.kind, name=name, spec=spec, file="(import)", line=1, cluster=cluster)
    return prune_empty(kind.normalize(kind.desired(m, ctx)))


def key_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every mapping key's path, deepest first, so leaves go before the mappings holding
    them (list items are entered, never removed one by one: their order may matter)."""
    out: list[tuple[Any, ...]] = []
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(key_paths(v, (*prefix, k)))
            out.append((*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(key_paths(v, (*prefix, i)))
    return out


def minimize(kind: Spec, name: str, spec: Doc, cluster: str | None, ctx: Context) -> Doc:
    """Remove every field whose removal leaves the normalised resource unchanged."""
    current = clone(spec)
    target = _comparable(kind, name, current, cluster, ctx)
    for path in key_paths(current):
        candidate = clone(current)
        if not delete_path(candidate, path):
            continue
        if _comparable(kind, name, candidate, cluster, ctx) == target:
            current = candidate
    minimal: Doc = prune_empty(current)
    return minimal


__all__ = ["key_paths", "minimize"]
