"""The kind interface: small typed Protocols split by concern, as gitops-engine keeps
`Normalizer`, `ResourceOperations` and one health function per kind apart.

- `Spec`: what a kind is, how a manifest becomes a comparable request, how a live object
  becomes the manifest a person would write. Pure.
- `Reader`: how its live state is read, batched, through `AwsApi`.
- `Writer`: how it is created, changed, replaced, deleted and tagged, through `AwsApi`.
- `HealthCheck`: how healthy a live object is. Pure.

A kind is one module in `reconciler/kinds/` implementing all four, and one registry line.
This module holds the data they share (`Live`, `Context`, `Refs`, `Reference`) and no logic
that knows any particular kind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from reconciler.core.ignore import IgnoreRule
from reconciler.core.manifest import LoadError, Manifest, Path_, ResourceKey
from reconciler.core.normalize import Doc, Rule, ServerChosen
from reconciler.core.ownership import MANAGED_BY, TagStyle, ownership_tags
from reconciler.core.ports import AwsApi
from reconciler.core.vocab import Action, ClusterScope, Health

# What an unresolved reference reads as in a plan: the thing it names does not exist yet.
PENDING_REVISION = ":(next revision)"
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


@dataclass(frozen=True)
class Reference:
    """A manifest naming another one: what it names, and where in its spec."""

    key: ResourceKey
    path: Path_


class Changed(frozenset[str]):
    """The top-level fields an update changes, and the exact paths that differ (from the
    plan's diff), so a writer never has to compare again."""

    paths: tuple[tuple[Any, ...], ...]

    def __new__(cls, paths: Sequence[tuple[Any, ...]]) -> Changed:
        self = super().__new__(cls, {str(p[0]) for p in paths if p})
        self.paths = tuple(paths)
        return self

    def keys_under(self, top: str) -> set[str] | None:
        """The keys changed inside the map at `top` (None: the whole map changed)."""
        keys: set[str] = set()
        for p in self.paths:
            if p and str(p[0]) == top:
                if len(p) < 2:
                    return None
                keys.add(str(p[1]))
        return keys


class Owned(Protocol):
    """What this controller owns in AWS, from the Resource Groups Tagging API: every owned
    resource with all its tags, read in a few pages while the kinds read (so it is awaited).
    It only says what is owned: a resource missing from it may still exist (AWS's tagging
    index lags) and gets its own reads."""

    async def tags(self, arn: str) -> dict[str, str] | None:
        """All tags of an owned resource, or None if the inventory does not list it."""
        ...

    async def arns(self, resource_type: str) -> dict[str, dict[str, str]]:
        """Every owned resource of a type (`ecs:task-definition`), ARN -> tags."""
        ...


class Refs(dict[ResourceKey, str]):
    """What references between manifests resolve to during one plan or apply: the ARN or id
    of each resource a kind publishes (a task definition revision, a Spot Fleet request)."""

    def resolve(self, key: ResourceKey, pending: str = PENDING_ID) -> str:
        """The resolved value, or `name` + `pending` while it does not exist yet."""
        return self.get(key, f"{key.name}{pending}")


@dataclass
class Context:
    """The run-wide facts a kind needs to build a desired request."""

    owner: str
    revision: str | None = None
    refs: Refs = field(default_factory=Refs)
    account: str = "000000000000"
    region: str = "us-east-1"
    partition: str = "aws"
    owned: Owned | None = None  # the inventory, when the pass read one
    # The hash of what git asks of a manifest, for readers that may skip what cannot have
    # changed (an immutable revision tagged with that same hash). None: always read.
    expect: Callable[[Manifest], str | None] | None = None

    def cluster_arn(self, name: str) -> str:
        if name.startswith("arn:"):
            return name
        return f"arn:{self.partition}:ecs:{self.region}:{self.account}:cluster/{name}"

    def ownership_tags(self) -> dict[str, str]:
        return ownership_tags(self.owner, self.revision)


def is_pending(value: Any) -> bool:
    """Whether `value` holds, anywhere, a reference to something not created yet."""
    if isinstance(value, str):
        return value.endswith((PENDING_REVISION, PENDING_ID))
    if isinstance(value, dict):
        return any(is_pending(v) for v in value.values())
    if isinstance(value, list):
        return any(is_pending(v) for v in value)
    return False


class Spec(Protocol):
    """What a kind is and how its spec becomes the comparison form. Pure."""

    @property
    def kind(self) -> str:
        ...

    @property
    def order(self) -> int:
        """Creation order; deletes run in reverse."""
        ...

    @property
    def cluster_scope(self) -> ClusterScope:
        ...

    @property
    def named_by_tags(self) -> bool:
        """AWS gives it no name: it is found by its `reconciler:name` tag."""
        ...

    @property
    def guard_last(self) -> bool:
        """Pruning the last owned one of this kind is a mass prune."""
        ...

    @property
    def tags(self) -> TagStyle:
        ...

    @property
    def rules(self) -> Sequence[Rule]:
        """The normalisation table: each row applied to both sides, each with its example."""
        ...

    @property
    def server_chosen(self) -> Sequence[ServerChosen]:
        """Fields AWS picks itself when a manifest omits them: compared only when declared."""
        ...

    @property
    def import_folder(self) -> str:
        """Where `reconciler import` writes its manifests."""
        ...

    def validate(self, m: Manifest) -> list[LoadError]:
        """Every problem with the manifest, against botocore's model and the kind's rules."""
        ...

    def spec_from_file(self, m: Manifest, text: str, file: str
                       ) -> tuple[Doc | None, list[LoadError]]:
        """The spec of a manifest that gives `specFile:` instead of `spec:`, from the file's
        text (the loader found and read it, inside the repository)."""
        ...

    def references(self, m: Manifest) -> list[Reference]:
        """Other manifests this one names."""
        ...

    def published(self, action: Action, live: Live | None) -> str | None:
        """What a reference to this resource resolves to when the plan does `action` to it
        (None: not known until applied, or the kind is never referenced)."""
        ...

    def desired(self, m: Manifest, ctx: Context) -> Doc:
        """The request the manifest stands for, without identity fields, tags included."""
        ...

    def with_tags(self, desired: Doc, tags: Mapping[str, str]) -> Doc:
        """`desired` with these tags added (the bookkeeping of the write that sends it)."""
        ...

    def normalize(self, doc: Doc) -> Doc:
        """The comparison form of a request or a projected describe."""
        ...

    def normalize_live(self, live: Live) -> Doc:
        ...

    def classify(self, changed_fields: set[str]) -> Action:
        """update or replace, from the top-level fields that differ."""
        ...

    def replace_fields(self, changed_fields: set[str]) -> set[str]:
        """The changed fields that force a replace."""
        ...

    def json_schema(self, builder: Any) -> dict[str, Any]:
        """The JSON Schema of the spec, for editors."""
        ...

    def to_manifest(self, live: Live, names: Mapping[str, str]) -> tuple[str, str | None, Doc]:
        """(name, cluster, spec) a person would write for this live object; `names` maps the
        ARNs of other imported resources to their manifest names. Not minimised yet."""
        ...


class Reader(Protocol):
    """How a kind's live state is read: batched, through `AwsApi` only."""

    @property
    def inventory_type(self) -> str | None:
        """The tagging API's resource type for this kind (`ecs:service`), if it has one."""
        ...

    @property
    def external_needs_live(self) -> bool:
        """`external_owners` reads the `known` live objects."""
        ...

    def wave(self, manifests: Sequence[Manifest]) -> int:
        """When this kind's live state can be read: after the waves before it."""
        ...

    async def fetch(self, aws: AwsApi, manifests: Sequence[Manifest], ctx: Context,
                    known: Mapping[ResourceKey, Live]) -> dict[ResourceKey, Live]:
        """The live twin of each manifest that has one, in as few calls as possible."""
        ...

    async def external_owners(self, aws: AwsApi, manifests: Sequence[Manifest],
                              everything: Sequence[Manifest], known: Mapping[ResourceKey, Live]
                              ) -> dict[ResourceKey, list[IgnoreRule]]:
        """Fields of these manifests that something else owns (autoscaling owns a service's
        desiredCount), found in git (`everything`) or live. Never drift."""
        ...

    async def list_owned(self, aws: AwsApi, owner: str, clusters: Sequence[str]) -> list[Live]:
        """Every live resource of this kind carrying `owner`'s ownership tag (the full read,
        when there is no inventory)."""
        ...

    async def orphans(self, aws: AwsApi, owned: Mapping[str, Mapping[str, str]],
                      lives: Sequence[Live], ctx: Context) -> list[Live]:
        """Owned resources of this kind (the inventory's `owned`, ARN -> tags) that are not
        the live twin of any manifest (`lives`), confirmed by this kind's own describe."""
        ...

    async def discover(self, aws: AwsApi, cluster: Live, found: Mapping[str, Sequence[Live]],
                       ctx: Context) -> list[Live]:
        """For import: the live objects of this kind that belong with `cluster`, given what
        the kinds before it (`import_after`) found."""
        ...


class Writer(Protocol):
    """How a kind is changed, through `AwsApi` only."""

    @property
    def atomic_create(self) -> bool:
        """Its create is one AWS call, tags included. Otherwise (a rule, then its targets)
        the bookkeeping tags are written after the create's last call, so a create cut short
        is a deploy to finish, never drift."""
        ...

    async def create(self, aws: AwsApi, key: ResourceKey, desired: Doc, ctx: Context) -> str:
        ...

    async def update(self, aws: AwsApi, key: ResourceKey, desired: Doc, live: Live,
                     fields: Changed, ctx: Context) -> str:
        ...

    async def replace(self, aws: AwsApi, key: ResourceKey, desired: Doc, live: Live,
                      ctx: Context) -> str:
        ...

    async def delete(self, aws: AwsApi, live: Live) -> None:
        ...

    async def add_tags(self, aws: AwsApi, arn: str, tags: dict[str, str]) -> None:
        """Add tags (bookkeeping of a write, ownership when adopting) to a live resource."""
        ...


class HealthCheck(Protocol):
    """How healthy a live object is, from what its describe says. Pure."""

    def health(self, live: Live | None) -> tuple[Health, str]:
        """The health and, when not Healthy, why."""
        ...

    def reverted(self, live: Live) -> str | None:
        """Why AWS itself undid the last write to this resource (ECS rolled a deployment
        back), in a sentence; None when it did not. An automated pass holds git's change to
        such a resource instead of writing the same thing again in a loop."""
        ...


class Kind(Spec, Reader, Writer, HealthCheck, Protocol):
    """One resource kind: all four concerns."""

    @property
    def import_after(self) -> tuple[str, ...]:
        """Kinds whose discovered objects `discover` needs."""
        ...


Registry = Mapping[str, Kind]


def ordered(registry: Registry) -> list[Kind]:
    """Kinds in the order they are created and updated (deleted in reverse)."""
    return sorted(registry.values(), key=lambda k: k.order)


__all__ = [
    "PENDING_ID",
    "PENDING_REVISION",
    "Changed",
    "Context",
    "HealthCheck",
    "Kind",
    "Live",
    "Owned",
    "Reader",
    "Reference",
    "Refs",
    "Registry",
    "Spec",
    "Writer",
    "is_pending",
    "ordered",
]
