"""`reconciler demo`: the whole product on the embedded default, in one terminal.

Starts moto on 127.0.0.1, shows the diff of the example manifests, applies it (the API's
database migration, a PreSync hook, runs before its service is created), shows that a second
diff is empty, rolls a new image of a canary service out (the embedded clock run fast, each
move of the rollout on its own line) and puts git's image back, edits AWS behind the
reconciler's back with boto3 (as "alice", a session of an Admin role, as a console user
would) and shows the drift and who made it (`diff --why`); then a night without Fargate Spot
capacity on the embedded clock: the nightly close misses its run, is alerted and re-run on
Fargate, and recovers; then a release whose migration fails holds its service back; then it
runs the controller with AWS's events: a second hand edit is alerted within seconds, signed
with who made it, and every save of a manifest converges. Every step is the one pass
(`sync.run`) that `diff`, `apply` and the controller run. Tasks run on the embedded clock,
sped up (`RECONCILER_EMBEDDED_SPEED`, default 30 here) so a migration takes a second or two.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reconciler.cli.common import DEFAULT_PATH

if TYPE_CHECKING:
    from reconciler.core.load import Tree
    from reconciler.edges.slack import Sink

RESYNC_SECONDS = 300.0  # a safety net: AWS's events say what changed within seconds
EDITOR = ("Admin", "alice@example.com")  # the role and session that edit by hand
ROLLOUT_SPEED = 120.0  # embedded minutes a rollout takes, in half-seconds


def _heading(text: str) -> None:
    click.echo()
    click.echo(click.style(f"==> {text}", bold=True))


def _hand_edit(cluster: str | None, name: str, exec_on: bool) -> str:
    """Change a live service the way a console user would, with plain boto3, as a person:
    a session of the account's Admin role, as single sign-on gives one."""
    import boto3

    role, session = EDITOR
    account = boto3.client("sts").get_caller_identity()["Account"]
    creds = boto3.client("sts").assume_role(RoleArn=f"arn:aws:iam::{account}:role/{role}",
                                            RoleSessionName=session)["Credentials"]
    ecs = boto3.client("ecs", aws_access_key_id=creds["AccessKeyId"],
                       aws_secret_access_key=creds["SecretAccessKey"],
                       aws_session_token=creds["SessionToken"])
    ecs.update_service(cluster=cluster, service=name, enableExecuteCommand=not exec_on,
                       propagateTags="NONE")
    return (f"aws ecs update-service --cluster {cluster} --service {name} "
            f"--{'no-' if exec_on else ''}enable-execute-command --propagate-tags NONE"
            f"    # as {session}, role {role}")


def failing_release(tree: Tree) -> tuple[str, str] | None:
    """The tree changed as a failing release would change it: the first PreSync hook's task
    definition gets a new image and the hook's command exits 1 on the embedded default
    (RECONCILER_SIMULATE_EXIT). (hook, service) it concerns, None without a hook."""
    from reconciler.core.hooks import hook_of, resolve_gates

    job = next((m for m in tree.manifests if hook_of(m) is not None), None)
    if job is None:
        return None
    gated = resolve_gates(job, tree.manifests)[0]
    td = next((m for m in tree.manifests if m.kind == "TaskDefinition"
               and m.name == job.spec.get("taskDefinition")), None)
    if td is None or not gated:
        return None
    app = td.spec["containerDefinitions"][0]
    app["image"] = str(app["image"]).rsplit(":", 1)[0] + ":next"
    overrides = job.spec.setdefault("overrides", {}).setdefault("containerOverrides", [{}])
    overrides[0].setdefault("environment", []).append(
        {"name": "RECONCILER_SIMULATE_EXIT", "value": "1"})
    return str(job.key), str(gated[0])


def print_pass(report: object) -> None:
    """What a controller pass did, for people watching the local default."""
    from reconciler.controller.loop import PassReport

    assert isinstance(report, PassReport)
    if report.invalid:
        click.echo(f"  revision {str(report.revision)[:12]} is invalid: nothing applied")
    for o in report.applied.outcomes if report.applied else []:
        click.echo(f"  {o.change.key}: {o.result}{(': ' + o.error) if o.error else ''}")
    for key in report.drifted:
        healed = "healed" if key in report.healed else "reported, not healed"
        click.echo(f"  drift on {key}: {healed}")


