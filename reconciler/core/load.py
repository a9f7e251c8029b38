"""Loading a manifests tree from disk: every `*.yaml` under a root, `specFile` JSON through
the kind that takes it, Releases expanded from their charts, `reconciler.yaml`, then every
error the validator finds. Nothing from a tree with errors may be applied.

Pure apart from reading the tree's files. The kinds are passed in (`registry`), so the core
never imports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from reconciler.core.charts import RELEASE, expand
from reconciler.core.config import Config, load_config
from reconciler.core.kind import Registry
from reconciler.core.manifest import CONFIG_FILE, LoadError, Manifest, display_path, manifests_in
from reconciler.core.validate import check_manifests


def is_values_file(rel: Path) -> bool:
    """Chart values (`*.values.yaml`, or anything under a `values/` folder) are not manifests."""
    return rel.name.endswith((".values.yaml", ".values.yml")) or "values" in rel.parts[:-1]


def manifest_files(root: Path) -> list[Path]:
    """Every *.yaml / *.yml below root, sorted, without the repo-wide config file, hidden
    folders and chart values files."""
    if root.is_file():
        return [root]
    files = [p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()]
    files = [p for p in files if not any(part.startswith(".") for part in p.relative_to(root).parts)
             and not is_values_file(p.relative_to(root))]
    return sorted(p for p in files if p.relative_to(root).as_posix() != CONFIG_FILE)


@dataclass
class Tree:
    """A loaded and validated manifests tree: manifests (Releases expanded), the config, and
    every error found."""

    root: Path
    manifests: list[Manifest] = field(default_factory=list)
    config: Config = field(default_factory=Config)
    errors: list[LoadError] = field(default_factory=list)
    releases: list[Manifest] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _read(root: Path, registry: Registry) -> Tree:
    tree = Tree(root)
    if not root.exists():
        tree.errors.append(LoadError(str(root), 0, "path does not exist"))
        return tree
    for path in manifest_files(root):
        shown = display_path(path, root)
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            tree.errors.append(LoadError(shown, 1, f"cannot read: {exc}"))
            continue
        for m in manifests_in(text, shown):
            if isinstance(m, LoadError):
                tree.errors.append(m)
                continue
            if "specFile" in m.raw:
                if "spec" in m.raw:
                    tree.errors.append(m.error("give either spec or specFile, not both"))
                    continue
                kind = registry.get(m.kind)
                if kind is None:
                    tree.manifests.append(m)  # the validator reports the unknown kind
                    continue
                spec, errors = kind.load_spec_file(m, path.parent, root)
                tree.errors.extend(errors)
                if spec is None:
                    continue
                m.spec = spec
            if m.kind == RELEASE:
                rendered, errors = expand(m, path, root, lambda p: display_path(p, root))
                tree.errors.extend(errors)
                tree.manifests.extend(rendered)
                tree.releases.append(m)
                continue
            tree.manifests.append(m)
    return tree


def load_tree(root: Path, registry: Registry) -> Tree:
    """Load and validate everything under root; errors are collected, never raised."""
    tree = _read(root.resolve(), registry)
    config, config_errors = load_config(tree.root)
    tree.config = config
    tree.errors.extend(config_errors)
    tree.errors.extend(check_manifests(tree.manifests, registry))
    tree.errors.sort(key=lambda e: (e.file, e.line, e.message))
    return tree


__all__ = ["Tree", "is_values_file", "load_tree", "manifest_files"]
