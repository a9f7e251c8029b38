"""The event source at scale: `python -m bench.events [--services 1000] [--latency 0.05]`.

A fresh moto server (own process, patched: it records people's write calls as CloudTrail
does and sends them through a real EventBridge rule to a real SQS queue), the synthetic
estate of `bench/fleet.py` applied to it, then a controller watching the queue (20 s long
polls, hourly resync) behind the latency proxy (answers are never replayed here: a pass
must see the edits). Measured, each against its goal:

- a console-style edit of one service (a session of an Admin role, the console's user
  agent) until its Slack alert names the principal (median of `--edits`; goal <= 5 s);
- steady state with nothing changing, for `--steady` seconds: AWS calls per resource per
  minute (goal <= 0.01);
- a burst: `--burst` services edited by someone else's script side by side: the targeted
  passes it takes (goal: 1) and that every one of them is alerted, none of them more than
  once;
- the reconciler's own writes: drift alerts naming it (goal: 0).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.fleet import CLUSTER, GROUPS, SUBNETS, write_fleet
from bench.run import ProxyThread, scenario

REGION = "eu-west-1"
CONSOLE = "console.amazonaws.com"
SCRIPT = "Boto3/1.44.8 md/Botocore#1.44.8 ua/2.1 os/linux lang/python#3.11.7 Botocore/1.44.8"


class Clocked:
    """A Slack stand-in: every alert with the moment it left."""

    def __init__(self) -> None:
        self.got: list[tuple[float, Any]] = []

    async def send(self, alert: Any) -> None:
        self.got.append((time.monotonic(), alert))


def _person(service: str, session: str, agent: str) -> Any:
    import boto3
    from botocore.config import Config

    sts = boto3.client("sts", region_name=REGION)
    creds = sts.assume_role(RoleArn="arn:aws:iam::123456789012:role/Admin",
                            RoleSessionName=session)["Credentials"]
    return boto3.client(service, region_name=REGION, aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"],
                        aws_session_token=creds["SessionToken"],
                        config=Config(user_agent=agent, max_pool_connections=32))


async def _until(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


async def measure(root: Path, services: int, resources: int, queue: str, edits: int,
                  steady: float, burst: int) -> dict[str, Any]:
    from reconciler.aws.client import Aws
    from reconciler.controller.events import EventSource
    from reconciler.controller.loop import Controller, PassReport, Settings
    from reconciler.edges.git import LocalSource
    from reconciler.edges.slack import Notifier

    sink = Clocked()
    passes: list[PassReport] = []
    events = EventSource(queue, wait=20, flowing_resync=None)
    controller = Controller(LocalSource(root), Aws(), Notifier(sink),
                            Settings(resync_interval=3600, fetch_interval=3600),
                            on_pass=passes.append, extensions=[events])
    task = asyncio.create_task(controller.run())
    out: dict[str, Any] = {"services": services, "resources": resources}
    try:
        started = time.monotonic()
        await _until(lambda: controller.synced and events.flowing, 3600)
        out["first_pass_s"] = round(time.monotonic() - started, 1)
        print(f"first pass {out['first_pass_s']} s", file=sys.stderr, flush=True)

        # 1. console-style edits, one at a time
        ecs = await asyncio.to_thread(_person, "ecs", "alice@example.com", CONSOLE)
        latencies = []
        for i in range(edits):
            name = f"svc-{(i * 97 + 500) % services:04d}"
            seen = len(sink.got)
            at = time.monotonic()
            await asyncio.to_thread(ecs.update_service, cluster=CLUSTER, service=name,
                                    enableExecuteCommand=True)
            ok = await _until(lambda n=name, s=seen: any(
                n in a.title and "alice@example.com" in a.title for _t, a in sink.got[s:]), 60)
            hits = [t for t, a in sink.got[seen:] if name in a.title]
            latencies.append(round(hits[0] - at, 2) if ok and hits else float("inf"))
        out["edit_to_alert_s"] = latencies
        out["edit_to_alert_median_s"] = statistics.median(latencies)
        print(f"edit -> alert {latencies}", file=sys.stderr, flush=True)

        # 2. steady state: nothing changes
        await asyncio.sleep(2)
        controller.aws.reset_counts()
        before = len(passes)
        await asyncio.sleep(steady)
        calls = dict(controller.aws.calls)
        out["steady_s"] = steady
        out["steady_calls"] = calls
        out["steady_passes"] = len(passes) - before
        out["steady_calls_per_resource_minute"] = round(
            sum(calls.values()) / resources / (steady / 60), 5)
        print(f"steady {calls}", file=sys.stderr, flush=True)

        # 3. a burst: someone else's script edits many services side by side
        script = await asyncio.to_thread(_person, "ecs", "deploy-bot", SCRIPT)
        names = [f"svc-{i:04d}" for i in range(burst) if i % 97 != 0]
        seen, first = len(sink.got), len(passes)
        at = time.monotonic()

        def edit(name: str) -> None:
            script.update_service(cluster=CLUSTER, service=name, enableExecuteCommand=True)

        with ThreadPoolExecutor(16) as pool:
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: list(pool.map(edit, names)))
        out["burst_edit_s"] = round(time.monotonic() - at, 1)

        def alerted() -> set[str]:
            return {n for _t, a in sink.got[seen:] for n in names if f"/{n} drifted" in a.title}

        await _until(lambda: len(alerted()) == len(names), 600)
        await _until(lambda: events.stats.deleted >= events.stats.handled, 120)
        out["burst_events"] = len(names)
        out["burst_alerted"] = len(alerted())
        out["burst_alert_s"] = round(max(t for t, _a in sink.got[seen:]) - at, 1) \
            if len(sink.got) > seen else None
        out["burst_targeted_passes"] = len([p for p in passes[first:] if p.trigger == "event"])
        out["burst_alerts"] = len(sink.got) - seen
        out["own_write_alerts"] = len([a for _t, a in sink.got if "ecs-reconciler" in a.title])
        out["events"] = events.status()
    finally:
        controller.stop()
        await asyncio.wait_for(task, 60)
    return out


def goals(out: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(goal, measured, met) at the size measured."""
    return [
        ("console edit -> Slack alert naming the principal, median s <= 5",
         f"{out['edit_to_alert_median_s']} (runs {out['edit_to_alert_s']})",
         out["edit_to_alert_median_s"] <= 5),
        ("steady state, AWS calls per resource per minute <= 0.01",
         f"{out['steady_calls_per_resource_minute']} ({sum(out['steady_calls'].values())} calls "
         f"in {out['steady_s']:g} s: {out['steady_calls']})",
         out["steady_calls_per_resource_minute"] <= 0.01),
        (f"burst of {out['burst_events']} events: targeted passes = 1",
         f"{out['burst_targeted_passes']} pass(es); {out['burst_alerted']} of "
         f"{out['burst_events']} alerted ({out['burst_alerts']} messages) within "
         f"{out['burst_alert_s']} s of the first edit",
         out["burst_targeted_passes"] == 1 and out["burst_alerted"] == out["burst_events"]),
        ("drift alerts for the reconciler's own writes = 0", str(out["own_write_alerts"]),
         out["own_write_alerts"] == 0),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.events")
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--edits", type=int, default=5)
    parser.add_argument("--steady", type=float, default=60.0)
    parser.add_argument("--burst", type=int, default=500)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    from bench.run import _env, embedded_aws

    with tempfile.TemporaryDirectory(prefix="reconciler-bench-events-") as tmp:
        root = Path(tmp) / "fleet"
        sizes = write_fleet(root, args.services)
        with embedded_aws(SUBNETS, GROUPS) as url:
            os.environ.update({k: v for k, v in _env(url).items()
                               if k.startswith(("AWS_", "RECONCILER_"))})
            os.environ["RECONCILER_API_QUOTAS"] = "documented"
            from reconciler.embedded.events import create_event_queue

            queue = create_event_queue(url, REGION)
            setup = scenario("apply", root, url)  # the reconciler's writes: no events
            if setup.get("failed"):
                raise RuntimeError(f"set-up failed: {setup['failed'][:5]}")
            proxy = ProxyThread(int(url.rsplit(":", 1)[1]), args.latency)
            proxy.reset(replay=False, latency=args.latency)
            os.environ["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{proxy.port}"
            os.environ["AWS_ENDPOINT_URL_SQS"] = url  # long polls need no latency added
            out = asyncio.run(measure(root, args.services, sizes["resources"], queue,
                                      args.edits, args.steady, min(args.burst, args.services)))
            proxy.stop()
    out["latency_s"] = args.latency
    print(f"N={args.services} services, {out['resources']} resources, "
          f"{args.latency * 1000:.0f} ms per request; first full pass {out['first_pass_s']} s")
    found = goals(out)
    for goal, measured, met in found:
        print(f"{goal}: {measured} - {'met' if met else 'NOT MET'}")
    if args.json:
        args.json.write_text(json.dumps({"run": out, "goals": [
            {"goal": g, "measured": m, "met": ok} for g, m, ok in found]}, indent=1,
            default=str))


if __name__ == "__main__":
    main()
