"""Ownership lives in AWS tags, so a restart, a crash or a new leader remembers it: which
controller manages a resource, the git revision and desired-state hash of its last write,
and, for resources AWS gives no name, the manifest they come from.

Pure: tag names and the shapes tags take in each AWS API.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.core.manifest import Manifest, ResourceKey

MANAGED_BY = "reconciler:managed-by"
REVISION_TAG = "reconciler:revision"
# The hash of the normalised desired state (ignored fields left out) at the last write: when
# it still equals what git asks for, any difference is drift, not a deploy.
DESIRED_HASH_TAG = "reconciler:desired-hash"
# For resources AWS does not name (scalable targets, Spot Fleets): the manifest they come from.
NAME_TAG = "reconciler:name"
CLUSTER_TAG = "reconciler:cluster"
CONTENT_HASH_TAG = "reconciler:content-hash"
# On a scheduled rule: what the schedule watchdog has alerted and re-run (core/runs.py), so a
# restart or a new leader never alerts or re-runs twice.
WATCH_TAG = "reconciler:watch"
# Tags the reconciler rewrites on every write, without anybody changing the resource.
BOOKKEEPING_TAGS = frozenset({REVISION_TAG, CONTENT_HASH_TAG, DESIRED_HASH_TAG, WATCH_TAG})
# On a cluster, one per hook (`reconciler:hook/<job>`): the record of its runs (core.hooks).
HOOK_TAG_PREFIX = "reconciler:hook/"
# Never compared: ownership is bookkeeping. An unowned twin of a manifest is adopted (tagged),
# which is not a change to the resource.
OWNERSHIP_TAGS = frozenset({MANAGED_BY, REVISION_TAG, CONTENT_HASH_TAG, DESIRED_HASH_TAG,
                            NAME_TAG, CLUSTER_TAG, WATCH_TAG})


def is_foreign_tag(key: str) -> bool:
    """Tags no manifest manages: the reconciler's own and AWS's reserved `aws:` ones."""
    return key in OWNERSHIP_TAGS or key.startswith(("aws:", HOOK_TAG_PREFIX))


def is_bookkeeping(key: str) -> bool:
    """Tags a write never removes although no manifest lists them."""
    return key in BOOKKEEPING_TAGS or key.startswith(HOOK_TAG_PREFIX)


def user_tags(tags: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in tags.items() if not is_foreign_tag(str(k))}


def ownership_tags(owner: str, revision: str | None) -> dict[str, str]:
    tags = {MANAGED_BY: owner}
    if revision:
        tags[REVISION_TAG] = revision
    return tags


def name_tags(m: Manifest) -> dict[str, str]:
    """What names an unnamed resource after its manifest."""
    tags = {NAME_TAG: m.name}
    if m.cluster:
        tags[CLUSTER_TAG] = m.cluster
    return tags


def key_from_tags(kind: str, tags: Mapping[str, str]) -> ResourceKey | None:
    """The manifest an unnamed resource (scalable target, Spot Fleet) was created from."""
    name = tags.get(NAME_TAG)
    return ResourceKey(kind, name, tags.get(CLUSTER_TAG)) if name else None


@dataclass(frozen=True)
class TagStyle:
    """How one AWS API spells tags: the request field, the key and value names of each
    entry (or a plain map), and the parameters of its TagResource / UntagResource."""

    field: str = "tags"
    key: str = "key"
    value: str = "value"
    as_map: bool = False
    arn_param: str = "resourceArn"
    tags_param: str = "tags"
    keys_param: str = "tagKeys"

    def read(self, tags: Any) -> dict[str, str]:
        """Tags in any of the API's spellings as a plain map."""
        if isinstance(tags, dict):
            return {str(a): str(b) for a, b in tags.items()}
        return {str(t[self.key]): str(t.get(self.value, "")) for t in tags or []
                if isinstance(t, dict) and self.key in t}

    def write(self, tags: Mapping[str, str]) -> Any:
        """A plain map in the API's spelling."""
        if self.as_map:
            return dict(sorted(tags.items()))
        return [{self.key: k, self.value: v} for k, v in sorted(tags.items())]

    def strip(self, spec: dict[str, Any]) -> None:
        """Remove the reconciler's and AWS's own tags from a spec (import writes what a person
        would)."""
        tags = spec.get(self.field)
        if tags is None:
            return
        kept = user_tags(self.read(tags))
        if kept:
            spec[self.field] = self.write(kept)
        else:
            spec.pop(self.field)


ECS_TAGS = TagStyle()
PASCAL_TAGS = TagStyle("Tags", "Key", "Value", arn_param="ResourceARN", tags_param="Tags",
                       keys_param="TagKeys")
PASCAL_MAP_TAGS = TagStyle("Tags", "Key", "Value", as_map=True, arn_param="ResourceARN",
                           tags_param="Tags", keys_param="TagKeys")


__all__ = ["BOOKKEEPING_TAGS", "CLUSTER_TAG", "CONTENT_HASH_TAG", "DESIRED_HASH_TAG",
           "ECS_TAGS", "HOOK_TAG_PREFIX", "MANAGED_BY", "NAME_TAG", "OWNERSHIP_TAGS",
           "PASCAL_MAP_TAGS", "PASCAL_TAGS", "REVISION_TAG", "WATCH_TAG", "TagStyle",
           "is_bookkeeping", "is_foreign_tag", "key_from_tags", "name_tags", "ownership_tags",
           "user_tags"]
