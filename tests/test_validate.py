"""Offline validation: every error as file:line: Kind/name: message, exit 1."""

from __future__ import annotations

from pathlib import Path

from reconciler.kinds import load_tree
from tests.conftest import cli, write

HEAD = "apiVersion: reconciler/v1\n"


def errors(root: Path) -> list[str]:
    return [str(e) for e in load_tree(root).errors]


def test_examples_are_valid() -> None:
    from tests.conftest import EXAMPLES

    assert errors(EXAMPLES) == []


def test_wrong_type_unknown_field_bad_enum_all_reported(tmp_path: Path) -> None:
    write(tmp_path, "svc.yaml", HEAD + """kind: Service
metadata: {name: api, cluster: c}
spec:
  taskDefinition: "arn:aws:ecs:eu-west-1:1:task-definition/web:1"
  desiredCount: "two"
  launchType: FARGATEE
  enableExecCommand: true
""")
    errs = errors(tmp_path)
    assert "svc.yaml:6: Service/api: spec.desiredCount: expected an integer, got string 'two'" in errs
    assert any(e.startswith("svc.yaml:7: Service/api: spec.launchType: 'FARGATEE' is not one of")
               for e in errs)
    assert any(e.startswith("svc.yaml:8: Service/api: spec.enableExecCommand: unknown field")
               for e in errs)
    assert len(errs) == 3


def test_nested_errors_point_at_their_line(tmp_path: Path) -> None:
    write(tmp_path, "td.yaml", HEAD + """kind: TaskDefinition
metadata: {name: web}
spec:
  containerDefinitions:
    - name: app
      image: nginx
      portMappings:
        - containerPort: eighty
""")
    [err] = errors(tmp_path)
    assert err.startswith("td.yaml:9: TaskDefinition/web: "
                          "spec.containerDefinitions[0].portMappings[0].containerPort")


def test_missing_required_field(tmp_path: Path) -> None:
    write(tmp_path, "td.yaml", HEAD + "kind: TaskDefinition\nmetadata: {name: web}\n"
          "spec: {cpu: '256'}\n")
    [err] = errors(tmp_path)
    assert "missing required field 'containerDefinitions'" in err


def test_unknown_kind_and_api_version(tmp_path: Path) -> None:
    write(tmp_path, "x.yaml", "apiVersion: v9\nkind: Gadget\nmetadata: {name: g}\nspec: {}\n")
    errs = errors(tmp_path)
    assert any("x.yaml:1:" in e and "unknown apiVersion 'v9'" in e for e in errs)
    assert any("x.yaml:2:" in e and "unknown kind 'Gadget'" in e for e in errs)


def test_duplicate_identity(tmp_path: Path) -> None:
    doc = HEAD + "kind: Cluster\nmetadata: {name: c}\nspec: {}\n"
    write(tmp_path, "a.yaml", doc)
    write(tmp_path, "b.yaml", doc)
    [err] = errors(tmp_path)
    assert err.startswith("b.yaml:1: Cluster/c: duplicate") and "a.yaml:1" in err


def test_dangling_task_definition_reference(tmp_path: Path) -> None:
    write(tmp_path, "svc.yaml", HEAD + "kind: Service\nmetadata: {name: api, cluster: c}\n"
          "spec:\n  taskDefinition: nope\n")
    [err] = errors(tmp_path)
    assert err.startswith("svc.yaml:5: Service/api: spec.taskDefinition names TaskDefinition/nope")


def test_identity_in_spec_and_missing_cluster(tmp_path: Path) -> None:
    write(tmp_path, "svc.yaml", HEAD + "kind: Service\nmetadata: {name: api}\n"
          "spec:\n  serviceName: api\n")
    errs = errors(tmp_path)
    assert any("metadata.cluster is required" in e for e in errs)
    assert any("svc.yaml:5:" in e and "spec.serviceName comes from metadata" in e for e in errs)


def test_bad_ignore_path(tmp_path: Path) -> None:
    write(tmp_path, "c.yaml", HEAD + "kind: Cluster\nmetadata:\n  name: c\n  ignore:\n"
          "    - desiredCount\nspec: {}\n")
    [err] = errors(tmp_path)
    assert err.startswith("c.yaml:6: Cluster/c:") and "must start with 'spec.'" in err


def test_bad_config(tmp_path: Path) -> None:
    write(tmp_path, "reconciler.yaml", "controller: x\nprune: maybe\nfoo: 1\n")
    errs = errors(tmp_path)
    assert "reconciler.yaml:2: prune must be true or false" in errs
    assert any(e.startswith("reconciler.yaml:3: unknown key 'foo'") for e in errs)


def test_validate_cli_exit_codes(tmp_path: Path) -> None:
    write(tmp_path, "c.yaml", HEAD + "kind: Cluster\nmetadata: {name: c}\nspec: {}\n")
    assert cli("validate", str(tmp_path)).exit_code == 0
    write(tmp_path, "bad.yaml", HEAD + "kind: Cluster\nmetadata: {name: d}\nspec: {bogus: 1}\n")
    result = cli("validate", str(tmp_path))
    assert result.exit_code == 1
    assert "bad.yaml:4: Cluster/d: spec.bogus: unknown field" in result.output
