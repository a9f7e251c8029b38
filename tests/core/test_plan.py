"""The pure planner beyond single resources: the plan's views, hashes and drift, dependency
order and references, pruning and its guard. Real kinds, hand-built live objects, no AWS."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from reconciler.core.config import Config, RepoIgnore, Selector
from reconciler.core.diff import ABSENT, FieldChange
from reconciler.core.ignore import IgnoreRule
from reconciler.core.kind import Context, Live, Refs
from reconciler.core.ownership import DESIRED_HASH_TAG, MANAGED_BY, REVISION_TAG
from reconciler.core.plan import (
    Change,
    IgnoredField,
    Plan,
    desired_hash,
    hash_of,
    ignore_rules,
    is_drift,
    order_key,
    plan_prune,
    plan_resource,
    plan_tree,
    prune_guard,
    resolve_refs,
)
from reconciler.core.vocab import Action
from reconciler.kinds import REGISTRY
from reconciler.kinds.service import Service
from reconciler.kinds.spot_fleet import SpotFleet
from reconciler.kinds.task_definition import TaskDefinition
from tests.core.build import OWNER, change, key, live, manifest

ACCOUNT = "123456789012"
TD_ARN = f"arn:aws:ecs:eu-west-1:{ACCOUNT}:task-definition/api:3"
OWNED = [{"key": MANAGED_BY, "value": OWNER}]


def _ctx(**kw: Any) -> Context:
    return Context(owner=OWNER, revision="r2", account=ACCOUNT, region="eu-west-1", **kw)


def _td_live(image: str) -> Live:
    return TaskDefinition().to_live(
        {"family": "api", "taskDefinitionArn": TD_ARN, "revision": 3, "status": "ACTIVE",
         "containerDefinitions": [{"name": "app", "image": image, "essential": True, "cpu": 0}]},
        OWNED)


def _svc_live(task_definition: str = TD_ARN, count: int = 2) -> Live:
    return Service().to_live(
        {"serviceName": "web", "serviceArn": f"arn:aws:ecs:eu-west-1:{ACCOUNT}:service/prod/web",
         "clusterArn": f"arn:aws:ecs:eu-west-1:{ACCOUNT}:cluster/prod",
         "taskDefinition": task_definition, "desiredCount": count, "tags": OWNED})


TD = manifest("TaskDefinition", "api", {"containerDefinitions": [{"name": "app", "image": "img:1"}]})
SVC = manifest("Service", "web", {"taskDefinition": "api", "desiredCount": 2}, cluster="prod")


# --- Change and Plan --------------------------------------------------------------------------


@pytest.mark.parametrize("action", list(Action))
def test_change_is_pending_unless_noop(action: Action) -> None:
    """A change is pending for every action but noop."""
    assert change("Service", "a", action).pending is (action is not Action.NOOP)


def test_plan_views_and_counts() -> None:
    """A plan's adoptions, ignored and pending views pick their changes, and counts gives every
    pending action (zero included) in the vocabulary's order."""
    adopted = change("Service", "a", Action.NOOP, adopt=True)
    ignoring = change("Service", "b", Action.NOOP,
                      ignored=[IgnoredField(("desiredCount",), "why")])
    quiet = change("Service", "c", Action.NOOP)
    created = [change("Cluster", "x", Action.CREATE), change("Cluster", "y", Action.CREATE)]
    updated = change("Service", "d", Action.UPDATE, adopt=True)
    deleted = change("Service", "e", Action.DELETE)
    plan = Plan([adopted, ignoring, quiet, *created, updated, deleted])
    assert plan.adoptions == [adopted, updated]
    assert plan.ignored == [ignoring]
    assert plan.pending == [*created, updated, deleted]
    counts = plan.counts()
    assert counts == {"create": 2, "update": 1, "replace": 0, "delete": 1}
    assert list(counts) == ["create", "update", "replace", "delete"]
    assert Plan().counts() == {"create": 0, "update": 0, "replace": 0, "delete": 0}


# --- hashes and drift -------------------------------------------------------------------------


def test_hash_of_is_sha256_of_canonical_json() -> None:
    """hash_of is the first 32 hex digits of the SHA-256 of sorted, compact JSON."""
    want = hashlib.sha256(b'{"a":[1,2],"b":{"c":"d"}}').hexdigest()[:32]
    assert hash_of({"b": {"c": "d"}, "a": [1, 2]}) == want
    assert len(want) == 32


