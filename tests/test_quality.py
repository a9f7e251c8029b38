"""The code stays ruff- and mypy-clean, and the pure core cannot reach AWS."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import REPO

PURE = ["reconciler.core.manifest", "reconciler.core.normalize", "reconciler.core.ignore",
        "reconciler.core.diff", "reconciler.core.mask", "reconciler.core.config",
        "reconciler.core.model"]


@pytest.mark.parametrize("module", PURE)
def test_pure_core_does_not_import_boto3(module: str) -> None:
    """Importing a pure core module does not import boto3."""
    code = f"import sys, {module}; sys.exit('boto3' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0


def test_ruff() -> None:
    """ruff finds nothing in reconciler, tests and bench."""
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "reconciler", "tests", "bench"],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy() -> None:
    """mypy --strict finds nothing in reconciler, bench and tests."""
    proc = subprocess.run([sys.executable, "-m", "mypy"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
