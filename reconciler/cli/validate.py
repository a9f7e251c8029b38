"""`reconciler validate [PATH]`: every error in the tree, offline."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from reconciler.cli.common import (
    EXIT_ERROR,
    STAND_IN_REGION,
    known_region,
    path_argument,
    print_errors,
    print_warnings,
    region_option,
)


@click.command()
@path_argument
@click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="How to print the errors (JSON: one object per error).")
@region_option
def validate(path: Path, output: str, region: str | None) -> None:
    """Check every manifest under PATH offline; exit 1 on any error."""
    from reconciler.kinds import load_tree

    # Offline, the Region only fills aws.region in charts: a stand-in checks everything else.
    tree = load_tree(path, region=known_region(region) or STAND_IN_REGION)
    if not tree.ok:
        print_errors(tree, output)
        sys.exit(EXIT_ERROR)
    print_warnings(tree)
    if output == "json":
        click.echo(json.dumps({"valid": True, "resources": len(tree.manifests), "warnings": [
            {"file": w.file, "line": w.line, "resource": w.resource, "message": w.message}
            for w in tree.warnings]}))
    else:
        click.echo(f"{len(tree.manifests)} manifest(s) valid.")
