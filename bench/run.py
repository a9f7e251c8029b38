"""The benchmark: `python -m bench.run [--sizes 10,100,1000] [--latency 0.05]`.

For each N: a fresh moto server (own process), the fleet created on it by `reconciler apply`
(so it carries the reconciler's tags), then through a proxy adding `latency` per request,
under two models of AWS: with its documented API quotas enforced for every reader (the proxy
refuses what exceeds a bucket, as AWS does; the reconciler paces itself, its default) and
without any (the issue's model: latency and calls in flight only). Rows: a cold
`reconciler diff` (new process, fresh describe cache) under each, a warm one (the cache
kept), a steady-state controller resync pass, the naive baseline (one describe per resource,
sequential, no cache), a cold diff with 20% of calls also throttled, and first contact (the
estate's reconciler tags stripped). Then `reconciler diff` against `reconciler diff --verify`,
byte for byte, on the estate as created, untagged, and adopted then edited by hand, and on
manifests/. One table, where each diff's time went, per-operation call counts; each goal's
verdict printed (bench/goals.py), never asserted by the test suite.
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
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import fleet, goals
from bench.agree import Agreement, from_json
from bench.estate import Clients, hand_edits, strip_tags
from bench.fleet import CLUSTER, GROUPS, SUBNETS, write_fleet
from bench.proxy import AwsQuotas, Proxy
from bench.scenario import AGREE_CACHE, AGREE_LABEL, CALL_LOG
from reconciler.aws.client import DEFAULT_MAX_IN_FLIGHT
from reconciler.aws.quotas import DOCUMENTED, Pacer, Quota
from reconciler.aws.store import ENV as CACHE_ENV

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


OWNED, UNTAGGED = "owned", "untagged"
# The resource types the inventory reads (one chain of GetResources pages each, side by side).
INVENTORY_TYPES = ("ecs:cluster", "ecs:service", "ecs:task-definition", "events:rule",
                   "application-autoscaling:scalable-target", "ec2:spot-fleet-request")


def _pages(items: int, size: int = 100) -> int:
    """Pages of a listing: one even when it is empty."""
    return max(1, math.ceil(items / size))


def unavoidable(counts: dict[str, int], estate: str = OWNED) -> Counter[str]:
    """The calls a cold read of the estate cannot do without, by operation. `owned`: the
    reconciler created it (every resource carries its tags), so the tagging inventory gives
    ownership and tags by the page, and a task definition revision tagged with the hash of
    what git asks need not be described, only listed to know it is the newest ACTIVE one.
    `untagged`: an estate the reconciler did not create (first contact): the inventory finds
    nothing, so each family's newest revision is described (by name: no list pages needed)
    and each rule and scalable target is asked for its tags."""
    n, r, s = counts["services"], counts["scheduledTasks"], counts["scalableTargets"]
    calls = Counter({
        "sts:get_caller_identity": 1,                   # the account, for cluster ARNs
        "ecs:describe_clusters": 1,
        "ecs:describe_services": math.ceil(n / 10),     # 10 names a call, tags included
        "events:list_rules": _pages(r),                 # 100 a page
        "events:list_targets_by_rule": r,               # per rule: no batched API
        "application-autoscaling:describe_scalable_targets": math.ceil(n / 50),  # 50 ids
        "application-autoscaling:describe_scaling_policies": _pages(s, 50),
        "application-autoscaling:describe_scheduled_actions": 1,
    })
    owned = {"ecs:cluster": counts["clusters"], "ecs:service": n, "ecs:task-definition": n,
             "events:rule": r, "application-autoscaling:scalable-target": s}
    if estate == OWNED:
        # a chain of pages per type, 100 resources a page: owned and orphaned resources of
        # every kind with their tags (an empty type is still asked once)
        calls["resourcegroupstaggingapi:get_resources"] = sum(
            _pages(owned.get(t, 0)) for t in INVENTORY_TYPES)
        calls["ecs:list_task_definitions"] = _pages(n)  # the newest ACTIVE revisions
    else:
        calls["resourcegroupstaggingapi:get_resources"] = len(INVENTORY_TYPES)  # nothing
        calls["ecs:describe_task_definition"] = n        # each family's newest, by name
        calls["events:list_tags_for_resource"] = r
        calls["application-autoscaling:list_tags_for_resource"] = s
    return calls


def lower_bound(counts: dict[str, int], latency: float, in_flight: int,
                estate: str = OWNED) -> tuple[float, int]:
    """The unavoidable calls and the time they take at best with `in_flight` at a time:
    max(calls / in flight, dependency depth) x latency. The depth is the longest chain of
    pages (each page needs the token of the one before), at least three (list/describe ->
    per-item read -> autoscaling wave)."""
    calls = sum(unavoidable(counts, estate).values())
    depth = max(3, _pages(counts["services"])) if estate == OWNED else 3
    return max(calls / in_flight, depth) * latency, calls


def quota_floor(counts: dict[str, int], estate: str = OWNED) -> tuple[float, str]:
    """The time AWS's documented quotas alone impose on the unavoidable calls: per bucket,
    the calls beyond its burst at its sustained rate (buckets drain side by side). Returns
    the slowest bucket's time and name."""
    lookup = Pacer(DOCUMENTED)
    per_bucket: Counter[tuple[str, str]] = Counter()
    quotas: dict[tuple[str, str], Quota] = {}
    for op, calls in unavoidable(counts, estate).items():
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


