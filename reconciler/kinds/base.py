"""The interface every resource kind implements, and what they share.

A kind module owns one AWS resource type: how a manifest becomes an API request, how a describe
response becomes the same shape, its normalisation rules, and the calls that read and change it.
Everything but `fetch`, `list_owned`, `create`, `update` and `delete` is pure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from reconciler.aws.client import Aws
from reconciler.core import model
from reconciler.core.ignore import IgnoreRule
from reconciler.core.manifest import LoadError, Manifest, ResourceKey
from reconciler.core.normalize import (
    BOOKKEEPING_TAGS,
    CLUSTER_TAG,
    MANAGED_BY,
    NAME_TAG,
    REVISION_TAG,
    Doc,
    Rule,
    ServerChosen,
    apply_rules,
    clone,
)

PENDING_SUFFIX = ":(next revision)"
PENDING_ID = ":(known after apply)"


@dataclass
class Live:
    """A resource as AWS describes it, with `spec` projected onto the create request's shape."""

    key: ResourceKey
    arn: str
    spec: Doc
    tags: dict[str, str] = field(default_factory=dict)
    raw: Doc = field(default_factory=dict)
    normal: Doc | None = field(default=None, repr=False, compare=False)

    def owner(self) -> str | None:
        return self.tags.get(MANAGED_BY)


def key_from_tags(kind: str, tags: Mapping[str, str]) -> ResourceKey | None:
    """The manifest an unnamed resource (scalable target, Spot Fleet) was created from."""
    name = tags.get(NAME_TAG)
    return ResourceKey(kind, name, tags.get(CLUSTER_TAG)) if name else None


def name_tags(m: Manifest) -> dict[str, str]:
    tags = {NAME_TAG: m.name}
    if m.cluster:
        tags[CLUSTER_TAG] = m.cluster
    return tags


@dataclass
class Refs:
    """What references between manifests resolve to during one plan or apply."""

    task_definitions: dict[str, str] = field(default_factory=dict)  # family -> ARN
    spot_fleets: dict[str, str] = field(default_factory=dict)  # manifest name -> request id

    def task_definition(self, family: str) -> str:
        return self.task_definitions.get(family, f"{family}{PENDING_SUFFIX}")

    def spot_fleet(self, name: str) -> str:
        return self.spot_fleets.get(name, f"{name}{PENDING_ID}")


@dataclass
class Context:
    """The run-wide facts a kind needs to build a desired request."""

    owner: str
    revision: str | None = None
    refs: Refs = field(default_factory=Refs)
    account: str = "000000000000"
    region: str = "us-east-1"
    partition: str = "aws"

    def cluster_arn(self, name: str) -> str:
        if name.startswith("arn:"):
            return name
        return f"arn:{self.partition}:ecs:{self.region}:{self.account}:cluster/{name}"

    def ownership_tags(self) -> dict[str, str]:
        tags = {MANAGED_BY: self.owner}
        if self.revision:
            tags[REVISION_TAG] = self.revision
        return tags


