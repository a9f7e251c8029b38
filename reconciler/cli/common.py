"""What every command shares: the path argument, output options, exit codes (as
`terraform plan -detailed-exitcode`: 0 in sync / success, 2 changes present, 1 error), and
loading a tree or stopping with every error."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:  # loading the tree pulls in the model and the charts: only when used
    from reconciler.core.load import Tree

DEFAULT_PATH = "manifests"
EXIT_OK, EXIT_ERROR, EXIT_CHANGES = 0, 1, 2

path_argument = click.argument(
    "path", required=False, default=DEFAULT_PATH, type=click.Path(path_type=Path))
output_option = click.option(
    "--output", "-o", type=click.Choice(["text", "json", "markdown"]), default="text",
    show_default=True, help="How to print the result.")
prune_option = click.option(
    "--prune/--no-prune", default=None,
    help="Delete owned resources that git no longer has (default: `prune` in reconciler.yaml).")
mass_prune_option = click.option(
    "--allow-mass-prune", is_flag=True,
    help="Allow this run to delete more than the configured share, or every resource of a kind.")
no_color_option = click.option("--no-color", is_flag=True, help="Plain text even on a terminal.")
verify_option = click.option(
    "--verify", is_flag=True,
    help="Describe every task definition revision instead of trusting the desired-hash tag "
         "the reconciler put on it (guards against tags edited by hand).")


def aws_options(fn: Any) -> Any:
    """--profile, --region, --endpoint-url, --parallelism: how to reach AWS (else the standard
    AWS environment: AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ...)."""
    for option in reversed([
        click.option("--profile", envvar="RECONCILER_PROFILE", default=None,
                     help="AWS named profile (default: AWS_PROFILE, else the default chain)."),
        click.option("--region", envvar="RECONCILER_REGION", default=None,
                     help="AWS Region (default: AWS_REGION / AWS_DEFAULT_REGION / profile)."),
        click.option("--endpoint-url", envvar="RECONCILER_ENDPOINT_URL", default=None,
                     help="Send every AWS call here (a stand-in such as moto; default: "
                          "AWS_ENDPOINT_URL, else AWS)."),
        click.option("--parallelism", envvar="RECONCILER_PARALLELISM", type=click.IntRange(1, 64),
                     default=16, show_default=True, help="AWS calls in flight at once."),
    ]):
        fn = option(fn)
    return fn


def target_options(fn: Any) -> Any:
    """--target and -l: aim at some resources (and what they reference); prune is off under
    a selector unless --prune is given."""
    fn = click.option("-l", "--selector", "labels", multiple=True, envvar="RECONCILER_SELECTOR",
                      help="Only manifests with this label, key=value (repeatable: all "
                           "must match).")(fn)
    return click.option("--target", "targets", multiple=True, envvar="RECONCILER_TARGET",
                        help="Only this resource, Kind/[cluster/]name, name may be a glob "
                             "(repeatable).")(fn)


def selection(tree: Tree, targets: tuple[str, ...], labels: tuple[str, ...]) -> Any:
    """The keys --target / -l pick, or None; a selector matching nothing is an error."""
    from reconciler.core.select import SelectionError, select

    try:
        return select(tree.manifests, targets, labels)
    except SelectionError as exc:
        fail(str(exc))


def make_aws(profile: str | None, region: str | None, endpoint_url: str | None,
             parallelism: int) -> Any:
    """The AWS adapter for these options, or a one-line error (a profile that does not
    exist, no Region) instead of a traceback."""
    from reconciler.aws import ConnectError, connect

    try:
        return connect(profile, region, endpoint_url, parallelism)
    except ConnectError as exc:
        fail(str(exc))


def colour(no_color: bool) -> bool:
    return not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()


def print_errors(tree: Tree, output: str) -> None:
    if output == "json":
        click.echo(json.dumps({"valid": False, "errors": [
            {"file": e.file, "line": e.line, "resource": e.resource, "message": e.message}
            for e in tree.errors]}, indent=2))
        return
    for e in tree.errors:
        click.echo(str(e), err=True)
    click.echo(f"{len(tree.errors)} error(s); nothing was applied.", err=True)


def region_option(fn: Any) -> Any:
    """For offline commands: the Region chart templates see as `aws.region`."""
    return click.option("--region", envvar="RECONCILER_REGION", default=None,
                        help="The Region charts see as aws.region (default: AWS_REGION or "
                             "AWS_DEFAULT_REGION).")(fn)


STAND_IN_REGION = "us-east-1"


def known_region(region: str | None) -> str | None:
    """The Region as given, else as the environment or the profile's config file says; never
    an error (a mistyped profile is for the commands that call AWS to report)."""
    found = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if found:
        return found
    try:
        import botocore.session

        configured = botocore.session.Session().get_config_variable("region")
    except Exception:
        return None
    return str(configured) if configured else None


def load_offline(path: Path, output: str, region: str | None) -> Tree:
    """The tree for a command that calls no AWS: with no Region known, charts that use
    `aws.region` get a stand-in, and the person is told."""
    from reconciler.kinds import load_tree

    known = known_region(region)
    if known is None:
        probe = load_tree(path)
        if any("aws.region is not known" in e.message for e in probe.errors):
            click.echo(f"warning: no Region known (--region, AWS_REGION or the profile): "
                       f"charts render aws.region as {STAND_IN_REGION}", err=True)
            known = STAND_IN_REGION
    return load_or_exit(path, output, known)


def load_or_exit(path: Path, output: str, region: str | None = None) -> Tree:
    """The validated tree under `path`, or every error printed and exit 1."""
    from reconciler.kinds import load_tree

    tree = load_tree(path, region=region)
    if not tree.ok:
        print_errors(tree, "json" if output == "json" else "text")
        sys.exit(EXIT_ERROR)
    print_warnings(tree)
    return tree


def print_warnings(tree: Tree) -> None:
    for w in tree.warnings:
        click.echo(str(w), err=True)


def fail(message: str) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_ERROR)


def run_async(coro: Any) -> Any:
    import asyncio

    return asyncio.run(coro)
