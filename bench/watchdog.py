"""What the schedule watchdog costs: AWS calls per watched schedule per look, measured on the
embedded default. `python -m bench.watchdog [--sizes 10,100,300]` prints one table.

Per N: N task definitions and N ScheduledTasks (each its own family, the worst case for the
per-family listing; at the bench's N = 1,000 estate there are 300) applied to a fresh
embedded server, a controller pass so the watchdog knows them, then looks, counted by
operation:
- first look: the watch begins (one tag write per schedule, once in a rule's life);
- no run expected in the last hour: nothing is listed;
- a night: every schedule ran once, 02:00-02:19 (EventBridge's simulated scheduler, the
  clock moved on to 02:30); the first look describes the stopped tasks, the next one in the
  same hour only lists, and two hours later there is nothing to learn again;
- all missed: every run failed for capacity; the look asks EventBridge's metrics why and
  writes one alert's memory per schedule.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import yaml

from bench.fleet import CLUSTER, GROUPS, SUBNETS

READS = ("describe_", "list_", "get_", "receive_")


def write_schedules(root: Path, n: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "reconciler.yaml").write_text("controller: bench\n")
    docs: list[dict[str, Any]] = [{"apiVersion": "reconciler/v1", "kind": "Cluster",
                                   "metadata": {"name": CLUSTER},
                                   "spec": {"capacityProviders": ["FARGATE", "FARGATE_SPOT"]}}]
    for i in range(n):
        docs.append({"apiVersion": "reconciler/v1", "kind": "TaskDefinition",
                     "metadata": {"name": f"job-{i:04d}"}, "spec": {
                         "requiresCompatibilities": ["FARGATE"], "networkMode": "awsvpc",
                         "cpu": "256", "memory": "512",
                         "containerDefinitions": [{"name": "app", "image": "app:1"}]}})
        docs.append({"apiVersion": "reconciler/v1", "kind": "ScheduledTask",
                     "metadata": {"name": f"job-{i:04d}", "cluster": CLUSTER}, "spec": {
                         "scheduleExpression": f"cron({i % 20} 2 * * ? *)",
                         "target": {"roleArn": "arn:aws:iam::123456789012:role/events",
                                    "ecsParameters": {
                                        "taskDefinitionArn": f"job-{i:04d}",
                                        "launchType": "FARGATE",
                                        "networkConfiguration": {"awsvpcConfiguration": {
                                            "subnets": SUBNETS, "securityGroups": GROUPS}}}}}})
    (root / "schedules.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))


async def measure(n: int) -> list[tuple[str, Counter[str]]]:
    from reconciler.aws import Aws
    from reconciler.controller.loop import Controller, Settings
    from reconciler.controller.watchdog import Watchdog
    from reconciler.core.policy import Trigger
    from reconciler.edges.git import LocalSource
    from reconciler.edges.slack import Notifier, TerminalSink
    from reconciler.embedded import local_default
    from reconciler.embedded.clock import CLOCK
    from reconciler.embedded.patches import tasks
    from reconciler.kinds import load_tree
    from reconciler.sync.run import Options, run

    rows: list[tuple[str, Counter[str]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "manifests"
        write_schedules(root, n)
        tree = load_tree(root)
        with local_default([m.spec for m in tree.manifests]) as server:
            scheduler = server.scheduler
            assert scheduler is not None
            aws = Aws()
            await run(tree, aws, Options(apply=True, trigger=Trigger.MANUAL))
            dog = Watchdog(clock=CLOCK.now)
            controller = Controller(LocalSource(root), aws, Notifier(TerminalSink(
                lambda _text: None)), Settings(resync_interval=3600), extensions=[dog])
            await controller.run_pass(trigger="fetch")

            async def look(name: str) -> None:
                aws.reset_counts()
                await dog.check(controller)
                rows.append((name, Counter(aws.calls)))

            def night() -> None:
                """On to the next 02:30 UTC, when every job (02:00-02:59) ran or was missed."""
                now = CLOCK.now().astimezone(UTC)
                target = now.replace(hour=2, minute=30, second=0, microsecond=0)
                if target <= now:
                    target += timedelta(days=1)
                CLOCK.advance((target - now).total_seconds())
                scheduler.tick()

            await look("first look (the watch begins)")
            await look("no run expected in the last hour")
            night()
            await look("a night's runs (each described once)")
            await look("the same hour, runs already seen")
            CLOCK.advance(2 * 3600)
            await look("two hours later: nothing to learn")
            tasks.unavailable("FARGATE")
            try:
                night()
                await look("all missed (metrics read, alerts remembered)")
            finally:
                tasks.unavailable()
    return rows


def table(n: int, rows: list[tuple[str, Counter[str]]]) -> str:
    lines = [f"N={n} schedules (each its own family)",
             f"{'look':<46} {'reads':>6} {'writes':>6} {'calls/schedule':>15}  by operation"]
    for name, calls in rows:
        reads = sum(c for op, c in calls.items() if op.split(":")[1].startswith(READS))
        writes = sum(calls.values()) - reads
        ops = ", ".join(f"{op}={c}" for op, c in sorted(calls.items()))
        lines.append(f"{name:<46} {reads:>6} {writes:>6} {sum(calls.values()) / n:>15.2f}  {ops}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.watchdog")
    parser.add_argument("--sizes", default="10,100,300")
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is None:  # each size in a process of its own: moto's state is per process
        for n in args.sizes.split(","):
            subprocess.run([sys.executable, "-m", "bench.watchdog", "--one", n], check=True)
        return
    os.environ.setdefault("RECONCILER_API_QUOTAS", "off")  # counts, not time
    from reconciler.cli.logs import configure

    configure("warning")
    print(table(args.one, asyncio.run(measure(args.one))), flush=True)
    print()


if __name__ == "__main__":
    main()
