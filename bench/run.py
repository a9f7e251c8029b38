"""The benchmark: `python -m bench.run [--sizes 10,100,1000] [--latency 0.05]`.

For each N: a fresh moto server (own process), the fleet applied to it, then through a proxy
adding `latency` per request, under two models of AWS: with its documented API quotas
enforced (the proxy refuses what exceeds a bucket, as AWS does; the reconciler paces itself,
its default) and without any (the issue's model: latency and calls in flight only). Rows: a
cold `reconciler diff` (new process) under each, a steady-state controller resync pass (warm
cache, nothing changed), the naive baseline (one describe per resource, sequential, no
cache), and a cold diff with 20% of calls answered ThrottlingException. One table, plus
per-operation call counts; each goal's verdict printed (bench/goals.py), never
asserted by the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import fleet, goals
from bench.fleet import GROUPS, SUBNETS, write_fleet
from bench.proxy import AwsQuotas, Proxy
from bench.scenario import CALL_LOG
from reconciler.aws.client import DEFAULT_MAX_IN_FLIGHT
from reconciler.aws.quotas import DOCUMENTED, Pacer, Quota

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Row:
    n: int
    scenario: str
    seconds: float
    calls: dict[str, int]
    http_requests: int
    throttled: int
    resources: int
    rss_mb: float
    writes: int
    changes: int
    bound: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())


def unavoidable(counts: dict[str, int]) -> Counter[str]:
    """The calls a cold read of the estate cannot do without, by operation."""
    n, r, s = counts["services"], counts["scheduledTasks"], counts["scalableTargets"]
    return Counter({
        "sts:get_caller_identity": 1,                   # the account, for cluster ARNs
        "ecs:describe_clusters": 1,
        "ecs:describe_services": math.ceil(n / 10),     # 10 names a call
        "ecs:describe_task_definition": n,              # each family's newest revision
        "events:list_rules": math.ceil(r / 100),        # 100 a page
        "events:list_targets_by_rule": r,               # per rule: no batched API
        "events:list_tags_for_resource": r,
        "application-autoscaling:describe_scalable_targets": math.ceil(n / 50),  # 50 ids
        "application-autoscaling:describe_scaling_policies": max(1, math.ceil(s / 50)),
        "application-autoscaling:describe_scheduled_actions": 1,
        "application-autoscaling:list_tags_for_resource": s,  # per target
    })


def lower_bound(counts: dict[str, int], latency: float, in_flight: int) -> tuple[float, int]:
    """The unavoidable calls and the time they take at best with `in_flight` at a time:
    max(calls / in flight, dependency depth) x latency."""
    calls = sum(unavoidable(counts).values())
    depth = 3  # list/describe -> per-item describe -> autoscaling wave
    return max(calls / in_flight, depth) * latency, calls


def quota_floor(counts: dict[str, int]) -> tuple[float, str]:
    """The time AWS's documented quotas alone impose on the unavoidable calls: per bucket,
    the calls beyond its burst at its sustained rate (buckets drain side by side). Returns
    the slowest bucket's time and name."""
    lookup = Pacer(DOCUMENTED)
    per_bucket: Counter[tuple[str, str]] = Counter()
    quotas: dict[tuple[str, str], Quota] = {}
    for op, calls in unavoidable(counts).items():
        service, name = op.split(":")
        q = lookup.quota(service, name)
        if q is not None:
            key = (service, name if q.per_operation else q.name)
            per_bucket[key] += calls
            quotas[key] = q
    times = {k: max(0.0, c - quotas[k].burst) / quotas[k].rate for k, c in per_bucket.items()}
    slowest = max(times, key=lambda k: times[k])
    return times[slowest], f"{slowest[0]} {slowest[1]}"


class ProxyThread:
    def __init__(self, upstream: int, latency: float) -> None:
        self.proxy = Proxy(upstream, latency)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self.proxy.start(), self.loop).result(10)

    def reset(self, throttle: float = 0.0, replay: bool = True, quotas: bool = False,
              latency: float | None = None) -> None:
        self.proxy.requests.clear()
        self.proxy.throttled.clear()
        self.proxy.throttle_share = throttle
        self.proxy.replay = replay
        self.proxy.quotas = AwsQuotas() if quotas else None
        if latency is not None:
            self.proxy.latency = latency

    def stop(self) -> None:
        async def shutdown() -> None:  # connections still open (a client's pool) end too
            await self.proxy.stop()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


