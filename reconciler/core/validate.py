"""Offline validation of a whole tree: every error, each as `file:line: Kind/name: message`.

Pure. Each kind checks its own spec (botocore's model plus its rules); this module checks
what is the reconciler's own: apiVersion, kind, where a kind lives, duplicate identities,
dangling references, ignore paths, the metadata the reconciler reads and hooks' gates.
"""

from __future__ import annotations

from reconciler.core.config import Config
from reconciler.core.hooks import check_hooks
from reconciler.core.ignore import PatternError, parse
from reconciler.core.kind import Registry
from reconciler.core.manifest import API_VERSION, LoadError, Manifest, ResourceKey
from reconciler.core.vocab import ClusterScope

METADATA_KEYS = frozenset({"name", "cluster", "labels", "ignore", "annotations", "selfHeal",
                           "hook"})


def _check_metadata(m: Manifest) -> list[LoadError]:
    errors: list[LoadError] = []
    spec = m.raw.get("spec")
    if "spec" in m.raw and not isinstance(spec, dict) and "specFile" not in m.raw:
        errors.append(m.error(f"spec must be a mapping, not {type(spec).__name__}", ("spec",)))
    meta = m.raw.get("metadata") or {}
    for key in meta:
        if key not in METADATA_KEYS:
            errors.append(m.error(f"metadata.{key}: unknown field (known: "
                                  f"{', '.join(sorted(METADATA_KEYS))})", ("metadata", key)))
    if "selfHeal" in meta and not isinstance(meta["selfHeal"], bool):
        errors.append(m.error(f"metadata.selfHeal must be true or false, not "
                              f"{meta['selfHeal']!r}", ("metadata", "selfHeal")))
    labels = meta.get("labels")
    if labels is not None and not (isinstance(labels, dict) and all(
            isinstance(k, str) and isinstance(v, str | int | float | bool)
            for k, v in labels.items())):
        errors.append(m.error("metadata.labels must map names to strings",
                              ("metadata", "labels")))
    ignore = meta.get("ignore")
    if ignore is not None and not isinstance(ignore, list):
        errors.append(m.error("metadata.ignore must be a list of paths", ("metadata", "ignore")))
    for i, p in enumerate(m.ignore):
        try:
            parse(str(p))
        except PatternError as exc:
            errors.append(m.error(str(exc), ("metadata", "ignore", i)))
    return errors


def habit_warnings(manifests: list[Manifest], config: Config, registry: Registry
                   ) -> list[LoadError]:
    """Valid trees that will not do what their author expects. A team used to Terraform's
    ignore_changes ignores a Service's taskDefinition so CI can deploy images; but while the
    TaskDefinition manifest stays in git, the next change to it registers git's image over
    CI's and moves the service anyway. The image belongs ignored on the TaskDefinition."""
    out: list[LoadError] = []
    for m in manifests:
        refs = {r.key.kind for r in registry[m.kind].references(m)} if m.kind in registry \
            else set()
        if "TaskDefinition" not in refs or m.kind != "Service":
            continue
        for rule in config.ignore_rules(m):
            if rule.pattern.strip() == "spec.taskDefinition":
                where = ("metadata", "ignore", m.ignore.index(rule.pattern)) \
                    if rule.pattern in m.ignore else ("spec", "taskDefinition")
                out.append(m.error(
                    "ignoring spec.taskDefinition does not keep CI's image: the TaskDefinition "
                    f"{m.spec.get('taskDefinition')!r} is still in git, and its next change "
                    "registers git's image and moves this service; ignore the image on the "
                    "TaskDefinition instead (spec.containerDefinitions[<name>].image)",
                    where, warning=True))
    return out


def check_manifests(manifests: list[Manifest], registry: Registry) -> list[LoadError]:
    """Every error in these manifests, in the order they were loaded."""
    errors: list[LoadError] = []
    seen: dict[ResourceKey, Manifest] = {}
    for m in manifests:
        if m.api_version != API_VERSION:
            errors.append(m.error(
                f"unknown apiVersion {m.api_version!r} (expected {API_VERSION})", ("apiVersion",)))
        errors.extend(_check_metadata(m))
        kind = registry.get(m.kind)
        if kind is None:
            errors.append(m.error(
                f"unknown kind {m.kind!r} (known: {', '.join(sorted(registry))})", ("kind",)))
            continue
        if kind.cluster_scope is ClusterScope.NONE and m.cluster is not None:
            errors.append(m.error(f"{m.kind} does not live in a cluster: remove metadata.cluster",
                                  ("metadata", "cluster")))
        errors.extend(kind.validate(m))
        if m.key in seen:
            first = seen[m.key]
            errors.append(m.error(f"duplicate: {m.key} is also defined at {first.file}:{first.line}"))
        else:
            seen[m.key] = m
    for m in manifests:
        kind = registry.get(m.kind)
        if kind is None:
            continue
        for ref in kind.references(m):
            if ref.key not in seen:
                errors.append(m.error(f"{'.'.join(map(str, ref.path))} names {ref.key}, "
                                      "which no manifest defines", ref.path))
    errors.extend(check_hooks(manifests, registry))
    return errors


__all__ = ["check_manifests"]
