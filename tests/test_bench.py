"""The benchmark runs end to end on a small fleet (its goals are measured by the bench at
N = 1,000 and printed, never asserted here)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.fleet import write_fleet
from bench.proxy import AwsQuotas
from bench.run import lower_bound, quota_floor
from tests.conftest import REPO


def test_fleet_shares(tmp_path: object) -> None:
    from pathlib import Path

    counts = write_fleet(Path(str(tmp_path)) / "f", 1000)
    assert counts == {"services": 1000, "taskDefinitions": 1000, "scheduledTasks": 300,
                      "scalableTargets": 500, "clusters": 1, "resources": 2801}
    seconds, calls = lower_bound(counts, 0.05, 16)
    assert calls == 2236 and seconds == pytest.approx(calls / 16 * 0.05)
    # 1,000 task definition revisions through a 50-token bucket refilled at 20 a second
    assert quota_floor(counts) == (pytest.approx(47.5), "ecs task definition read")


def test_the_proxy_refuses_what_exceeds_a_documented_bucket_as_aws_does() -> None:
    now = [0.0]
    quotas = AwsQuotas(clock=lambda: now[0])
    target = "AmazonEC2ContainerServiceV20141113.DescribeTaskDefinition"
    assert [quotas.admit(target) for _ in range(51)] == [True] * 50 + [False]
    assert quotas.admit("AmazonEC2ContainerServiceV20141113.DescribeServices")
    assert quotas.admit("AnyScaleFrontendService.ListTagsForResource")  # no documented quota
    now[0] = 0.1  # two tokens back at 20 a second
    assert [quotas.admit(target) for _ in range(3)] == [True, True, False]


@pytest.mark.bench
def test_bench_runs_on_a_small_fleet() -> None:
    proc = subprocess.run([sys.executable, "-m", "bench.run", "--sizes", "4", "--latency", "0.001",
                           "--throttle", "0.2"], capture_output=True, text=True, cwd=REPO,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    for scenario in ("cold diff", "cold diff, quotas off", "steady resync", "naive baseline",
                     "cold diff, 20% throttled"):
        assert f"4 {scenario} " in " ".join(out.split()), scenario
    assert "result identical" in out
    assert "0 writes (goal 0)" in out
    assert "0 throttled answers (goal: none)" in out
    assert "documented-quota floor" in out
