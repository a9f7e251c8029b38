"""`reconciler diff [PATH]`: what differs between git and AWS, and what the controller will
do with each difference (the same pass, with apply off, judged by the controller's policy)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from reconciler.cli.common import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    colour,
    fail,
    load_or_exit,
    mass_prune_option,
    no_color_option,
    output_option,
    path_argument,
    prune_option,
    run_async,
    verify_option,
)


@click.command()
@path_argument
@output_option
@prune_option
@mass_prune_option
@no_color_option
@verify_option
def diff(path: Path, output: str, prune: bool | None, allow_mass_prune: bool,
         no_color: bool, verify: bool) -> None:
    """Show what differs between git (PATH) and AWS. Exit 0 in sync, 2 changes, 1 error."""
    from reconciler.aws import Aws
    from reconciler.core.format import plan_json, plan_markdown, plan_text
    from reconciler.core.policy import Trigger
    from reconciler.edges.git import revision_of
    from reconciler.sync.run import Options, run

    tree = load_or_exit(path, output)
    try:
        result = run_async(run(tree, Aws(), Options(
            trigger=Trigger.AUTOMATED, revision=revision_of(path), prune=prune,
            allow_mass_prune=allow_mass_prune, verify=verify)))
    except Exception as exc:
        fail(str(exc))
    plan, verdicts = result.plan, result.verdicts
    if output == "json":
        rolled_back = {str(k): why for k, why in result.reverted.items()}
        click.echo(json.dumps({**plan_json(plan, verdicts),
                               **({"rolledBack": rolled_back} if rolled_back else {})},
                              indent=2, default=str))
    elif output == "markdown":
        click.echo(plan_markdown(plan, verdicts))
    else:
        click.echo(plan_text(plan, colour(no_color), verdicts))
    if output != "json":
        for key, why in sorted(result.reverted.items(), key=lambda kv: str(kv[0])):
            click.echo(f"{key}: {why}")
    if plan.refused:
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_CHANGES if plan.pending else EXIT_OK)
