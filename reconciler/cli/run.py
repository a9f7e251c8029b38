"""`reconciler run JOB|TASKDEF [PATH]`: start a one-off task the way the manifests define it,
print its ARN, follow it and exit with its essential container's exit code (`ecspresso
run`). A Job gives everything RunTask needs; a task definition is run networked and placed
like the Service that runs it. `--command` and `--env` override one container.

Exit codes: the essential container's exit code; 1 when no task started or one never ran
its container; 124 when `--timeout` passed first (the task is left running, as `timeout(1)`
reports it)."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

import click

from reconciler.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    aws_options,
    fail,
    load_or_exit,
    make_aws,
    path_argument,
    run_async,
)
from reconciler.cli.rollout import seconds

EXIT_TIMEOUT = 124


def _env(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for v in values:
        name, sep, value = v.partition("=")
        if not sep or not name:
            fail(f"--env takes NAME=VALUE, not {v!r}")
        out[name] = value
    return out


@click.command("run")
@click.argument("name")
@path_argument
@click.option("--cluster", default=None, help="The cluster, when NAME is in several.")
@click.option("--container", default=None,
              help="The container --command and --env are for (default: the one the Job "
                   "overrides, else the first essential one).")
@click.option("--command", default=None,
              help="The container's command, split as a shell would: --command \"./manage.py "
                   "migrate --noinput\".")
@click.option("--env", "-e", multiple=True, metavar="NAME=VALUE",
              help="An environment variable for the container (repeatable).")
@click.option("--wait/--no-wait", default=True, show_default=True,
              help="Follow the task until it stops, or only print its ARN.")
@click.option("--timeout", default=None,
              callback=lambda _ctx, _p, value: None if value is None else seconds(value),
              help="How long to follow it (90s, 10m, 1h; default: the Job's timeoutSeconds, "
                   "else 30m): exit 124.")
@click.option("--poll", type=float, default=5.0, show_default=True, hidden=True,
              help="Seconds between looks at the task.")
@aws_options
def run(name: str, path: Path, cluster: str | None, container: str | None,
        command: str | None, env: tuple[str, ...], wait: bool, timeout: float | None,
        poll: float, profile: str | None, region: str | None, endpoint_url: str | None,
        parallelism: int) -> None:
    """Start the Job or task definition NAME as a one-off task and follow it."""
    import asyncio

    from reconciler.core.hooks import Run, Runnable
    from reconciler.kinds import REGISTRY
    from reconciler.sync import oneoff
    from reconciler.sync.hooks import follow

    aws = make_aws(profile, region, endpoint_url, parallelism)
    tree = load_or_exit(path, "text", aws.region)
    argv = shlex.split(command) if command is not None else None

    async def go() -> int:
        task = await oneoff.prepare(tree, aws, name, cluster=cluster, container=container,
                                    command=argv, env=_env(env), timeout=timeout)
        for note in task.notes:
            click.echo(f"note: {note}", err=True)
        arn = await oneoff.start(aws, task)
        click.echo(arn)
        if not wait:
            return EXIT_OK
        kind = REGISTRY["Job"]
        assert isinstance(kind, Runnable)

        def status(r: Run) -> None:
            click.echo(f"{time.strftime('%H:%M:%S')} {r.status}", err=True)

        seen = await follow(kind, aws, task.cluster, arn, until=time.time() + task.timeout,
                            sleep=asyncio.sleep, clock=time.time, poll=poll, on_status=status)
        if not seen.stopped:
            click.echo(f"still running after {task.timeout:.0f} s: {arn}", err=True)
            return EXIT_TIMEOUT
        for line in seen.details():
            click.echo(line, err=True)
        return seen.exit_code

    try:
        code = run_async(go())
    except oneoff.RunError as exc:
        fail(str(exc))
    except Exception as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    sys.exit(code)
