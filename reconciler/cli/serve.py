"""`reconciler serve`: the long-running controller (see `reconciler.controller`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from reconciler.cli.common import DEFAULT_PATH, known_region


@click.command()
@click.option("--repo", envvar="RECONCILER_REPO", help="Git remote URL (HTTPS or SSH).")
@click.option("--branch", envvar="RECONCILER_BRANCH", default="main", show_default=True,
              help="The branch whose head is the desired state.")
@click.option("--path", "repo_path", envvar="RECONCILER_PATH", default=DEFAULT_PATH,
              show_default=True, help="Manifests path inside the repository.")
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=None,
              help="Watch a local directory instead of a remote.")
@click.option("--local", is_flag=True,
              help="Embedded default: in-process moto and the local manifests directory.")
@click.option("--listen", envvar="RECONCILER_LISTEN", default="0.0.0.0:8080", show_default=True,
              help="HOST:PORT of the webhook, health, metrics, status and page server.")
@click.option("--resync", type=float, default=None,
              help="Seconds between full resyncs when git is quiet (default 300; 3600 while "
                   "AWS's events flow from --events-queue).")
@click.option("--fetch-interval", envvar="RECONCILER_FETCH_INTERVAL", type=float, default=60.0,
              show_default=True, help="Seconds between fetches of the remote (a webhook fetches at "
                   "once).")
@click.option("--remind-after", type=float, default=4 * 3600.0, show_default=True,
              help="Seconds before an unresolved drift is reminded.")
@click.option("--lease-table", envvar="RECONCILER_LEASE_TABLE", default=None,
              help="DynamoDB table for leader election (several replicas).")
@click.option("--lease-name", envvar="RECONCILER_LEASE_NAME", default="reconciler",
              show_default=True, help="The lease item this controller and `reconciler apply` share.")
@click.option("--lease-seconds", envvar="RECONCILER_LEASE_SECONDS", type=float, default=15.0,
              show_default=True, help="How long a lease lasts unrenewed: a standby takes over about "
                   "this long after the leader dies.")
@click.option("--advertise-url", envvar="RECONCILER_ADVERTISE_URL", default="",
              help="Where the other replicas reach this one (a standby forwards webhooks to "
                   "the leader); default: this host's address and the bound port.")
@click.option("--git-timeout", envvar="RECONCILER_GIT_TIMEOUT", type=float, default=30.0,
              show_default=True, help="Seconds a git command may take before it is an error.")
@click.option("--watch-interval", type=float, default=60.0, show_default=True,
              help="Seconds between looks at the scheduled tasks' runs (ECS describes a "
                   "stopped task for about an hour).")
@click.option("--events-queue", envvar="RECONCILER_EVENTS_QUEUE", default=None,
              help="SQS queue URL that an EventBridge rule fills with AWS's events (else "
                   "eventsQueue in reconciler.yaml): drift is seen within seconds, with who "
                   "made it.")
@click.option("--events-wait", type=click.FloatRange(0, 20), default=20.0, show_default=True,
              help="Seconds each long poll of the queue waits.")
@click.option("--events-drain", type=click.FloatRange(0, 20), default=1.0, show_default=True,
              help="After an event, seconds to wait for more of a burst before the pass.")
@click.option("--events-visibility", type=click.IntRange(1, 43200), default=120,
              show_default=True,
              help="Seconds a received event stays hidden; not handled by then (the process "
                   "died), it comes back.")
def serve(repo: str | None, branch: str, repo_path: str, directory: Path | None, local: bool,
          listen: str, resync: float | None, fetch_interval: float, remind_after: float,
          lease_table: str | None, lease_name: str, lease_seconds: float, advertise_url: str,
          git_timeout: float, watch_interval: float, events_queue: str | None,
          events_wait: float, events_drain: float, events_visibility: int) -> None:
    """Run the controller: watch git, converge, detect drift, alert Slack."""
    from reconciler.controller.wiring import ServeOptions, run

    host, _, port = listen.rpartition(":")
    options = ServeOptions(repo=repo, branch=branch, path=repo_path, directory=directory,
                           host=host or "0.0.0.0", port=int(port), resync=resync,
                           fetch_interval=fetch_interval, remind_after=remind_after,
                           lease_table=lease_table, lease_name=lease_name,
                           lease_seconds=lease_seconds, advertise_url=advertise_url,
                           git_timeout=git_timeout, watch_interval=watch_interval,
                           events_queue=events_queue, events_wait=events_wait,
                           events_drain=events_drain, events_visibility=events_visibility)
    if local:
        from reconciler.cli.demo import print_pass
        from reconciler.embedded import local_default
        from reconciler.embedded.clock import CLOCK, local_speed
        from reconciler.embedded.server import DEFAULT_REGION
        from reconciler.kinds import load_tree

        local_speed()  # tasks (a migration hook) and schedules run on the embedded clock
        options.clock = CLOCK.now  # the embedded default's time: its tasks and schedules run on it
        options.watch_interval /= max(CLOCK.speed, 1.0)  # a minute of it, not of the wall clock
        options.directory = directory or Path(repo_path)
        options.repo = None
        tree = load_tree(options.directory, region=known_region(None) or DEFAULT_REGION)
        with local_default([m.spec for m in tree.manifests]) as server:
            options.events_queue = options.events_queue or server.event_queue()
            click.echo(f"Embedded AWS (moto) at {server.url}; watching {options.directory}; "
                       f"AWS's events on {options.events_queue}")
            _exit(run(options, on_pass=print_pass))
    if not repo and directory is None:
        raise click.UsageError("give --repo URL, --dir PATH, or --local")
    _exit(run(options))




def _exit(code: int) -> None:
    """Leave once the controller has stopped (writes finished, lease released, alerts sent)
    without waiting for a long poll still parked in a worker thread: an SQS receive holds its
    thread up to 20 s, and ECS's stop timeout would kill the task anyway."""
    import os

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
