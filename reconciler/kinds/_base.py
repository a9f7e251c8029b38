"""Shared implementation help for kinds: the defaults most kinds keep (validation against
botocore's model, tags, normalisation by rule table, update-or-replace, health). A mixin,
not the interface: the interface is the Protocols in `reconciler.core.kind`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from reconciler.core import model
from reconciler.core.ignore import IgnoreRule
from reconciler.core.kind import Context, Live, Reference
from reconciler.core.manifest import LoadError, Manifest, Path_, ResourceKey
from reconciler.core.normalize import Doc, Rule, ServerChosen, apply_rules, clone
from reconciler.core.ownership import ECS_TAGS, TagStyle, is_bookkeeping
from reconciler.core.ports import AwsApi
from reconciler.core.vocab import Action, ClusterScope, Health

# ECS names: clusters, services, task definition families, containers.
ECS_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")


def ecs_name_errors(m: Manifest, value: Any, what: str, path: Path_) -> list[LoadError]:
    """ECS's naming rule (up to 255 letters, digits, hyphens and underscores)."""
    if isinstance(value, str) and ECS_NAME.fullmatch(value):
        return []
    return [m.error(f"{what} {value!r} is not a valid ECS name: up to 255 letters, digits, "
                    "hyphens and underscores", path)]


def at_least(m: Manifest, spec: Any, key: str, low: int, path: Path_) -> list[LoadError]:
    """A number AWS refuses below `low` (a negative count, a zero port)."""
    value = spec.get(key) if isinstance(spec, dict) else None
    if isinstance(value, int) and not isinstance(value, bool) and value < low:
        return [m.error(f"{'.'.join(map(str, (*path, key)))} must be at least {low}, not {value}",
                        (*path, key))]
    return []


