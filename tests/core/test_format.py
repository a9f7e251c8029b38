"""How a plan reads (issue 17): text like `terraform plan`, the Markdown pull-request comment,
and JSON for machines. Pure: real kinds plan hand-built live objects, no AWS."""

from __future__ import annotations

import json
import re
from typing import Any

import click

from reconciler.core.diff import ABSENT, FieldChange
from reconciler.core.format import plan_json, plan_markdown, plan_text
from reconciler.core.kind import Live
from reconciler.core.plan import Change, Plan, plan_prune, plan_resource
from reconciler.core.vocab import Action
from reconciler.kinds import REGISTRY
from reconciler.kinds.service import Service
from tests.core.build import live, manifest
from tests.support_operator import (
    CLEAR_SECRET,
    SVC_ARN,
    TD_ARN,
    container,
    context,
    edited,
    realistic_task_definition,
    td_change,
    td_live,
    td_manifest,
)

ANSI = re.compile(r"\x1b\[[0-9;]*m")
SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:accounting/dj"


def log_level(value: str) -> Any:
    def edit(spec: dict[str, Any]) -> None:
        for env in container(spec, "app")["environment"]:
            if env["name"] == "LOG_LEVEL":
                env["value"] = value
    return edit


def field_lines(text: str) -> list[str]:
    """The lines under a resource's header: its fields (the `#` line is where it comes from)."""
    return [line.strip() for line in text.splitlines()
            if line.startswith("    ") and not line.strip().startswith("#")]


def service_change(git: dict[str, Any], aws: dict[str, Any]) -> Change:
    """A Service as git says against what DescribeServices says."""
    kind = Service()
    live = kind.to_live({
        "serviceName": "accounting-api", "serviceArn": SVC_ARN,
        "clusterArn": "arn:aws:ecs:eu-west-1:123456789012:cluster/accounting-prd",
        "taskDefinition": TD_ARN, "tags": [], **aws})
    ctx = context()
    ctx.refs[td_manifest({}).key] = TD_ARN
    m = manifest("Service", "accounting-api", {"taskDefinition": "accounting-api", **git},
                 cluster="accounting-prd")
    return plan_resource(kind, m, live, ctx, [])


def deleted(live: Live) -> Change:
    [change] = plan_prune([live], set(), REGISTRY)
    return change


# --- nested values as YAML -------------------------------------------------------------------


def test_a_created_task_definition_is_indented_yaml_not_a_long_line() -> None:
    """Creating a realistic task definition prints its containers as a YAML block, one short
    line per value (the old output was one JSON line of about 800 characters)."""
    text = plan_text(Plan([td_change(realistic_task_definition(), None)]))
    lines = text.splitlines()
    assert max(len(line) for line in lines) < 160, max(lines, key=len)
    assert lines[0] == "+ TaskDefinition/accounting-api (create)"
    assert "    + containerDefinitions:" in lines
    assert "    +     app:" in lines
    assert "    +         LOG_LEVEL: info" in lines
    assert "    +     - FARGATE" in lines
    assert not any('{"' in line for line in lines), "a JSON blob instead of YAML"
    assert lines[-1] == "Plan: 1 to create, 0 to update, 0 to replace, 0 to delete."


def test_a_deleted_resource_shows_what_it_removes_as_yaml() -> None:
    """A delete lists the live resource's values as a create lists git's: YAML blocks marked
    `-`, secrets masked, under a header naming the live ARN."""
    text = plan_text(Plan([deleted(td_live(realistic_task_definition()))]))
    lines = text.splitlines()
    assert lines[0] == "- TaskDefinition/accounting-api (delete)"
    assert lines[1] == f"    # {TD_ARN}"
    assert max(len(line) for line in lines) < 160, max(lines, key=len)
    assert "    - containerDefinitions:" in lines
    assert "    -     app:" in lines
    assert "    -         LOG_LEVEL: info" in lines
    assert "    - cpu: \"1024\"" in lines
    assert CLEAR_SECRET not in text and SECRET_ARN not in text
    assert lines[-1] == "Plan: 0 to create, 0 to update, 0 to replace, 1 to delete."


# --- updates ---------------------------------------------------------------------------------