_DESIRED: dict[str, Any] = {"desiredCount": 3, "tags": [{"key": "team", "value": "a"},
                                        {"key": MANAGED_BY, "value": OWNER},
                                        {"key": REVISION_TAG, "value": "r2"}]}


def test_desired_hash_is_of_the_normalised_request() -> None:
    """Without rules the hash is of the normalised request (bookkeeping tags left out)."""
    assert desired_hash(Service(), _DESIRED, []) == hash_of(
        {"desiredCount": 3, "tags": {"team": "a"}})


def test_desired_hash_leaves_out_what_git_ignores() -> None:
    """A manifest's or reconciler.yaml's ignored paths are not part of the hash, and what
    ignoring empties is pruned."""
    svc = Service()
    assert desired_hash(svc, _DESIRED, [IgnoreRule("spec.desiredCount", "m")]) == hash_of(
        {"tags": {"team": "a"}})
    assert desired_hash(svc, _DESIRED, [IgnoreRule("spec.tags[team]", "m")]) == hash_of(
        {"desiredCount": 3})
    both = [IgnoreRule("spec.desiredCount", "m"), IgnoreRule("spec.tags[team]", "c")]
    assert desired_hash(svc, _DESIRED, both) == hash_of({})


def test_desired_hash_keeps_what_other_owners_hold() -> None:
    """Rules found live (another owner, e.g. autoscaling) do not change the hash: git still
    asks for that value; only the scaling makes it differ."""
    svc = Service()
    external = IgnoreRule("spec.desiredCount", "autoscaling", external=True)
    assert desired_hash(svc, _DESIRED, [external]) == desired_hash(svc, _DESIRED, [])
    mixed = [external, IgnoreRule("spec.tags[team]", "m")]
    assert desired_hash(svc, _DESIRED, mixed) == hash_of({"desiredCount": 3})
    assert _DESIRED["desiredCount"] == 3 and len(_DESIRED["tags"]) == 3  # input untouched


@pytest.mark.parametrize(("tags", "revision", "drift"), [
    ({DESIRED_HASH_TAG: "h1"}, "r2", True),
    ({DESIRED_HASH_TAG: "h1", REVISION_TAG: "r0"}, "r2", True),
    ({DESIRED_HASH_TAG: "h0", REVISION_TAG: "r2"}, "r2", False),
    ({DESIRED_HASH_TAG: "", REVISION_TAG: "r2"}, "r2", True),
    ({REVISION_TAG: "r2"}, "r2", True),
    ({REVISION_TAG: "r1"}, "r2", False),
    ({}, "r2", False),
    ({}, None, False),
    ({REVISION_TAG: "r2"}, None, False),
], ids=["hash-equal", "hash-equal-old-revision", "hash-differs-same-revision",
        "empty-hash-falls-back", "revision-equal", "revision-differs", "no-tags",
        "no-revision-anywhere", "no-run-revision"])
def test_is_drift(tags: dict[str, str], revision: str | None, drift: bool) -> None:
    """Drift when the recorded desired hash is git's; without one, when the last write's
    revision is this run's (never when the run has no revision)."""
    assert is_drift(live("Service", "a", tags=tags), "h1", revision) is drift


# --- plan_resource details --------------------------------------------------------------------


def _three_containers(images: tuple[str, str, str], command: bool) -> list[dict[str, Any]]:
    cmd: dict[str, Any] = {"command": ["run"]} if command else {}
    return [{"name": "zeta", "image": images[0]}, {"name": "alpha", "image": images[1]},
            {"name": "mid", "image": images[2], **cmd}]


def test_ignored_fields_differing_only_sorted_and_in_rule_order() -> None:
    """Only ignored fields that differ are listed, a rule's paths sorted, rules in order; a
    field only git sets counts as differing; nothing else differs, so it is a noop."""
    m = manifest("TaskDefinition", "api",
                 {"containerDefinitions": _three_containers(("z:git", "a:git", "m:1"), True)})
    lv = TaskDefinition().to_live(
        {"family": "api", "taskDefinitionArn": TD_ARN,
         "containerDefinitions": _three_containers(("z:ci", "a:ci", "m:1"), False)}, OWNED)
    rules = [IgnoreRule("spec.containerDefinitions[*].image", "CI"),
             IgnoreRule("spec.containerDefinitions[mid].command", "ops")]
    ch = plan_resource(TaskDefinition(), m, lv, _ctx(), rules)
    assert ch.action is Action.NOOP and ch.fields == [] and ch.desired is not None
    assert ch.ignored == [
        IgnoredField(("containerDefinitions", "alpha", "image"), "CI"),
        IgnoredField(("containerDefinitions", "zeta", "image"), "CI"),
        IgnoredField(("containerDefinitions", "mid", "command"), "ops"),
    ]
    assert [c["image"] for c in ch.desired["containerDefinitions"]] == ["z:ci", "a:ci", "m:1"]
    assert "command" not in ch.desired["containerDefinitions"][2]


