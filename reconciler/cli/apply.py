"""`reconciler apply [PATH]`: make AWS equal to git now, as a manual sync (everything
pending is applied, whatever the controller's drift policy; a refused prune applies
nothing). PreSync hooks run first and are waited for (up to their `timeoutSeconds`); what a
failed one gates is held, and the exit code is 1 until it passes. With the controller's lease
table configured it holds the controller's lease while it writes, so a person and the
controller never write at once."""

from __future__ import annotations

import getpass
import json
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reconciler.cli import rollout
from reconciler.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    aws_options,
    colour,
    fail,
    load_or_exit,
    make_aws,
    mass_prune_option,
    no_color_option,
    path_argument,
    prune_option,
    run_async,
    selection,
    target_options,
    verify_option,
)

if TYPE_CHECKING:
    from reconciler.sync.apply import ApplyResult


@click.command()
@path_argument
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="How to print the plan and what was applied.")
@prune_option
@mass_prune_option
@click.option("--allow-replace", is_flag=True,
              help="Allow changes that delete and re-create a resource.")
@click.option("--revision", default=None,
              help="Git revision to record (default: HEAD of PATH's repo).")
@click.option("--rerun-hooks", is_flag=True,
              help="Run again the hooks that already failed for this revision.")
@no_color_option
@verify_option
@target_options
@click.option("--lease-table", envvar="RECONCILER_LEASE_TABLE", default=None,
              help="The controller's DynamoDB lease table: apply holds the controller's lease "
                   "while it writes, and refuses while the controller holds it.")
@click.option("--lease-name", envvar="RECONCILER_LEASE_NAME", default="reconciler",
              show_default=True, help="The controller's lease in that table.")
@click.option("--lease-wait", type=click.FloatRange(0), default=0.0, show_default=True,
              help="Seconds to wait for the lease to be let go (e.g. after scaling the "
                   "controller to 0) before giving up.")
@click.option("--force", is_flag=True,
              help="Apply without taking the lease (a stuck holder, an unreachable table); "
                   "the controller may then write at the same time.")
@click.option("--wait", is_flag=True,
              help="Then follow the rollouts of the services it changed to their end "
                   "(as `reconciler rollout wait`): exit 1 if one rolls back or fails.")
@click.option("--timeout", default=rollout.DEFAULT_TIMEOUT, show_default=True,
              help="With --wait: give up after this long (90s, 10m, 1h).")
