"""The git revision of a manifests path, when it lies in a git work tree (for ownership tags)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def revision_of(path: Path) -> str | None:
    """HEAD's SHA of the repository holding `path`, or None outside git or with git missing."""
    where = path if path.is_dir() else path.parent
    try:
        out = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=10, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and len(sha) == 40 else None