def test_one_environment_variable_of_one_container_is_one_line_by_name() -> None:
    """Keyed lists read by name: the container, then the variable."""
    spec = realistic_task_definition()
    change = td_change(edited(spec, log_level("debug")), spec)
    assert change.action is Action.UPDATE
    assert field_lines(plan_text(Plan([change]))) == [
        '~ containerDefinitions[app].environment[LOG_LEVEL]: "info" → "debug"']


def test_a_changed_nested_block_shows_line_level_changes() -> None:
    """A list that changed (a port mapping added, a health-check command edited) is shown as
    YAML with the unchanged lines as context and `-`/`+` on the lines that differ."""
    spec = realistic_task_definition()

    def edit(s: dict[str, Any]) -> None:
        app = container(s, "app")
        app["portMappings"].append({"containerPort": 9000})
        app["healthCheck"]["command"][1] = "wget -qO- http://localhost:8000/healthz"

    lines = plan_text(Plan([td_change(edited(spec, edit), spec)])).splitlines()
    ports = lines.index("    ~ containerDefinitions[app].portMappings:")
    assert lines[ports + 1:ports + 3] == ["          - containerPort: 8000",
                                          "    +     - containerPort: 9000"]
    command = lines.index("    ~ containerDefinitions[app].healthCheck.command:")
    assert lines[command + 1:command + 4] == [
        "          - CMD-SHELL",
        "    -     - curl -fsS http://localhost:8000/healthz || exit 1",
        "    +     - wget -qO- http://localhost:8000/healthz"]


def test_a_map_with_two_renamed_keys_shows_each_key() -> None:
    """Two of four log options renamed: four per-key lines, not the whole map replaced (the
    old deepdiff threshold reported it as one change)."""
    spec = realistic_task_definition()

    def rename(s: dict[str, Any]) -> None:
        options = container(s, "app")["logConfiguration"]["options"]
        options["log_group"] = options.pop("log_group_name")
        options["log_prefix"] = options.pop("log_stream_prefix")

    change = td_change(edited(spec, rename), spec)
    where = "containerDefinitions[app].logConfiguration.options"
    assert field_lines(plan_text(Plan([change]))) == [
        f'+ {where}[log_group]: "/accounting/api"',
        f'- {where}[log_group_name]: "/accounting/api"',
        f'+ {where}[log_prefix]: "app"',
        f'- {where}[log_stream_prefix]: "app"',
    ]
    assert [(d["path"], d["op"]) for d in plan_json(Plan([change]))["changes"][0]["diff"]] == [
        (f"spec.{where}[log_group]", "add"), (f"spec.{where}[log_group_name]", "remove"),
        (f"spec.{where}[log_prefix]", "add"), (f"spec.{where}[log_stream_prefix]", "remove")]


def test_the_live_value_is_shown_beside_aws_default_not_instead_of_it() -> None:
    """AWS describes `enableExecuteCommand: false`, its default; git asks for true. The line
    says what AWS has and notes that it is the default; a field git stopped setting goes
    back to AWS's default, with its live value shown."""
    change = service_change({"desiredCount": 2, "enableExecuteCommand": True},
                            {"desiredCount": 2, "enableExecuteCommand": False,
                             "healthCheckGracePeriodSeconds": 60})
    assert field_lines(plan_text(Plan([change]))) == [
        "~ enableExecuteCommand: false (AWS default) → true",
        "~ healthCheckGracePeriodSeconds: 60 → (AWS default)",
    ]


def test_a_nested_field_at_aws_default_shows_what_aws_describes() -> None:
    """The same below the top: DescribeServices shows the circuit breaker off (its default)
    and git turns it on; the line says what AWS has, then git's block. Where AWS shows
    nothing, the field is simply added."""
    described = {"desiredCount": 2, "deploymentConfiguration": {
        "deploymentCircuitBreaker": {"enable": False, "rollback": False},
        "maximumPercent": 150, "minimumHealthyPercent": 100}}
    change = service_change({"desiredCount": 2, "deploymentConfiguration": {
        "maximumPercent": 150, "deploymentCircuitBreaker": {"enable": True, "rollback": False}}},
        described)
    assert field_lines(plan_text(Plan([change]))) == [
        '~ deploymentConfiguration.deploymentCircuitBreaker: {"enable": false, "rollback": false}'
        " (AWS default) →",
        "+     enable: true",
    ]
    del described["deploymentConfiguration"]["deploymentCircuitBreaker"]  # type: ignore[attr-defined]
    change = service_change({"desiredCount": 2, "deploymentConfiguration": {
        "maximumPercent": 150, "deploymentCircuitBreaker": {"enable": True, "rollback": False}}},
        described)
    assert field_lines(plan_text(Plan([change]))) == [
        "+ deploymentConfiguration.deploymentCircuitBreaker:",
        "+     enable: true",
    ]


