"""`reconciler rollout status|wait [PATH]`: the rollouts of the services the last apply
changed (or of the ones named with `--service`), for CI pipelines and people, as
`kubectl rollout status` and `argocd app wait --health` do for Kubernetes.

Which services "the last apply" changed is read from AWS alone, so any machine can ask: every
create or update `apply` makes tags the service with `reconciler:revision`, the git revision
it applied (PATH's HEAD, or `apply --revision`). The services of PATH whose tag is that
revision (PATH's HEAD, or `--revision`) are the ones it changed; outside git, every service
of PATH. Each one's current ECS service deployment is then followed to its end.

Exit codes: 0 every rollout succeeded (or none was changed); 1 one rolled back, failed or
stopped, a service is missing, or `wait` timed out, with why; `status` only: 2 still moving.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reconciler.cli.common import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    aws_options,
    fail,
    load_or_exit,
    make_aws,
    path_argument,
    run_async,
)

if TYPE_CHECKING:
    from reconciler.core.manifest import ResourceKey
    from reconciler.core.ports import AwsApi
    from reconciler.kinds._rollout import Rollout

DEFAULT_TIMEOUT = "30m"
DEFAULT_INTERVAL = 5.0
# Looks during which a service just updated may still show its deployment from before the
# update (AWS's describe lags the write by a moment).
STALE_LOOKS = 3
pause = asyncio.sleep  # between looks (tests move the embedded clock instead)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h)?\s*$")


def seconds(text: str) -> float:
    """`90`, `90s`, `10m`, `1h` -> seconds."""
    m = _DURATION.match(text)
    if not m:
        raise click.BadParameter(f"{text!r} is not a duration like 90s, 10m or 1h")
    return float(m.group(1)) * {"s": 1, "m": 60, "h": 3600}[m.group(2) or "s"]


@dataclass
class Outcome:
    """Where each followed service ended up."""

    rollouts: dict[ResourceKey, Rollout | None] = field(default_factory=dict)
    missing: list[ResourceKey] = field(default_factory=list)
    timed_out: bool = False

    @property
    def moving(self) -> list[Rollout]:
        return [r for r in self.rollouts.values() if r is not None and not r.done]

    @property
    def bad(self) -> list[Rollout]:
        return [r for r in self.rollouts.values() if r is not None and r.done and not r.ok]

    @property
    def ok(self) -> bool:
        return not (self.missing or self.moving or self.bad)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "timedOut": self.timed_out,
                "missing": [str(k) for k in self.missing],
                "rollouts": [r.to_json() for r in self.rollouts.values() if r is not None]}


async def follow(aws: AwsApi, keys: Sequence[ResourceKey], *, timeout: float | None,
                 interval: float | None = None, echo: Callable[[str], Any] = click.echo,
                 before: Mapping[ResourceKey, str] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] | None = None) -> Outcome:
    """Read these services' rollouts until all have ended (`timeout` None: look once),
    telling each move on one line. `before`: the deployment each had before a write just
    made, not taken for the new one's end."""
    from reconciler.kinds import REGISTRY
    from reconciler.kinds.service import Service

    kind = REGISTRY["Service"]
    assert isinstance(kind, Service)
    deadline = None if timeout is None else clock() + timeout
    said: dict[ResourceKey, str] = {}
    looks = 0
    while True:
        looks += 1
        found = await kind.rollouts(aws, keys)
        out = Outcome()
        for key in keys:
            if key not in found:
                out.missing.append(key)
                continue
            rollout = found[key]
            if rollout is not None and before and before.get(key) == rollout.arn and (
                    looks <= STALE_LOOKS and timeout is not None):
                rollout = None  # the new deployment is not visible yet
            out.rollouts[key] = rollout
            line = rollout.summary if rollout else "waiting for its deployment"
            if said.get(key) != line:
                said[key] = line
                echo(f"{key}: {line}")
        settled = all(r is not None and r.done for r in out.rollouts.values())
        if deadline is None or settled or out.missing:
            return out
        if clock() >= deadline:
            out.timed_out = True
            return out
        await (sleep or pause)(DEFAULT_INTERVAL if interval is None else interval)


def report(outcome: Outcome, timeout: float | None, echo: Callable[..., Any] = click.echo
           ) -> None:
    """The verdict, on stderr: what failed and why, or that all succeeded."""
    for key in outcome.missing:
        echo(f"error: {key} is not in AWS", err=True)
    for r in outcome.bad:
        echo(f"error: {r.key} {r.phase}: {r.cause or r.status}", err=True)
    if outcome.timed_out:
        names = ", ".join(str(r.key) for r in outcome.moving)
        echo(f"error: timed out after {timeout:g}s waiting for {names}", err=True)
    elif outcome.moving:
        echo(f"{len(outcome.moving)} rollout(s) still moving.", err=True)
    elif outcome.ok and outcome.rollouts:
        echo(f"{len(outcome.rollouts)} rollout(s) succeeded.", err=True)


