"""The `reconciler` command: one module per command (as ecspresso keeps one file per
command), each an option set and one function; this module is the group that holds them.

Exit codes follow `terraform plan -detailed-exitcode`: 0 in sync / success, 2 changes present
(diff), 1 error (invalid input, failed or refused apply, and a command line click cannot
parse: its usual 2 would read as "changes" to a pipeline).
"""

from __future__ import annotations

from typing import Any

import click

from reconciler.cli import (
    apply,
    demo,
    diff,
    import_,
    logs,
    render,
    rollout,
    run,
    runs,
    schema,
    serve,
    validate,
)


class UsageError(click.UsageError):
    exit_code = 1


class Group(click.Group):
    """click's group, with usage errors exiting 1 (an error), not click's 2 (changes here)."""

    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            raise _error(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise _error(exc) from None


def _error(exc: click.UsageError) -> UsageError:
    return exc if isinstance(exc, UsageError) else UsageError(exc.format_message(), exc.ctx)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"],
                                "auto_envvar_prefix": "RECONCILER", "show_default": True})
@click.option("--log-level", envvar="RECONCILER_LOG_LEVEL", default=None,
              type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
              help="How much to log (default: info for serve, warning for the others).")
@click.option("--log-format", envvar="RECONCILER_LOG_FORMAT", default="auto",
              type=click.Choice(logs.FORMATS),
              help="json, console, or auto: console on a terminal, JSON lines otherwise.")
@click.version_option(package_name="ecs-reconciler")
@click.pass_context
def main(ctx: click.Context, log_level: str | None, log_format: str) -> None:
    """Keep Amazon ECS equal to the manifests in git.

    Every option can also be set in the environment as RECONCILER_<OPTION> (for example
    RECONCILER_REGION, RECONCILER_LOG_LEVEL), or RECONCILER_<COMMAND>_<OPTION>.
    Shell completion: eval "$(_RECONCILER_COMPLETE=bash_source reconciler)" (zsh_source,
    fish_source for the other shells)."""
    default = "info" if ctx.invoked_subcommand == "serve" else "warning"
    logs.configure(log_level or default, log_format)


for command in (validate.validate, render.render, diff.diff, apply.apply, run.run, demo.demo,
                serve.serve, import_.import_, schema.schema, runs.runs, rollout.rollout):
    main.add_command(command)


def _command_envvars(command: click.Command, prefix: str) -> None:
    """Every option is read from RECONCILER_<COMMAND>_<FLAG> (RECONCILER_DIFF_TARGET for
    `diff --target`, RECONCILER_SERVE_DIR for `serve --dir`), as the help says: click's own
    rule names the Python parameter instead (…_TARGETS, …_DIRECTORY), and skips an option
    with a shared name (RECONCILER_TARGET), which still works after the command's own."""
    for p in command.params:
        if isinstance(p, click.Option) and p.name and p.name not in ("help", "version"):
            flag = next((o[2:] for o in p.opts if o.startswith("--")), p.name)
            own = [f"{prefix}_{n.upper().replace('-', '_')}" for n in dict.fromkeys((flag, p.name))]
            shared = [] if not p.envvar else [p.envvar] if isinstance(p.envvar, str) \
                else list(p.envvar)
            p.envvar = [*(n for n in own if n not in shared), *shared]
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            _command_envvars(sub, f"{prefix}_{name.upper().replace('-', '_')}")


for _name, _command in main.commands.items():
    _command_envvars(_command, f"RECONCILER_{_name.upper().replace('-', '_')}")

__all__ = ["main"]
