"""The benchmark runs end to end on a small fleet (its goals are measured by the bench at
N = 1,000 and printed, never asserted here)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench.fleet import write_fleet
from bench.run import lower_bound
from tests.conftest import REPO


def test_fleet_shares(tmp_path: object) -> None:
    from pathlib import Path

    counts = write_fleet(Path(str(tmp_path)) / "f", 1000)
    assert counts == {"services": 1000, "taskDefinitions": 1000, "scheduledTasks": 300,
                      "scalableTargets": 500, "clusters": 1, "resources": 2801}
    seconds, calls = lower_bound(counts, 0.05, 16)
    assert calls > 2000 and seconds == pytest.approx(calls / 16 * 0.05)


@pytest.mark.bench
def test_bench_runs_on_a_small_fleet() -> None:
    proc = subprocess.run([sys.executable, "-m", "bench.run", "--sizes", "4", "--latency", "0.001",
                           "--throttle", "0.2"], capture_output=True, text=True, cwd=REPO,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    for scenario in ("cold diff", "steady resync", "naive baseline", "cold diff, 20% throttled"):
        assert f"4 {scenario}" in " ".join(out.split()), scenario
    assert "result identical" in out
    assert "0 writes (goal 0)" in out
