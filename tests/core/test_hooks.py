"""Hooks, pure: what a Job's record says, what a stopped task says, which run the git state
asks for, what a pass does with a hook and with what it gates, how a diff shows them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.core.config import Config
from reconciler.core.format import plan_json, plan_markdown, plan_text
from reconciler.core.hooks import (
    Container,
    Record,
    Run,
    awslogs,
    check_hooks,
    digest,
    plan_hooks,
    resolve_gates,
    started_by,
)
from reconciler.core.kind import Live
from reconciler.core.manifest import Manifest
from reconciler.core.ownership import is_foreign_tag
from reconciler.core.plan import Change, Plan
from reconciler.core.policy import Trigger, hold_for_hooks, select
from reconciler.core.vocab import Action, Decision, Hold, HookState, RunState
from reconciler.kinds import REGISTRY
from tests.core.build import change, key, live, manifest

JOB = key("Job", "migrate", "c")
SVC = key("Service", "api", "c")
TD = {"containerDefinitions": [{"name": "app", "image": "app:1"}]}


def _estate(image: str = "app:1", **job_spec: Any) -> list[Manifest]:
    job = manifest("Job", "migrate", {"gates": ["Service/api"], "taskDefinition": "app",
                                      "launchType": "FARGATE", **job_spec},
                   cluster="c", hook="PreSync")
    return [manifest("TaskDefinition", "app", {"containerDefinitions": [
                {"name": "app", "image": image}]}),
            manifest("Service", "api", {"taskDefinition": "app", "desiredCount": 1},
                     cluster="c"),
            manifest("Service", "other", {"taskDefinition": "app"}, cluster="c"),
            job]


def _digest(ms: list[Manifest]) -> str:
    by_key = {m.key: m for m in ms}
    return digest(by_key[JOB], [SVC], by_key, REGISTRY)


def test_a_record_round_trips_through_a_tag_ecs_accepts() -> None:
    r = Record("ab" * 16, RunState.FAILED, 2, "0f" * 16, 1, "c" * 40, 1700000000.5, "cd" * 16)
    text = r.to_tag()
    assert len(text) <= 256 and not set(text) - set(
        "abcdefghijklmnopqrstuvwxyz0123456789 =.:/+-@_ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    assert Record.from_tag(text) == Record("ab" * 16, RunState.FAILED, 2, "0f" * 16, 1,
                                           "c" * 40, 1700000000, "cd" * 16)
    assert Record.from_tag(None) is None and Record.from_tag("state=odd digest=x") is None
    assert len(started_by("f" * 32, 12)) <= 128
    assert is_foreign_tag("reconciler:hook/migrate")  # never a diff of the cluster


def test_what_a_stopped_task_says() -> None:
    ok = Run("arn:aws:ecs:r:1:task/c/t1", "STOPPED", "EssentialContainerExited", "done", (
        Container("app", True, 0), Container("log-router", False, 143)))
    assert ok.succeeded and ok.exit_code == 0 and ok.task_id == "t1"
    bad = Run("t", "STOPPED", "EssentialContainerExited", "Essential container in task exited",
              (Container("app", True, 3, "", "log group g, stream p/app/t in r"),))
    assert not bad.succeeded and bad.exit_code == 3 and bad.failure() == "exit 3 from app"
    assert "logs of app: log group g, stream p/app/t in r" in bad.details()
    never = Run("t", "STOPPED", "TaskFailedToStart", "CannotPullContainerError: no image",
                (Container("app"),))
    assert never.exit_code == 1 and never.failure().startswith("did not start: CannotPull")
    assert Run("t", missing=True).failure() == "its task is no longer known to ECS"
    assert not Run("t", "RUNNING", containers=(Container("app", True, 0),)).succeeded
    assert awslogs({"logDriver": "awslogs", "options": {
        "awslogs-group": "/ecs/app", "awslogs-stream-prefix": "app"}}, "web",
        "arn:aws:ecs:r:1:task/c/abc", "eu-west-1") == \
        "log group /ecs/app, stream app/web/abc in eu-west-1"
    assert awslogs({"logDriver": "fluentd"}, "web", "t", "r") == ""


def test_gates_resolve_in_the_hooks_cluster_or_as_written() -> None:
    ms = [*_estate(), manifest("Service", "api", {}, cluster="d")]
    job = manifest("Job", "j", {"gates": ["Service/api", "Service/d/api", "Service/nope",
                                          "api"]}, cluster="c", hook="PreSync")
    keys, errors = resolve_gates(job, ms)
    assert keys == [SVC, key("Service", "api", "d")]
    assert [i for i, _ in errors] == [2, 3]


def test_the_digest_is_what_git_says_of_the_hook_and_what_it_gates() -> None:
    """A new revision changing nothing the hook covers is the same run; a new image of the
    task definition the gated service runs is a new one; so is a change to the hook."""
    base = _digest(_estate())
    assert _digest(_estate()) == base
    assert _digest(_estate(image="app:2")) != base
    assert _digest(_estate(platformVersion="1.4.0")) != base
    other = _estate()
    other[2].spec["desiredCount"] = 5  # Service/other is not gated
    assert _digest(other) == base


def _planned(record: Record | None, run: Run | None = None, *, pending: bool = True,
             ms: list[Manifest] | None = None) -> tuple[Change, Change]:
    ms = ms or _estate()
    job = next(m for m in ms if m.kind == "Job")
    svc = next(m for m in ms if m.key == SVC)
    changes = [
        change("Job", "migrate", Action.NOOP, cluster="c", manifest=job,
               live=live("Job", "migrate", cluster="c", raw={"record": record, "run": run})),
        change("Service", "api", Action.UPDATE if pending else Action.NOOP, cluster="c",
               manifest=svc)]
    plan_hooks(changes, ms, REGISTRY)
    return changes[0], changes[1]


STOPPED_OK = Run("arn/t1", "STOPPED", "EssentialContainerExited", "", (Container("app", True, 0),))
STOPPED_BAD = Run("arn/t1", "STOPPED", "EssentialContainerExited", "", (Container("app", True, 1),))


@pytest.mark.parametrize(("record", "run", "pending", "state", "action"), [
    (None, None, True, HookState.DUE, Action.RUN),
    (None, None, False, HookState.IDLE, Action.NOOP),
    ("mine", None, True, HookState.SUCCEEDED, Action.NOOP),
    ("failed", None, True, HookState.FAILED, Action.RUN),
    ("failed", None, False, HookState.FAILED, Action.NOOP),
    ("running", Run("arn/t1", "RUNNING"), False, HookState.RUNNING, Action.RUN),
    ("running", STOPPED_BAD, True, HookState.FINISHED, Action.RUN),
    ("starting", None, True, HookState.DUE, Action.RUN),
    ("older", None, True, HookState.DUE, Action.RUN),
    ("reverted", None, True, HookState.SUCCEEDED, Action.NOOP),
])
def test_what_a_pass_does_with_a_hook(record: str | None, run: Run | None, pending: bool,
                                      state: HookState, action: Action) -> None:
    d = _digest(_estate())
    records = {"mine": Record(d, RunState.SUCCEEDED), "failed": Record(d, RunState.FAILED, exit=1),
               "running": Record(d, RunState.RUNNING, task="t1"),
               "starting": Record(d, RunState.STARTING, 3),
               "older": Record("0" * 32, RunState.SUCCEEDED),
               "reverted": Record("0" * 32, RunState.FAILED, exit=1, passed=d)}
    job, svc = _planned(records[record] if record else None, run, pending=pending)
    assert job.hook is not None and (job.hook.state, job.action) == (state, action)
    assert svc.after_hooks == ([JOB] if action is Action.RUN and pending else [])
    if record == "starting":
        assert job.hook.attempt == 3  # the same attempt: the same idempotency token
    if record == "failed":
        assert job.hook.attempt == 2


def test_a_run_in_flight_for_an_older_revision_is_followed_first() -> None:
    job, svc = _planned(Record("0" * 32, RunState.RUNNING, task="t1"), Run("arn/t1", "RUNNING"))
    assert job.hook is not None and job.hook.state is HookState.RUNNING and job.hook.superseded
    assert svc.after_hooks == [JOB]


def _verdicts(job: Change, svc: Change, trigger: Trigger = Trigger.AUTOMATED,
              rerun: bool = False, config: Config | None = None) -> dict[Any, Any]:
    plan = Plan([job, svc])
    verdicts = select(plan, trigger, config or Config())
    hold_for_hooks(plan, verdicts, rerun=rerun)
    return verdicts


def test_a_failed_hook_holds_what_it_gates_until_asked_again() -> None:
    d = _digest(_estate())
    job, svc = _planned(Record(d, RunState.FAILED, exit=1))
    for trigger in Trigger:  # a person's apply does not run it again either
        v = _verdicts(job, svc, trigger)
        assert v[JOB].hold is Hold.HOOK_FAILED and "--rerun-hooks" in v[JOB].reason
        assert (v[SVC].hold, v[SVC].reason) == (
            Hold.HOOK_FAILED, "PreSync hook Job/c/migrate failed (exit 1)")
    v = _verdicts(job, svc, Trigger.MANUAL, rerun=True)
    assert v[JOB].decision is v[SVC].decision is Decision.APPLY


def test_a_hook_seen_failing_is_recorded_by_the_pass_and_holds_the_rest() -> None:
    job, svc = _planned(Record(_digest(_estate()), RunState.RUNNING, task="t1"), STOPPED_BAD)
    v = _verdicts(job, svc)
    assert v[JOB].decision is Decision.APPLY  # the apply records it (and alerts)
    assert v[SVC].reason == "PreSync hook Job/c/migrate failed (exit 1 from app)"


def test_a_held_hook_holds_what_it_gates_and_an_idle_one_is_held() -> None:
    job, svc = _planned(None)
    v = _verdicts(job, svc, config=Config(mode="observe"))
    assert v[SVC].hold is Hold.OBSERVE  # held already: the hook does not say it again
    job, svc = _planned(None)
    svc.drift = True
    v = _verdicts(job, svc, config=Config(self_heal=False))
    assert v[JOB].hold is Hold.HOOK_IDLE and v[SVC].hold is Hold.SELF_HEAL_OFF


def test_a_diff_says_what_runs_before_what() -> None:
    job, svc = _planned(None)
    plan = Plan([job, svc])
    verdicts = select(plan, Trigger.AUTOMATED, Config())
    text = plan_text(plan, verdicts=verdicts)
    assert "> Job/c/migrate (run) (PreSync hook: runs before Service/c/api)" in text
    assert "~ Service/c/api (update) (after PreSync hook Job/c/migrate)" in text
    assert text.endswith("1 to update, 0 to replace, 0 to delete, 1 hook to run.")
    out = json.loads(json.dumps(plan_json(plan, verdicts)))
    [j, s] = out["changes"]
    assert (j["action"], j["hook"]["phase"], j["hook"]["state"], j["hook"]["gates"]) == (
        "run", "PreSync", "due", ["Service/c/api"])
    assert s["after"] == ["Job/c/migrate"] and out["summary"]["run"] == 1
    md = plan_markdown(plan, verdicts)
    assert "**1** hook to run" in md
    assert "<code>> Job/c/migrate</code> (run) — PreSync hook: runs before Service/c/api" in md


def test_a_diff_says_why_a_failed_hook_holds() -> None:
    job, svc = _planned(Record(_digest(_estate()), RunState.FAILED, exit=1))
    plan = Plan([job, svc])
    text = plan_text(plan, verdicts=_verdicts(job, svc))
    assert "~ Service/c/api (update) (PreSync hook Job/c/migrate failed (exit 1))" in text


def _errors(ms: list[Manifest]) -> list[str]:
    return [e.message for e in check_hooks(ms, REGISTRY)]


def test_what_is_wrong_with_a_hook() -> None:
    ms = _estate()
    assert _errors(ms) == []
    assert _errors([*ms, manifest("Service", "x", {}, cluster="c", hook="PreSync")]) == [
        "metadata.hook: a Service cannot be a hook (a Job can)"]
    odd = manifest("Job", "j", {"gates": ["Service/api"]}, cluster="c", hook="Sync")
    assert _errors([*ms, odd]) == ["metadata.hook must be PreSync or PostSync, not 'Sync'"]
    empty = manifest("Job", "j", {"gates": []}, cluster="c", hook="PreSync")
    assert "spec.gates must list" in _errors([*ms, empty])[0]
    early = manifest("Job", "j", {"gates": ["TaskDefinition/app"]}, cluster="c",
                     hook="PreSync")
    assert "cannot wait for a hook" in _errors([*ms, early])[0]
    lost = manifest("Job", "j", {"gates": ["Service/gone"]}, cluster="c", hook="PostSync")
    assert _errors([*ms, lost]) == ["gate 'Service/gone' names no manifest in cluster c"]
    plain = manifest("Job", "j", {"gates": ["Service/api"]}, cluster="c")
    [warning] = check_hooks([*ms, plain], REGISTRY)
    assert warning.warning and "does nothing without metadata.hook" in warning.message


def test_a_job_spec_is_runtasks_request() -> None:
    job = REGISTRY["Job"]
    good = manifest("Job", "j", {"taskDefinition": "app", "launchType": "FARGATE",
                                 "timeoutSeconds": 60, "gates": ["Service/api"]}, cluster="c")
    assert job.validate(good) == []
    bad = manifest("Job", "j", {"taskDefinition": "app", "count": 2, "launchType": "MOON",
                                "timeoutSeconds": 0, "startedBy": "me"}, cluster="c")
    messages = " | ".join(e.message for e in job.validate(bad))
    for expected in ("spec.count is not allowed", "spec.startedBy is not allowed",
                     "timeoutSeconds must be at least 1", "launchType"):
        assert expected in messages, messages
    assert [e.message for e in job.validate(manifest("Job", "j", {}, cluster="c"))] == [
        "spec: missing required field 'taskDefinition'"]


def test_a_jobs_health_is_its_last_run() -> None:
    job = REGISTRY["Job"]

    def health(r: Record | None, run: Run | None = None) -> tuple[Any, str]:
        return job.health(Live(JOB, "", {}, {}, {"record": r, "run": run}))

    assert health(None)[0].value == "Healthy"
    assert health(Record("d", RunState.RUNNING, task="t"))[0].value == "Progressing"
    assert health(Record("d", RunState.SUCCEEDED))[0].value == "Healthy"
    h, why = health(Record("d", RunState.FAILED, exit=2))
    assert h.value == "Suspended" and "exit 2" in why  # not Degraded: alerted once, on the run
    assert health(Record("d", RunState.RUNNING, task="t"), STOPPED_BAD)[0].value == "Suspended"
