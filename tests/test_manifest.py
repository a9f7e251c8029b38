"""Reading manifests: multi-document YAML, line numbers, specFile."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.manifest import load_path
from tests.conftest import write

TD = """apiVersion: reconciler/v1
kind: TaskDefinition
metadata:
  name: web
spec:
  containerDefinitions:
    - name: app
      image: nginx
"""


def test_multi_document_and_lines(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", TD + "---\n" + TD.replace("name: web", "name: api"))
    write(tmp_path, "sub/b.yml", TD.replace("name: web", "name: other"))
    result = load_path(tmp_path)
    assert not result.errors
    assert [m.name for m in result.manifests] == ["web", "api", "other"]
    api = result.manifests[1]
    assert api.file == "a.yaml" and api.line == 10
    assert api.line_of(("spec", "containerDefinitions", 0, "image")) == 17


def test_bad_yaml_names_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, "bad.yaml", "apiVersion: reconciler/v1\nkind: Service\nmetadata: {name: [\n")
    result = load_path(tmp_path)
    [err] = result.errors
    assert err.file == "bad.yaml" and err.line >= 3 and "invalid YAML" in err.message


def test_spec_file_in_describe_form(tmp_path: Path) -> None:
    described = {"taskDefinition": {
        "taskDefinitionArn": "arn:aws:ecs:r:1:task-definition/web:3", "family": "web",
        "revision": 3, "status": "ACTIVE", "compatibilities": ["EC2"],
        "requiresAttributes": [], "registeredAt": "2026-01-01T00:00:00Z",
        "containerDefinitions": [{"name": "app", "image": "nginx"}]}}
    write(tmp_path, "web.json", json.dumps(described))
    write(tmp_path, "web.yaml", "apiVersion: reconciler/v1\nkind: TaskDefinition\n"
          "metadata: {name: web}\nspecFile: web.json\n")
    [m] = load_path(tmp_path).manifests
    assert m.spec == {"containerDefinitions": [{"name": "app", "image": "nginx"}]}


def test_spec_file_family_must_match(tmp_path: Path) -> None:
    write(tmp_path, "web.json", json.dumps({"family": "other", "containerDefinitions": []}))
    write(tmp_path, "web.yaml", "apiVersion: reconciler/v1\nkind: TaskDefinition\n"
          "metadata: {name: web}\nspecFile: web.json\n")
    [err] = load_path(tmp_path).errors
    assert "family 'other'" in err.message and err.line == 4


def test_spec_file_missing(tmp_path: Path) -> None:
    write(tmp_path, "web.yaml", "apiVersion: reconciler/v1\nkind: TaskDefinition\n"
          "metadata: {name: web}\nspecFile: nope.json\n")
    [err] = load_path(tmp_path).errors
    assert err.file == "web.yaml" and "not found" in err.message
