"""The `reconciler` command: validate, diff, apply, demo.

Exit codes follow `terraform plan -detailed-exitcode`: 0 in sync / success, 2 changes present
(diff), 1 error (invalid input, failed or refused apply).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from reconciler.aws.client import Aws
from reconciler.cli import logs as log
from reconciler.core.format import plan_json, plan_markdown, plan_text
from reconciler.core.validate import Tree, load_tree
from reconciler.edges.gitrev import revision_of
from reconciler.sync.run import InvalidTree, Pass, apply_planned, plan_path

DEFAULT_PATH = "manifests"
EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2


def _colour(no_color: bool) -> bool:
    return not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()


def _print_errors(tree: Tree, output: str) -> None:
    if output == "json":
        click.echo(json.dumps({"valid": False, "errors": [
            {"file": e.file, "line": e.line, "resource": e.resource, "message": e.message}
            for e in tree.errors]}, indent=2))
        return
    for e in tree.errors:
        click.echo(str(e), err=True)
    click.echo(f"{len(tree.errors)} error(s); nothing was applied.", err=True)


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


path_argument = click.argument(
    "path", required=False, default=DEFAULT_PATH, type=click.Path(path_type=Path)
)
output_option = click.option(
    "--output", "-o", type=click.Choice(["text", "json", "markdown"]), default="text",
    show_default=True, help="How to print the result.",
)
prune_option = click.option(
    "--prune/--no-prune", default=None,
    help="Delete owned resources that git no longer has (default: `prune` in reconciler.yaml).",
)
mass_prune_option = click.option(
    "--allow-mass-prune", is_flag=True,
    help="Allow this run to delete more than the configured share, or every resource of a kind.",
)
revision_option = click.option(
    "--revision", default=None, help="Git revision to record (default: HEAD of PATH's repo)."
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--log-level", default=os.environ.get("RECONCILER_LOG_LEVEL", "warning"),
              show_default=True, help="debug, info, warning or error.")
@click.version_option(package_name="ecs-reconciler")
def main(log_level: str) -> None:
    """Keep Amazon ECS equal to the manifests in git."""
    log.configure(log_level)


@main.command()
@path_argument
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text")
def validate(path: Path, output: str) -> None:
    """Check every manifest under PATH offline; exit 1 on any error."""
    tree = load_tree(path)
    if not tree.ok:
        _print_errors(tree, output)
        sys.exit(EXIT_ERROR)
    if output == "json":
        click.echo(json.dumps({"valid": True, "resources": len(tree.manifests)}))
    else:
        click.echo(f"{len(tree.manifests)} manifest(s) valid.")


def _plan_or_exit(path: Path, output: str, **kwargs: Any) -> Pass:
    tree = load_tree(path)
    if not tree.ok:
        _print_errors(tree, "json" if output == "json" else "text")
        sys.exit(EXIT_ERROR)
    kwargs.setdefault("revision", revision_of(path))
    try:
        planned: Pass = _run(plan_path(Aws(), path, tree=tree, **kwargs))
        return planned
    except InvalidTree as exc:  # pragma: no cover - load_tree above already checked
        _print_errors(exc.tree, output)
        sys.exit(EXIT_ERROR)


@main.command()
@path_argument
@click.option("--output", "-o", type=click.Choice(["yaml", "json"]), default="yaml")
def render(path: Path, output: str) -> None:
    """Print the manifests under PATH with every Release expanded from its chart."""
    import yaml

    tree = load_tree(path)
    if not tree.ok:
        _print_errors(tree, "json" if output == "json" else "text")
        sys.exit(EXIT_ERROR)
    docs = []
    for m in tree.manifests:
        metadata: dict[str, Any] = dict(m.raw.get("metadata") or {})
        if m.origin:
            metadata["annotations"] = {**(metadata.get("annotations") or {}),
                                       "reconciler/rendered-from": m.origin}
        docs.append({"apiVersion": m.api_version, "kind": m.kind, "metadata": metadata,
                     "spec": m.spec})
    if output == "json":
        click.echo(json.dumps(docs, indent=2))
    else:
        click.echo(yaml.safe_dump_all(docs, sort_keys=False, explicit_start=True), nl=False)


@main.command()
@path_argument
@output_option
@prune_option
@mass_prune_option
@click.option("--no-color", is_flag=True, help="Plain text even on a terminal.")
def diff(path: Path, output: str, prune: bool | None, allow_mass_prune: bool,
         no_color: bool) -> None:
    """Show what differs between git (PATH) and AWS. Exit 0 in sync, 2 changes, 1 error."""
    try:
        result = _plan_or_exit(path, output, prune=prune, allow_mass_prune=allow_mass_prune)
    except Exception as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    plan = result.plan
    if output == "json":
        click.echo(json.dumps(plan_json(plan), indent=2, default=str))
    elif output == "markdown":
        click.echo(plan_markdown(plan))
    else:
        click.echo(plan_text(plan, _colour(no_color)))
    if plan.refused:
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_CHANGES if plan.pending else EXIT_OK)


@main.command()
@path_argument
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text")
@prune_option
@mass_prune_option
@click.option("--allow-replace", is_flag=True,
              help="Allow changes that delete and re-create a resource.")
@revision_option
@click.option("--no-color", is_flag=True)
def apply(path: Path, output: str, prune: bool | None, allow_mass_prune: bool,
          allow_replace: bool, revision: str | None, no_color: bool) -> None:
    """Make AWS equal to git (PATH). Exit 0 when everything applied, 1 otherwise."""
    tree = load_tree(path)
    if not tree.ok:
        _print_errors(tree, output)
        sys.exit(EXIT_ERROR)
    revision = revision or revision_of(path)
    aws = Aws()
    try:
        planned = _run(plan_path(aws, path, tree=tree, revision=revision, prune=prune,
                                 allow_mass_prune=allow_mass_prune))
    except Exception as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    if planned.plan.refused:
        if output == "json":
            click.echo(json.dumps({**plan_json(planned.plan), "applied": []}, indent=2))
        else:
            click.echo(plan_text(planned.plan, _colour(no_color)))
            click.echo("Refused: nothing was applied.", err=True)
        sys.exit(EXIT_ERROR)
    if output == "text":
        click.echo(plan_text(planned.plan, _colour(no_color)))
    result = _run(apply_planned(aws, planned, allow_replace=allow_replace))
    applied = result.applied
    assert applied is not None
    if output == "json":
        click.echo(json.dumps({
            **plan_json(result.plan),
            "applied": [{"kind": o.change.key.kind, "name": o.change.key.name,
                         "cluster": o.change.key.cluster, "result": o.result,
                         "error": o.error, "arn": o.arn} for o in applied.outcomes],
        }, indent=2, default=str))
    else:
        for o in applied.outcomes:
            line = f"{o.change.key}: {o.result}"
            click.echo(f"{line}: {o.error}" if o.error else line)
        if not applied.outcomes:
            click.echo("Nothing to apply.")
    sys.exit(EXIT_OK if applied.ok else EXIT_ERROR)


@main.command()
@click.argument("path", required=False, default=DEFAULT_PATH, type=click.Path(path_type=Path))
@click.option("--no-watch", is_flag=True, help="Stop after showing the drift.")
def demo(path: Path, no_watch: bool) -> None:
    """Run on the embedded default: a local moto server and the example manifests."""
    from reconciler.cli.demo import run_demo

    sys.exit(run_demo(path, watch=not no_watch))


@main.command()
@click.option("--repo", envvar="RECONCILER_REPO", help="Git remote URL (HTTPS or SSH).")
@click.option("--branch", envvar="RECONCILER_BRANCH", default="main", show_default=True)
@click.option("--path", "repo_path", envvar="RECONCILER_PATH", default=DEFAULT_PATH,
              show_default=True, help="Manifests path inside the repository.")
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=None,
              help="Watch a local directory instead of a remote.")
@click.option("--local", is_flag=True,
              help="Embedded default: in-process moto and the local manifests directory.")
@click.option("--listen", envvar="RECONCILER_LISTEN", default="0.0.0.0:8080", show_default=True)
@click.option("--resync", type=float, default=300.0, show_default=True,
              help="Seconds between full resyncs when git is quiet.")
@click.option("--fetch-interval", type=float, default=60.0, show_default=True)
@click.option("--remind-after", type=float, default=4 * 3600.0, show_default=True,
              help="Seconds before an unresolved drift is reminded.")
@click.option("--lease-table", envvar="RECONCILER_LEASE_TABLE", default=None,
              help="DynamoDB table for leader election (several replicas).")
@click.option("--lease-name", default="reconciler", show_default=True)
@click.option("--lease-seconds", type=float, default=15.0, show_default=True)
def serve(repo: str | None, branch: str, repo_path: str, directory: Path | None, local: bool,
          listen: str, resync: float, fetch_interval: float, remind_after: float,
          lease_table: str | None, lease_name: str, lease_seconds: float) -> None:
    """Run the controller: watch git, converge, detect drift, alert Slack."""
    from reconciler.controller.wiring import ServeOptions, run

    host, _, port = listen.rpartition(":")
    options = ServeOptions(repo=repo, branch=branch, path=repo_path, directory=directory,
                           host=host or "0.0.0.0", port=int(port), resync=resync,
                           fetch_interval=fetch_interval, remind_after=remind_after,
                           lease_table=lease_table, lease_name=lease_name,
                           lease_seconds=lease_seconds)
    if local:
        from reconciler.embedded import embedded_aws, network_ids, seed_network

        options.directory = directory or Path(repo_path)
        options.repo = None
        tree = load_tree(options.directory)
        with embedded_aws() as server:
            subnets, groups = network_ids([m.spec for m in tree.manifests])
            seed_network(server.url, os.environ["AWS_REGION"], subnets, groups)
            click.echo(f"Embedded AWS (moto) at {server.url}; watching {options.directory}")
            from reconciler.cli.demo import _print_pass

            sys.exit(run(options, on_pass=_print_pass))
    if not repo and directory is None:
        raise click.UsageError("give --repo URL, --dir PATH, or --local")
    sys.exit(run(options))


@main.command(name="import")
@click.option("--cluster", required=True, help="The live cluster to import.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Where to write the manifests (default: imported/CLUSTER).")
@click.option("--force", is_flag=True, help="Write into a folder that is not empty.")
def import_(cluster: str, out_dir: Path | None, force: bool) -> None:
    """Write minimal manifests for a live cluster: its services and their task definitions,
    the schedules that target it and their scalable targets."""
    from reconciler.cli.import_ import import_cluster

    out_dir = out_dir or Path("imported") / cluster
    if out_dir.exists() and any(out_dir.iterdir()) and not force:
        raise click.UsageError(f"{out_dir} is not empty (use --force)")
    try:
        imported = _run(import_cluster(Aws(), cluster))
    except LookupError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    for path in imported.write(out_dir):
        click.echo(str(path))
    click.echo(f"{len(imported.documents)} manifest(s) written to {out_dir}; "
               f"`reconciler diff {out_dir}` shows them in sync and `apply` adopts them.")


@main.command(name="schema")
@click.option("--out", "out_file", type=click.Path(path_type=Path), default=None,
              help="Write to a file instead of standard output.")
def schema_(out_file: Path | None) -> None:
    """Print the JSON Schema of the manifest format (for yaml-language-server), derived from
    botocore's service model."""
    from reconciler.core.editor_schema import manifest_schema

    text = json.dumps(manifest_schema(), indent=1, sort_keys=True) + "\n"
    if out_file:
        out_file.write_text(text)
    else:
        click.echo(text, nl=False)