def run_demo(root: Path, watch: bool = True) -> int:
    from reconciler.aws import Aws
    from reconciler.cli.common import known_region
    from reconciler.cli.diff import explain
    from reconciler.core.format import plan_text
    from reconciler.core.manifest import ResourceKey
    from reconciler.core.policy import Trigger
    from reconciler.embedded import local_default
    from reconciler.embedded.clock import local_speed
    from reconciler.embedded.server import DEFAULT_REGION
    from reconciler.kinds import load_tree
    from reconciler.sync.run import Options, PassResult, run

    colour = "NO_COLOR" not in os.environ
    root = root.resolve()
    tree = load_tree(root, region=known_region(None) or DEFAULT_REGION)
    if not tree.ok:
        for e in tree.errors:
            click.echo(str(e), err=True)
        return 1

    def show(result: PassResult) -> None:
        click.echo(plan_text(result.plan, colour, result.verdicts))

    def hook(key: ResourceKey, text: str) -> None:
        click.echo(f"  {key}: {text}")

    async def step(apply: bool, tree: Tree | None = None, why: bool = False) -> PassResult:
        result = await run(tree or load_tree(root, region=aws.region), aws, Options(
            apply=apply, trigger=Trigger.MANUAL if apply else Trigger.AUTOMATED,
            on_plan=None if why else show, on_hook=hook))
        if why:
            click.echo(plan_text(result.plan, colour, result.verdicts,
                                 await explain(result, aws)))
        for o in result.applied.outcomes if result.applied else []:
            error = ("\n    ".join(o.error.splitlines())) if o.error else ""
            click.echo(f"  {o.change.key}: {o.result}{(': ' + error) if error else ''}")
        for key, v in (result.applied.held.items() if result.applied else []):
            click.echo(f"  {key}: held: {v.reason}")
        return result

    local_speed()

    with local_default([m.spec for m in tree.manifests]) as server:
        click.echo(f"Embedded AWS (moto) at {server.url}; manifests from {root}")
        queue = server.event_queue()
        aws = Aws()

        async def failing() -> None:
            tree = load_tree(root, region=aws.region)
            concerned = failing_release(tree)
            if concerned is None:
                return
            hook, service = concerned
            _heading(f"A release whose migration fails: {service} stays where it is")
            click.echo(f"  (not committed: a new image, and {hook} exits 1 on the embedded "
                       "default through RECONCILER_SIMULATE_EXIT=1)")
            await step(apply=True, tree=tree)
            _heading("reconciler diff: held until git changes the release, or "
                     "`apply --rerun-hooks`")
            await step(apply=False, tree=tree)

        async def story() -> int:
            _heading("reconciler diff (nothing exists yet)")
            await step(apply=False)
            _heading("reconciler apply: the migration first, then the service")
            await step(apply=True)
            _heading("reconciler diff again: nothing left to do")
            await step(apply=False)
            await _rollout(aws, root)
            svc = next((m for m in tree.manifests if m.kind == "Service"), None)
            if svc is None:
                await failing()
                return 0
            _heading("Someone edits AWS by hand")
            exec_on = bool(svc.spec.get("enableExecuteCommand", False))
            click.echo("  $ " + _hand_edit(svc.cluster, svc.name, exec_on))
            _heading("reconciler diff --why: the drift, only the drift, and who made it")
            drift = await step(apply=False, why=True)
            await _nightly(aws, server, root)
            if watch:
                _heading("Self-heal: apply puts it back")
                await step(apply=True)
            await failing()
            if watch:
                click.echo("  (git still says the old release: the controller registers its "
                           "task definition again; its migration passed, so it does not run)")
                await _watch(aws, root, queue, (svc.cluster, svc.name, exec_on))
            return 0 if drift.plan.pending else 1

        try:
            return asyncio.run(story())
        except KeyboardInterrupt:
            return 0


