"""Small builders for the pure-core tests: manifests, live objects and changes by hand."""

from __future__ import annotations

from typing import Any

from reconciler.core.kind import Live
from reconciler.core.manifest import Manifest, ResourceKey
from reconciler.core.ownership import MANAGED_BY
from reconciler.core.plan import Change
from reconciler.core.vocab import Action

OWNER = "reconciler"


def manifest(kind: str, name: str, spec: dict[str, Any] | None = None, *,
             cluster: str | None = None, ignore: list[str] | None = None,
             labels: dict[str, str] | None = None, **metadata: Any) -> Manifest:
    """A manifest as the loader would make it from one document."""
    meta: dict[str, Any] = {"name": name, **metadata}
    if cluster:
        meta["cluster"] = cluster
    raw = {"apiVersion": "reconciler/v1", "kind": kind, "metadata": meta, "spec": spec or {}}
    return Manifest(kind, name, spec or {}, f"{kind.lower()}.yaml", 1, cluster=cluster,
                    labels=labels or {}, ignore=ignore or [], raw=raw)


def key(kind: str, name: str, cluster: str | None = None) -> ResourceKey:
    return ResourceKey(kind, name, cluster)


def live(kind: str, name: str, spec: dict[str, Any] | None = None, *,
         cluster: str | None = None, owner: str | None = OWNER, arn: str = "",
         tags: dict[str, str] | None = None, raw: dict[str, Any] | None = None) -> Live:
    """A live object already projected onto the request's shape, owned by `owner`."""
    all_tags = {**({MANAGED_BY: owner} if owner else {}), **(tags or {})}
    return Live(ResourceKey(kind, name, cluster), arn or f"arn:aws:test:::{kind}/{name}",
                spec or {}, all_tags, raw or {})


def change(kind: str, name: str, action: Action = Action.UPDATE, *,
           cluster: str | None = None, **fields: Any) -> Change:
    return Change(ResourceKey(kind, name, cluster), action, **fields)


__all__ = ["OWNER", "change", "key", "live", "manifest"]
