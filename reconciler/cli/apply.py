"""`reconciler apply [PATH]`: make AWS equal to git now, as a manual sync (everything
pending is applied, whatever the controller's drift policy; a refused prune applies
nothing)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reconciler.cli import rollout
from reconciler.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    colour,
    fail,
    load_or_exit,
    mass_prune_option,
    no_color_option,
    path_argument,
    prune_option,
    run_async,
    verify_option,
)

if TYPE_CHECKING:
    from reconciler.sync.apply import ApplyResult


@click.command()
@path_argument
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text")
@prune_option
@mass_prune_option
@click.option("--allow-replace", is_flag=True,
              help="Allow changes that delete and re-create a resource.")
@click.option("--revision", default=None,
              help="Git revision to record (default: HEAD of PATH's repo).")
@no_color_option
@verify_option
@click.option("--wait", is_flag=True,
              help="Then follow the rollouts of the services it changed to their end "
                   "(as `reconciler rollout wait`): exit 1 if one rolls back or fails.")
@click.option("--timeout", default=rollout.DEFAULT_TIMEOUT, show_default=True,
              help="With --wait: give up after this long (90s, 10m, 1h).")
def apply(path: Path, output: str, prune: bool | None, allow_mass_prune: bool,
          allow_replace: bool, revision: str | None, no_color: bool, verify: bool,
          wait: bool, timeout: str) -> None:
    """Make AWS equal to git (PATH). Exit 0 when everything applied (and, with --wait,
    rolled out), 1 otherwise."""
    from reconciler.aws import Aws
    from reconciler.core.format import plan_json, plan_text
    from reconciler.edges.git import revision_of
    from reconciler.sync.run import Options, PassResult, run

    tree = load_or_exit(path, output)

    def show_plan(planned: PassResult) -> None:
        if output == "text" and not planned.plan.refused:
            click.echo(plan_text(planned.plan, colour(no_color)))

    aws = Aws()
    try:
        result = run_async(run(tree, aws, Options(
            apply=True, revision=revision or revision_of(path), prune=prune,
            allow_mass_prune=allow_mass_prune, allow_replace=allow_replace, verify=verify,
            on_plan=show_plan)))
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
    if output == "text":
        for o in applied.outcomes:
            line = f"{o.change.key}: {o.result}"
            click.echo(f"{line}: {o.error}" if o.error else line)
        if not applied.outcomes:
            click.echo("Nothing to apply.")
    rolled = _wait(aws, applied, output, rollout.seconds(timeout)) if wait else None
    if output == "json":
        click.echo(json.dumps({
            **plan_json(plan),
            "applied": [{"kind": o.change.key.kind, "name": o.change.key.name,
                         "cluster": o.change.key.cluster, "result": str(o.result),
                         "error": o.error, "arn": o.arn} for o in applied.outcomes],
            **({"rollouts": rolled.to_json()} if rolled is not None else {}),
        }, indent=2, default=str))
    if rolled is not None:
        rollout.report(rolled, rollout.seconds(timeout))
    sys.exit(EXIT_OK if applied.ok and (rolled is None or rolled.ok) else EXIT_ERROR)


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
