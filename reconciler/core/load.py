"""Loading a manifests tree from disk: every `*.yaml` under a root, `specFile` JSON through
the kind that takes it, Releases expanded from their charts, `reconciler.yaml`, then every
error the validator finds. Nothing from a tree with errors may be applied.

Pure apart from reading the tree's files. The kinds are passed in (`registry`), so the core
never imports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.core.charts import RELEASE, expand
from reconciler.core.config import Config, load_config
from reconciler.core.files import MAX_FILE_BYTES, inside, read_text
from reconciler.core.kind import Registry
from reconciler.core.manifest import CONFIG_FILE, LoadError, Manifest, display_path, manifests_in
from reconciler.core.normalize import Doc
from reconciler.core.validate import check_manifests, habit_warnings


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
    every error found (and warnings, which do not stop it)."""

    root: Path
    manifests: list[Manifest] = field(default_factory=list)
    config: Config = field(default_factory=Config)
    errors: list[LoadError] = field(default_factory=list)
    releases: list[Manifest] = field(default_factory=list)
    warnings: list[LoadError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def boundary_of(root: Path) -> Path:
    """The repository holding a manifests path: its git work tree, else the folder that holds
    the path (charts may sit beside `manifests/`). Nothing is read from outside it."""
    start = root if root.is_dir() else root.parent
    for folder in [start, *start.parents]:
        if (folder / ".git").exists():
            return folder
    return start.parent


def _spec_file(m: Manifest, kind_registry: Registry, base: Path, root: Path, boundary: Path
               ) -> tuple[Doc | None, list[LoadError]]:
    """The spec a `specFile:` names: inside the repository (symlinks followed), read by the
    loader, parsed by the kind that takes spec files."""
    kind = kind_registry.get(m.kind)
    ref = m.raw.get("specFile")
    if not isinstance(ref, str) or not ref:
        return None, [m.error("specFile must be a path string", ("specFile",))]
    path = (base / ref).resolve()
    if not inside(path, boundary):
        return None, [m.error(f"specFile {ref!r} is outside the repository", ("specFile",))]
    if not path.is_file():
        return None, [m.error(f"specFile {ref!r} not found", ("specFile",))]
    if kind is None:
        return None, []  # the validator reports the unknown kind
    shown = display_path(path, root)
    text = read_text(path, shown)
    if isinstance(text, LoadError):
        return None, [text]
    return kind.spec_from_file(m, text, shown)


def _read(root: Path, registry: Registry, boundary: Path, facts: Mapping[str, str]) -> Tree:
    tree = Tree(root)
    if not root.exists():
        tree.errors.append(LoadError(str(root), 0, "path does not exist"))
        return tree
    problems: list[LoadError] = []
    for path in manifest_files(root):
        shown = display_path(path, root)
        if not inside(path, boundary):
            problems.append(LoadError(shown, 1, "a link to outside the repository"))
            continue
        text = read_text(path, shown)
        if isinstance(text, LoadError):
            problems.append(text)
            continue
        for m in manifests_in(text, shown):
            if isinstance(m, LoadError):
                problems.append(m)
                continue
            if "specFile" in m.raw:
                if "spec" in m.raw:
                    problems.append(m.error("give either spec or specFile, not both"))
                    continue
                spec, found = _spec_file(m, registry, path.parent, root, boundary)
                problems.extend(found)
                if spec is None:
                    if not found:
                        tree.manifests.append(m)
                    continue
                m.spec = spec
            if m.kind == RELEASE:
                rendered, found = expand(m, path, boundary, lambda p: display_path(p, root),
                                         facts)
                problems.extend(found)
                tree.manifests.extend(rendered)
                tree.releases.append(m)
                continue
            tree.manifests.append(m)
    tree.errors.extend(p for p in problems if not p.warning)
    tree.warnings.extend(p for p in problems if p.warning)
    return tree


def load_tree(root: Path, registry: Registry, boundary: Path | None = None,
              facts: Mapping[str, str] | None = None) -> Tree:
    """Load and validate everything under root; errors are collected, never raised. Files,
    charts and spec files are read only from inside `boundary` (default: the repository);
    `facts` (the target `region`) is what chart templates see as `aws`."""
    root = root.resolve()
    tree = _read(root, registry, (boundary or boundary_of(root)).resolve(), facts or {})
    config, config_errors = load_config(tree.root)
    tree.config = config
    tree.errors.extend(config_errors)
    checked = [*check_manifests(tree.manifests, registry),
               *habit_warnings(tree.manifests, config, registry)]
    tree.errors.extend(e for e in checked if not e.warning)
    tree.warnings.extend(e for e in checked if e.warning)
    tree.errors.sort(key=lambda e: (e.file, e.line, e.message))
    return tree


__all__ = ["MAX_FILE_BYTES", "Tree", "boundary_of", "is_values_file", "load_tree",
           "manifest_files", "read_text"]