REGION = "eu-west-1"
KEY = "bench"  # moto's dummy credentials


def _env(endpoint: str, quotas: str = "off", cache: Path | None = None) -> dict[str, str]:
    """The environment of a reconciler process: the endpoint, dummy credentials, the pacing
    (RECONCILER_API_QUOTAS) and its describe cache folder (`None`: none at all)."""
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": REGION,
           "AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": KEY,
           "AWS_SECRET_ACCESS_KEY": KEY, "PYTHONPATH": str(REPO),
           "RECONCILER_API_QUOTAS": quotas, CACHE_ENV: str(cache) if cache else "off"}
    env.pop("AWS_PROFILE", None)
    return env


@contextmanager
def embedded_aws(subnets: Iterable[str], groups: Iterable[str]) -> Iterator[str]:
    """The embedded AWS in a process of its own (the reconciler's measured CPU is not shared
    with moto's), its network seeded: its URL, until the block ends."""
    args = [sys.executable, "-m", "reconciler.embedded"]
    for sn in subnets:
        args += ["--subnet", sn]
    for sg in groups:
        args += ["--security-group", sg]
    moto = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, env=_env(""), cwd=REPO)
    try:
        assert moto.stdout is not None
        yield moto.stdout.readline().strip()
    finally:
        moto.terminate()
        moto.wait(10)


def scenario(name: str, root: Path, endpoint: str, on_warm: Any = None,
             quotas: str = "off", call_log: Path | None = None,
             cache: Path | None = None, extra: dict[str, str] | None = None) -> dict[str, Any]:
    """Run one scenario process; `on_warm` runs when a warm-up pass is done (the steady
    scenario waits for it before its measured pass). `call_log`: where a cold diff writes
    down its calls and the client floor reads them; `cache`: its describe cache folder;
    `extra`: more environment."""
    env = {**_env(endpoint, quotas, cache), **(extra or {})}
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


FRESH, KEPT, NONE = "fresh", "kept", "none"


@dataclass(frozen=True)
class Plan:
    """One row: a scenario under one model of AWS. `quotas` is the reconciler's pacing
    (RECONCILER_API_QUOTAS); `enforced`, whether the proxy refuses calls over the documented
    quotas as AWS does; `cache`, the describe cache folder: a fresh one, the one the cold
    diff left (`kept`), or none; `estate`: the reconciler's own (tagged) or untagged."""

    label: str
    scenario: str
    throttle: float = 0.0
    quotas: str = "documented"
    enforced: bool = True
    repeat: bool = False
    cache: str = FRESH
    estate: str = OWNED


def plans(n: int, throttle: float, naive_limit: int) -> list[Plan]:
    out = [
        Plan("cold diff", "cold"),
        Plan("warm diff", "cold", cache=KEPT),
        Plan("steady resync", "steady"),
        Plan("cold diff, quotas off", "cold", quotas="off", enforced=False, repeat=True),
        Plan("boto3 client floor", "floor", quotas="off", enforced=False, repeat=True,
             cache=NONE),
    ]
    if n <= naive_limit:
        out.append(Plan("naive baseline", "naive", cache=NONE))
    out.append(Plan("cold diff, 20% throttled", "cold", throttle))
    out.append(Plan("first contact", "cold", estate=UNTAGGED))
    return out


