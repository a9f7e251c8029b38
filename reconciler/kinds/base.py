"""The interface every resource kind implements, and what they share.

A kind module owns one AWS resource type: how a manifest becomes an API request, how a describe
response becomes the same shape, its normalisation rules, and the calls that read and change it.
Everything but `fetch`, `list_owned`, `create`, `update` and `delete` is pure.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from reconciler import schema
from reconciler.aws import Aws
from reconciler.manifest import LoadError, Manifest, ResourceKey
from reconciler.normalize import (
    BOOKKEEPING_TAGS,
    MANAGED_BY,
    REVISION_TAG,
    Doc,
    Rule,
    ServerChosen,
    apply_rules,
)

PENDING_SUFFIX = ":(next revision)"


@dataclass
class Live:
    """A resource as AWS describes it, with `spec` projected onto the create request's shape."""

    key: ResourceKey
    arn: str
    spec: Doc
    tags: dict[str, str] = field(default_factory=dict)
    raw: Doc = field(default_factory=dict)

    def owner(self) -> str | None:
        return self.tags.get(MANAGED_BY)


@dataclass
class Refs:
    """What references between manifests resolve to during one plan or apply."""

    task_definitions: dict[str, str] = field(default_factory=dict)  # family -> ARN

    def task_definition(self, family: str) -> str:
        return self.task_definitions.get(family, f"{family}{PENDING_SUFFIX}")


@dataclass
class Context:
    """The run-wide facts a kind needs to build a desired request."""

    owner: str
    revision: str | None = None
    refs: Refs = field(default_factory=Refs)
    desired_keys: frozenset[ResourceKey] = frozenset()

    def ownership_tags(self) -> dict[str, str]:
        tags = {MANAGED_BY: self.owner}
        if self.revision:
            tags[REVISION_TAG] = self.revision
        return tags


def tag_list(tags: dict[str, str], k: str = "key", v: str = "value") -> list[dict[str, str]]:
    return [{k: key, v: value} for key, value in sorted(tags.items())]


def tag_map(tags: Any, k: str = "key", v: str = "value") -> dict[str, str]:
    if isinstance(tags, dict):
        return {str(a): str(b) for a, b in tags.items()}
    return {str(t[k]): str(t.get(v, "")) for t in tags or [] if isinstance(t, dict) and k in t}


class Kind:
    """Base of every kind: botocore validation, tags, normalisation and change classification."""

    kind: ClassVar[str]
    service: ClassVar[str]
    create_operation: ClassVar[str]
    identity: ClassVar[tuple[str, ...]] = ()
    needs_cluster: ClassVar[bool] = False
    order: ClassVar[int] = 100
    rules: ClassVar[Sequence[Rule]] = ()
    server_chosen: ClassVar[Sequence[ServerChosen]] = ()
    replace_fields: ClassVar[frozenset[str]] = frozenset()
    tag_keys: ClassVar[tuple[str, str]] = ("key", "value")

    # --- pure -------------------------------------------------------------------------------

    def identity_request(self, key: ResourceKey) -> Doc:
        """The request fields that come from metadata rather than spec."""
        return {}

    def references(self, m: Manifest) -> list[tuple[ResourceKey, tuple[str | int, ...]]]:
        """Other manifests this one needs, with the spec path that names each."""
        return []

    def validate(self, m: Manifest) -> list[LoadError]:
        """Check the spec against botocore's model of the create operation."""
        errors: list[LoadError] = []
        if self.needs_cluster and not m.cluster:
            errors.append(m.error("metadata.cluster is required for this kind", ("metadata",)))
        for f in self.identity:
            if f in m.spec:
                errors.append(
                    m.error(f"spec.{f} comes from metadata; remove it from spec", ("spec", f))
                )
        request = {**self.identity_request(m.key), **m.spec}
        shape = schema.input_shape(self.service, self.create_operation)
        for path, message in schema.validate(request, shape):
            errors.append(m.error(message, ("spec", *path)))
        return errors

    def desired(self, m: Manifest, ctx: Context) -> Doc:
        """The request this manifest stands for, without identity fields, tags included."""
        spec = copy.deepcopy(m.spec)
        user_tags = tag_map(spec.get("tags"), *self.tag_keys)
        spec["tags"] = tag_list({**user_tags, **ctx.ownership_tags()}, *self.tag_keys)
        return spec

    def normalize(self, spec: Doc) -> Doc:
        return apply_rules(spec, self.rules)

    def classify(self, changed_fields: set[str]) -> str:
        return "replace" if changed_fields & self.replace_fields else "update"

    # --- effects ----------------------------------------------------------------------------

    async def fetch(self, aws: Aws, keys: Sequence[ResourceKey]) -> dict[ResourceKey, Live]:
        raise NotImplementedError

    async def list_owned(
        self, aws: Aws, owner: str, clusters: Sequence[str]
    ) -> list[Live]:
        """Every live resource of this kind carrying `owner`'s ownership tag."""
        raise NotImplementedError

    async def create(self, aws: Aws, key: ResourceKey, desired: Doc, ctx: Context) -> str:
        raise NotImplementedError

    async def update(
        self, aws: Aws, key: ResourceKey, desired: Doc, live: Live, fields: set[str], ctx: Context
    ) -> str:
        raise NotImplementedError

    async def delete(self, aws: Aws, live: Live) -> None:
        raise NotImplementedError

    async def replace(self, aws: Aws, key: ResourceKey, desired: Doc, live: Live, ctx: Context) -> str:
        await self.delete(aws, live)
        return await self.create(aws, key, desired, ctx)

    async def sync_tags(self, aws: Aws, arn: str, desired: Doc, live: Live) -> None:
        """Tag and untag so that live tags equal desired ones (bookkeeping tags only added)."""
        want = tag_map(desired.get("tags"), *self.tag_keys)
        have = live.tags
        add = {k: v for k, v in want.items() if have.get(k) != v}
        remove = [k for k in have if k not in want and k not in BOOKKEEPING_TAGS]
        if add:
            await aws.call(
                self.service, "tag_resource", resourceArn=arn, tags=tag_list(add, *self.tag_keys)
            )
        if remove:
            await aws.call(self.service, "untag_resource", resourceArn=arn, tagKeys=remove)