def _sink() -> Sink:
    """Slack when configured, else alerts printed with the story."""
    from reconciler.edges.slack import TerminalSink, sink_from_environment

    sink = sink_from_environment(dict(os.environ))
    if isinstance(sink, TerminalSink):
        return TerminalSink(lambda text: click.echo("  " + text.replace("\n", "\n    ")))
    return sink


class _Timed:
    """A sink that says how long after the hand edit each alert left."""

    def __init__(self, sink: Any) -> None:
        self.sink, self.since = sink, 0.0

    async def send(self, alert: Any) -> None:
        await self.sink.send(alert)
        if self.since:
            click.echo(f"  (alerted {time.monotonic() - self.since:.1f} s after the hand edit)")


async def _rollout(aws: object, root: Path) -> None:
    """A new image of the first service that shifts traffic, followed to its end as
    `reconciler apply --wait` does; then git's image again (skipped ahead)."""
    from reconciler.aws import Aws
    from reconciler.cli.rollout import follow
    from reconciler.core.manifest import ResourceKey
    from reconciler.embedded.clock import CLOCK, SPEED_ENV
    from reconciler.kinds import load_tree
    from reconciler.sync.run import Options, run

    assert isinstance(aws, Aws)
    tree = load_tree(root, region=aws.region)
    svc = next((m for m in tree.manifests if m.kind == "Service" and (
        m.spec.get("deploymentConfiguration") or {}).get("strategy", "ROLLING") != "ROLLING"),
        None)
    td = next((m for m in tree.manifests if svc is not None and m.kind == "TaskDefinition"
               and m.name == svc.spec.get("taskDefinition")), None)
    if svc is None or td is None:
        return
    app = td.spec["containerDefinitions"][0]
    image = f"{str(app['image']).rsplit(':', 1)[0]}:next"
    strategy = svc.spec["deploymentConfiguration"]["strategy"]
    _heading(f"A new image for {svc.name}: ECS rolls it out ({strategy}), followed to its end")
    click.echo(f"  ({td.name} image {app['image']} -> {image}; embedded time runs "
               f"{ROLLOUT_SPEED:g}x while it moves)")
    app["image"] = image
    fast = SPEED_ENV not in os.environ
    if fast:
        CLOCK.set_speed(ROLLOUT_SPEED)
    await run(tree, aws, Options(apply=True, revision="demo-next-image"))
    key = ResourceKey("Service", svc.name, svc.cluster)
    outcome = await follow(aws, [key], timeout=3600, interval=0.5,
                           echo=lambda line: click.echo(f"  {line}"))
    _heading(f"Back to git's image for {svc.name} (its rollout skipped ahead)")
    await run(load_tree(root, region=aws.region), aws, Options(apply=True))
    CLOCK.advance(3600)
    if fast:
        CLOCK.set_speed(1.0)
    if not outcome.ok:
        click.echo("  the rollout did not succeed", err=True)


