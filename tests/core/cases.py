"""Paired desired/live fixtures for the pure planner, as gitops-engine keeps
`testdata/<case>-config` beside `<case>-live`.

A case is a few files in `tests/core/cases/<Kind>/`, sharing a name:

- `<case>.desired.yaml`: one manifest, as users write it.
- `<case>.live.json`: what AWS describes for that resource, as the kind's reader receives it
  (absent: no live twin). Which response, per kind, is in `LIVE_FORMS` below. The tag value
  `"@desired-hash"` stands for the hash of the case's own desired state (see `desired_hash`),
  so drift cases say "the last write recorded this state" without pinning a hash.
- `<case>.expected.json`: the `Change` (see `change_json`); `"xfail": "why"` marks a known bug.
- `<case>.config.yaml` (optional): the `reconciler.yaml` in force (controller, ignore rules).
- `<case>.context.json` (optional): the run's `revision` (default `REVISION`, may be null),
  `refs` (`{"TaskDefinition/web": "arn:..."}`, what references resolve to) and `external`
  rules (`[[pattern, reason]]`, fields other owners hold, found live).

`REGEN_CORE_CASES=1 pytest tests/core/test_cases.py` rewrites every expected file from what the
planner does now; read the diff before committing it.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.core.config import Config, load_config
from reconciler.core.diff import ABSENT
from reconciler.core.ignore import IgnoreRule, show
from reconciler.core.kind import Context, Kind, Live, Refs
from reconciler.core.manifest import CONFIG_FILE, Manifest, ResourceKey, manifests_in
from reconciler.core.plan import Change, desired_hash, ignore_rules
from reconciler.kinds import REGISTRY
from reconciler.kinds.cluster import Cluster
from reconciler.kinds.scalable_target import ScalableTarget
from reconciler.kinds.scheduled_task import ScheduledTask
from reconciler.kinds.service import Service
from reconciler.kinds.spot_fleet import SpotFleet
from reconciler.kinds.task_definition import TaskDefinition

CASES = Path(__file__).resolve().parent / "cases"
REGEN = "REGEN_CORE_CASES"
HASH_PLACEHOLDER = "@desired-hash"
REVISION = "4f2c9e1"
ACCOUNT = "123456789012"
REGION = "eu-west-1"

# What `<case>.live.json` holds for each kind: the argument its reader projects.
LIVE_FORMS = {
    "Cluster": "one item of DescribeClusters' `clusters` (include TAGS, SETTINGS, CONFIGURATIONS)",
    "TaskDefinition": "DescribeTaskDefinition's response (`taskDefinition` and `tags`)",
    "Service": "one item of DescribeServices' `services` (include TAGS)",
    "SpotFleet": "one item of DescribeSpotFleetRequests' `SpotFleetRequestConfigs`",
    "ScheduledTask": "the responses of DescribeRule, ListTargetsByRule and "
                     "ListTagsForResource, by operation name",
    "ScalableTarget": "the responses of DescribeScalableTargets, DescribeScalingPolicies, "
                      "DescribeScheduledActions and ListTagsForResource, by operation name",
}


class Replay:
    """An `AwsApi` answering each operation with the recorded response of that name: the
    readers that make calls of their own project exactly what they would in production."""

    def __init__(self, answers: Mapping[str, Any]) -> None:
        self.answers = answers
        self.cache: dict[str, Any] = {}

    @property
    def region(self) -> str:
        return REGION

    @property
    def partition(self) -> str:
        return "aws"

    async def account_id(self) -> str:
        return ACCOUNT

    async def call(self, service: str, operation: str, /, **params: Any) -> dict[str, Any]:
        answer: dict[str, Any] = self.answers[operation]
        return answer

    def recall(self, arn: str) -> dict[str, Any] | None:
        return None  # nothing kept across processes

    def keep(self, arn: str, answer: dict[str, Any]) -> None:
        pass

    async def pages(
        self, service: str, operation: str, token_in: str, token_out: str, /, **params: Any
    ) -> AsyncIterator[dict[str, Any]]:
        yield self.answers[operation]

    async def batched(
        self, scope: str, ids: Iterable[str], size: int,
        fetch: Callable[[list[str]], Awaitable[Mapping[str, Any]]],
    ) -> dict[str, Any]:
        return dict(await fetch(list(ids)))


def _scheduled_task(kind: Kind, data: Any) -> Live:
    assert isinstance(kind, ScheduledTask)
    return asyncio.run(kind._live(Replay(data), data["describe_rule"]))


def _scalable_target(kind: Kind, data: Any) -> Live:
    assert isinstance(kind, ScalableTarget)
    targets = data["describe_scalable_targets"]["ScalableTargets"]
    lives = asyncio.run(kind._lives(Replay(data), targets))
    assert len(lives) == 1, "a ScalableTarget case describes one target"
    return next(iter(lives.values()))


def _cluster(kind: Kind, data: Any) -> Live:
    assert isinstance(kind, Cluster)
    return kind.to_live(data)


def _task_definition(kind: Kind, data: Any) -> Live:
    assert isinstance(kind, TaskDefinition)
    return kind.to_live(data["taskDefinition"], data.get("tags"))


def _service(kind: Kind, data: Any) -> Live:
    assert isinstance(kind, Service)
    return kind.to_live(data)


def _spot_fleet(kind: Kind, data: Any) -> Live:
    assert isinstance(kind, SpotFleet)
    live = kind._to_live(data)
    assert live is not None, "a SpotFleet case's fleet carries its reconciler:name tag"
    return live


READERS: dict[str, Callable[[Kind, Any], Live]] = {
    "Cluster": _cluster,
    "TaskDefinition": _task_definition,
    "Service": _service,
    "SpotFleet": _spot_fleet,
    "ScheduledTask": _scheduled_task,
    "ScalableTarget": _scalable_target,
}


@dataclass(frozen=True)
class Case:
    """One fixture set, by kind folder and case name."""

    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}/{self.name}"

    def path(self, suffix: str) -> Path:
        return CASES / self.kind / f"{self.name}.{suffix}"

    def text(self, suffix: str) -> str | None:
        p = self.path(suffix)
        return p.read_text() if p.is_file() else None


@dataclass
class Loaded:
    """A case made ready for `plan_resource`."""

    kind: Kind
    manifest: Manifest
    live: Live | None
    ctx: Context
    rules: list[IgnoreRule]
    config: Config


def all_cases() -> list[Case]:
    """Every case under `tests/core/cases`, by kind then name."""
    return [Case(p.parent.name, p.name.removesuffix(".desired.yaml"))
            for p in sorted(CASES.glob("*/*.desired.yaml"))]


def parse_key(text: str) -> ResourceKey:
    """'TaskDefinition/web' or 'Service/prod/api' as a ResourceKey."""
    parts = text.split("/")
    if len(parts) == 3:
        return ResourceKey(parts[0], parts[2], parts[1])
    kind, name = parts
    return ResourceKey(kind, name)


def _config(text: str | None) -> Config:
    if text is None:
        return Config()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / CONFIG_FILE).write_text(text)
        config, errors = load_config(Path(tmp))
    assert not errors, errors
    return config


def load(case: Case) -> Loaded:
    """The case's manifest, live twin, context and ignore rules."""
    text = case.text("desired.yaml")
    assert text is not None
    docs = list(manifests_in(text, str(case.path("desired.yaml").relative_to(CASES))))
    assert len(docs) == 1 and isinstance(docs[0], Manifest), docs
    m = docs[0]
    assert m.kind == case.kind, f"{case}: the manifest is a {m.kind}"
    kind = REGISTRY[m.kind]
    config = _config(case.text("config.yaml"))
    extra = json.loads(case.text("context.json") or "{}")
    ctx = Context(owner=config.controller, revision=extra.get("revision", REVISION),
                  refs=Refs({parse_key(k): v for k, v in extra.get("refs", {}).items()}),
                  account=ACCOUNT, region=REGION)
    external = {m.key: [IgnoreRule(p, why, external=True) for p, why in extra.get("external", [])]}
    rules = ignore_rules(m, config, external)
    live_text = case.text("live.json")
    live = None
    if live_text is not None:
        digest = desired_hash(kind, kind.desired(m, ctx), rules)
        data = json.loads(live_text.replace(f'"{HASH_PLACEHOLDER}"', f'"{digest}"'))
        live = READERS[m.kind](kind, data)
        live.key = m.key  # as each reader's fetch keys what it found by the manifest
    return Loaded(kind, m, live, ctx, rules, config)


