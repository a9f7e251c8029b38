"""`reconciler demo`: the whole product on the embedded default, in one terminal.

Starts moto on 127.0.0.1, shows the diff of the example manifests, applies it (the API's
database migration, a PreSync hook, runs before its service is created), shows that a second
diff is empty, edits AWS behind the reconciler's back with boto3 (as a console user would)
and shows the drift, shows a release whose migration fails holding its service back; then
watches the manifests and converges on every save. Every step is the one pass (`sync.run`)
that `diff`, `apply` and the controller run. Tasks run on the embedded clock, sped up
(`RECONCILER_EMBEDDED_SPEED`, default 30 here) so a migration takes a second or two.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.cli.common import DEFAULT_PATH

if TYPE_CHECKING:
    from reconciler.core.load import Tree

RESYNC_SECONDS = 15.0


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


def failing_release(tree: Tree) -> tuple[str, str] | None:
    """The tree changed as a failing release would change it: the first PreSync hook's task
    definition gets a new image and the hook's command exits 1 on the embedded default
    (RECONCILER_SIMULATE_EXIT). (hook, service) it concerns, None without a hook."""
    from reconciler.core.hooks import hook_of, resolve_gates

    job = next((m for m in tree.manifests if hook_of(m) is not None), None)
    if job is None:
        return None
    gated = resolve_gates(job, tree.manifests)[0]
    td = next((m for m in tree.manifests if m.kind == "TaskDefinition"
               and m.name == job.spec.get("taskDefinition")), None)
    if td is None or not gated:
        return None
    app = td.spec["containerDefinitions"][0]
    app["image"] = str(app["image"]).rsplit(":", 1)[0] + ":next"
    overrides = job.spec.setdefault("overrides", {}).setdefault("containerOverrides", [{}])
    overrides[0].setdefault("environment", []).append(
        {"name": "RECONCILER_SIMULATE_EXIT", "value": "1"})
    return str(job.key), str(gated[0])


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
    from reconciler.core.manifest import ResourceKey
    from reconciler.core.policy import Trigger
    from reconciler.embedded import local_default
    from reconciler.embedded.clock import local_speed
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

    def hook(key: ResourceKey, text: str) -> None:
        click.echo(f"  {key}: {text}")

    async def step(apply: bool, tree: Tree | None = None) -> PassResult:
        result = await run(tree or load_tree(root), aws, Options(
            apply=apply, trigger=Trigger.MANUAL if apply else Trigger.AUTOMATED, on_plan=show,
            on_hook=hook))
        for o in result.applied.outcomes if result.applied else []:
            error = ("\n    ".join(o.error.splitlines())) if o.error else ""
            click.echo(f"  {o.change.key}: {o.result}{(': ' + error) if error else ''}")
        for key, v in (result.applied.held.items() if result.applied else []):
            click.echo(f"  {key}: held: {v.reason}")
        return result

    local_speed()

    with local_default([m.spec for m in tree.manifests]) as server:
        click.echo(f"Embedded AWS (moto) at {server.url}; manifests from {root}")
        aws = Aws()

        async def failing() -> None:
            tree = load_tree(root)
            concerned = failing_release(tree)
            if concerned is None:
                return
            hook, service = concerned
            _heading(f"A release whose migration fails: {service} stays where it is")
            click.echo(f"  (not committed: a new image, and {hook} exits 1 on the embedded "
                       "default through RECONCILER_SIMULATE_EXIT=1)")
            await step(apply=True, tree=tree)
            _heading("reconciler diff: held until git changes the release, or "
                     "`apply --rerun-hooks`")
            await step(apply=False, tree=tree)

        async def story() -> int:
            _heading("reconciler diff (nothing exists yet)")
            await step(apply=False)
            _heading("reconciler apply: the migration first, then the service")
            await step(apply=True)
            _heading("reconciler diff again: nothing left to do")
            await step(apply=False)
            svc = next((m for m in tree.manifests if m.kind == "Service"), None)
            if svc is None:
                await failing()
                return 0
            _heading("Someone edits AWS by hand")
            exec_on = bool(svc.spec.get("enableExecuteCommand", False))
            click.echo("  $ " + _hand_edit(svc.cluster, svc.name, exec_on))
            _heading("reconciler diff: the drift, and only the drift")
            drift = await step(apply=False)
            if watch:
                _heading("Self-heal: apply puts it back")
                await step(apply=True)
            await failing()
            if watch:
                click.echo("  (git still says the old release: the controller registers its "
                           "task definition again; its migration passed, so it does not run)")
                await _watch(aws, root)
            return 0 if drift.plan.pending else 1

        try:
            return asyncio.run(story())
        except KeyboardInterrupt:
            return 0


async def _watch(aws: object, root: Path) -> None:
    """The controller itself, on the local directory: saves converge, drift is alerted."""
    from reconciler.aws import Aws
    from reconciler.controller.hooks import HooksExtension
    from reconciler.controller.loop import Controller, Settings
    from reconciler.edges.git import LocalSource
    from reconciler.edges.slack import Notifier, sink_from_environment

    assert isinstance(aws, Aws)
    _heading(f"Controller watching {root} (edit and save a manifest; Ctrl-C to stop)")
    settings = Settings(resync_interval=RESYNC_SECONDS, fetch_interval=3600)
    controller = Controller(LocalSource(root), aws, Notifier(sink_from_environment(
        dict(os.environ))), settings, on_pass=print_pass,
        extensions=[HooksExtension(settings.hook_poll)])
    await controller.run(install_signals=True)


@click.command()
@click.argument("path", required=False, default=DEFAULT_PATH, type=click.Path(path_type=Path))
@click.option("--no-watch", is_flag=True, help="Stop after showing the drift.")
def demo(path: Path, no_watch: bool) -> None:
    """Run on the embedded default: a local moto server and the example manifests."""
    sys.exit(run_demo(path, watch=not no_watch))
