"""The manifest model: YAML documents parsed with the line of every key, each turned into a
`Manifest` with its identity (`ResourceKey`). Errors are values (`LoadError`), located at a
file and line.

Pure: text in, data out. Reading files is `reconciler.core.load`'s job.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

API_VERSION = "reconciler/v1"
CONFIG_FILE = "reconciler.yaml"

Path_ = tuple[str | int, ...]
# libyaml's parser when PyYAML was built with it (about ten times faster), else pure Python.
_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@functools.lru_cache(maxsize=1 << 16)
def _scalar_tag(value: str, implicit: tuple[bool, bool]) -> str:
    return str(_BaseLoader.resolve(_BaseLoader, yaml.ScalarNode, value, implicit))


class _Loader(_BaseLoader):  # type: ignore[misc]
    """The safe loader, with the tag of each scalar value remembered: libyaml asks Python
    for it on every scalar, and a tree of manifests repeats the same few hundred values
    (a third of loading time). Path resolvers are never added, so their hooks do nothing."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:
            return _scalar_tag(value, implicit)
        return super().resolve(kind, value, implicit)

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass

    def ascend_resolver(self) -> None:
        pass

@dataclass(frozen=True)
class ResourceKey:
    """The identity of one resource: kind, the cluster it lives in (if any), and its AWS name."""

    kind: str
    name: str
    cluster: str | None = None

    def __str__(self) -> str:
        where = f"{self.cluster}/" if self.cluster else ""
        return f"{self.kind}/{where}{self.name}"


@dataclass(frozen=True)
class LoadError:
    """One problem with the input, located at a file and line. A warning is worth saying but
    does not stop the tree from being applied."""

    file: str
    line: int
    message: str
    resource: str = ""
    warning: bool = False

    def __str__(self) -> str:
        who = f"{self.resource}: " if self.resource else ""
        return f"{self.file}:{self.line}: {'warning: ' if self.warning else ''}{who}{self.message}"


@dataclass
class Manifest:
    """One document: a desired resource as the user wrote it, with where each key came from."""

    kind: str
    name: str
    spec: dict[str, Any]
    file: str
    line: int
    api_version: str = API_VERSION
    cluster: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    ignore: list[str] = field(default_factory=list)
    lines: dict[Path_, int] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    origin: str = ""  # for manifests rendered from a chart: the Release they come from

    @property
    def key(self) -> ResourceKey:
        return ResourceKey(self.kind, self.name, self.cluster)

    def line_of(self, path: Path_) -> int:
        """The line of the deepest key of `path` that the document has, else the document's."""
        for n in range(len(path), 0, -1):
            if path[:n] in self.lines:
                return self.lines[path[:n]]
        return self.line

    def error(self, message: str, path: Path_ = (), warning: bool = False) -> LoadError:
        if self.origin:
            message = f"{message} (rendered from {self.origin})"
        return LoadError(self.file, self.line_of(path), message, f"{self.kind}/{self.name}",
                         warning)


# Bounds on what one file may make the loader do (issue 12). The alias bound follows go-yaml
# v2.2.4 (gopkg.in/yaml.v2 PR #515, the fix Kubernetes took for CVE-2019-11253): aliases may
# expand a small file a lot (a floor of nodes) and a big file by a bounded ratio.
ALIAS_FLOOR = 200_000   # nodes any file may expand to, aliases re-counted (a bomb: 0.14 s, +22 MB)
ALIAS_RATIO = 10        # beyond that: at most this many walked nodes per distinct node
MAX_DEPTH = 100         # nesting (a manifest is ~8 deep); deeper recursion ends in RecursionError
MAX_INT_CHARS = 32      # an int scalar longer than this is refused before int() sees it
_INT, _MERGE = "tag:yaml.org,2002:int", "tag:yaml.org,2002:merge"


