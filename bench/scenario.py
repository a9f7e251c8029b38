"""One measured scenario, run in a fresh process so its time, calls and peak memory are its
own: `python -m bench.scenario {cold|steady|naive|floor|apply|agree} ROOT` prints one JSON
line."""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from reconciler.aws.client import DEFAULT_MAX_IN_FLIGHT, Aws
from reconciler.kinds import load_tree

READS = ("describe_", "list_", "get_")
# Where a cold diff writes down every call it made, for the client floor to make again.
CALL_LOG = "BENCH_CALL_LOG"
AGREE_LABEL, AGREE_CACHE = "BENCH_AGREE_LABEL", "BENCH_AGREE_CACHE"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _writes(aws: Aws) -> int:
    return sum(n for op, n in aws.calls.items() if not op.split(":")[1].startswith(READS))


def _paced(aws: Aws) -> float:
    """The longest any call of this process waited for a documented quota's token."""
    return round(aws.pacer.longest, 2) if aws.pacer else 0.0


async def cold(root: Path) -> dict[str, Any]:
    """`reconciler diff` from a new process (its describe cache is whatever
    RECONCILER_CACHE_DIR holds: the bench gives it a fresh folder, or the cold diff's)."""
    from reconciler.sync.run import Options, run

    aws = Aws()
    made = _record_calls(aws) if os.environ.get(CALL_LOG) else None
    started = time.perf_counter()
    marks = _timeline(aws, started)
    tree = load_tree(root, region=aws.region)
    marks["loaded"] = time.perf_counter() - started
    planned = await run(tree, aws, Options(on_plan=lambda _r: marks.update(
        planned=time.perf_counter() - started)))
    seconds = time.perf_counter() - started
    if made is not None:
        Path(os.environ[CALL_LOG]).write_text(json.dumps(made))
    return {"seconds": seconds, "calls": dict(aws.calls), "changes": len(planned.plan.pending),
            "writes": _writes(aws), "paced": _paced(aws),
            "phases": {k: round(v, 3) for k, v in marks.items()}}


def _timeline(aws: Aws, started: float) -> dict[str, float]:
    """When (seconds after `started`) the tree was loaded, the first call left, the last
    answer came back and the plan was made: what of the wall time is reading AWS and what
    is the reconciler's own work before and after it."""
    marks: dict[str, float] = {}
    original = aws._call

    async def timed(priority: int, service: str, operation: str,
                    params: dict[str, Any]) -> dict[str, Any]:
        marks.setdefault("first call", time.perf_counter() - started)
        try:
            return await original(priority, service, operation, params)
        finally:
            marks["last answer"] = time.perf_counter() - started

    aws._call = timed  # type: ignore[method-assign]
    return marks


def _record_calls(aws: Aws) -> list[tuple[str, str, dict[str, Any]]]:
    made: list[tuple[str, str, dict[str, Any]]] = []
    original = aws._call

    async def recording(priority: int, service: str, operation: str,
                        params: dict[str, Any]) -> dict[str, Any]:
        made.append((service, operation, params))
        return await original(priority, service, operation, params)

    aws._call = recording  # type: ignore[method-assign]
    return made


async def floor(root: Path) -> dict[str, Any]:
    """The client floor: the calls a cold diff made (written down by `cold` under
    BENCH_CALL_LOG), made again by plain boto3 threads, as many in flight as the reconciler
    allows, in no order of dependency, with nothing else to do: no manifests, no plan, no
    event loop. What Python and botocore cost on this machine, which the latency bound
    leaves out."""
    made = json.loads(Path(os.environ[CALL_LOG]).read_text())
    aws = Aws(pacer=None)  # only for its clients, configured as the reconciler's are
    clients = {service: aws.client(service) for service, _op, _params in made}

    def one(call: list[Any]) -> None:
        service, operation, params = call
        getattr(clients[service], operation)(**params)

    started = time.perf_counter()
    with ThreadPoolExecutor(DEFAULT_MAX_IN_FLIGHT) as pool:
        list(pool.map(one, made))
    seconds = time.perf_counter() - started
    calls = Counter(f"{service}:{operation}" for service, operation, _params in made)
    return {"seconds": seconds, "calls": dict(calls), "changes": 0, "writes": 0}