@aws_options
def apply(path: Path, output: str, prune: bool | None, allow_mass_prune: bool,
          allow_replace: bool, revision: str | None, rerun_hooks: bool, no_color: bool,
          verify: bool, targets: tuple[str, ...], labels: tuple[str, ...],
          lease_table: str | None, lease_name: str, lease_wait: float, force: bool,
          wait: bool, timeout: str, profile: str | None, region: str | None,
          endpoint_url: str | None, parallelism: int) -> None:
    """Make AWS equal to git (PATH). Exit 0 when everything applied (and, with --wait,
    rolled out), 1 otherwise."""
    from reconciler.controller.lease import Lease, LeaseUnavailable
    from reconciler.core.format import plan_json, plan_text
    from reconciler.core.manifest import ResourceKey
    from reconciler.edges.git import has_local_changes, revision_of
    from reconciler.sync.run import Options, PassResult, run

    aws = make_aws(profile, region, endpoint_url, parallelism)
    tree = load_or_exit(path, output, aws.region)
    if revision is None:
        revision = revision_of(path)
        if revision and has_local_changes(path):
            revision += "-dirty"
            click.echo(f"warning: {path} has uncommitted changes: what is applied is not "
                       f"commit {revision[:12]}; resources are tagged {revision[:12]}…-dirty",
                       err=True)
    only = selection(tree, targets, labels)

    def show_plan(planned: PassResult) -> None:
        if output == "text" and not planned.plan.refused:
            click.echo(plan_text(planned.plan, colour(no_color), planned.verdicts))

    def show_hook(key: ResourceKey, text: str) -> None:
        if output == "text":
            click.echo(f"{key}: {text}")

    options = Options(apply=True, revision=revision, prune=prune,
                      allow_mass_prune=allow_mass_prune, allow_replace=allow_replace,
                      verify=verify, only=only, rerun_hooks=rerun_hooks, on_plan=show_plan,
                      on_hook=show_hook)

    async def leased() -> Any:
        if not lease_table:
            return await run(tree, aws, options)
        if force:
            click.echo(f"warning: --force: applying without the lease {lease_name!r} in "
                       f"{lease_table}; the controller may write at the same time", err=True)
            return await run(tree, aws, options)
        lease = Lease(aws.unfenced(), lease_table, lease_name, holder=cli_holder(), quiet=True)
        async with lease.held(wait=lease_wait):
            aws.write_gate = lease.is_leader
            return await run(tree, aws, options)

    try:
        result = run_async(leased())
    except LeaseUnavailable as exc:
        fail(f"{exc}: stop the controller (or wait, --lease-wait), or apply anyway with "
             f"--force")
    except Exception as exc:
        fail(str(exc))
    plan = result.plan
    if plan.refused:
        if output == "json":
            click.echo(json.dumps({**plan_json(plan), "applied": []}, indent=2))
        else:
            click.echo(plan_text(plan, colour(no_color)))
            click.echo("Refused: nothing was applied.", err=True)
        sys.exit(EXIT_ERROR)
    applied = result.applied
    assert applied is not None
    held = result.held()
    if output == "text":
        for o in applied.outcomes:
            line = f"{o.change.key}: {o.result}"
            click.echo(f"{line}: {o.error}" if o.error else line)
        for c in held:
            click.echo(f"{c.key}: held: {result.verdicts[c.key].reason}")
        if not applied.outcomes and not held:
            click.echo("Nothing to apply.")
    rolled = _wait(aws, applied, output, rollout.seconds(timeout)) if wait else None
    if output == "json":
        click.echo(json.dumps({
            **plan_json(plan, result.verdicts),
            "applied": [{"kind": o.change.key.kind, "name": o.change.key.name,
                         "cluster": o.change.key.cluster, "result": str(o.result),
                         "error": o.error, "arn": o.arn} for o in applied.outcomes],
            "held": [{"kind": c.key.kind, "name": c.key.name, "cluster": c.key.cluster,
                      "reason": result.verdicts[c.key].reason} for c in held],
            **({"rollouts": rolled.to_json()} if rolled is not None else {}),
        }, indent=2, default=str))
    if rolled is not None:
        rollout.report(rolled, rollout.seconds(timeout))
    sys.exit(EXIT_OK if applied.ok and not held and (rolled is None or rolled.ok)
             else EXIT_ERROR)


def _wait(aws: Any, applied: ApplyResult, output: str, timeout: float) -> rollout.Outcome:
    """Follow the rollouts of the services this apply created, updated or replaced."""
    from reconciler.controller.rollouts import started
    from reconciler.kinds import REGISTRY
    from reconciler.kinds.service import Service

    kind = REGISTRY["Service"]
    assert isinstance(kind, Service)
    keys, before = [], {}
    for o in applied.outcomes:
        if o.change.key.kind == "Service" and started(kind, o):
            keys.append(o.change.key)
            was = kind.rollout(o.change.live) if o.change.live is not None else None
            if was is not None:
                before[o.change.key] = was.arn
    echo = click.echo if output == "text" else (lambda _s: None)
    if keys and output == "text":
        click.echo(f"Waiting for {len(keys)} rollout(s)...")
    try:
        outcome: rollout.Outcome = run_async(rollout.follow(
            aws, keys, timeout=timeout, echo=echo, before=before))
    except Exception as exc:
        fail(str(exc))
    return outcome


def cli_holder() -> str:
    """Who holds the lease, as the controller's status and error messages will name it."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"reconciler apply ({user}@{socket.gethostname()}, pid {os.getpid()})"