class InputLimitError(ValueError):
    """The input asks for more than the loader allows: located, reported like bad YAML."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line, self.message = line, message


class _Budget:
    """The nodes the walk of one file has visited. An alias makes the walk visit (and build)
    its anchor's nodes again; the first walk of each map and list records how many nodes it
    visited below itself, so an alias is charged its whole expansion *before* it is walked,
    and a billion-laughs file fails at the first alias past the limit. Nodes are counted as
    their parent is entered (len of its value), so scalars cost nothing. A file without `&`
    has no anchor, so no alias: it is not counted at all (`sizes` is None)."""

    __slots__ = ("repeats", "replay_end", "sizes", "visits")

    def __init__(self, text: str) -> None:
        self.visits = 0          # every node visited, the nodes of an alias once per use
        self.repeats = 0         # of those, the visits made re-walking an alias
        self.replay_end = 0      # while visits < this, the walk is inside an alias' expansion
        # id(map or list node) -> nodes visited below it
        self.sizes: dict[int, int] | None = {} if "&" in text else None

    def enter(self, node: yaml.Node, path: Path_, out: dict[Path_, int]) -> int:
        """Before a map or list is walked: the visit count it starts at, or -1 if it was walked
        before (an alias), once the whole expansion is known to fit."""
        if len(path) > MAX_DEPTH:
            raise _too_deep(node)
        assert self.sizes is not None
        start = self.visits
        self.visits = start + len(node.value)
        size = self.sizes.get(id(node))
        if size is None:
            return start
        if start >= self.replay_end:  # an alias, not inside one already charged
            limit = max(ALIAS_FLOOR, ALIAS_RATIO * (start - self.repeats))
            if start + size > limit:
                # the line of the key (or of the list) where the alias is used
                where = out.get(path if not path or isinstance(path[-1], str) else path[:-1], 1)
                raise InputLimitError(where, f"aliases expand this file to more than {limit} "
                                             f"nodes (a YAML alias bomb?)")
            self.repeats += size
            self.replay_end = start + size
        return -1

    def leave(self, node: yaml.Node, start: int) -> None:
        if start >= 0:
            self.sizes[id(node)] = self.visits - start  # type: ignore[index]


def _too_deep(node: yaml.Node) -> InputLimitError:
    return InputLimitError(node.start_mark.line + 1, f"nested deeper than {MAX_DEPTH} levels")


def _check_scalar(node: yaml.ScalarNode) -> None:
    if node.tag == _INT and len(node.value) > MAX_INT_CHARS:
        raise InputLimitError(node.start_mark.line + 1,
                              f"integer of {len(node.value)} characters (at most {MAX_INT_CHARS})")


def _duplicate_key(node: yaml.MappingNode) -> InputLimitError:
    """The error for a map that has a key twice (tag and text equal; `<<` merges aside)."""
    first: dict[tuple[str, str], int] = {}
    for key_node, _ in node.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.tag != _MERGE:
            k, line = (key_node.tag, key_node.value), key_node.start_mark.line + 1
            if k in first:
                return InputLimitError(line, f"duplicate key {key_node.value!r} "
                                             f"(first at line {first[k]})")
            first[k] = line
    raise AssertionError("no duplicate key")


def _walk_lines(node: yaml.Node, path: Path_, out: dict[Path_, int],
                ancestors: frozenset[int] = frozenset(), budget: _Budget | None = None) -> None:
    if budget is None:  # a walk of its own (tests): limits on, no alias accounting
        budget = _Budget("")
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.ScalarNode):
        _check_scalar(node)
        return
    if id(node) in ancestors:
        return
    tracked = budget.sizes is not None
    if tracked:
        start = budget.enter(node, path, out)
    elif len(path) > MAX_DEPTH:
        raise _too_deep(node)
    inside = ancestors | {id(node)}
    if isinstance(node, yaml.MappingNode):
        keys: set[tuple[str, str]] = set()
        plain = 0  # scalar keys other than `<<`: explicit keys, that must differ
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.tag != _MERGE:
                    keys.add((key_node.tag, key_node.value))
                    plain += 1
                child = (*path, key_node.value)
                out[child] = key_node.start_mark.line + 1
                _walk_lines(value_node, child, out, inside, budget)
        if len(keys) < plain:
            raise _duplicate_key(node)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk_lines(item, (*path, i), out, inside, budget)
    if tracked:
        budget.leave(node, start)


_STR, _MAP, _SEQ = ("tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


def _build(node: yaml.Node, path: Path_, out: dict[Path_, int], loader: Any, budget: _Budget,
           ancestors: frozenset[int] = frozenset()) -> Any:
    """The node's data and the line of every key below `path`, in one walk. Plain strings,
    maps and lists (nearly all of a manifest) are built here, several times faster than
    PyYAML's constructor; anything else (numbers, booleans, `<<` merges, non-string keys) is
    left to that constructor, so the data is exactly what it gives. An anchor used inside
    itself is an error: nothing downstream could walk what it builds. So are a duplicate key,
    and more than the limits above allow (alias expansion, nesting, integer length)."""
    out.setdefault(path, node.start_mark.line + 1)
    tag = node.tag
    if tag == _STR and isinstance(node, yaml.ScalarNode):
        return node.value
    ident = id(node)
    if ident in ancestors:
        raise yaml.constructor.ConstructorError(
            None, None, "an anchor used inside itself (a manifest cannot contain itself)",
            node.start_mark)
    if (tag == _MAP and isinstance(node, yaml.MappingNode)
            and all(isinstance(k, yaml.ScalarNode) and k.tag == _STR for k, _ in node.value)):
        tracked = budget.sizes is not None
        if tracked:
            start = budget.enter(node, path, out)
        elif len(path) > MAX_DEPTH:
            raise _too_deep(node)
        inside = ancestors | {ident}
        data = {}
        for key_node, value_node in node.value:
            child = (*path, key_node.value)
            out[child] = key_node.start_mark.line + 1
            data[key_node.value] = _build(value_node, child, out, loader, budget, inside)
        if len(data) < len(node.value):
            raise _duplicate_key(node)
        if tracked:
            budget.leave(node, start)
        return data
    if tag == _SEQ and isinstance(node, yaml.SequenceNode):
        tracked = budget.sizes is not None
        if tracked:
            start = budget.enter(node, path, out)
        elif len(path) > MAX_DEPTH:
            raise _too_deep(node)
        inside = ancestors | {ident}
        items = [_build(item, (*path, i), out, loader, budget, inside)
                 for i, item in enumerate(node.value)]
        if tracked:
            budget.leave(node, start)
        return items
    _walk_lines(node, path, out, ancestors, budget)
    return loader.construct_object(node, deep=True)


def parse_documents(
    text: str, file: str
) -> Iterator[tuple[Any, int, dict[Path_, int]] | LoadError]:
    """Yield (data, first line, line map) per YAML document, or a LoadError for bad YAML."""
    loader = _Loader(text)
    budget = _Budget(text)  # one per file: anchors stay in their document, bombs need not
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            lines: dict[Path_, int] = {}
            data = _build(node, (), lines, loader, budget)
            loader.constructed_objects, loader.recursive_objects = {}, {}
            if budget.sizes is not None:  # anchors end with their document; and the ids of
                budget.sizes.clear()      # its nodes may be reused by the next document's
            yield data, node.start_mark.line + 1, lines
    except InputLimitError as exc:
        yield LoadError(file, exc.line, exc.message)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        yield LoadError(file, line, f"invalid YAML: {exc.problem or exc}")
    except yaml.YAMLError as exc:
        yield LoadError(file, 1, f"invalid YAML: {exc}")
    finally:
        loader.dispose()


def display_path(path: Path, root: Path) -> str:
    """A file's name in errors: relative to the manifests root, else to the folder holding it
    (charts usually sit beside manifests/), else absolute. A link is named where it lies, not
    where it points (a link out of the repository is an error about the link)."""
    base = root.parent if root.is_file() else root
    for where in (Path(os.path.normpath(path.absolute())), path.resolve()):
        for anchor in (base, base.parent):
            try:
                rel = where.relative_to(anchor)
            except ValueError:
                continue
            return rel.as_posix() if anchor == base else f"../{rel.as_posix()}"
    return path.as_posix()


def manifest_from_document(
    data: Any, file: str, line: int, lines: dict[Path_, int]
) -> Manifest | LoadError:
    if not isinstance(data, dict):
        return LoadError(file, line, "a manifest must be a mapping with apiVersion, kind, metadata")
    kind = data.get("kind")
    meta = data.get("metadata")
    if not isinstance(kind, str) or not kind:
        return LoadError(file, lines.get(("kind",), line), "kind is missing")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        return LoadError(file, lines.get(("metadata",), line), "metadata.name is missing", kind)
    spec = data.get("spec", {})
    cluster = meta.get("cluster")
    labels, ignore = meta.get("labels"), meta.get("ignore")
    return Manifest(
        kind=kind,
        name=meta["name"],
        spec=spec if isinstance(spec, dict) else {},
        file=file,
        line=line,
        api_version=str(data.get("apiVersion", "")),
        cluster=str(cluster) if cluster is not None else None,
        labels={str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
        ignore=list(ignore) if isinstance(ignore, list) else [],
        lines=lines,
        raw=data,
    )


def manifests_in(text: str, file: str) -> Iterator[Manifest | LoadError]:
    """Each document of a YAML text as a Manifest, or the error that prevents it."""
    for item in parse_documents(text, file):
        if isinstance(item, LoadError):
            yield item
            continue
        data, line, lines = item
        if data is not None:
            yield manifest_from_document(data, file, line, lines)