async def steady(root: Path) -> dict[str, Any]:
    """A controller resync pass with a warm cache and nothing changed."""
    from reconciler.controller.loop import Controller, Settings
    from reconciler.edges.git import LocalSource
    from reconciler.edges.slack import Notifier, TerminalSink

    aws = Aws()
    controller = Controller(LocalSource(root), aws, Notifier(TerminalSink(lambda _s: None)),
                            Settings())
    await controller.run_pass(fetch=True, trigger="fetch")
    print("warm", flush=True)  # the bench resets its request counters here
    await asyncio.to_thread(sys.stdin.readline)
    aws.reset_counts()
    if aws.pacer:
        aws.pacer.longest = 0.0
    started = time.perf_counter()
    report = await controller.run_pass(fetch=False, trigger="resync")
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "calls": dict(aws.calls), "changes": len(report.drifted),
            "writes": _writes(aws), "paced": _paced(aws)}


async def naive(root: Path) -> dict[str, Any]:
    """The baseline: one describe per resource, one call at a time, no cache."""
    aws = Aws(max_in_flight=1)
    tree = load_tree(root, region=aws.region)
    started = time.perf_counter()
    for m in tree.manifests:
        if m.kind == "Cluster":
            await aws.call("ecs", "describe_clusters", clusters=[m.name])
        elif m.kind == "TaskDefinition":
            await aws.call("ecs", "describe_task_definition", taskDefinition=m.name)
        elif m.kind == "Service":
            await aws.call("ecs", "describe_services", cluster=m.cluster, services=[m.name])
        elif m.kind == "ScheduledTask":
            await aws.call("events", "describe_rule", Name=m.name)
            await aws.call("events", "list_targets_by_rule", Rule=m.name)
        elif m.kind == "ScalableTarget":
            rid = f"service/{m.cluster}/{m.spec['service']}"
            await aws.call("application-autoscaling", "describe_scalable_targets",
                           ServiceNamespace="ecs", ResourceIds=[rid])
            await aws.call("application-autoscaling", "describe_scaling_policies",
                           ServiceNamespace="ecs", ResourceId=rid)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "calls": dict(aws.calls), "changes": 0, "writes": 0}


async def apply(root: Path) -> dict[str, Any]:
    """Set-up: create the fleet (not measured against goals)."""
    from reconciler.sync.run import Options, run

    aws = Aws(max_in_flight=32)
    started = time.perf_counter()
    result = await run(load_tree(root, region=aws.region), aws, Options(apply=True))
    assert result.applied is not None
    failed = [f"{o.change.key}: {o.error}" for o in result.applied.failed]
    return {"seconds": time.perf_counter() - started, "calls": dict(aws.calls),
            "changes": len(result.applied.outcomes), "writes": _writes(aws), "failed": failed}


async def compare(root: Path) -> dict[str, Any]:
    """The read paths compared byte for byte (bench/agree.py), labelled BENCH_AGREE_LABEL,
    the describe caches under BENCH_AGREE_CACHE."""
    from dataclasses import asdict

    from bench.agree import agree

    found = await asyncio.to_thread(agree, os.environ[AGREE_LABEL], root,
                                    Path(os.environ[AGREE_CACHE]))
    return asdict(found)


SCENARIOS = {"cold": cold, "steady": steady, "naive": naive, "floor": floor, "apply": apply,
             "agree": compare}


def main() -> None:
    name, root = sys.argv[1], Path(sys.argv[2])
    out = asyncio.run(SCENARIOS[name](root))
    out["rss_mb"] = round(_rss_mb(), 1)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