class Bench:
    """One N: the moto server with the estate applied, the proxy in front of it, the bounds,
    and the measured rows."""

    def __init__(self, n: int, latency: float, tmp: Path, repeat: int) -> None:
        self.n, self.latency, self.tmp, self.repeat = n, latency, tmp, repeat
        self.root = tmp / "fleet"
        self.sizes = write_fleet(self.root, n)
        self.rows: list[Row] = []
        self.agreements: list[Agreement] = []
        self._caches = 0
        self._kept: Path | None = None
        self.call_log = tmp / "calls.json"

    def cache(self, kind: str) -> Path | None:
        if kind == NONE:
            return None
        if kind == KEPT and self._kept is not None:
            return self._kept
        self._caches += 1
        folder = self.tmp / "caches" / str(self._caches)
        folder.mkdir(parents=True)
        return folder

    def bound(self, p: Plan) -> float:
        if p.scenario not in ("cold", "floor"):
            return 0.0
        bound, _calls = lower_bound(self.sizes, self.latency, DEFAULT_MAX_IN_FLIGHT, p.estate)
        return bound if p.quotas == "off" else max(bound, quota_floor(self.sizes, p.estate)[0])

    def record(self, proxy: ProxyThread, endpoint: str, todo: list[Plan]) -> None:
        """Record moto's answers once, at no latency; the cold diff also writes down its
        calls, which the client floor makes again, so it goes first. What one scenario
        recorded is replayed to the next: moto's GetResources tokens are good only once."""
        for name in sorted({p.scenario for p in todo}, key=lambda x: (x != "cold", x)):
            proxy.reset(latency=0.0)
            scenario(name, self.root, endpoint, on_warm=lambda: None, call_log=self.call_log,
                     cache=self.cache(FRESH))
        proxy.reset(latency=self.latency)

    def measure(self, proxy: ProxyThread, endpoint: str, p: Plan) -> Row:
        samples = []
        for _ in range(self.repeat if p.repeat else 1):
            proxy.reset(p.throttle, quotas=p.enforced)
            cache = self.cache(p.cache)
            out = scenario(p.scenario, self.root, endpoint, quotas=p.quotas,
                           on_warm=lambda: proxy.reset(p.throttle, quotas=p.enforced),
                           call_log=self.call_log if p.scenario == "floor" else None,
                           cache=cache)
            if p.label == "cold diff":
                self._kept = cache
            samples.append((out, sum(proxy.proxy.requests.values()),
                            sum(proxy.proxy.throttled.values())))
        samples.sort(key=lambda x: float(x[0]["seconds"]))
        out, http, throttled = samples[len(samples) // 2]  # the median run
        row = Row(self.n, p.label, out["seconds"], out["calls"], http, throttled,
                  self.sizes["resources"], out["rss_mb"], out["writes"], out["changes"],
                  self.bound(p), {"paced": out.get("paced", 0.0),
                                  "runs": [round(float(x[0]["seconds"]), 2) for x in samples],
                                  "phases": out.get("phases", {})})
        self.rows.append(row)
        print(table([row]).splitlines()[-1], file=sys.stderr, flush=True)
        return row

    def agree(self, label: str, url: str) -> None:
        found = compare(f"N={self.n}, {label}", self.root, url,
                        self.tmp / "agree" / str(len(self.agreements)))
        self.agreements.append(found)
        print(found.line(), file=sys.stderr, flush=True)

    def run(self, throttle: float, naive_limit: int, only: set[str] | None = None) -> None:
        """Measure every plan (or those labelled in `only`, without the read paths' checks)."""
        with embedded_aws(SUBNETS, GROUPS) as url:
            self._apply(url)  # moto has no quotas: set-up is not paced
            proxy = ProxyThread(int(url.rsplit(":", 1)[1]), self.latency)
            endpoint = f"http://127.0.0.1:{proxy.port}"
            todo = [p for p in plans(self.n, throttle, naive_limit)
                    if only is None or p.label in only]
            for estate in (OWNED, UNTAGGED):
                mine = [p for p in todo if p.estate == estate]
                if estate == UNTAGGED:
                    if not mine:
                        break
                    if only is None:
                        self.agree("as the reconciler created it", url)
                    clients = Clients.to(url, REGION, KEY)
                    stripped = strip_tags(clients)
                    print(f"N={self.n}: reconciler tags stripped from {stripped} resources",
                          file=sys.stderr, flush=True)
                    proxy.proxy.cache.clear()  # answers recorded before no longer hold
                    if only is None:
                        self.agree("its tags stripped (first contact)", url)
                self.record(proxy, endpoint, mine)
                for p in mine:
                    self.measure(proxy, endpoint, p)
            proxy.stop()
            if only is not None:
                return
            self._apply(url)  # adopts the untagged estate: every resource tagged again
            edits = hand_edits(Clients.to(url, REGION, KEY), [f"svc-{i:04d}" for i in range(3)],
                               (CLUSTER, f"svc-{self.n - 1:04d}"))
            for e in edits:
                print(f"N={self.n}: by hand: {e}", file=sys.stderr, flush=True)
            self.agree("adopted, then edited by hand (" + "; ".join(edits) + ")", url)

    def _apply(self, url: str) -> None:
        setup = scenario("apply", self.root, url)
        if setup.get("failed"):
            raise RuntimeError(f"set-up failed: {setup['failed'][:5]}")


def compare(label: str, root: Path, url: str, cache: Path) -> Agreement:
    """The read paths compared on the estate behind `url` (bench/agree.py), in a process of
    its own, straight to moto: a correctness check, not a measurement."""
    return from_json(scenario("agree", root, url, extra={AGREE_LABEL: label,
                                                        AGREE_CACHE: str(cache)}))


def examples_agree(tmp: Path) -> list[Agreement]:
    """The example manifests on the embedded default: applied, then edited by hand; the two
    read paths compared each time."""
    from reconciler.embedded.network import network_ids
    from reconciler.kinds import load_tree

    root = REPO / "manifests"
    tree = load_tree(root, region=REGION)
    subnets, groups = network_ids([m.spec for m in tree.manifests])
    found: list[Agreement] = []
    with embedded_aws(subnets, groups) as url:
        setup = scenario("apply", root, url)
        if setup.get("failed"):
            raise RuntimeError(f"set-up failed: {setup['failed'][:5]}")
        found.append(compare("manifests/, as applied", root, url, tmp / "examples-0"))
        families = sorted({m.name for m in tree.manifests if m.kind == "TaskDefinition"})
        edits = hand_edits(Clients.to(url, REGION, KEY), families[:3])
        found.append(compare("manifests/, edited by hand (" + "; ".join(edits) + ")", root,
                             url, tmp / "examples-1"))
    for a in found:
        print(a.line(), file=sys.stderr, flush=True)
    return found


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


def phases(rows: list[Row]) -> str:
    """Where each diff's wall time went: the tree loaded, the first call made, the last
    answer back, the plan made (seconds from the start)."""
    lines = []
    for r in rows:
        marks = r.extra.get("phases") or {}
        if marks:
            at = ", ".join(f"{k} {v:.2f}" for k, v in marks.items())
            lines.append(f"N={r.n} {r.scenario}: {at}, done {r.seconds:.2f}")
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
    parser.add_argument("--only", default=None,
                        help="row labels to measure, separated by ; (e.g. 'cold diff;first contact'); "
                             "skips the read paths' byte-for-byte checks")
    parser.add_argument("--no-examples", action="store_true",
                        help="skip comparing the read paths on the example manifests/")
    parser.add_argument("--json", type=Path, default=None,
                        help="also write the rows and the goals' verdicts as JSON")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 when a goal set for this run (N=1000, 50 ms) is missed")
    args = parser.parse_args(argv)
    started = time.monotonic()
    rows: list[Row] = []
    agreements: list[Agreement] = []
    sizes = [int(x) for x in args.sizes.split(",")]
    only = {x.strip() for x in args.only.split(";")} if args.only else None
    with tempfile.TemporaryDirectory(prefix="reconciler-bench-") as tmp:
        if not args.no_examples and only is None:
            agreements.extend(examples_agree(Path(tmp)))
        for n in sizes:
            folder = Path(tmp) / f"n{n}"
            folder.mkdir()
            bench = Bench(n, args.latency, folder, args.repeat)
            bench.run(args.throttle, args.naive_limit, only)
            rows.extend(bench.rows)
            agreements.extend(bench.agreements)
            print(f"... N={n} done", file=sys.stderr, flush=True)
    print(f"latency {args.latency * 1000:.0f} ms per request, {DEFAULT_MAX_IN_FLIGHT} calls in "
          "flight")
    floors: dict[int, float] = {}
    for n in sizes:
        for estate in (OWNED, UNTAGGED):
            floor, bucket = quota_floor(fleet.counts(n), estate)
            bound, calls = lower_bound(fleet.counts(n), args.latency, DEFAULT_MAX_IN_FLIGHT,
                                       estate)
            floors.setdefault(n, floor)
            print(f"N={n}, {estate} estate: latency bound {bound:.2f} s ({calls} unavoidable "
                  f"calls), documented-quota floor {floor:.2f} s (the {bucket} bucket)")
    print()
    print(table(rows))
    print("\nRead paths, byte for byte (reconciler diff against reconciler diff --verify):")
    print("\n".join(a.line() for a in agreements))
    found = goals.verdicts(rows, args.latency, floors, agreements)
    print(f"\nGoals (set at N={goals.GOAL_N}, {goals.GOAL_LATENCY * 1000:.0f} ms):\n"
          + goals.text(found))
    print("\nWhere the time goes (seconds from the start of each median run):\n"
          + phases(rows))
    print("\nCalls by operation:\n" + operations(rows))
    print(f"\nbench wall time {time.monotonic() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"rows": [r.__dict__ for r in rows],
                                         "agreements": [a.__dict__ for a in agreements],
                                         "goals": goals.as_json(found)}, indent=1))
    if args.check and goals.missed(found):
        sys.exit(1)


if __name__ == "__main__":
    main()
