"""The AWS adapter against moto: what every request carries, and which Region it goes to."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reconciler import __version__
from reconciler.aws.client import Aws
from reconciler.embedded import EmbeddedAws


async def test_requests_name_the_reconciler_in_the_user_agent(aws: Any) -> None:
    client = Aws()
    seen: list[str] = []
    client.client("ecs").meta.events.register(
        "before-send.ecs.ListClusters",
        lambda request, **_: seen.append(request.headers["User-Agent"].decode()
                                         if isinstance(request.headers["User-Agent"], bytes)
                                         else request.headers["User-Agent"]))
    await client.call("ecs", "list_clusters")
    assert seen and seen[0].startswith(f"ecs-reconciler/{__version__} Boto3/")


async def test_aws_region_alone_is_the_region(aws: Any, monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    """Set by ECS in every task and read by the other SDKs, but not by botocore."""
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    client = Aws()
    assert client.region == "eu-west-3"
    made = await client.call("ecs", "create_cluster", clusterName="where")
    assert ":eu-west-3:" in made["cluster"]["clusterArn"]


def test_no_region_is_an_error_not_us_east_1(
    examples: Path, aws: EmbeddedAws, tmp_path: Path
) -> None:
    env = {k: v for k, v in {**os.environ, **aws.environment()}.items()
           if k not in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE")}
    env["AWS_CONFIG_FILE"] = str(tmp_path / "none")
    proc = subprocess.run([sys.executable, "-m", "reconciler", "diff", str(examples)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 1
    assert "no AWS Region configured: set AWS_REGION" in proc.stderr
    assert proc.stdout == ""