def _named(services: Sequence[str], in_tree: Sequence[ResourceKey]) -> list[ResourceKey]:
    from reconciler.core.manifest import ResourceKey

    keys = []
    for text in services:
        cluster, _, name = text.rpartition("/")
        matches = [k for k in in_tree if k.name == name and (not cluster or k.cluster == cluster)]
        if len(matches) == 1:
            keys.append(matches[0])
        elif cluster:
            keys.append(ResourceKey("Service", name, cluster))
        else:
            fail(f"--service {text}: {'several' if matches else 'no'} Service manifests named "
                 f"{name}; write CLUSTER/NAME")
    return keys


async def _changed_by(aws: AwsApi, keys: Sequence[ResourceKey], revision: str | None
                      ) -> list[ResourceKey]:
    """The services whose last write by apply was `revision` (all of them without one)."""
    if revision is None:
        return list(keys)
    from reconciler.kinds import REGISTRY
    from reconciler.kinds.service import Service

    kind = REGISTRY["Service"]
    assert isinstance(kind, Service)
    found = await kind.rollouts(aws, keys)
    return [k for k in keys if (r := found.get(k)) is not None and r.git_revision == revision]


def _run(path: Path, services: tuple[str, ...], revision: str | None, output: str,
         timeout: float | None, interval: float, aws: Any) -> None:
    from reconciler.edges.git import revision_of

    tree = load_or_exit(path, output, aws.region)
    in_tree = [m.key for m in tree.manifests if m.kind == "Service"]
    text = output == "text"

    async def go() -> tuple[list[ResourceKey], Outcome]:
        if services:
            keys = _named(services, in_tree)
        else:
            keys = await _changed_by(aws, in_tree, revision or revision_of(path))
        outcome = await follow(aws, keys, timeout=timeout, interval=interval,
                               echo=click.echo if text else (lambda _s: None))
        return keys, outcome

    try:
        keys, outcome = run_async(go())
    except Exception as exc:
        fail(str(exc))
    if output == "json":
        click.echo(json.dumps(outcome.to_json(), indent=2, default=str))
    elif not keys:
        rev = revision or revision_of(path)
        click.echo(f"No service of {path} was changed by revision {rev}: nothing rolls out.")
    report(outcome, timeout)
    if outcome.ok:
        sys.exit(EXIT_OK)
    if timeout is None and outcome.moving and not (outcome.bad or outcome.missing):
        sys.exit(EXIT_CHANGES)
    sys.exit(EXIT_ERROR)


service_option = click.option(
    "--service", "services", multiple=True, metavar="[CLUSTER/]NAME",
    help="Follow this service (repeatable) instead of those the last apply changed.")
revision_option = click.option(
    "--revision", default=None,
    help="The git revision the last apply recorded (default: HEAD of PATH's repository).")
output_option = click.option("--output", "-o", type=click.Choice(["text", "json"]),
                             default="text", show_default=True,
                             help="One line per move of each rollout, or JSON.")
interval_option = click.option("--interval", type=float, default=DEFAULT_INTERVAL,
                               show_default=True, help="Seconds between looks at AWS.")


@click.group()
def rollout() -> None:
    """Follow the rollouts of the services the last apply changed."""


@rollout.command()
@path_argument
@service_option
@revision_option
@output_option
@aws_options
def status(path: Path, services: tuple[str, ...], revision: str | None, output: str,
           profile: str | None, region: str | None, endpoint_url: str | None,
           parallelism: int) -> None:
    """Where each rollout is now. Exit 0 all succeeded, 1 one failed, 2 still moving."""
    _run(path, services, revision, output, None, DEFAULT_INTERVAL,
         make_aws(profile, region, endpoint_url, parallelism))


@rollout.command()
@path_argument
@service_option
@revision_option
@output_option
@click.option("--timeout", default=DEFAULT_TIMEOUT, show_default=True,
              help="Give up after this long (90s, 10m, 1h): exit 1.")
@interval_option
@aws_options
def wait(path: Path, services: tuple[str, ...], revision: str | None, output: str,
         timeout: str, interval: float, profile: str | None, region: str | None,
         endpoint_url: str | None, parallelism: int) -> None:
    """Wait until every rollout has ended. Exit 0 all succeeded, 1 any rolled back or failed
    (or the timeout)."""
    _run(path, services, revision, output, seconds(timeout), interval,
         make_aws(profile, region, endpoint_url, parallelism))


__all__ = ["Outcome", "follow", "report", "rollout", "seconds"]
