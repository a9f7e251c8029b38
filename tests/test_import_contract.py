"""The layers hold: `lint-imports` (import-linter, contracts in pyproject.toml) passes, and
the moment a core or kind module imports boto3 (or an edge), it fails — checked on a copy of
the package, so the test proves the contract bites rather than trusting it does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LINT = str(Path(sys.executable).parent / "lint-imports")


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([LINT, "--no-cache"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def test_the_import_contract_is_kept() -> None:
    proc = lint(REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "4 kept, 0 broken" in proc.stdout


@pytest.mark.parametrize(("module", "line", "contract"), [
    ("reconciler/core/diff.py", "import boto3", "core and kinds never reach AWS"),
    ("reconciler/kinds/cluster.py", "import reconciler.aws", "core and kinds never reach AWS"),
    ("reconciler/core/plan.py", "import reconciler.kinds", "the core does not know the kinds"),
])
def test_a_forbidden_import_breaks_it(tmp_path: Path, module: str, line: str,
                                      contract: str) -> None:
    shutil.copytree(REPO / "reconciler", tmp_path / "reconciler",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text() + f"\n{line}  # noqa\n")
    proc = lint(tmp_path)
    assert proc.returncode != 0, proc.stdout
    assert f"{contract}" in proc.stdout and "BROKEN" in proc.stdout