class KindBase:
    """Defaults for a kind whose spec is one botocore operation's input."""

    kind: ClassVar[str]
    service: ClassVar[str]
    create_operation: ClassVar[str]
    identity: ClassVar[tuple[str, ...]] = ()  # request fields that come from metadata
    cluster_scope: ClassVar[ClusterScope] = ClusterScope.NONE
    order: ClassVar[int] = 100
    rules: ClassVar[Sequence[Rule]] = ()
    server_chosen: ClassVar[Sequence[ServerChosen]] = ()
    replace_only: ClassVar[frozenset[str]] = frozenset()  # fields only a replace can change
    tags: ClassVar[TagStyle] = ECS_TAGS
    named_by_tags: ClassVar[bool] = False
    guard_last: ClassVar[bool] = False
    atomic_create: ClassVar[bool] = True
    external_needs_live: ClassVar[bool] = False
    fetch_wave: ClassVar[int] = 0
    inventory_type: ClassVar[str | None] = None
    import_after: ClassVar[tuple[str, ...]] = ()

    @property
    def import_folder(self) -> str:
        """`TaskDefinition` -> `task-definitions`."""
        return re.sub(r"(?<!^)(?=[A-Z])", "-", self.kind).lower() + "s"

    # --- Spec -------------------------------------------------------------------------------

    def identity_request(self, key: ResourceKey) -> Doc:
        """The request fields that come from metadata rather than spec."""
        return {}

    def validate(self, m: Manifest) -> list[LoadError]:
        errors: list[LoadError] = []
        if self.cluster_scope is ClusterScope.REQUIRED and not m.cluster:
            errors.append(m.error("metadata.cluster is required for this kind", ("metadata",)))
        for f in self.identity:
            if f in m.spec:
                errors.append(
                    m.error(f"spec.{f} comes from metadata; remove it from spec", ("spec", f)))
        request = {**self.identity_request(m.key), **m.spec}
        shape = model.input_shape(self.service, self.create_operation)
        for path, message in model.validate(request, shape):
            errors.append(m.error(message, ("spec", *path)))
        return errors

    def spec_from_file(self, m: Manifest, text: str, file: str
                       ) -> tuple[Doc | None, list[LoadError]]:
        return None, [m.error(f"{self.kind} does not take specFile; write spec instead",
                              ("specFile",))]

    def references(self, m: Manifest) -> list[Reference]:
        return []

    def published(self, action: Action, live: Live | None) -> str | None:
        return None

    def json_schema(self, builder: Any) -> dict[str, Any]:
        return dict(builder.operation(self.service, self.create_operation,
                                      drop=(*self.identity, "clientToken")))

    def desired(self, m: Manifest, ctx: Context) -> Doc:
        spec: Doc = clone(m.spec)
        return self.with_tags(spec, {**self.tags.read(spec.get(self.tags.field)),
                                     **ctx.ownership_tags()})

    def with_tags(self, desired: Doc, tags: Mapping[str, str]) -> Doc:
        out = dict(desired)
        out[self.tags.field] = self.tags.write({**self.tags.read(desired.get(self.tags.field)),
                                                **tags})
        return out

    def normalize(self, doc: Doc) -> Doc:
        return apply_rules(doc, self.rules)

    def normalize_live(self, live: Live) -> Doc:
        """The live spec normalised once per Live (cached revisions across passes too); a
        copy each time, since planning edits it."""
        if live.normal is None:
            live.normal = self.normalize(live.spec)
        copy: Doc = clone(live.normal)
        return copy

    def replace_fields(self, changed_fields: set[str]) -> set[str]:
        return changed_fields & self.replace_only

    def classify(self, changed_fields: set[str]) -> Action:
        return Action.REPLACE if self.replace_fields(changed_fields) else Action.UPDATE

    def to_manifest(self, live: Live, names: Mapping[str, str]) -> tuple[str, str | None, Doc]:
        spec = clone(live.spec)
        self.tags.strip(spec)
        return live.key.name, live.key.cluster, spec

    # --- HealthCheck ------------------------------------------------------------------------

    def health(self, live: Live | None) -> tuple[Health, str]:
        if live is None:
            return Health.MISSING, "not in AWS"
        return Health.HEALTHY, ""

    def reverted(self, live: Live) -> str | None:
        return None

    # --- Reader -----------------------------------------------------------------------------

    def wave(self, manifests: Sequence[Manifest]) -> int:
        return self.fetch_wave

    async def external_owners(self, aws: AwsApi, manifests: Sequence[Manifest],
                              everything: Sequence[Manifest], known: Mapping[ResourceKey, Live]
                              ) -> dict[ResourceKey, list[IgnoreRule]]:
        return {}

    async def discover(self, aws: AwsApi, cluster: Live, found: Mapping[str, Sequence[Live]],
                       ctx: Context) -> list[Live]:
        return []

    async def orphans(self, aws: AwsApi, owned: Mapping[str, Mapping[str, str]],
                      lives: Sequence[Live], ctx: Context) -> list[Live]:
        twins = {lv.arn for lv in lives}
        gone = sorted(arn for arn in owned if arn not in twins)
        if not gone:
            return []
        return [lv for lv in await self.describe_arns(aws, gone, ctx) if lv.owner() == ctx.owner]

    async def describe_arns(self, aws: AwsApi, arns: Sequence[str], ctx: Context) -> list[Live]:
        """The live objects behind these ARNs (those that still exist)."""
        raise NotImplementedError

    # --- Writer -----------------------------------------------------------------------------

    async def delete(self, aws: AwsApi, live: Live) -> None:
        raise NotImplementedError

    async def create(self, aws: AwsApi, key: ResourceKey, desired: Doc, ctx: Context) -> str:
        raise NotImplementedError

    async def replace(self, aws: AwsApi, key: ResourceKey, desired: Doc, live: Live,
                      ctx: Context) -> str:
        await self.delete(aws, live)
        return await self.create(aws, key, desired, ctx)

    async def add_tags(self, aws: AwsApi, arn: str, tags: dict[str, str]) -> None:
        t = self.tags
        await aws.call(self.service, "tag_resource",
                       **{t.arn_param: arn, t.tags_param: t.write(tags)})

    async def sync_tags(self, aws: AwsApi, arn: str, desired: Doc, live: Live) -> None:
        """Tag and untag so that live tags equal desired ones (bookkeeping tags only added,
        AWS's own never touched)."""
        t = self.tags
        want = t.read(desired.get(t.field))
        add = {k: v for k, v in want.items() if live.tags.get(k) != v}
        remove = [k for k in live.tags if k not in want and not is_bookkeeping(k)
                  and not k.startswith("aws:")]
        if add:
            await aws.call(self.service, "tag_resource", **{t.arn_param: arn,
                                                            t.tags_param: t.write(add)})
        if remove:
            await aws.call(self.service, "untag_resource", **{t.arn_param: arn,
                                                              t.keys_param: remove})


__all__ = ["KindBase"]