def test_ignored_paths_sorted_by_their_text() -> None:
    """A rule's ignored paths are listed in the order of their text (a space sorts before the
    quote that ends a key), the same on every run."""
    tags = [{"key": "team", "value": "a"}, {"key": "team lead", "value": "b"}]
    m = manifest("Service", "web", {"desiredCount": 2, "tags": tags}, cluster="prod")
    lv = Service().to_live(
        {"serviceName": "web", "serviceArn": "arn:aws:ecs:eu-west-1:1:service/prod/web",
         "clusterArn": "arn:aws:ecs:eu-west-1:1:cluster/prod", "desiredCount": 2,
         "tags": [*OWNED, {"key": "team", "value": "x"}, {"key": "team lead", "value": "y"}]})
    ch = plan_resource(Service(), m, lv, _ctx(), [IgnoreRule("spec.tags[*]", "tagger")])
    assert [i.path for i in ch.ignored] == [("tags", "team lead"), ("tags", "team")]
    assert ch.action is Action.NOOP


def test_planning_leaves_manifest_and_live_untouched() -> None:
    """Overlaying ignored values and normalising work on copies."""
    m = manifest("Service", "web", {"desiredCount": 2, "launchType": "FARGATE"}, cluster="prod")
    lv = _svc_live(count=7)
    before_spec, before_live = repr(m.spec), repr(lv.spec)
    ch = plan_resource(Service(), m, lv, _ctx(), [IgnoreRule("spec.desiredCount", "m")])
    assert ch.desired is not None and ch.desired["desiredCount"] == 7
    assert repr(m.spec) == before_spec and repr(lv.spec) == before_live


def test_create_lists_fields_sorted_by_name() -> None:
    """A create's fields are the normalised desired top-level fields, sorted, each an add."""
    m = manifest("Service", "web", {"taskDefinition": "api:3", "launchType": "EC2",
                                    "desiredCount": 2}, cluster="prod")
    ch = plan_resource(Service(), m, None, _ctx(), [])
    assert ch.action is Action.CREATE and ch.live is None and ch.manifest is m
    assert ch.fields == [FieldChange(("desiredCount",), ABSENT, 2),
                         FieldChange(("launchType",), ABSENT, "EC2"),
                         FieldChange(("taskDefinition",), ABSENT, "api:3")]
    assert [f.op for f in ch.fields] == ["add"] * 3
    assert ch.desired == Service().desired(m, _ctx())
    assert ch.desired_hash == desired_hash(Service(), ch.desired, [])
    assert not ch.adopt and not ch.drift and ch.note == "" and ch.ignored == []


# --- order and references ---------------------------------------------------------------------


def test_order_key_creates_by_kind_then_deletes_in_reverse() -> None:
    """Creates and updates sort by kind order then key; deletes after them, reverse kind order."""
    svc = change("Service", "web", Action.UPDATE, cluster="prod")
    gone = change("Service", "web", Action.DELETE, cluster="prod")
    assert order_key(svc, REGISTRY) == (0, 30, "Service/prod/web")
    assert order_key(gone, REGISTRY) == (1, -30, "Service/prod/web")
    assert order_key(change("Cluster", "prod", Action.NOOP), REGISTRY) == (0, 10, "Cluster/prod")


def test_resolve_refs_publishes_what_the_kind_says() -> None:
    """An in-sync task definition publishes its live ARN; one being updated publishes nothing
    (the next revision is not known); a Spot Fleet keeps its id through an update."""
    ctx = _ctx()
    td = _td_live("img:1")
    resolve_refs(change("TaskDefinition", "api", Action.UPDATE, live=td), ctx, TaskDefinition())
    assert ctx.refs == {}
    resolve_refs(change("TaskDefinition", "api", Action.NOOP, live=td), ctx, TaskDefinition())
    assert ctx.refs == {key("TaskDefinition", "api"): TD_ARN}
    fleet = live("SpotFleet", "spot", arn="sfr-1")
    resolve_refs(change("SpotFleet", "spot", Action.UPDATE, live=fleet), ctx, SpotFleet())
    assert ctx.refs[key("SpotFleet", "spot")] == "sfr-1"


