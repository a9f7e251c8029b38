"""The benchmark runs end to end on a small fleet (its goals are measured by the bench at
N = 1,000 and printed, never asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import goals
from bench.fleet import write_fleet
from bench.proxy import AwsQuotas
from bench.run import Row, lower_bound, quota_floor
from tests.conftest import REPO


def test_fleet_shares(tmp_path: Path) -> None:
    """The fleet generator's shares, the latency bound and the quota floor at N=1,000."""
    counts = write_fleet(Path(str(tmp_path)) / "f", 1000)
    assert counts == {"services": 1000, "taskDefinitions": 1000, "scheduledTasks": 300,
                      "scalableTargets": 500, "clusters": 1, "resources": 2801}
    seconds, calls = lower_bound(counts, 0.05, 16)
    assert calls == 2236 and seconds == pytest.approx(calls / 16 * 0.05)
    # 1,000 task definition revisions through a 50-token bucket refilled at 20 a second
    floor, bucket = quota_floor(counts)
    assert floor == pytest.approx(47.5) and bucket == "ecs task definition read"


def test_the_proxy_refuses_what_exceeds_a_documented_bucket_as_aws_does() -> None:
    """The bench proxy refuses a call past a documented bucket, as AWS does, and refills it."""
    now = [0.0]
    quotas = AwsQuotas(clock=lambda: now[0])
    target = "AmazonEC2ContainerServiceV20141113.DescribeTaskDefinition"
    assert [quotas.admit(target) for _ in range(51)] == [True] * 50 + [False]
    assert quotas.admit("AmazonEC2ContainerServiceV20141113.DescribeServices")
    assert quotas.admit("AnyScaleFrontendService.ListTagsForResource")  # no documented quota
    now[0] = 0.1  # two tokens back at 20 a second
    assert [quotas.admit(target) for _ in range(3)] == [True, True, False]


def _row(scenario: str, seconds: float, *, calls: int = 100, bound: float = 0.0,
         throttled: int = 0, writes: int = 0, changes: int = 0, rss: float = 100.0) -> Row:
    return Row(1000, scenario, seconds, {"ecs:describe_services": calls}, calls, throttled,
               2801, rss, writes, changes, bound, {"runs": [seconds]})


def test_goal_verdicts_at_the_goal_size() -> None:
    """At N=1,000 and 50 ms each goal is judged, and one no client can reach only informs."""
    rows = [_row("cold diff, quotas off", 8.8, calls=2236, bound=7.0),
            _row("naive baseline", 192.0, calls=3601),
            _row("cold diff", 51.3, calls=2236, bound=47.5),
            _row("steady resync", 7.3, calls=1245),
            _row("cold diff, 20% throttled", 72.0, calls=2236, throttled=565)]
    found = goals.verdicts(rows, 0.05, {1000: 47.5})
    by = {v.goal: v for v in found}
    free = by["cold diff without quotas, x the latency bound"]
    assert free.applies and not free.met and free.measured == pytest.approx(8.8 / 7.0, abs=1e-3)
    assert by["cold diff without quotas, x faster than naive"].met
    assert by["cold diff under the documented quotas, x max(latency bound, quota floor)"].met
    quota_speedup = by["cold diff under the documented quotas, x faster than naive"]
    # 192 s naive against a 47.5 s floor: 4.0x at best for any client, so shown, not judged
    assert not quota_speedup.met and not quota_speedup.applies
    assert "no client can do better than 4.0x" in quota_speedup.detail
    assert by["steady resync, API calls per managed resource"].met
    assert by["steady resync, write calls"].met and by["controller peak RSS, MB"].met
    assert by["20% throttled: throttled answers absorbed"].met
    assert goals.missed(found) == [free]
    assert "NOT MET" in free.line() and "for information" in quota_speedup.line()


def test_goal_verdicts_fail_on_writes_a_different_plan_and_other_sizes_only_inform() -> None:
    """Writes, too many calls, RSS or a changed plan miss their goals; other latencies only inform."""
    rows = [_row("cold diff", 10.0, bound=9.0, changes=0, throttled=3),
            _row("steady resync", 1.0, calls=1500, writes=2, rss=250.0),
            _row("cold diff, 20% throttled", 12.0, changes=4)]
    found = goals.verdicts(rows, 0.05, {})
    assert {v.goal for v in goals.missed(found)} == {
        "cold diff under the documented quotas, x max(latency bound, quota floor)",
        "steady resync, API calls per managed resource", "steady resync, write calls",
        "controller peak RSS, MB", "20% throttled: throttled answers absorbed"}
    assert not goals.missed(goals.verdicts(rows, 0.01, {}))  # goals are set at 50 ms


@pytest.mark.bench
def test_bench_runs_on_a_small_fleet(tmp_path: Path) -> None:
    """`python -m bench.run` end to end at N=4: every scenario runs, the goals are judged and
    printed, and the JSON report agrees (one run per scenario: the median of several is the
    bench's business, not this test's)."""
    report = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "bench.run", "--sizes", "4", "--latency", "0.001",
                           "--throttle", "0.2", "--repeat", "1", "--json", str(report), "--check"],
                          capture_output=True, text=True, cwd=REPO, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]  # --check: no goal is set at N=4
    out = proc.stdout
    for scenario in ("cold diff", "cold diff, quotas off", "boto3 client floor", "steady resync",
                     "naive baseline", "cold diff, 20% throttled"):
        assert f"4 {scenario} " in " ".join(out.split()), scenario
    assert "N=4: 20% throttled: throttled answers absorbed" in out
    assert "N=4: steady resync, write calls: 0 (goal = 0) - for information" in out
    assert "documented-quota floor" in out
    assert "x the boto3 client floor" in out
    data = json.loads(report.read_text())
    rows = {r["scenario"]: r for r in data["rows"]}
    cold = rows["cold diff, quotas off"]
    assert rows["boto3 client floor"]["calls"] == cold["calls"]  # the same calls, made again
    assert {r["scenario"] for r in data["rows"]} >= {"cold diff", "steady resync"}
    by = {v["goal"]: v for v in data["goals"]}
    assert by["steady resync, write calls"]["met"] and not by["steady resync, write calls"][
        "applies"]
    assert by["20% throttled: throttled answers absorbed"]["met"]


def test_the_proxy_replays_an_answer_only_to_the_region_it_came_from() -> None:
    """The proxy keys replayed answers by the Region in the request's signature."""
    from bench.proxy import _region

    head = (b"POST / HTTP/1.1\r\nX-Amz-Target: AmazonEC2ContainerServiceV20141113.ListClusters\r\n"
            b"Authorization: AWS4-HMAC-SHA256 Credential=AKID/20261122/eu-west-3/ecs/aws4_request, "
            b"SignedHeaders=host, Signature=abc\r\n\r\n")
    assert _region(head) == "eu-west-3"
    assert _region(b"POST / HTTP/1.1\r\n\r\n") == ""