def test_the_header_names_the_manifest_file_line_and_the_live_arn() -> None:
    spec = realistic_task_definition()
    change = td_change(edited(spec, log_level("debug")), spec)
    lines = plan_text(Plan([change])).splitlines()
    assert lines[0] == "~ TaskDefinition/accounting-api (update)"
    assert lines[1] == f"    # apps/api/task-definition.yaml:4  →  {TD_ARN}"
    assert f"`apps/api/task-definition.yaml:4  →  {TD_ARN}`" in plan_markdown(Plan([change]))


def test_a_chart_rendered_manifest_names_its_template_and_release() -> None:
    spec = realistic_task_definition()
    change = td_change(edited(spec, log_level("debug")), spec)
    assert change.manifest is not None
    change.manifest.origin = "Release/accounting-api (environments/prd.yaml:20)"
    assert plan_text(Plan([change])).splitlines()[1] == (
        "    # apps/api/task-definition.yaml:4 (Release/accounting-api (environments/prd.yaml:20))"
        f"  →  {TD_ARN}")


def test_colour_codes_only_when_colour_is_asked() -> None:
    spec = realistic_task_definition()
    plan = Plan([td_change(edited(spec, log_level("debug")), spec),
                 td_change(spec, None), deleted(td_live(spec))])
    plain, coloured = plan_text(plan, colour=False), plan_text(plan, colour=True)
    assert not ANSI.search(plain)
    assert ANSI.search(coloured)
    assert click.unstyle(coloured) == plain


# --- Markdown --------------------------------------------------------------------------------


def test_markdown_summary_first_then_one_collapsible_section_per_resource() -> None:
    spec = realistic_task_definition()
    update = td_change(edited(spec, log_level("debug")), spec)
    service = service_change({"desiredCount": 3}, {"desiredCount": 2})
    md = plan_markdown(Plan([update, service]))
    lines = md.splitlines()
    summary = lines.index("**0** to create, **2** to update, **0** to replace, **0** to delete.")
    assert summary < min(i for i, line in enumerate(lines) if line.startswith("<details>"))
    assert md.count("<details>") == md.count("</details>") == 2
    assert ("<details><summary><code>~ TaskDefinition/accounting-api</code> (update)</summary>"
            in lines)
    assert "```diff" in lines
    # GitHub colours '!' as changed; the same line as the text otherwise
    assert '! containerDefinitions[app].environment[LOG_LEVEL]: "info" → "debug"' in lines
    assert "! desiredCount: 2 → 3" in lines


def test_secrets_are_masked_in_text_markdown_and_json() -> None:
    spec = realistic_task_definition()
    git = edited(spec, lambda s: container(s, "app")["environment"].append(
        {"name": "API_TOKEN", "value": "tok-also-in-the-clear"}))
    plans = [Plan([td_change(spec, None)]), Plan([td_change(git, spec)]),
             Plan([deleted(td_live(spec))])]
    for plan in plans:
        shown = [plan_text(plan), plan_markdown(plan), json.dumps(plan_json(plan))]
        if plan.changes[0].action is Action.DELETE:
            shown.pop()  # JSON lists no values of a delete
        for out in shown:
            assert CLEAR_SECRET not in out
            assert "tok-also-in-the-clear" not in out
            assert SECRET_ARN not in out
            assert "(sensitive)" in out


