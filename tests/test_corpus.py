"""Every public definition in shared/corpus: apply it through the reconciler to moto, then
`diff` must exit 0. This is the no-false-drift check on real-world input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.embedded import EmbeddedAws
from tests.conftest import REPO, cli, cli_json, seed_for, write

CORPUS = REPO.parent / "shared" / "corpus"
if not CORPUS.is_dir():  # CI clones the project with shared/ beside it
    CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"

FILES = sorted(CORPUS.glob("*.json")) if CORPUS.is_dir() else []


def _is_task_definition(data: Any) -> bool:
    return isinstance(data, dict) and ("containerDefinitions" in data or "taskDefinition" in data)


TASK_DEFS = [f for f in FILES if _is_task_definition(json.loads(f.read_text()))]
SERVICES = [f for f in FILES if f not in TASK_DEFS]

pytestmark = pytest.mark.skipif(not FILES, reason="shared/corpus is not beside the project")


def _family(path: Path) -> str:
    data = json.loads(path.read_text())
    data = data.get("taskDefinition", data)
    return str(data.get("family") or path.stem.split("__")[-1].replace("_", "-"))


@pytest.mark.parametrize("path", TASK_DEFS, ids=[f.stem for f in TASK_DEFS])
def test_task_definition_round_trip(tmp_path: Path, aws: EmbeddedAws, path: Path) -> None:
    """A public task definition applied through the reconciler then diffs empty."""
    root = tmp_path / "m"
    (root).mkdir()
    (root / path.name).write_text(path.read_text())
    family = _family(path)
    write(root, "td.yaml", yaml.safe_dump({
        "apiVersion": "reconciler/v1", "kind": "TaskDefinition",
        "metadata": {"name": family}, "specFile": path.name}))
    assert cli("validate", str(root)).exit_code == 0, cli("validate", str(root)).output
    applied = cli("apply", str(root))
    assert applied.exit_code == 0, applied.output
    code, out = cli_json("diff", str(root))
    assert code == 0, json.dumps(out, indent=1)


NGINX_TD = {"containerDefinitions": [{"name": "test", "image": "nginx",
                                      "portMappings": [{"containerPort": 9999}],
                                      "memory": 128}],
            "networkMode": "awsvpc", "requiresCompatibilities": ["EC2", "FARGATE"],
            "cpu": "256", "memory": "512"}


def _replace_templates(value: Any, subnets: list[str], groups: list[str]) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if k == "subnets":
                out[k] = subnets
            elif k == "securityGroups":
                out[k] = groups
            else:
                out[k] = _replace_templates(v, subnets, groups)
        return out
    if isinstance(value, list):
        return [_replace_templates(v, subnets, groups) for v in value]
    return value


@pytest.mark.parametrize("path", SERVICES, ids=[f.stem for f in SERVICES])
def test_service_round_trip(tmp_path: Path, aws: EmbeddedAws, path: Path) -> None:
    """A public service definition applied through the reconciler then diffs empty."""
    root = tmp_path / "m"
    spec = _replace_templates(json.loads(path.read_text()),
                              ["subnet-00000000000000001", "subnet-00000000000000002"],
                              ["sg-00000000000000001"])
    spec["taskDefinition"] = "corpus-app"
    docs = [
        {"apiVersion": "reconciler/v1", "kind": "Cluster", "metadata": {"name": "corpus"},
         "spec": {}},
        {"apiVersion": "reconciler/v1", "kind": "TaskDefinition",
         "metadata": {"name": "corpus-app"}, "spec": NGINX_TD},
        {"apiVersion": "reconciler/v1", "kind": "Service",
         "metadata": {"name": "svc", "cluster": "corpus"}, "spec": spec},
    ]
    write(root, "all.yaml", yaml.safe_dump_all(docs))
    seed_for(aws, root)
    assert cli("validate", str(root)).exit_code == 0, cli("validate", str(root)).output
    applied = cli("apply", str(root))
    assert applied.exit_code == 0, applied.output
    code, out = cli_json("diff", str(root))
    assert code == 0, json.dumps(out, indent=1)


def test_corpus_is_all_covered() -> None:
    """Every corpus file is a task definition or a service, and all 15 are run."""
    assert len(TASK_DEFS) + len(SERVICES) == len(FILES) == 15
