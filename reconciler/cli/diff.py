"""`reconciler diff [PATH]`: what differs between git and AWS, and what the controller will
do with each difference (the same pass, with apply off, judged by the controller's policy)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.cli.common import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    aws_options,
    colour,
    fail,
    load_or_exit,
    make_aws,
    mass_prune_option,
    no_color_option,
    output_option,
    path_argument,
    prune_option,
    run_async,
    selection,
    target_options,
    verify_option,
)

if TYPE_CHECKING:
    from reconciler.aws import Aws
    from reconciler.core.events import Provenance
    from reconciler.core.manifest import ResourceKey
    from reconciler.sync.run import PassResult

WHY_DAYS = 7  # how far back CloudTrail's event history is searched


async def explain(result: PassResult, aws: Aws) -> dict[ResourceKey, Provenance]:
    """Who made each drift, from CloudTrail's LookupEvents: only the drifted resources,
    only the calls that could have made their drift, paced to LookupEvents' 2 a second."""
    from datetime import UTC, datetime, timedelta

    from reconciler.core.events import DRIFT_CALLS, NOBODY, TAG_CALLS, Index
    from reconciler.core.ports import AwsError
    from reconciler.edges.events import own_identity, who_changed
    from reconciler.kinds import REGISTRY

    drifted = [c for c in result.plan.pending if c.drift and c.live is not None]
    if not drifted:
        return {}
    wanted = {}
    for c in drifted:
        tags = any(f.path and str(f.path[0]).lower() == "tags" for f in c.fields)
        wanted[c.key] = [n for n in DRIFT_CALLS.get(c.key.kind, ()) if tags or n not in TAG_CALLS]
    lives = {c.key: (c.live.arn, c.live.raw) for c in result.plan.changes if c.live is not None}
    index = Index.of(result.tree.manifests, lives, REGISTRY)
    now = datetime.now(UTC)
    try:
        # no end: "until now" as AWS's clock has it, not as this machine's does
        return await who_changed(aws, wanted, index, await own_identity(aws),
                                 now - timedelta(days=WHY_DAYS))
    except AwsError as exc:  # no permission, or no CloudTrail here: the diff still stands
        click.echo(f"warning: cannot ask CloudTrail who made the drift: {exc}", err=True)
        return {key: NOBODY for key in wanted}


@click.command()
@path_argument
@output_option
@prune_option
@mass_prune_option
@no_color_option
@verify_option
@click.option("--why", is_flag=True,
              help="Name who made each drift (principal, console/CLI/SDK/tool, source IP, "
                   "time, CloudTrail link), from CloudTrail's event history.")
@target_options
@aws_options
def diff(path: Path, output: str, prune: bool | None, allow_mass_prune: bool,
         no_color: bool, verify: bool, why: bool, targets: tuple[str, ...],
         labels: tuple[str, ...], profile: str | None, region: str | None,
         endpoint_url: str | None, parallelism: int) -> None:
    """Show what differs between git (PATH) and AWS. Exit 0 in sync, 2 changes, 1 error."""
    from reconciler.core.format import plan_json, plan_markdown, plan_text
    from reconciler.core.policy import Trigger
    from reconciler.edges.git import revision_of
    from reconciler.sync.run import Options, run

    aws = make_aws(profile, region, endpoint_url, parallelism)
    tree = load_or_exit(path, output, aws.region)
    only = selection(tree, targets, labels)

    async def both() -> tuple[PassResult, dict[ResourceKey, Provenance] | None]:
        found = await run(tree, aws, Options(
            trigger=Trigger.AUTOMATED, revision=revision_of(path), prune=prune,
            allow_mass_prune=allow_mass_prune, verify=verify, only=only))
        return found, (await explain(found, aws) if why else None)

    try:
        result, who = run_async(both())
    except Exception as exc:
        fail(str(exc))
    plan, verdicts = result.plan, result.verdicts
    if output == "json":
        rolled_back = {str(k): reason for k, reason in result.reverted.items()}
        click.echo(json.dumps({**plan_json(plan, verdicts, who),
                               **({"rolledBack": rolled_back} if rolled_back else {})},
                              indent=2, default=str))
    elif output == "markdown":
        click.echo(plan_markdown(plan, verdicts, who))
    else:
        click.echo(plan_text(plan, colour(no_color), verdicts, who))
    if output != "json":
        for key, reason in sorted(result.reverted.items(), key=lambda kv: str(kv[0])):
            click.echo(f"{key}: {reason}")
    if plan.refused:
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_CHANGES if plan.pending else EXIT_OK)
