"""The editor schema: generated from botocore, committed beside the examples, and every
example manifest (charts' releases included) validates against it."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from reconciler.core.editor_schema import manifest_schema
from reconciler.core.load import manifest_files
from reconciler.kinds import REGISTRY
from tests.conftest import EXAMPLES, MANIFESTS, cli

COMMITTED = MANIFESTS / "reconciler.schema.json"


def test_committed_schema_is_current() -> None:
    """Regenerate with: reconciler schema --out manifests/reconciler.schema.json"""
    assert json.loads(COMMITTED.read_text()) == json.loads(json.dumps(manifest_schema(REGISTRY)))


def test_cli_prints_the_schema() -> None:
    result = cli("schema")
    assert json.loads(result.output)["title"] == "ecs-reconciler manifest"


@pytest.mark.parametrize("root", [MANIFESTS, EXAMPLES], ids=["manifests", "plain-examples"])
def test_every_example_document_validates(root: object) -> None:
    validator = jsonschema.Draft7Validator(manifest_schema(REGISTRY))
    for path in manifest_files(root):  # type: ignore[arg-type]
        for doc in yaml.safe_load_all(path.read_text()):
            errors = [e.message for e in validator.iter_errors(doc)]
            assert errors == [], (path, errors)


def test_schema_catches_what_validate_catches() -> None:
    validator = jsonschema.Draft7Validator(manifest_schema(REGISTRY))
    doc = {"apiVersion": "reconciler/v1", "kind": "Service",
           "metadata": {"name": "x", "cluster": "c"},
           "spec": {"launchType": "FARGATEE", "enableExecCommand": True}}
    assert not validator.is_valid(doc)
    doc["spec"] = {"launchType": "FARGATE", "enableExecuteCommand": True}
    assert validator.is_valid(doc)