def test_ignore_rules_other_owners_first_then_manifest_then_config() -> None:
    """A manifest's rules: live-found owners, then metadata.ignore, then matching repo rules."""
    m = manifest("Service", "web", cluster="prod", ignore=["spec.platformVersion"],
                 labels={"team": "a"})
    config = Config(ignore=[
        RepoIgnore(Selector(kind="Service", labels=(("team", "a"),)), ("spec.launchType",)),
        RepoIgnore(Selector(kind="TaskDefinition"), ("spec.cpu",)),
    ])
    external = {m.key: [IgnoreRule("spec.desiredCount", "autoscaling", external=True)],
                key("Service", "other", "prod"): [IgnoreRule("spec.x", "no")]}
    assert ignore_rules(m, config, external) == [
        IgnoreRule("spec.desiredCount", "autoscaling", external=True),
        IgnoreRule("spec.platformVersion", "metadata.ignore"),
        IgnoreRule("spec.launchType", "reconciler.yaml ignore rule"),
    ]
    assert ignore_rules(m, Config(), {}) == [IgnoreRule("spec.platformVersion", "metadata.ignore")]


# --- plan_tree --------------------------------------------------------------------------------


def test_plan_tree_in_dependency_order_with_refs_resolved() -> None:
    """Manifests are planned by kind order then key; an in-sync task definition resolves the
    service's reference to its live ARN, so the service is in sync too."""
    cluster = manifest("Cluster", "prod")
    other = manifest("Service", "api", {"taskDefinition": "api:3"}, cluster="prod")
    ctx = _ctx()
    changes = plan_tree([SVC, other, TD, cluster],
                        {TD.key: _td_live("img:1"), SVC.key: _svc_live()}, Config(), ctx, REGISTRY)
    assert [str(c.key) for c in changes] == [
        "Cluster/prod", "TaskDefinition/api", "Service/prod/api", "Service/prod/web"]
    assert [c.action for c in changes] == [Action.CREATE, Action.NOOP, Action.CREATE,
                                          Action.NOOP]
    assert ctx.refs == Refs({TD.key: TD_ARN})
    assert changes[3].desired is not None and changes[3].desired["taskDefinition"] == TD_ARN


def test_plan_tree_pending_reference_when_the_task_definition_changes() -> None:
    """A task definition being updated publishes nothing: the service moves to the next
    revision, shown as pending."""
    ctx = _ctx()
    changes = plan_tree([SVC, TD], {TD.key: _td_live("img:0"), SVC.key: _svc_live()},
                        Config(), ctx, REGISTRY)
    assert [c.action for c in changes] == [Action.UPDATE, Action.UPDATE]
    assert changes[1].fields == [FieldChange(("taskDefinition",), "api:3", "api:(next revision)")]
    assert ctx.refs == {}


def test_plan_tree_applies_external_and_config_rules() -> None:
    """Rules from other owners and reconciler.yaml reach each manifest's planning."""
    svc = manifest("Service", "web", {"taskDefinition": TD_ARN, "desiredCount": 2,
                                      "platformVersion": "1.4.0"}, cluster="prod")
    lv = _svc_live(count=6)
    config = Config(ignore=[RepoIgnore(Selector(kind="Service"), ("spec.platformVersion",))])
    external = {svc.key: [IgnoreRule("spec.desiredCount", "autoscaling", external=True)]}
    [ch] = plan_tree([svc], {svc.key: lv}, config, _ctx(), REGISTRY, external)
    assert ch.action is Action.NOOP
    assert ch.ignored == [IgnoredField(("desiredCount",), "autoscaling"),
                          IgnoredField(("platformVersion",), "reconciler.yaml ignore rule")]
    [plain] = plan_tree([svc], {svc.key: lv}, Config(), _ctx(), REGISTRY)
    assert plain.action is Action.UPDATE
    assert [f.path for f in plain.fields] == [("desiredCount",), ("platformVersion",)]


# --- pruning ----------------------------------------------------------------------------------


def _owned() -> list[Live]:
    return [live("Cluster", "prod"), live("TaskDefinition", "api"), live("TaskDefinition", "old"),
            live("Service", "zz", cluster="prod"), live("Service", "web", cluster="prod"),
            live("Service", "api", cluster="prod"), live("Service", "a", cluster="stg"),
            live("ScheduledTask", "x", cluster="prod")]


