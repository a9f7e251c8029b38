"""`reconciler.yaml` at the root of a manifests path: controller name, ignore rules, pruning.

Pure apart from reading the one file.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.core.files import read_text
from reconciler.core.ignore import IgnoreRule, PatternError, parse
from reconciler.core.manifest import CONFIG_FILE, LoadError, Manifest, parse_documents

DEFAULT_CONTROLLER = "reconciler"
DEFAULT_PRUNE_MAX_SHARE = 0.25
KNOWN_KEYS = {"controller", "prune", "pruneMaxShare", "ignore", "mode", "selfHeal",
              "eventsQueue"}


@dataclass(frozen=True)
class Selector:
    """Which manifests a repo-wide rule applies to: kind, name, cluster (globs) and labels."""

    kind: str = "*"
    name: str = "*"
    cluster: str = "*"
    labels: tuple[tuple[str, str], ...] = ()

    def matches(self, m: Manifest) -> bool:
        return (
            fnmatch.fnmatchcase(m.kind, self.kind)
            and fnmatch.fnmatchcase(m.name, self.name)
            and fnmatch.fnmatchcase(m.cluster or "", self.cluster)
            and all(m.labels.get(k) == v for k, v in self.labels)
        )


@dataclass(frozen=True)
class RepoIgnore:
    selector: Selector
    paths: tuple[str, ...]


@dataclass
class Config:
    controller: str = DEFAULT_CONTROLLER
    prune: bool = False
    prune_max_share: float = DEFAULT_PRUNE_MAX_SHARE
    ignore: list[RepoIgnore] = field(default_factory=list)
    mode: str = "apply"
    self_heal: bool = False
    events_queue: str | None = None  # the SQS queue AWS's events arrive on (the controller)

    def ignore_rules(self, m: Manifest) -> list[IgnoreRule]:
        """The manifest's own ignore paths plus every repo-wide rule whose selector matches."""
        rules = [IgnoreRule(p, "metadata.ignore") for p in m.ignore]
        for rule in self.ignore:
            if rule.selector.matches(m):
                rules.extend(IgnoreRule(p, f"{CONFIG_FILE} ignore rule") for p in rule.paths)
        return rules


def _err(lines: dict[Any, int], path: tuple[Any, ...], message: str) -> LoadError:
    line = next((lines[path[:n]] for n in range(len(path), 0, -1) if path[:n] in lines), 1)
    return LoadError(CONFIG_FILE, line, message)


def load_config(root: Path) -> tuple[Config, list[LoadError]]:
    """Read `reconciler.yaml` under root (defaults if absent); every problem is returned."""
    cfg = Config()
    path = (root if root.is_dir() else root.parent) / CONFIG_FILE
    if not path.is_file():
        return cfg, []
    text = read_text(path, CONFIG_FILE)
    if isinstance(text, LoadError):
        return cfg, [text]
    docs = list(parse_documents(text, CONFIG_FILE))
    errors = [d for d in docs if isinstance(d, LoadError)]
    if errors:
        return cfg, errors
    if not docs:
        return cfg, []
    first = docs[0]
    assert not isinstance(first, LoadError)
    data, _line, lines = first
    if data is None:
        return cfg, []
    if not isinstance(data, dict):
        return cfg, [LoadError(CONFIG_FILE, 1, "must be a mapping")]
    out: list[LoadError] = []
    for key in data:
        if key not in KNOWN_KEYS:
            out.append(_err(lines, (key,), f"unknown key {key!r} (known: {sorted(KNOWN_KEYS)})"))
    if "controller" in data:
        if not isinstance(data["controller"], str) or not data["controller"]:
            out.append(_err(lines, ("controller",), "controller must be a non-empty string"))
        else:
            cfg.controller = data["controller"]
    if "prune" in data:
        if not isinstance(data["prune"], bool):
            out.append(_err(lines, ("prune",), "prune must be true or false"))
        else:
            cfg.prune = data["prune"]
    if "pruneMaxShare" in data:
        v = data["pruneMaxShare"]
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 1:
            out.append(_err(lines, ("pruneMaxShare",), "pruneMaxShare must be between 0 and 1"))
        else:
            cfg.prune_max_share = float(v)
    if "mode" in data:
        if data["mode"] not in ("observe", "apply"):
            out.append(_err(lines, ("mode",), "mode must be observe or apply"))
        else:
            cfg.mode = data["mode"]
    if "selfHeal" in data:
        if not isinstance(data["selfHeal"], bool):
            out.append(_err(lines, ("selfHeal",), "selfHeal must be true or false"))
        else:
            cfg.self_heal = data["selfHeal"]
    if "eventsQueue" in data:
        v = data["eventsQueue"]
        if not isinstance(v, str) or not v.startswith(("https://", "http://")):
            out.append(_err(lines, ("eventsQueue",), "eventsQueue must be an SQS queue URL"))
        else:
            cfg.events_queue = v
    for i, rule in enumerate(data.get("ignore") or []):
        where = ("ignore", i)
        if not isinstance(rule, dict) or not isinstance(rule.get("paths"), list):
            out.append(_err(lines, where, "an ignore rule needs paths: [...] and a selector"))
            continue
        sel = rule.get("selector") or {}
        if not isinstance(sel, dict):
            out.append(_err(lines, (*where, "selector"), "selector must be a mapping"))
            continue
        for p in rule["paths"]:
            try:
                parse(str(p))
            except PatternError as exc:
                out.append(_err(lines, (*where, "paths"), str(exc)))
        cfg.ignore.append(
            RepoIgnore(
                Selector(
                    kind=str(sel.get("kind", "*")),
                    name=str(sel.get("name", "*")),
                    cluster=str(sel.get("cluster", "*")),
                    labels=tuple(sorted((str(k), str(v))
                                        for k, v in (sel.get("labels") or {}).items())),
                ),
                tuple(str(p) for p in rule["paths"]),
            )
        )
    return cfg, out