def _value(v: Any) -> Any:
    return None if v is ABSENT else v


def change_json(change: Change) -> dict[str, Any]:
    """What a case's expected file pins of a `Change`: paths as the diff shows them, old
    (live) and new (git) values with null for absent, and the request apply would send."""
    return {
        "action": str(change.action),
        "fields": [[show(f.path) if f.path else "(resource)", f.op, _value(f.old), _value(f.new)]
                   for f in change.fields],
        "ignored": [[show(i.path), i.reason] for i in change.ignored],
        "server_chosen": [show(r.path) for r in change.server_chosen],
        "adopt": change.adopt,
        "note": change.note,
        "drift": change.drift,
        "request": change.desired,
    }


def expected(case: Case) -> dict[str, Any]:
    text = case.text("expected.json")
    assert text is not None, f"{case}: no expected file (run with {REGEN}=1 and check it)"
    data: dict[str, Any] = json.loads(text)
    return data


def regenerate(case: Case, actual: dict[str, Any]) -> bool:
    """With `REGEN_CORE_CASES` set, write the expected file; a case marked `xfail` keeps
    its hand-written expectation (what the planner should do, not what it does)."""
    if not os.environ.get(REGEN):
        return False
    if "xfail" in json.loads(case.text("expected.json") or "{}"):
        return False
    case.path("expected.json").write_text(json.dumps(actual, indent=2, ensure_ascii=False) + "\n")
    return True


__all__ = ["CASES", "LIVE_FORMS", "REGEN", "Case", "Loaded", "Replay", "all_cases",
           "change_json", "expected", "load", "parse_key", "regenerate"]
