"""Aiming a command at some resources: `--target Kind/[cluster/]name` (repeatable, kubectl's
and Terraform's habit) and `-l key=value` label selectors (all must match). Pure.

A target that names no manifest is an error, not an empty plan: a typo must not look like
"in sync".
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable

from reconciler.core.manifest import Manifest, ResourceKey


class SelectionError(ValueError):
    """A target or selector that cannot be read, or that matches nothing."""


def parse_target(text: str) -> tuple[str, str | None, str]:
    """`Service/accounting-prd/api` -> ("Service", "accounting-prd", "api"); the name may be
    a glob (`Service/prd/*`)."""
    parts = text.strip().split("/")
    if len(parts) == 2 and all(parts):
        return parts[0], None, parts[1]
    if len(parts) == 3 and all(parts):
        return parts[0], parts[1], parts[2]
    raise SelectionError(f"--target {text!r}: expected Kind/name or Kind/cluster/name")


def parse_label(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise SelectionError(f"-l {text!r}: expected key=value")
    return key.strip(), value.strip()


def _matches(m: Manifest, target: tuple[str, str | None, str]) -> bool:
    kind, cluster, name = target
    return (m.kind == kind and fnmatch.fnmatchcase(m.name, name)
            and (cluster is None or fnmatch.fnmatchcase(m.cluster or "", cluster)))


def select(manifests: Iterable[Manifest], targets: Iterable[str] = (),
           labels: Iterable[str] = ()) -> set[ResourceKey] | None:
    """The keys the targets and selectors pick (None: nothing asked, everything goes)."""
    wanted = [parse_target(t) for t in targets]
    selectors = [parse_label(x) for x in labels]
    if not wanted and not selectors:
        return None
    chosen: set[ResourceKey] = set()
    pool = list(manifests)
    for target, text in zip(wanted, targets, strict=True):
        hits = {m.key for m in pool if _matches(m, target)}
        if not hits:
            raise SelectionError(f"--target {text!r} matches no manifest")
        chosen |= hits
    if selectors:
        labelled = {m.key for m in pool if all(m.labels.get(k) == v for k, v in selectors)}
        if not labelled:
            shown = ",".join(f"{k}={v}" for k, v in selectors)
            raise SelectionError(f"-l {shown} matches no manifest")
        chosen = chosen & labelled if wanted else labelled
    return chosen


__all__ = ["SelectionError", "parse_label", "parse_target", "select"]
