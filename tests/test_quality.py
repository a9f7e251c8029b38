"""The code stays ruff- and mypy-clean, and the offline commands stay light."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def test_validate_loads_neither_boto3_nor_deepdiff() -> None:
    """`reconciler validate` is offline and quick to start: it never imports the AWS SDK or
    the differ (the layers themselves are the import contract's, tests/test_import_contract.py)."""
    code = ("import sys\nfrom reconciler.cli import main\n"
            "try:\n    main(['validate', 'manifests'])\nexcept SystemExit as e:\n    code = e.code\n"
            "loaded = [m for m in ('boto3', 'deepdiff') if m in sys.modules]\n"
            "print(code, loaded)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, check=False)
    assert proc.stdout.strip().splitlines()[-1] == "0 []", proc.stdout + proc.stderr


def test_ruff() -> None:
    """ruff finds nothing in reconciler, tests and bench."""
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "reconciler", "tests", "bench"],
                          cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy() -> None:
    """mypy --strict finds nothing in reconciler, bench and tests."""
    proc = subprocess.run([sys.executable, "-m", "mypy"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
