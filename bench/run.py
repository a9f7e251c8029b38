"""The benchmark: `python -m bench.run [--sizes 10,100,1000] [--latency 0.05]`.

For each N: a fresh moto server (own process), the fleet applied to it, then through a proxy
adding `latency` per request: a cold `reconciler diff` (new process), a steady-state controller
resync pass (warm cache, nothing changed), the naive baseline (one describe per resource,
sequential, no cache), and a cold diff with 20% of calls answered ThrottlingException. One
table, plus per-operation call counts; goals checked and printed, never asserted.
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

from bench.fleet import GROUPS, SUBNETS, write_fleet
from bench.proxy import Proxy
from reconciler.aws import DEFAULT_MAX_IN_FLIGHT

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


def lower_bound(counts: dict[str, int], latency: float, in_flight: int) -> tuple[float, int]:
    """Unavoidable calls for a cold read of the estate, and the time they take at best:
    max(calls / in flight, dependency depth) x latency."""
    n, r, s = counts["services"], counts["scheduledTasks"], counts["scalableTargets"]
    calls = (1                        # sts: the account, for cluster ARNs
             + 1                      # describe_clusters
             + math.ceil(n / 10)      # describe_services, 10 names a call
             + math.ceil(n / 100)     # list_task_definitions, 100 a page
             + n                      # describe_task_definition, each revision once
             + math.ceil(r / 100)     # list_rules
             + 2 * r                  # list_targets_by_rule + tags, per rule
             + math.ceil(n / 50)      # describe_scalable_targets, 50 ids a call
             + max(1, math.ceil(s / 50))  # describe_scaling_policies pages
             + 1                      # describe_scheduled_actions
             + s)                     # tags, per scalable target
    depth = 3  # list/describe -> per-item describe -> autoscaling wave
    return max(calls / in_flight, depth) * latency, calls


class ProxyThread:
    def __init__(self, upstream: int, latency: float) -> None:
        self.proxy = Proxy(upstream, latency)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.port = asyncio.run_coroutine_threadsafe(self.proxy.start(), self.loop).result(10)

    def reset(self, throttle: float = 0.0, replay: bool = True) -> None:
        self.proxy.requests.clear()
        self.proxy.throttled.clear()
        self.proxy.throttle_share = throttle
        self.proxy.replay = replay

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.proxy.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)


def _env(endpoint: str) -> dict[str, str]:
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": "eu-west-1",
           "AWS_DEFAULT_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "bench",
           "AWS_SECRET_ACCESS_KEY": "bench", "RECONCILER_LOG_LEVEL": "error",
           "PYTHONPATH": str(REPO)}
    env.pop("AWS_PROFILE", None)
    return env


def scenario(name: str, root: Path, endpoint: str,
             on_warm: Any = None) -> dict[str, Any]:
    """Run one scenario process; `on_warm` runs when a warm-up pass is done (the steady
    scenario waits for it before its measured pass)."""
    proc = subprocess.Popen([sys.executable, "-m", "bench.scenario", name, str(root)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=_env(endpoint), cwd=REPO)
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


def measure(n: int, latency: float, throttle: float, naive_limit: int) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="reconciler-bench-") as tmp:
        root = Path(tmp) / "fleet"
        counts = write_fleet(root, n)
        args = [sys.executable, "-m", "reconciler.embedded"]
        for sn in SUBNETS:
            args += ["--subnet", sn]
        for sg in GROUPS:
            args += ["--security-group", sg]
        moto = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=_env(""), cwd=REPO)
        try:
            assert moto.stdout is not None
            url = moto.stdout.readline().strip()
            setup = scenario("apply", root, url)
            if setup.get("failed"):
                raise RuntimeError(f"set-up failed: {setup['failed'][:5]}")
            proxy = ProxyThread(int(url.rsplit(":", 1)[1]), latency)
            endpoint = f"http://127.0.0.1:{proxy.port}"
            bound, _unavoidable = lower_bound(counts, latency, DEFAULT_MAX_IN_FLIGHT)
            plan = [("cold diff", "cold", 0.0), ("steady resync", "steady", 0.0)]
            if n <= naive_limit:
                plan.append(("naive baseline", "naive", 0.0))
            plan.append(("cold diff, 20% throttled", "cold", throttle))
            for name in sorted({name for _l, name, _s in plan}):  # record moto's answers once
                proxy.reset(0.0, replay=False)
                scenario(name, root, endpoint, on_warm=lambda: None)
            for label, name, share in plan:
                proxy.reset(share)
                out = scenario(name, root, endpoint, on_warm=lambda s=share: proxy.reset(s))
                rows.append(Row(n, label, out["seconds"], out["calls"],
                                sum(proxy.proxy.requests.values()),
                                sum(proxy.proxy.throttled.values()), counts["resources"],
                                out["rss_mb"], out["writes"], out["changes"],
                                bound if name == "cold" else 0.0))
                print(table(rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
            proxy.stop()
        finally:
            moto.terminate()
            moto.wait(10)
    return rows


def table(rows: list[Row]) -> str:
    head = (f"{'N':>5} {'scenario':<26} {'wall s':>8} {'calls':>6} {'HTTP':>6} {'throttled':>9} "
            f"{'calls/res':>9} {'RSS MB':>7} {'writes':>6} {'bound s':>8} {'x bound':>7}")
    lines = [head, "-" * len(head)]
    for r in rows:
        ratio = f"{r.seconds / r.bound:.2f}" if r.bound else ""
        bound = f"{r.bound:.2f}" if r.bound else ""
        lines.append(f"{r.n:>5} {r.scenario:<26} {r.seconds:>8.2f} {r.total_calls:>6} "
                     f"{r.http_requests:>6} {r.throttled:>9} "
                     f"{r.total_calls / r.resources:>9.3f} {r.rss_mb:>7.1f} {r.writes:>6} "
                     f"{bound:>8} {ratio:>7}")
    return "\n".join(lines)


def operations(rows: list[Row]) -> str:
    lines = []
    for r in rows:
        ops = ", ".join(f"{op}={n}" for op, n in sorted(Counter(r.calls).items()))
        lines.append(f"N={r.n} {r.scenario}: {ops}")
    return "\n".join(lines)


def goals(rows: list[Row]) -> str:
    out = []
    by = {(r.n, r.scenario): r for r in rows}
    for n in sorted({r.n for r in rows}):
        cold, steady = by.get((n, "cold diff")), by.get((n, "steady resync"))
        naive, throttled = by.get((n, "naive baseline")), by.get((n, "cold diff, 20% throttled"))
        if cold:
            out.append(f"N={n}: cold diff {cold.seconds / cold.bound:.2f}x the lower bound "
                       f"(goal <= 1.25)")
        if cold and naive:
            out.append(f"N={n}: cold diff {naive.seconds / cold.seconds:.1f}x faster than naive "
                       f"(goal >= 10)")
        if steady:
            out.append(f"N={n}: steady resync {steady.total_calls / steady.resources:.3f} calls "
                       f"per resource (goal <= 0.5), {steady.writes} writes (goal 0), "
                       f"peak RSS {steady.rss_mb:.0f} MB (goal < 200)")
        if throttled and cold:
            same = throttled.changes == cold.changes
            out.append(f"N={n}: with 20% throttled, {throttled.throttled} throttled answers "
                       f"absorbed, result {'identical' if same else 'DIFFERENT'}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--throttle", type=float, default=0.2)
    parser.add_argument("--naive-limit", type=int, default=1000,
                        help="skip the (slow) naive baseline above this N")
    parser.add_argument("--json", type=Path, default=None, help="also write rows as JSON")
    args = parser.parse_args(argv)
    rows: list[Row] = []
    for n in [int(x) for x in args.sizes.split(",")]:
        rows.extend(measure(n, args.latency, args.throttle, args.naive_limit))
        print(f"... N={n} done", file=sys.stderr, flush=True)
    print(f"latency {args.latency * 1000:.0f} ms per request, {DEFAULT_MAX_IN_FLIGHT} calls in "
          "flight\n")
    print(table(rows))
    print("\nGoals:\n" + goals(rows))
    print("\nCalls by operation:\n" + operations(rows))
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in rows], indent=1))


if __name__ == "__main__":
    main()
