"""The benchmark runs end to end on a small fleet (its goals are measured by the bench at
N = 1,000 and printed, never asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
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
    # the reconciler's own estate: the inventory's pages, no task definition described
    seconds, calls = lower_bound(counts, 0.05, 16)
    assert calls == 476 and seconds == pytest.approx(calls / 16 * 0.05)
    # 300 ListTargetsByRule through EventBridge's 50-token bucket refilled at 50 a second
    floor, bucket = quota_floor(counts)
    assert floor == pytest.approx(5.0) and bucket == "events list_targets_by_rule"
    # first contact (nothing tagged): 1,000 revisions through a 50-token bucket at 20 a second
    seconds, calls = lower_bound(counts, 0.05, 16, "untagged")
    assert calls == 2242 and seconds == pytest.approx(calls / 16 * 0.05)
    floor, bucket = quota_floor(counts, "untagged")
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
    tagging = "ResourceGroupsTaggingAPI_20170126.GetResources"  # 15 a second
    assert [quotas.admit(tagging) for _ in range(16)] == [True] * 15 + [False]


def _row(scenario: str, seconds: float, *, calls: int = 100, bound: float = 0.0,
         throttled: int = 0, writes: int = 0, changes: int = 0, rss: float = 100.0) -> Row:
    return Row(1000, scenario, seconds, {"ecs:describe_services": calls}, calls, throttled,
               2801, rss, writes, changes, bound, {"runs": [seconds]})


def test_goal_verdicts_at_the_goal_size() -> None:
    """At N=1,000 and 50 ms each goal is judged, and one no client can reach only informs."""
    rows = [_row("cold diff", 7.5, calls=476, bound=5.0),
            _row("warm diff", 8.0, calls=476, bound=5.0),
            _row("steady resync", 7.2, calls=475),
            _row("cold diff, quotas off", 4.5, calls=476, bound=1.49),
            _row("naive baseline", 201.0, calls=3601),
            _row("cold diff, 20% throttled", 10.9, calls=476, throttled=125),
            _row("first contact", 53.8, calls=2243, bound=47.5)]
    found = goals.verdicts(rows, 0.05, {1000: 5.0})
    by = {v.goal: v for v in found}
    naive = by["cold diff under the documented quotas, x faster than naive"]
    assert naive.applies and naive.met and naive.measured == pytest.approx(201.0 / 7.5, abs=1e-3)
    for row in ("warm diff", "steady resync"):
        assert by[f"{row}, API calls per managed resource"].met
        assert by[f"{row}, write calls"].met
    assert by["first contact, x its documented-quota floor"].met
    free = by["cold diff without quotas, x the latency bound"]
    assert free.applies and not free.met and free.measured == pytest.approx(4.5 / 1.49, abs=1e-3)
    assert by["controller peak RSS, MB"].met
    assert by["20% throttled: throttled answers absorbed"].met
    assert goals.missed(found) == [free]
    assert "NOT MET" in free.line()
    # where the quotas alone make 25x unreachable for any client, it is shown, not judged
    slow = goals.verdicts(rows, 0.05, {1000: 47.5})
    unreachable = {v.goal: v for v in slow}[naive.goal]
    assert not unreachable.applies and "no client can do better than 4.2x" in unreachable.line()


def test_goal_verdicts_fail_on_writes_throttling_a_different_plan_and_a_differing_diff() -> None:
    """Writes, throttling, too many calls, RSS, a changed plan or a diff that differs from
    --verify miss their goals; other latencies judge only the last."""
    @dataclass
    class Agreed:
        label: str
        equal: bool
        compared: int = 4

    rows = [_row("cold diff", 5.0, bound=5.0, changes=0, throttled=3),
            _row("naive baseline", 200.0, calls=3601),
            _row("steady resync", 1.0, calls=1500, writes=2, rss=250.0),
            _row("first contact", 60.0, calls=2243, bound=47.5),
            _row("cold diff, 20% throttled", 12.0, changes=4)]
    agreements = [Agreed("N=1000, as created", True), Agreed("N=1000, edited", False),
                  Agreed("manifests/, edited", True)]
    found = goals.verdicts(rows, 0.05, {1000: 5.0}, agreements)
    assert {v.goal for v in goals.missed(found)} == {
        "cold diff under the documented quotas, x faster than naive",  # 3 throttled answers
        "steady resync, API calls per managed resource", "steady resync, write calls",
        "first contact, x its documented-quota floor", "controller peak RSS, MB",
        "20% throttled: throttled answers absorbed", goals.AGREE}
    # performance goals are set at 50 ms; whether diff = diff --verify is judged everywhere
    assert [v.goal for v in goals.missed(goals.verdicts(rows, 0.01, {}, agreements))] == [
        goals.AGREE]


@pytest.mark.bench
def test_bench_runs_on_a_small_fleet(tmp_path: Path) -> None:
    """`python -m bench.run` end to end at N=4: every scenario runs, the goals are judged and
    printed, and the JSON report agrees (one run per scenario: the median of several is the
    bench's business, not this test's)."""
    report = tmp_path / "bench.json"
    proc = subprocess.run([sys.executable, "-m", "bench.run", "--sizes", "4", "--latency", "0.001",
                           "--throttle", "0.2", "--json", str(report), "--check",
                           "--no-examples", "--repeat", "1"],  # test_read_path: manifests/
                          capture_output=True, text=True, cwd=REPO, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]  # --check: no goal is set at N=4
    out = proc.stdout
    for scenario in ("cold diff", "warm diff", "cold diff, quotas off", "boto3 client floor",
                     "steady resync", "naive baseline", "cold diff, 20% throttled",
                     "first contact"):
        assert f"4 {scenario} " in " ".join(out.split()), scenario
    assert "N=4: 20% throttled: throttled answers absorbed" in out
    assert "N=4: steady resync, write calls: 0 (goal = 0) - for information" in out
    assert "documented-quota floor" in out
    assert "x the boto3 client floor" in out
    assert ("N=4: diff output = diff --verify's, byte for byte: estates where they differ: 0 "
            "(goal = 0) - met; 3 estates, 12 outputs compared") in out
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
