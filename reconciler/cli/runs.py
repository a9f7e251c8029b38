"""`reconciler runs [NAME] [PATH]`: the runs of the ScheduledTasks in PATH, from AWS alone
(the same looks and verdicts as the controller's watchdog, no controller needed): expected
runs in `--since`, each succeeded, failed (exit code, reason), missed (why), running,
overdue, pending, or unknown once ECS no longer describes its task (about an hour)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from reconciler.cli.common import (
    DEFAULT_PATH,
    EXIT_OK,
    aws_options,
    fail,
    load_or_exit,
    make_aws,
    run_async,
)


def _duration(_ctx: Any, _param: Any, value: str) -> timedelta:
    from reconciler.core.runs import parse_duration

    try:
        d = parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    if d <= timedelta(0):
        raise click.BadParameter("must be longer than 0s")
    return d


def _moment(_ctx: Any, _param: Any, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO time") from exc
    return t if t.tzinfo else t.replace(tzinfo=UTC)


async def history(path: Path, name: str | None, since: timedelta, now: datetime,
                  aws: Any = None) -> list[dict[str, Any]]:
    """Each schedule with its runs, as JSON-ready data."""
    from reconciler.aws import Aws
    from reconciler.core.kind import Context
    from reconciler.core.runs import next_expected, run_json, watched_from
    from reconciler.kinds import REGISTRY
    from reconciler.sync.runs import Observer, look

    aws = aws or Aws()
    tree = load_or_exit(path, "text", aws.region)
    manifests = [m for m in tree.manifests if m.kind == "ScheduledTask"
                 and (name is None or m.name == name)]
    if name is not None and not manifests:
        fail(f"no ScheduledTask named {name!r} in {path}")
    lives = await REGISTRY["ScheduledTask"].fetch(aws, manifests, Context(
        owner=tree.config.controller), {})
    watched = {}
    out: list[dict[str, Any]] = []
    for m in manifests:
        live = lives.get(m.key)
        w = watched_from(live, m) if live is not None else None
        if w is None:
            out.append({"name": m.name, "cluster": m.cluster, "exists": live is not None,
                        "runs": []})
        else:
            watched[m.name] = w
    observer = Observer(aws)
    looks = await look(observer, watched.values(), now, {n: w.memory for n, w in watched.items()},
                       lookback=since)
    for seen in looks:
        w = seen.watched
        nxt = next_expected(w, seen.attempts, w.memory, now)
        runs = []
        for run in seen.runs:
            entry = run_json(run, await observer.logs(run))
            if w.memory.bad == run.expected and w.memory.verdict is not None:
                entry["alerted"] = str(w.memory.verdict)
            runs.append(entry)
        out.append({"name": w.name, "cluster": w.cluster_name, "exists": True,
                    "expression": w.expression, "state": "ENABLED" if w.enabled else "DISABLED",
                    "nextExpected": nxt.isoformat() if nxt else None,
                    "fallbackCapacityProvider": w.watch.fallback, "runs": runs})
    return sorted(out, key=lambda s: str(s["name"]))


def text(schedules: list[dict[str, Any]]) -> str:
    lines = []
    for s in schedules:
        where = f"{s['cluster']}/" if s.get("cluster") else ""
        if not s["exists"]:
            lines.append(f"ScheduledTask/{where}{s['name']}: not in AWS")
            continue
        head = f"ScheduledTask/{where}{s['name']}  {s.get('expression', '')}  {s.get('state', '')}"
        if s.get("nextExpected"):
            head += f"  next {_when(s['nextExpected'])}"
        lines.append(head)
        for r in s["runs"]:
            task = f"  {r['taskArn']}" if r["taskArn"] else ""
            lines.append(f"  {_when(r['expected'])}  {r['verdict']:<9}{task}")
            lines.extend(f"      {line}" for line in _notes(r, s.get("fallbackCapacityProvider")))
        if not s["runs"]:
            lines.append("  (no runs in this window)")
    return "\n".join(lines)


def _notes(r: dict[str, Any], fallback: str | None) -> list[str]:
    """What there is to say about one run, a line each."""
    notes = []
    if r["verdict"] == "failed" and r["exitCode"] is not None:
        where = f" ({r['container']})" if r["container"] else ""
        notes.append(f"exit code {r['exitCode']}{where}" + (f": {r['reason']}" if r["reason"]
                                                            else ""))
    elif r["verdict"] != "succeeded" and (r["reason"] or r["missed"]):
        notes.append(r["reason"] or r["missed"])
    if r["retries"]:
        notes.append(f"re-run {r['retries']}x on {fallback}" + (
            f"; missed first: {r['missed']}" if r["missed"] else ""))
    if r.get("alerted"):
        notes.append(f"alerted as {r['alerted']}")
    if r.get("logs"):
        logs = r["logs"]
        stream = f" {logs['stream']}" if logs.get("stream") else ""
        notes.append(f"logs: {logs['group']}{stream} ({logs['region']})")
    return notes


def _when(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


@click.command()
@click.argument("name", required=False)
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--since", default="24h", show_default=True, callback=_duration,
              help="How far back to list expected runs (ECS describes a stopped task for "
                   "about an hour; older runs show what EventBridge recorded).")
@click.option("--at", "at", default=None, callback=_moment,
              help="Judge as of this ISO time instead of now (the embedded default's clock "
                   "may run ahead of the wall clock).")
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="A table per schedule, or JSON.")
@aws_options
def runs(name: str | None, path: Path | None, since: timedelta, at: datetime | None,
         output: str, profile: str | None, region: str | None, endpoint_url: str | None,
         parallelism: int) -> None:
    """The runs of the ScheduledTasks in PATH (or the one named NAME), from AWS alone."""
    if path is None and name is not None and Path(name).is_dir():
        path, name = Path(name), None
    path = path or Path(DEFAULT_PATH)
    try:
        schedules = run_async(history(path, name, since, at or datetime.now(UTC),
                                      make_aws(profile, region, endpoint_url, parallelism)))
    except Exception as exc:
        fail(str(exc))
    if output == "json":
        click.echo(json.dumps({"schedules": schedules}, indent=2))
    else:
        click.echo(text(schedules))
    sys.exit(EXIT_OK)