def _env(endpoint: str, quotas: str = "off") -> dict[str, str]:
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "eu-west-1",
           "AWS_DEFAULT_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "bench",
           "AWS_SECRET_ACCESS_KEY": "bench", "PYTHONPATH": str(REPO),
           "RECONCILER_API_QUOTAS": quotas}
    env.pop("AWS_PROFILE", None)
    return env


def scenario(name: str, root: Path, endpoint: str, on_warm: Any = None,
             quotas: str = "off", call_log: Path | None = None) -> dict[str, Any]:
    """Run one scenario process; `on_warm` runs when a warm-up pass is done (the steady
    scenario waits for it before its measured pass). `call_log`: where a cold diff writes
    down its calls and the client floor reads them."""
    env = _env(endpoint, quotas)
    if call_log is not None:
        env[CALL_LOG] = str(call_log)
    proc = subprocess.Popen([sys.executable, "-m", "bench.scenario", name, str(root)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, cwd=REPO)
    assert proc.stdout is not None and proc.stdin is not None
    last = ""
    for line in proc.stdout:
        if line.strip() == "warm":
            if on_warm:
                on_warm()
            proc.stdin.write("go\n")
            proc.stdin.flush()
        elif line.strip():
            last = line
    err = proc.stderr.read() if proc.stderr else ""
    if proc.wait() != 0:
        raise RuntimeError(f"{name} failed: {err[-2000:]}")
    return dict(json.loads(last))


@dataclass(frozen=True)
class Plan:
    """One row: a scenario under one model of AWS. `quotas` is the reconciler's pacing
    (RECONCILER_API_QUOTAS); `enforced`, whether the proxy refuses calls over the documented
    quotas as AWS does."""

    label: str
    scenario: str
    throttle: float = 0.0
    quotas: str = "documented"
    enforced: bool = True
    repeat: bool = False


def plans(n: int, throttle: float, naive_limit: int) -> list[Plan]:
    out = [
        Plan("cold diff", "cold"),
        Plan("cold diff, quotas off", "cold", quotas="off", enforced=False, repeat=True),
        Plan("boto3 client floor", "floor", quotas="off", enforced=False, repeat=True),
        Plan("steady resync", "steady"),
    ]
    if n <= naive_limit:
        out.append(Plan("naive baseline", "naive", quotas="off", enforced=False))
    out.append(Plan("cold diff, 20% throttled", "cold", throttle))
    return out


def measure(n: int, latency: float, throttle: float, naive_limit: int,
            repeat: int = 3) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="reconciler-bench-") as tmp:
        root = Path(tmp) / "fleet"
        sizes = write_fleet(root, n)
        args = [sys.executable, "-m", "reconciler.embedded"]
        for sn in SUBNETS:
            args += ["--subnet", sn]
        for sg in GROUPS:
            args += ["--security-group", sg]
        moto = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=_env(""), cwd=REPO)
        try:
            assert moto.stdout is not None
            url = moto.stdout.readline().strip()
            setup = scenario("apply", root, url)  # moto has no quotas: set-up is not paced
            if setup.get("failed"):
                raise RuntimeError(f"set-up failed: {setup['failed'][:5]}")
            proxy = ProxyThread(int(url.rsplit(":", 1)[1]), latency)
            endpoint = f"http://127.0.0.1:{proxy.port}"
            bound, _unavoidable = lower_bound(sizes, latency, DEFAULT_MAX_IN_FLIGHT)
            floor, _bucket = quota_floor(sizes)
            todo = plans(n, throttle, naive_limit)
            call_log = Path(tmp) / "calls.json"
            # Record moto's answers once; the cold diff also writes down its calls, which
            # the client floor makes again, so it goes first.
            for name in sorted({p.scenario for p in todo}, key=lambda x: (x != "cold", x)):
                proxy.reset(replay=False, latency=0.0)
                scenario(name, root, endpoint, on_warm=lambda: None, call_log=call_log)
            proxy.reset(latency=latency)
            for p in todo:
                samples = []
                for _ in range(repeat if p.repeat else 1):
                    proxy.reset(p.throttle, quotas=p.enforced)
                    out = scenario(p.scenario, root, endpoint, quotas=p.quotas,
                                   on_warm=lambda p=p: proxy.reset(p.throttle, quotas=p.enforced),
                                   call_log=call_log if p.scenario == "floor" else None)
                    samples.append((out, sum(proxy.proxy.requests.values()),
                                    sum(proxy.proxy.throttled.values())))
                samples.sort(key=lambda x: float(x[0]["seconds"]))
                out, http, throttled = samples[len(samples) // 2]  # the median run
                row_bound = 0.0
                if p.scenario in ("cold", "floor"):
                    row_bound = bound if p.quotas == "off" else max(bound, floor)
                rows.append(Row(n, p.label, out["seconds"], out["calls"], http, throttled,
                                sizes["resources"], out["rss_mb"], out["writes"],
                                out["changes"], row_bound,
                                {"paced": out.get("paced", 0.0),
                                 "runs": [round(float(x[0]["seconds"]), 2) for x in samples]}))
                print(table(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
            proxy.stop()
        finally:
            moto.terminate()
            moto.wait(10)
    return rows


def table(rows: list[Row]) -> str:
    head = (f"{'N':>5} {'scenario':<26} {'wall s':>8} {'calls':>6} {'HTTP':>6} {'throttled':>9} "
            f"{'wait s':>7} {'calls/res':>9} {'RSS MB':>7} {'writes':>6} {'bound s':>8} "
            f"{'x bound':>7}")
    lines = [head, "-" * len(head)]
    for r in rows:
        ratio = f"{r.seconds / r.bound:.2f}" if r.bound else ""
        bound = f"{r.bound:.2f}" if r.bound else ""
        lines.append(f"{r.n:>5} {r.scenario:<26} {r.seconds:>8.2f} {r.total_calls:>6} "
                     f"{r.http_requests:>6} {r.throttled:>9} {r.extra.get('paced', 0.0):>7.1f} "
                     f"{r.total_calls / r.resources:>9.3f} {r.rss_mb:>7.1f} {r.writes:>6} "
                     f"{bound:>8} {ratio:>7}")
    return "\n".join(lines)


def operations(rows: list[Row]) -> str:
    lines = []
    for r in rows:
        ops = ", ".join(f"{op}={n}" for op, n in sorted(Counter(r.calls).items()))
        lines.append(f"N={r.n} {r.scenario}: {ops}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--throttle", type=float, default=0.2)
    parser.add_argument("--naive-limit", type=int, default=1000,
                        help="skip the (slow) naive baseline above this N")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of the quota-free cold diff; the median is reported")
    parser.add_argument("--json", type=Path, default=None,
                        help="also write the rows and the goals' verdicts as JSON")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when a goal set for this run (N=1000, 50 ms) is missed")
    args = parser.parse_args(argv)
    rows: list[Row] = []
    sizes = [int(x) for x in args.sizes.split(",")]
    for n in sizes:
        rows.extend(measure(n, args.latency, args.throttle, args.naive_limit, args.repeat))
        print(f"... N={n} done", file=sys.stderr, flush=True)
    print(f"latency {args.latency * 1000:.0f} ms per request, {DEFAULT_MAX_IN_FLIGHT} calls in "
          "flight")
    floors: dict[int, float] = {}
    for n in sizes:
        floors[n], bucket = quota_floor(fleet.counts(n))
        bound, calls = lower_bound(fleet.counts(n), args.latency, DEFAULT_MAX_IN_FLIGHT)
        print(f"N={n}: latency bound {bound:.2f} s ({calls} unavoidable calls), "
              f"documented-quota floor {floors[n]:.2f} s (the {bucket} bucket)")
    print()
    print(table(rows))
    found = goals.verdicts(rows, args.latency, floors)
    print(f"\nGoals (set at N={goals.GOAL_N}, {goals.GOAL_LATENCY * 1000:.0f} ms):\n"
          + goals.text(found))
    print("\nCalls by operation:\n" + operations(rows))
    if args.json:
        args.json.write_text(json.dumps({"rows": [r.__dict__ for r in rows],
                                         "goals": goals.as_json(found)}, indent=1))
    if args.check and goals.missed(found):
        sys.exit(1)


if __name__ == "__main__":
    main()
