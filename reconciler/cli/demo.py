"""`reconciler demo`: the whole product on the embedded default, in one terminal.

Starts moto on 127.0.0.1, shows the diff of the example manifests, applies it, shows that a
second diff is empty, edits AWS behind the reconciler's back with boto3 (as "alice", a
session of an Admin role, as a console user would) and shows the drift and who made it
(`diff --why`); then runs the controller with AWS's events: a second hand edit is alerted
within seconds, signed with who made it, and every save of a manifest converges. Every step
is the one pass (`sync.run`) that `diff`, `apply` and the controller run.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from reconciler.cli.common import DEFAULT_PATH

RESYNC_SECONDS = 300.0  # a safety net: AWS's events say what changed within seconds
EDITOR = ("Admin", "alice@example.com")  # the role and session that edit by hand


def _heading(text: str) -> None:
    click.echo()
    click.echo(click.style(f"==> {text}", bold=True))


def _hand_edit(cluster: str | None, name: str, exec_on: bool) -> str:
    """Change a live service the way a console user would, with plain boto3, as a person:
    a session of the account's Admin role, as single sign-on gives one."""
    import boto3

    role, session = EDITOR
    account = boto3.client("sts").get_caller_identity()["Account"]
    creds = boto3.client("sts").assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role}",
                                            RoleSessionName=session)["Credentials"]
    ecs = boto3.client("ecs", aws_access_key_id=creds["AccessKeyId"],
                       aws_secret_access_key=creds["SecretAccessKey"],
                       aws_session_token=creds["SessionToken"])
    ecs.update_service(cluster=cluster, service=name, enableExecuteCommand=not exec_on,
                       propagateTags="NONE")
    return (f"aws ecs update-service --cluster {cluster} --service {name} "
            f"--{'no-' if exec_on else ''}enable-execute-command --propagate-tags NONE"
            f"    # as {session}, role {role}")


def print_pass(report: object) -> None:
    """What a controller pass did, for people watching the local default."""
    from reconciler.controller.loop import PassReport

    assert isinstance(report, PassReport)
    if report.invalid:
        click.echo(f"  revision {str(report.revision)[:12]} is invalid: nothing applied")
    for o in report.applied.outcomes if report.applied else []:
        click.echo(f"  {o.change.key}: {o.result}{(': ' + o.error) if o.error else ''}")
    for key in report.drifted:
        healed = "healed" if key in report.healed else "reported, not healed"
        click.echo(f"  drift on {key}: {healed}")


def run_demo(root: Path, watch: bool = True) -> int:
    from reconciler.aws import Aws
    from reconciler.cli.diff import explain
    from reconciler.core.format import plan_text
    from reconciler.core.policy import Trigger
    from reconciler.embedded import local_default
    from reconciler.kinds import load_tree
    from reconciler.sync.run import Options, PassResult, run

    colour = "NO_COLOR" not in os.environ
    root = root.resolve()
    tree = load_tree(root)
    if not tree.ok:
        for e in tree.errors:
            click.echo(str(e), err=True)
        return 1

    def show(result: PassResult) -> None:
        click.echo(plan_text(result.plan, colour, result.verdicts))

    async def step(apply: bool, why: bool = False) -> PassResult:
        result = await run(load_tree(root), aws, Options(
            apply=apply, trigger=Trigger.MANUAL if apply else Trigger.AUTOMATED,
            on_plan=None if why else show))
        if why:
            click.echo(plan_text(result.plan, colour, result.verdicts,
                                 await explain(result, aws)))
        for o in result.applied.outcomes if result.applied else []:
            click.echo(f"  {o.change.key}: {o.result}{(': ' + o.error) if o.error else ''}")
        return result

    with local_default([m.spec for m in tree.manifests]) as server:
        click.echo(f"Embedded AWS (moto) at {server.url}; manifests from {root}")
        queue = server.event_queue()
        aws = Aws()

        async def story() -> int:
            _heading("reconciler diff (nothing exists yet)")
            await step(apply=False)
            _heading("reconciler apply")
            await step(apply=True)
            _heading("reconciler diff again: nothing left to do")
            await step(apply=False)
            svc = next((m for m in tree.manifests if m.kind == "Service"), None)
            if svc is None:
                return 0
            _heading("Someone edits AWS by hand")
            exec_on = bool(svc.spec.get("enableExecuteCommand", False))
            click.echo("  $ " + _hand_edit(svc.cluster, svc.name, exec_on))
            _heading("reconciler diff --why: the drift, only the drift, and who made it")
            drift = await step(apply=False, why=True)
            if watch:
                _heading("Self-heal: apply puts it back")
                await step(apply=True)
                await _watch(aws, root, queue, (svc.cluster, svc.name, exec_on))
            return 0 if drift.plan.pending else 1

        try:
            return asyncio.run(story())
        except KeyboardInterrupt:
            return 0


class _Timed:
    """A sink that says how long after the hand edit each alert left."""

    def __init__(self, sink: Any) -> None:
        self.sink, self.since = sink, 0.0

    async def send(self, alert: Any) -> None:
        await self.sink.send(alert)
        if self.since:
            click.echo(f"  (alerted {time.monotonic() - self.since:.1f} s after the hand edit)")


async def _watch(aws: object, root: Path, queue: str,
                 edit: tuple[str | None, str, bool] | None = None) -> None:
    """The controller itself, on the local directory and AWS's events: a hand edit is
    alerted within seconds with who made it; saves converge."""
    from reconciler.aws import Aws
    from reconciler.controller.events import EventSource
    from reconciler.controller.loop import Controller, Settings
    from reconciler.edges.git import LocalSource
    from reconciler.edges.slack import Notifier, sink_from_environment

    assert isinstance(aws, Aws)
    _heading(f"Controller watching {root} and AWS's events on {queue} (edit and save a "
             "manifest; Ctrl-C to stop)")
    settings = Settings(resync_interval=RESYNC_SECONDS, fetch_interval=3600)
    sink = _Timed(sink_from_environment(dict(os.environ)))
    events = EventSource(queue, flowing_resync=None)
    controller = Controller(LocalSource(root), aws, Notifier(sink), settings,
                            on_pass=print_pass, extensions=[events])
    running = asyncio.create_task(controller.run(install_signals=True))
    if edit is not None:
        while not controller.synced and not running.done():
            await asyncio.sleep(0.05)
        _heading("Someone edits AWS by hand again; the controller hears of it from AWS")
        sink.since = time.monotonic()
        click.echo("  $ " + await asyncio.to_thread(_hand_edit, *edit))
    await running


@click.command()
@click.argument("path", required=False, default=DEFAULT_PATH, type=click.Path(path_type=Path))
@click.option("--no-watch", is_flag=True, help="Stop after showing the drift.")
def demo(path: Path, no_watch: bool) -> None:
    """Run on the embedded default: a local moto server and the example manifests."""
    sys.exit(run_demo(path, watch=not no_watch))