def refused_plan() -> Plan:
    """A mass prune the guard refused, and nothing else to do."""
    lives = [td_live(realistic_task_definition()),
             live("Cluster", "accounting-prd", {"capacityProviders": ["FARGATE"]},
                  arn="arn:aws:ecs:eu-west-1:123456789012:cluster/accounting-prd")]
    deletes = plan_prune(lives, set(), REGISTRY)
    return Plan([], refused=["prune would delete 2 of 2 owned resources (100% > the 25% limit)",
                             "nothing will be deleted; re-run with --allow-mass-prune if this "
                             "is intended"], refused_deletes=deletes)


def test_a_refused_mass_prune_never_reads_as_in_sync() -> None:
    """The PR comment and the text spell the refusal out; neither says 'No changes'."""
    plan = refused_plan()
    md = plan_markdown(plan)
    assert "No changes" not in md
    lines = md.splitlines()
    refusal = lines.index("> :no_entry: **Prune refused: nothing will be applied.**")
    assert "> - prune would delete 2 of 2 owned resources (100% > the 25% limit)" in lines
    assert refusal < min(i for i, line in enumerate(lines) if line.startswith("<details>"))
    assert ("<details><summary><code>- Cluster/accounting-prd</code> (delete) — held back: "
            "prune refused</summary>") in lines
    text = plan_text(plan)
    assert "No changes" not in text
    assert "- TaskDefinition/accounting-api (delete, held back: prune refused)" in text
    assert text.splitlines()[-1].startswith(
        "Plan: 0 to create, 0 to update, 0 to replace, 0 to delete. Prune refused: 2 "
        "deletion(s) held back")


def test_nothing_to_do_still_says_so() -> None:
    assert plan_text(Plan([])) == "No changes: AWS matches git."
    assert "No changes: AWS matches git." in plan_markdown(Plan([]))


def test_orphans_are_listed_in_every_output() -> None:
    orphan = td_live(realistic_task_definition())
    plan = Plan([], orphaned=[orphan])
    assert ("? TaskDefinition/accounting-api (orphaned: owned by this controller, no longer "
            "in git; --prune deletes it)") in plan_text(plan).splitlines()
    assert "**1** orphaned (owned, no longer in git): `TaskDefinition/accounting-api`" in (
        plan_markdown(plan))
    assert plan_json(plan)["orphaned"] == [{"kind": "TaskDefinition", "name": "accounting-api",
                                            "cluster": None, "arn": TD_ARN}]


# --- JSON ------------------------------------------------------------------------------------


def test_json_keeps_its_keys_and_values_only_gains_fields() -> None:
    """What scripts read (README: JSON output) is pinned; anything new is an added key."""
    spec = realistic_task_definition()
    plan = Plan([
        td_change(spec, None),
        td_change(edited(spec, log_level("debug")), spec),
        deleted(td_live(spec)),
        Change(manifest("Service", "api", cluster="prd").key, Action.NOOP),
    ])
    out = json.loads(json.dumps(plan_json(plan), default=str))
    assert {"changes", "summary", "refused"} <= out.keys()
    assert out["summary"] == {"create": 1, "update": 1, "replace": 0, "delete": 1, "run": 0}
    assert out["refused"] == []
    assert [(c["kind"], c["name"], c["cluster"], c["action"]) for c in out["changes"]] == [
        ("TaskDefinition", "accounting-api", None, "create"),
        ("TaskDefinition", "accounting-api", None, "update"),
        ("TaskDefinition", "accounting-api", None, "delete")]
    for c in out["changes"]:
        assert {"kind", "name", "cluster", "action", "diff"} <= c.keys()
        for d in c["diff"]:
            assert {"path", "op"} <= d.keys() <= {"path", "op", "old", "new"}
    create, update, delete = out["changes"]
    assert {"path": "spec.cpu", "op": "add", "new": "1024"} in create["diff"]
    assert update["diff"] == [{"path": "spec.containerDefinitions[app].environment[LOG_LEVEL]",
                               "op": "change", "old": "info", "new": "debug"}]
    assert delete["diff"] == [{"path": "", "op": "remove", "old": "exists"}]


def test_field_change_ops_are_the_documented_vocabulary() -> None:
    assert [FieldChange(("a",), ABSENT, 1).op, FieldChange(("a",), 1, ABSENT).op,
            FieldChange(("a",), 1, 2).op] == ["add", "remove", "change"]
