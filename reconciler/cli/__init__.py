"""The `reconciler` command: one module per command (as ecspresso keeps one file per
command), each an option set and one function; this module is the group that holds them.

Exit codes follow `terraform plan -detailed-exitcode`: 0 in sync / success, 2 changes present
(diff), 1 error (invalid input, failed or refused apply).
"""

from __future__ import annotations

import os

import click

from reconciler.cli import (
    apply,
    demo,
    diff,
    import_,
    logs,
    render,
    rollout,
    schema,
    serve,
    validate,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--log-level", default=os.environ.get("RECONCILER_LOG_LEVEL", "warning"),
              show_default=True, help="debug, info, warning or error.")
@click.version_option(package_name="ecs-reconciler")
def main(log_level: str) -> None:
    """Keep Amazon ECS equal to the manifests in git."""
    logs.configure(log_level)


for command in (validate.validate, render.render, diff.diff, apply.apply, demo.demo,
                serve.serve, import_.import_, schema.schema, rollout.rollout):
    main.add_command(command)

__all__ = ["main"]
