"""Shared fixtures: one real moto server on 127.0.0.1 for the session (reset between tests),
real git repositories, and helpers to run the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result

from reconciler.cli import main
from reconciler.embedded import EmbeddedAws, network_ids, seed_network

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "manifests"
REGION = "eu-west-1"


@pytest.fixture(scope="session")
def moto_server() -> Iterator[EmbeddedAws]:
    """The embedded default's moto server, started once; tests reach it via AWS_ENDPOINT_URL."""
    server = EmbeddedAws().start()
    saved = dict(os.environ)
    os.environ.update(server.environment())
    os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = REGION
    os.environ.pop("AWS_PROFILE", None)
    os.environ["NO_COLOR"] = "1"
    try:
        yield server
    finally:
        os.environ.clear()
        os.environ.update(saved)
        server.stop()


@pytest.fixture
def aws(moto_server: EmbeddedAws) -> EmbeddedAws:
    """A clean moto server for this test."""
    moto_server.reset()
    return moto_server


@pytest.fixture
def ecs(aws: EmbeddedAws) -> Any:
    return boto3.client("ecs", region_name=REGION)


def seed_for(server: EmbeddedAws, root: Path) -> None:
    """Create the subnets and security groups a manifests tree names (they exist on AWS)."""
    from reconciler.manifest import load_path

    specs = [m.spec for m in load_path(root).manifests]
    subnets, groups = network_ids(specs)
    seed_network(server.url, REGION, subnets, groups)


@pytest.fixture
def examples(tmp_path: Path, aws: EmbeddedAws) -> Path:
    """A copy of the example manifests, with their network seeded in moto."""
    root = tmp_path / "manifests"
    shutil.copytree(EXAMPLES, root)
    seed_for(aws, root)
    return root


def cli(*args: str) -> Result:
    """Run the reconciler CLI in-process, as a user would type it."""
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def cli_json(*args: str) -> tuple[int, Any]:
    result = cli(*args, "--output", "json")
    return result.exit_code, json.loads(result.output) if result.output.strip() else None


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def git(cwd: Path, *args: str) -> str:
    out = subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
        env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
             "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"},
    )
    return out.stdout.strip()


@pytest.fixture
def git_remote(tmp_path: Path) -> tuple[Path, Path]:
    """A bare repository as the remote and a clone to commit and push from."""
    remote = tmp_path / "remote.git"
    work = tmp_path / "work"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    git(tmp_path, "clone", "-q", str(remote), str(work))
    git(work, "checkout", "-q", "-b", "main")
    return remote, work
