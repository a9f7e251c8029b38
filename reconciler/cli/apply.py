"""`reconciler apply [PATH]`: make AWS equal to git now, as a manual sync (everything
pending is applied, whatever the controller's drift policy; a refused prune applies
nothing). PreSync hooks run first and are waited for (up to their `timeoutSeconds`); what a
failed one gates is held, and the exit code is 1 until it passes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

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


@click.command()
@path_argument
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text")
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
def apply(path: Path, output: str, prune: bool | None, allow_mass_prune: bool,
          allow_replace: bool, revision: str | None, rerun_hooks: bool, no_color: bool,
          verify: bool) -> None:
    """Make AWS equal to git (PATH). Exit 0 when everything applied, 1 otherwise."""
    from reconciler.aws import Aws
    from reconciler.core.format import plan_json, plan_text
    from reconciler.core.manifest import ResourceKey
    from reconciler.edges.git import revision_of
    from reconciler.sync.run import Options, PassResult, run

    tree = load_or_exit(path, output)

    def show_plan(planned: PassResult) -> None:
        if output == "text" and not planned.plan.refused:
            click.echo(plan_text(planned.plan, colour(no_color), planned.verdicts))

    def show_hook(key: ResourceKey, text: str) -> None:
        if output == "text":
            click.echo(f"{key}: {text}")

    try:
        result = run_async(run(tree, Aws(), Options(
            apply=True, revision=revision or revision_of(path), prune=prune,
            allow_mass_prune=allow_mass_prune, allow_replace=allow_replace, verify=verify,
            rerun_hooks=rerun_hooks, on_plan=show_plan, on_hook=show_hook)))
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
    if output == "json":
        click.echo(json.dumps({
            **plan_json(plan, result.verdicts),
            "applied": [{"kind": o.change.key.kind, "name": o.change.key.name,
                         "cluster": o.change.key.cluster, "result": str(o.result),
                         "error": o.error, "arn": o.arn} for o in applied.outcomes],
            "held": [{"kind": c.key.kind, "name": c.key.name, "cluster": c.key.cluster,
                      "reason": result.verdicts[c.key].reason} for c in held],
        }, indent=2, default=str))
    else:
        for o in applied.outcomes:
            line = f"{o.change.key}: {o.result}"
            click.echo(f"{line}: {o.error}" if o.error else line)
        for c in held:
            click.echo(f"{c.key}: held: {result.verdicts[c.key].reason}")
        if not applied.outcomes and not held:
            click.echo("Nothing to apply.")
    sys.exit(EXIT_OK if applied.ok and not held else EXIT_ERROR)