def is_pending(value: Any) -> bool:
    """Whether `value` holds, anywhere, a reference to something not created yet."""
    if isinstance(value, str):
        return value.endswith((PENDING_SUFFIX, PENDING_ID))
    if isinstance(value, dict):
        return any(is_pending(v) for v in value.values())
    if isinstance(value, list):
        return any(is_pending(v) for v in value)
    return False


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
    cluster_allowed: ClassVar[bool] = False
    order: ClassVar[int] = 100
    rules: ClassVar[Sequence[Rule]] = ()
    server_chosen: ClassVar[Sequence[ServerChosen]] = ()
    replace_fields: ClassVar[frozenset[str]] = frozenset()
    tag_keys: ClassVar[tuple[str, str]] = ("key", "value")
    # parameter names of the service's TagResource / UntagResource
    tag_params: ClassVar[tuple[str, str, str]] = ("resourceArn", "tags", "tagKeys")
    tags_as_dict: ClassVar[bool] = False
    tags_field: ClassVar[str] = "tags"

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
        shape = model.input_shape(self.service, self.create_operation)
        for path, message in model.validate(request, shape):
            errors.append(m.error(message, ("spec", *path)))
        return errors

    def json_schema(self, builder: Any) -> dict[str, Any]:
        """The JSON Schema of this kind's spec, for editors (see jsonschema_export)."""
        return dict(builder.operation(self.service, self.create_operation, drop=(
            *self.identity, "clientToken")))

    def desired(self, m: Manifest, ctx: Context) -> Doc:
        """The request this manifest stands for, without identity fields, tags included."""
        spec: Doc = clone(m.spec)
        tags = {**tag_map(spec.get(self.tags_field), *self.tag_keys), **ctx.ownership_tags()}
        spec[self.tags_field] = tags if self.tags_as_dict else tag_list(tags, *self.tag_keys)
        return spec

    def normalize(self, spec: Doc) -> Doc:
        return apply_rules(spec, self.rules)

    def normalize_live(self, live: Live) -> Doc:
        """The live spec normalised once per Live (cached revisions across passes too); a
        copy each time, since planning edits it."""
        if live.normal is None:
            live.normal = self.normalize(live.spec)
        copy: Doc = clone(live.normal)
        return copy

    def classify(self, changed_fields: set[str]) -> str:
        return "replace" if changed_fields & self.replace_fields else "update"

    # --- effects ----------------------------------------------------------------------------

    named_by_tags: ClassVar[bool] = False  # AWS gives it no name: found by reconciler:name
    fetch_wave: ClassVar[int] = 0  # kinds in a later wave see the live objects of earlier ones
    external_needs_live: ClassVar[bool] = False  # external_owners reads `known`

    def wave(self, manifests: Sequence[Manifest]) -> int:
        """When this kind's live state can be read: after the waves before it."""
        return self.fetch_wave
    needs_account: ClassVar[bool] = False

    async def fetch(
        self, aws: Aws, manifests: Sequence[Manifest], ctx: Context,
        known: Mapping[ResourceKey, Live],
    ) -> dict[ResourceKey, Live]:
        """The live twin of each manifest that has one, read in as few calls as possible."""
        raise NotImplementedError

    async def external_owners(
        self, aws: Aws, manifests: Sequence[Manifest], everything: Sequence[Manifest],
        known: Mapping[ResourceKey, Live],
    ) -> dict[ResourceKey, list[IgnoreRule]]:
        """Fields of these manifests that something else owns (e.g. autoscaling owns a
        service's desiredCount), found in git (`everything`) or live. Never drift."""
        return {}

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

    async def add_tags(self, aws: Aws, arn: str, tags: dict[str, str]) -> None:
        """Add tags (the git revision applied, ownership when adopting) to a live resource."""
        arn_param, tags_param, _ = self.tag_params
        payload: Any = tags if self.tags_as_dict else tag_list(tags, *self.tag_keys)
        await aws.call(self.service, "tag_resource", **{arn_param: arn, tags_param: payload})

    async def sync_tags(self, aws: Aws, arn: str, desired: Doc, live: Live) -> None:
        """Tag and untag so that live tags equal desired ones (bookkeeping tags only added)."""
        arn_param, tags_param, keys_param = self.tag_params
        want = tag_map(desired.get(self.tags_field), *self.tag_keys)
        have = live.tags
        add = {k: v for k, v in want.items() if have.get(k) != v}
        remove = [k for k in have if k not in want and k not in BOOKKEEPING_TAGS
                  and not k.startswith("aws:")]
        if add:
            payload: Any = add if self.tags_as_dict else tag_list(add, *self.tag_keys)
            await aws.call(self.service, "tag_resource", **{arn_param: arn, tags_param: payload})
        if remove:
            await aws.call(self.service, "untag_resource", **{arn_param: arn, keys_param: remove})