def test_plan_prune_deletes_only_what_git_no_longer_has_in_reverse_order() -> None:
    """Owned resources missing from git become deletes: later kinds first, by key within a
    kind; each delete carries its live object and one field, the resource going away."""
    owned = _owned()
    desired = {key("Cluster", "prod"), key("TaskDefinition", "api"), key("Service", "web", "prod")}
    deletes = plan_prune(owned, desired, REGISTRY)
    assert [str(c.key) for c in deletes] == [
        "ScheduledTask/prod/x", "Service/prod/api", "Service/prod/zz", "Service/stg/a",
        "TaskDefinition/old"]
    by_key = {lv.key: lv for lv in owned}
    for c in deletes:
        assert c.action is Action.DELETE
        assert c.live is by_key[c.key]
        assert c.fields == [FieldChange((), "exists", ABSENT)]
        assert c.fields[0].op == "remove"
        assert c.manifest is None and c.desired is None
    assert plan_prune(owned, {lv.key for lv in owned}, REGISTRY) == []


def _deletes(*keys: tuple[str, str, str | None]) -> list[Change]:
    return [change(k, n, Action.DELETE, cluster=c) for k, n, c in keys]


def _estate() -> list[Live]:
    """Ten owned resources: a cluster, two services, two schedules, five task definitions."""
    return [live("Cluster", "prod"),
            live("Service", "web", cluster="prod"), live("Service", "api", cluster="prod"),
            live("ScheduledTask", "n", cluster="prod"), live("ScheduledTask", "m", cluster="prod"),
            *(live("TaskDefinition", f"td{i}") for i in range(5))]


def test_prune_guard_nothing_to_delete() -> None:
    """No deletes, no reasons (whatever is owned)."""
    assert prune_guard([], [], 0.0, REGISTRY) == []
    assert prune_guard([], _estate(), 0.0, REGISTRY) == []


def test_prune_guard_share_rule() -> None:
    """Deleting more than the allowed share of what is owned is refused, with the counts."""
    dels = _deletes(("TaskDefinition", "td0", None), ("TaskDefinition", "td1", None),
                    ("TaskDefinition", "td2", None))
    assert prune_guard(dels, _estate(), 0.25, REGISTRY) == [
        "prune would delete 3 of 10 owned resources (30% > the 25% limit)"]
    assert prune_guard(dels, _estate(), 0.3, REGISTRY) == []
    assert prune_guard(dels[:2], _estate(), 0.25, REGISTRY) == []


def test_prune_guard_share_of_a_single_owned_resource() -> None:
    """Deleting the one owned resource is a 100% share."""
    only = [live("Service", "web", cluster="prod")]
    assert prune_guard(_deletes(("Service", "web", "prod")), only, 0.6, REGISTRY) == [
        "prune would delete 1 of 1 owned resources (100% > the 60% limit)"]


def test_prune_guard_every_owned_service_under_the_share_limit() -> None:
    """Deleting every owned Service is refused even when the share stays under the limit."""
    dels = _deletes(("Service", "web", "prod"), ("Service", "api", "prod"))
    assert prune_guard(dels, _estate(), 0.25, REGISTRY) == [
        "prune would delete every owned Service (2)"]
    assert prune_guard(dels[:1], _estate(), 0.25, REGISTRY) == []


def test_prune_guard_the_only_owned_cluster() -> None:
    """A cluster counts even alone: deleting the only owned one is a mass prune."""
    assert prune_guard(_deletes(("Cluster", "prod", None)), _estate(), 0.25, REGISTRY) == [
        "prune would delete every owned Cluster (1)"]


def test_prune_guard_a_kind_with_one_resource_is_ordinary() -> None:
    """Deleting the only owned resource of a kind that is not guard_last is an ordinary prune."""
    estate = [*_estate(), live("SpotFleet", "spot")]
    assert prune_guard(_deletes(("SpotFleet", "spot", None)), estate, 0.25, REGISTRY) == []


def test_prune_guard_reasons_share_first_then_kinds_sorted() -> None:
    """All reasons are given: the share first, then each emptied kind by name."""
    dels = _deletes(("Service", "web", "prod"), ("ScheduledTask", "n", "prod"),
                    ("Service", "api", "prod"), ("ScheduledTask", "m", "prod"))
    assert prune_guard(dels, _estate(), 0.25, REGISTRY) == [
        "prune would delete 4 of 10 owned resources (40% > the 25% limit)",
        "prune would delete every owned ScheduledTask (2)",
        "prune would delete every owned Service (2)",
    ]
