"""The README shows, verbatim, what `reconciler diff` prints: a one-env-var change and a
created task definition on the example manifests. Regenerated here and compared, so the
README cannot drift from the tool (set RECONCILER_UPDATE_README=1 to rewrite the blocks)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from reconciler.embedded import EmbeddedAws
from tests.conftest import REPO, cli, seed_for
from tests.support_hooks import fast_clock

README = REPO / "README.md"
BLOCK = re.compile(r"(<!-- readme-diff: (?P<name>[\w-]+) -->\n```\n)(?P<body>.*?)(\n```)", re.S)


def blocks() -> dict[str, str]:
    return {m["name"]: m["body"] for m in BLOCK.finditer(README.read_text())}


def estate(tmp_path: Path, aws: EmbeddedAws) -> Path:
    shutil.copytree(REPO / "charts", tmp_path / "charts")
    shutil.copytree(REPO / "manifests", tmp_path / "manifests")
    root = tmp_path / "manifests"
    seed_for(aws, root)
    return root


def test_the_readme_diffs_are_what_diff_prints(tmp_path: Path, aws: EmbeddedAws) -> None:
    root = estate(tmp_path, aws)
    printed: dict[str, str] = {}
    created = cli("diff", str(root), "--no-color", "--target", "TaskDefinition/accounting-api")
    assert created.exit_code == 2, created.output
    printed["create"] = created.stdout.rstrip("\n")

    with fast_clock():  # the API's migration (a PreSync hook) runs first
        assert cli("apply", str(root)).exit_code == 0
    prd = root / "environments" / "prd.yaml"
    text = prd.read_text()
    anchor = "    desiredCount: 2\n    subnets: [subnet-0a1b2c3d4e5f60001"
    assert anchor in text
    prd.write_text(text.replace(
        anchor, "    desiredCount: 2\n    environment: {LOG_LEVEL: debug}\n"
                "    subnets: [subnet-0a1b2c3d4e5f60001", 1))
    changed = cli("diff", str(root), "--no-color")
    assert changed.exit_code == 2, changed.output
    printed["env-var"] = changed.stdout.rstrip("\n")

    assert "~ containerDefinitions[app].environment[LOG_LEVEL]: \"info\" → \"debug\"" in (
        printed["env-var"])
    assert "Plan: 1 to create, 0 to update, 0 to replace, 0 to delete." in printed["create"]
    if os.environ.get("RECONCILER_UPDATE_README"):
        README.write_text(BLOCK.sub(lambda m: m[1] + printed[m["name"]] + m[4],
                                    README.read_text()))
    assert blocks() == printed
