"""`reconciler schema`: the JSON Schema of the manifest format, for editors."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command(name="schema")
@click.option("--out", "out_file", type=click.Path(path_type=Path), default=None,
              help="Write to a file instead of standard output.")
def schema(out_file: Path | None) -> None:
    """Print the JSON Schema of the manifest format (for yaml-language-server), derived from
    botocore's service model."""
    from reconciler.core.editor_schema import manifest_schema
    from reconciler.kinds import REGISTRY

    text = json.dumps(manifest_schema(REGISTRY), indent=1, sort_keys=True) + "\n"
    if out_file:
        out_file.write_text(text)
    else:
        click.echo(text, nl=False)