async def _nightly(aws: object, server: object, root: Path) -> None:
    """A night without Fargate Spot capacity, on the embedded clock: the watched nightly
    batch misses its run, is alerted, re-run on Fargate, and recovers."""
    from datetime import UTC, timedelta

    from reconciler.aws import Aws
    from reconciler.cli.runs import history, text
    from reconciler.controller.loop import Controller, PassReport, Settings
    from reconciler.controller.watchdog import Watchdog
    from reconciler.core.policy import Trigger
    from reconciler.core.runs import anchor_of, format_duration
    from reconciler.edges.git import LocalSource
    from reconciler.edges.slack import Notifier
    from reconciler.embedded import EmbeddedAws
    from reconciler.embedded.clock import CLOCK
    from reconciler.embedded.patches import tasks
    from reconciler.kinds import load_tree
    from reconciler.sync.run import Options, run

    assert isinstance(aws, Aws) and isinstance(server, EmbeddedAws)
    dog = Watchdog(clock=CLOCK.now)
    controller = Controller(LocalSource(root), aws, Notifier(_sink()), Settings(
        resync_interval=3600, fetch_interval=3600), extensions=[dog])
    # the watchdog sees what a pass sees (a read, nothing applied: the drift is the story above)
    seen = await run(load_tree(root, region=aws.region), aws, Options(trigger=Trigger.AUTOMATED))
    dog.after_pass(controller, PassReport(None, "demo", result=seen))
    await dog.check(controller)
    nightly = next((w for w in dog.watched.values() if w.watch.retries and "FARGATE_SPOT" in str(
        w.ecs.get("CapacityProviderStrategy"))), None)
    schedule = nightly.schedule() if nightly else None
    if nightly is None or schedule is None or server.scheduler is None:
        return
    _heading(f"A night without Fargate Spot capacity: {nightly.name} ({nightly.expression}), "
             f"watched with {nightly.watch.retries} retries on {nightly.watch.fallback}")
    fire = schedule.next_after(CLOCK.now(), anchor=anchor_of(schedule, [], CLOCK.now(),
                                                             CLOCK.now()))
    if fire is None:
        return
    notifier = asyncio.create_task(controller.notifier.run())
    tasks.unavailable("FARGATE_SPOT")
    try:
        CLOCK.advance((fire - CLOCK.now()).total_seconds() + 1)
        for f in server.scheduler.tick():
            if f.rule == nightly.name:
                said = f.failures[0] if f.failures else f"task {f.tasks[0]}" if f.tasks else f.error
                click.echo(f"  {fire.astimezone(UTC):%Y-%m-%d %H:%M} UTC (embedded clock): "
                           f"EventBridge runs {f.rule}: {said}")
        click.echo(f"  ... {format_duration(nightly.watch.tolerance)} later (its tolerance), the "
                   "watchdog looks:")
        CLOCK.advance((nightly.watch.tolerance + timedelta(seconds=30)).total_seconds())
        server.scheduler.tick()
        await dog.check(controller)
        await controller.notifier.flush()
        click.echo("  ... a minute later, the run on Fargate has finished:")
        CLOCK.advance(60)
        await dog.check(controller)
        await controller.notifier.flush()
    finally:
        tasks.unavailable()
        notifier.cancel()
    click.echo(f"  $ reconciler runs {nightly.name} --since 2h")
    found = await history(root, nightly.name, timedelta(hours=2), CLOCK.now(), aws)
    click.echo("  " + text(found).replace("\n", "\n  "))


async def _watch(aws: object, root: Path, queue: str,
                 edit: tuple[str | None, str, bool] | None = None) -> None:
    """The controller itself, on the local directory and AWS's events: a hand edit is
    alerted within seconds with who made it; saves converge; scheduled runs are watched on
    the embedded clock."""
    from reconciler.aws import Aws
    from reconciler.controller.events import EventSource
    from reconciler.controller.hooks import HooksExtension
    from reconciler.controller.loop import Controller, Settings
    from reconciler.controller.rollouts import Rollouts
    from reconciler.controller.watchdog import Watchdog
    from reconciler.edges.git import LocalSource
    from reconciler.edges.slack import Notifier
    from reconciler.embedded.clock import CLOCK

    assert isinstance(aws, Aws)
    _heading(f"Controller watching {root} and AWS's events on {queue} (edit and save a "
             "manifest; Ctrl-C to stop)")
    settings = Settings(resync_interval=RESYNC_SECONDS, fetch_interval=3600)
    sink = _Timed(_sink())
    events = EventSource(queue, flowing_resync=None)
    controller = Controller(LocalSource(root), aws, Notifier(sink), settings,
                            on_pass=print_pass,
                            extensions=[HooksExtension(settings.hook_poll),
                                        Watchdog(clock=CLOCK.now), events,
                                        Rollouts(interval=2.0)])
    running = asyncio.create_task(controller.run(install_signals=True))
    if edit is not None:
        while not controller.synced and not running.done():
            await asyncio.sleep(0.05)
        _heading("Someone edits AWS by hand again; the controller hears of it from AWS")
        sink.since = time.monotonic()
        click.echo("  $ " + await asyncio.to_thread(_hand_edit, *edit))
    await running


@click.command()
@click.argument("path", required=False, default=DEFAULT_PATH, type=click.Path(path_type=Path))
@click.option("--no-watch", is_flag=True, help="Stop after showing the drift.")
def demo(path: Path, no_watch: bool) -> None:
    """Run on the embedded default: a local moto server and the example manifests."""
    sys.exit(run_demo(path, watch=not no_watch))
