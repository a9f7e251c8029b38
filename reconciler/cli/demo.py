"""`reconciler demo`: the whole product on the embedded default, in one terminal.

Starts moto on 127.0.0.1, shows the diff of the example manifests, applies it, shows that a
second diff is empty, rolls a new image of a canary service out (the embedded clock run
fast, each move of the rollout on its own line) and puts git's image back, edits AWS behind
the reconciler's back with boto3 (as a console user would) and shows the drift; then watches
the manifests and converges on every save. Every step is the one pass (`sync.run`) that
`diff`, `apply` and the controller run.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import click

from reconciler.cli.common import DEFAULT_PATH

RESYNC_SECONDS = 15.0
ROLLOUT_SPEED = 120.0  # embedded minutes a rollout takes, in half-seconds


def _heading(text: str) -> None:
    click.echo()
    click.echo(click.style(f"==> {text}", bold=True))


def _hand_edit(cluster: str | None, name: str, exec_on: bool) -> str:
    """Change a live service the way a console user would, with plain boto3."""
    import boto3

    boto3.client("ecs").update_service(cluster=cluster, service=name,
                                       enableExecuteCommand=not exec_on, propagateTags="NONE")
    return (f"aws ecs update-service --cluster {cluster} --service {name} "
            f"--{'no-' if exec_on else ''}enable-execute-command --propagate-tags NONE")


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

    async def step(apply: bool) -> PassResult:
        result = await run(load_tree(root), aws, Options(
            apply=apply, trigger=Trigger.MANUAL if apply else Trigger.AUTOMATED, on_plan=show))
        for o in result.applied.outcomes if result.applied else []:
            click.echo(f"  {o.change.key}: {o.result}{(': ' + o.error) if o.error else ''}")
        return result

    with local_default([m.spec for m in tree.manifests]) as server:
        click.echo(f"Embedded AWS (moto) at {server.url}; manifests from {root}")
        aws = Aws()

        async def story() -> int:
            _heading("reconciler diff (nothing exists yet)")
            await step(apply=False)
            _heading("reconciler apply")
            await step(apply=True)
            _heading("reconciler diff again: nothing left to do")
            await step(apply=False)
            await _rollout(aws, root)
            svc = next((m for m in tree.manifests if m.kind == "Service"), None)
            if svc is None:
                return 0
            _heading("Someone edits AWS by hand")
            exec_on = bool(svc.spec.get("enableExecuteCommand", False))
            click.echo("  $ " + _hand_edit(svc.cluster, svc.name, exec_on))
            _heading("reconciler diff: the drift, and only the drift")
            drift = await step(apply=False)
            if watch:
                _heading("Self-heal: apply puts it back")
                await step(apply=True)
                await _watch(aws, root)
            return 0 if drift.plan.pending else 1

        try:
            return asyncio.run(story())
        except KeyboardInterrupt:
            return 0


async def _rollout(aws: object, root: Path) -> None:
    """A new image of the first service that shifts traffic, followed to its end as
    `reconciler apply --wait` does; then git's image again (skipped ahead)."""
    from reconciler.aws import Aws
    from reconciler.cli.rollout import follow
    from reconciler.core.manifest import ResourceKey
    from reconciler.embedded.clock import CLOCK, SPEED_ENV
    from reconciler.kinds import load_tree
    from reconciler.sync.run import Options, run

    assert isinstance(aws, Aws)
    tree = load_tree(root)
    svc = next((m for m in tree.manifests if m.kind == "Service" and (
        m.spec.get("deploymentConfiguration") or {}).get("strategy", "ROLLING") != "ROLLING"),
        None)
    td = next((m for m in tree.manifests if svc is not None and m.kind == "TaskDefinition"
               and m.name == svc.spec.get("taskDefinition")), None)
    if svc is None or td is None:
        return
    app = td.spec["containerDefinitions"][0]
    image = f"{str(app['image']).rsplit(':', 1)[0]}:next"
    strategy = svc.spec["deploymentConfiguration"]["strategy"]
    _heading(f"A new image for {svc.name}: ECS rolls it out ({strategy}), followed to its end")
    click.echo(f"  ({td.name} image {app['image']} -> {image}; embedded time runs "
               f"{ROLLOUT_SPEED:g}x while it moves)")
    app["image"] = image
    fast = SPEED_ENV not in os.environ
    if fast:
        CLOCK.set_speed(ROLLOUT_SPEED)
    await run(tree, aws, Options(apply=True, revision="demo-next-image"))
    key = ResourceKey("Service", svc.name, svc.cluster)
    outcome = await follow(aws, [key], timeout=3600, interval=0.5,
                           echo=lambda line: click.echo(f"  {line}"))
    _heading(f"Back to git's image for {svc.name} (its rollout skipped ahead)")
    await run(load_tree(root), aws, Options(apply=True))
    CLOCK.advance(3600)
    if fast:
        CLOCK.set_speed(1.0)
    if not outcome.ok:
        click.echo("  the rollout did not succeed", err=True)


async def _watch(aws: object, root: Path) -> None:
    """The controller itself, on the local directory: saves converge, drift is alerted."""
    from reconciler.aws import Aws
    from reconciler.controller.loop import Controller, Settings
    from reconciler.controller.rollouts import Rollouts
    from reconciler.edges.git import LocalSource
    from reconciler.edges.slack import Notifier, sink_from_environment

    assert isinstance(aws, Aws)
    _heading(f"Controller watching {root} (edit and save a manifest; Ctrl-C to stop)")
    settings = Settings(resync_interval=RESYNC_SECONDS, fetch_interval=3600)
    controller = Controller(LocalSource(root), aws, Notifier(sink_from_environment(
        dict(os.environ))), settings, on_pass=print_pass, extensions=[Rollouts(interval=2.0)])
    await controller.run(install_signals=True)


@click.command()
@click.argument("path", required=False, default=DEFAULT_PATH, type=click.Path(path_type=Path))
@click.option("--no-watch", is_flag=True, help="Stop after showing the drift.")
def demo(path: Path, no_watch: bool) -> None:
    """Run on the embedded default: a local moto server and the example manifests."""
    sys.exit(run_demo(path, watch=not no_watch))
