"""`reconciler render [PATH]`: the manifests with every Release expanded from its chart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from reconciler.cli.common import load_offline, path_argument, region_option


@click.command()
@path_argument
@click.option("--output", "-o", type=click.Choice(["yaml", "json"]), default="yaml",
              show_default=True, help="YAML documents, or one JSON list.")
@click.option("--show-secrets", is_flag=True,
              help="Print secret values as they are (masked as (sensitive) by default).")
@region_option
def render(path: Path, output: str, show_secrets: bool, region: str | None) -> None:
    """Print the manifests under PATH with every Release expanded from its chart."""
    import yaml

    from reconciler.core.mask import mask

    tree = load_offline(path, output, region)
    docs = []
    for m in tree.manifests:
        metadata: dict[str, Any] = dict(m.raw.get("metadata") or {})
        if m.origin:
            metadata["annotations"] = {**(metadata.get("annotations") or {}),
                                       "reconciler/rendered-from": m.origin}
        docs.append({"apiVersion": m.api_version, "kind": m.kind, "metadata": metadata,
                     "spec": m.spec if show_secrets else mask(m.spec)})
    if output == "json":
        click.echo(json.dumps(docs, indent=2))
    else:
        click.echo(yaml.safe_dump_all(docs, sort_keys=False, explicit_start=True), nl=False)
