"""`reconciler demo`: the whole product on the embedded default, in one terminal.

Starts moto on 127.0.0.1, shows the diff of the example manifests, applies it, shows that a
second diff is empty, edits AWS behind the reconciler's back with boto3 (as a console user
would) and shows the drift; then watches the manifests and converges on every save.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import boto3
import click

from reconciler.aws.client import Aws
from reconciler.controller.loop import PassReport
from reconciler.core.format import plan_text
from reconciler.core.validate import load_tree
from reconciler.embedded import embedded_aws, network_ids, seed_network
from reconciler.sync.run import apply_planned, plan_path

RESYNC_SECONDS = 15.0


def _heading(text: str) -> None:
    click.echo()
    click.echo(click.style(f"==> {text}", bold=True))


def _hand_edit(tree_root: Path) -> str:
    """Change a live service the way a console user would, with plain boto3."""
    tree = load_tree(tree_root)
    svc = next((m for m in tree.manifests if m.kind == "Service"), None)
    if svc is None:
        return "no service to edit"
    ecs = boto3.client("ecs")
    current = bool(svc.spec.get("enableExecuteCommand", False))
    ecs.update_service(cluster=svc.cluster, service=svc.name,
                       enableExecuteCommand=not current, propagateTags="NONE")
    return (f"aws ecs update-service --cluster {svc.cluster} --service {svc.name} "
            f"--{'no-' if current else ''}enable-execute-command --propagate-tags NONE")


async def _cycle(aws: Aws, root: Path, apply: bool, colour: bool) -> int:
    tree = load_tree(root)
    if not tree.ok:
        for e in tree.errors:
            click.echo(str(e), err=True)
        click.echo(f"{len(tree.errors)} error(s): nothing applied, keeping the last good state.")
        return 1
    planned = await plan_path(aws, root, tree=tree)
    click.echo(plan_text(planned.plan, colour))
    if apply and planned.plan.pending:
        done = await apply_planned(aws, planned)
        assert done.applied is not None
        for o in done.applied.outcomes:
            click.echo(f"  {o.change.key}: {o.result}{(': ' + o.error) if o.error else ''}")
    return 0


def _print_pass(report: PassReport) -> None:
    """What a pass did, for people watching the local default."""
    if report.invalid:
        click.echo(f"  revision {str(report.revision)[:12]} is invalid: nothing applied")
    for o in report.applied.outcomes if report.applied else []:
        click.echo(f"  {o.change.key}: {o.result}{(': ' + o.error) if o.error else ''}")
    for key in report.drifted:
        healed = "healed" if key in report.healed else "reported, not healed"
        click.echo(f"  drift on {key}: {healed}")


async def _watch(aws: Aws, root: Path) -> None:
    """The controller itself, on the local directory: saves converge, drift is alerted."""
    import os as _os

    from reconciler.controller.loop import Controller, Settings
    from reconciler.edges.git import LocalSource
    from reconciler.edges.slack import Notifier, sink_from_environment

    _heading(f"Controller watching {root} (edit and save a manifest; Ctrl-C to stop)")
    settings = Settings(resync_interval=RESYNC_SECONDS, fetch_interval=3600)
    controller = Controller(LocalSource(root), aws, Notifier(sink_from_environment(
        dict(_os.environ))), settings, on_pass=_print_pass)
    await controller.run(install_signals=True)


def run_demo(root: Path, watch: bool = True) -> int:
    colour = "NO_COLOR" not in os.environ
    root = root.resolve()
    tree = load_tree(root)
    if not tree.ok:
        for e in tree.errors:
            click.echo(str(e), err=True)
        return 1
    with embedded_aws() as server:
        subnets, groups = network_ids([m.spec for m in tree.manifests])
        seed_network(server.url, os.environ["AWS_REGION"], subnets, groups)
        click.echo(f"Embedded AWS (moto) at {server.url}; manifests from {root}")
        aws = Aws()

        async def story() -> int:
            _heading("reconciler diff (nothing exists yet)")
            await _cycle(aws, root, apply=False, colour=colour)
            _heading("reconciler apply")
            await _cycle(aws, root, apply=True, colour=colour)
            _heading("reconciler diff again: nothing left to do")
            planned = await plan_path(aws, root)
            click.echo(plan_text(planned.plan, colour))
            _heading("Someone edits AWS by hand")
            click.echo("  $ " + _hand_edit(root))
            _heading("reconciler diff: the drift, and only the drift")
            drift = await plan_path(aws, root)
            click.echo(plan_text(drift.plan, colour))
            if watch:
                _heading("Self-heal: apply puts it back")
                await _cycle(aws, root, apply=True, colour=colour)
                await _watch(aws, root)
            return 0 if drift.plan.pending else 1

        try:
            return asyncio.run(story())
        except KeyboardInterrupt:
            return 0
