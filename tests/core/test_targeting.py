"""Aiming (issue 17): which manifests `--target` and `-l` pick, and which of their
dependencies a targeted plan keeps. Pure: hand-built manifests and changes, real kinds."""

from __future__ import annotations

import pytest

from reconciler.core.plan import depends_on, targeted, with_dependencies
from reconciler.core.select import SelectionError, select
from reconciler.core.vocab import Action
from reconciler.kinds import REGISTRY
from tests.core.build import change, live, manifest

CLUSTER = manifest("Cluster", "prd", labels={"team": "accounting"})
TD = manifest("TaskDefinition", "api", {"containerDefinitions": [{"name": "app", "image": "i"}]},
              labels={"team": "accounting", "app": "api"})
SVC = manifest("Service", "api", {"taskDefinition": "api"}, cluster="prd",
               labels={"team": "accounting", "app": "api"})
SCALING = manifest("ScalableTarget", "api", {"service": "api"}, cluster="prd",
                   labels={"team": "accounting", "app": "api"})
WORKER = manifest("Service", "worker", {"taskDefinition": "api"}, cluster="prd",
                  labels={"team": "accounting", "app": "worker"})
TREE = [CLUSTER, TD, SVC, SCALING, WORKER]


def test_targets_by_kind_cluster_and_glob() -> None:
    assert select(TREE, ["Service/prd/api"]) == {SVC.key}
    assert select(TREE, ["Service/prd/*"]) == {SVC.key, WORKER.key}
    assert select(TREE, ["Service/*"]) == {SVC.key, WORKER.key}
    assert select(TREE, ["Cluster/prd", "TaskDefinition/api"]) == {CLUSTER.key, TD.key}
    assert select(TREE) is None


def test_labels_must_all_match_and_narrow_targets() -> None:
    assert select(TREE, labels=["app=api"]) == {TD.key, SVC.key, SCALING.key}
    assert select(TREE, labels=["app=api", "team=accounting"]) == {TD.key, SVC.key, SCALING.key}
    assert select(TREE, ["Service/*"], ["app=worker"]) == {WORKER.key}


@pytest.mark.parametrize(("targets", "labels", "message"), [
    (["Service/prd/nope"], [], "--target 'Service/prd/nope' matches no manifest"),
    (["Service"], [], "expected Kind/name or Kind/cluster/name"),
    (["a/b/c/d"], [], "expected Kind/name or Kind/cluster/name"),
    ([], ["team=nobody"], "-l team=nobody matches no manifest"),
    ([], ["team"], "expected key=value"),
])
def test_a_selector_that_picks_nothing_is_an_error(targets: list[str], labels: list[str],
                                                   message: str) -> None:
    """A typo must not read as "in sync"."""
    with pytest.raises(SelectionError) as caught:
        select(TREE, targets, labels)
    assert message in str(caught.value)


def test_a_manifest_depends_on_what_it_references_and_its_cluster() -> None:
    assert depends_on(SVC, REGISTRY) == [TD.key, CLUSTER.key]
    assert depends_on(SCALING, REGISTRY) == [SVC.key, CLUSTER.key]
    assert depends_on(TD, REGISTRY) == []
    assert with_dependencies(TREE, {SCALING.key}, REGISTRY) == [CLUSTER, TD, SVC, SCALING]


@pytest.mark.parametrize(("cluster", "td", "kept"), [
    (Action.CREATE, Action.CREATE, {"Cluster", "TaskDefinition", "Service"}),
    # an existing cluster that differs is not the service's business
    (Action.UPDATE, Action.NOOP, {"Service"}),
    # the service will point at the task definition's next revision
    (Action.UPDATE, Action.UPDATE, {"TaskDefinition", "Service"}),
    (Action.NOOP, Action.NOOP, {"Service"}),
])
def test_a_targeted_plan_keeps_a_dependency_only_where_needed(
        cluster: Action, td: Action, kept: set[str]) -> None:
    changes = [
        change("Cluster", "prd", cluster, manifest=CLUSTER,
               live=None if cluster is Action.CREATE else live("Cluster", "prd")),
        change("TaskDefinition", "api", td, manifest=TD,
               live=None if td is Action.CREATE else live("TaskDefinition", "api")),
        change("Service", "api", Action.UPDATE, cluster="prd", manifest=SVC,
               live=live("Service", "api", cluster="prd")),
        change("Service", "worker", Action.UPDATE, cluster="prd", manifest=WORKER,
               live=live("Service", "worker", cluster="prd")),
    ]
    assert {c.key.kind for c in targeted(changes, {SVC.key}, REGISTRY)} == kept


def test_a_dependency_of_a_needed_dependency_is_kept_and_deletes_stay() -> None:
    """A ScalableTarget whose service does not exist yet needs the service, and so the
    service's cluster; a delete (an explicit --prune) is not filtered away."""
    changes = [
        change("Cluster", "prd", Action.CREATE, manifest=CLUSTER),
        change("TaskDefinition", "api", Action.NOOP, manifest=TD,
               live=live("TaskDefinition", "api")),
        change("Service", "api", Action.CREATE, cluster="prd", manifest=SVC),
        change("ScalableTarget", "api", Action.CREATE, cluster="prd", manifest=SCALING),
        change("TaskDefinition", "gone", Action.DELETE, live=live("TaskDefinition", "gone")),
    ]
    assert [str(c.key) for c in targeted(changes, {SCALING.key}, REGISTRY)] == [
        "Cluster/prd", "Service/prd/api", "ScalableTarget/prd/api", "TaskDefinition/gone"]
