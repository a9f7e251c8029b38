"""Offline validation of a whole tree: every error, each as file:line: Kind/name: message.

Pure: botocore's model for the specs, plus the reconciler's own rules (apiVersion, kind,
duplicate identities, dangling references, ignore paths).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reconciler.core.config import Config, load_config
from reconciler.core.ignore import PatternError, parse
from reconciler.core.manifest import API_VERSION, LoadError, Manifest, ResourceKey, load_path
from reconciler.kinds import REGISTRY


@dataclass
class Tree:
    """A validated manifests tree: manifests, config, and every error found."""

    root: Path
    manifests: list[Manifest] = field(default_factory=list)
    config: Config = field(default_factory=Config)
    errors: list[LoadError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def by_key(self) -> dict[ResourceKey, Manifest]:
        return {m.key: m for m in self.manifests}


def check_manifests(manifests: list[Manifest]) -> list[LoadError]:
    errors: list[LoadError] = []
    seen: dict[ResourceKey, Manifest] = {}
    for m in manifests:
        if m.api_version != API_VERSION:
            errors.append(m.error(
                f"unknown apiVersion {m.api_version!r} (expected {API_VERSION})", ("apiVersion",)))
        kind = REGISTRY.get(m.kind)
        if kind is None:
            errors.append(m.error(
                f"unknown kind {m.kind!r} (known: {', '.join(sorted(REGISTRY))})", ("kind",)))
            continue
        if not (kind.needs_cluster or kind.cluster_allowed) and m.cluster is not None:
            errors.append(m.error(f"{m.kind} does not live in a cluster: remove metadata.cluster",
                                  ("metadata", "cluster")))
        errors.extend(kind.validate(m))
        for i, p in enumerate(m.ignore):
            try:
                parse(str(p))
            except PatternError as exc:
                errors.append(m.error(str(exc), ("metadata", "ignore", i)))
        if m.key in seen:
            first = seen[m.key]
            errors.append(m.error(f"duplicate: {m.key} is also defined at {first.file}:{first.line}"))
        else:
            seen[m.key] = m
    for m in manifests:
        kind = REGISTRY.get(m.kind)
        if kind is None:
            continue
        for ref, path in kind.references(m):
            if ref not in seen:
                errors.append(m.error(f"{'.'.join(map(str, path))} names {ref}, "
                                      "which no manifest defines", path))
    return errors


def load_tree(root: Path) -> Tree:
    """Load and validate everything under root; nothing from an invalid tree may be applied."""
    loaded = load_path(root)
    config, config_errors = load_config(loaded.root)
    tree = Tree(loaded.root, loaded.manifests, config, [*loaded.errors, *config_errors])
    tree.errors.extend(check_manifests(loaded.manifests))
    tree.errors.sort(key=lambda e: (e.file, e.line, e.message))
    return tree
