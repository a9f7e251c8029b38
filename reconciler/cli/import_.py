"""`reconciler import --cluster NAME`: turn a live cluster into manifests, minimal as a
person writes them. Each kind finds what belongs with the cluster (`discover`) and says
what a person would write for it (`to_manifest`); `core.minimize` leaves out what AWS
filled in. No kind is named here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import yaml

from reconciler.cli.common import aws_options, fail, make_aws, run_async
from reconciler.core.kind import Context, Kind, Live, Registry
from reconciler.core.manifest import API_VERSION, Manifest
from reconciler.core.mask import credential_names
from reconciler.core.minimize import minimize
from reconciler.core.ports import AwsApi
from reconciler.core.vocab import Action

CLUSTER = "Cluster"


@dataclass
class Imported:
    documents: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (file, doc)
    # (file, where) of every credential-looking value written in the clear
    credentials: list[tuple[str, str]] = field(default_factory=list)

    def add(self, file: str, kind: str, name: str, spec: dict[str, Any],
            cluster: str | None = None) -> None:
        metadata: dict[str, Any] = {"name": name}
        if cluster:
            metadata["cluster"] = cluster
        self.documents.append((file, {"apiVersion": API_VERSION, "kind": kind,
                                      "metadata": metadata, "spec": spec}))

    def write(self, out: Path) -> list[Path]:
        written = []
        for file, doc in self.documents:
            path = out / file
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(yaml.safe_dump(doc, sort_keys=False, width=100))
            written.append(path)
        return written


def _import_order(registry: Registry) -> list[Kind]:
    """Kinds after the kinds whose discoveries they need (then by creation order)."""
    done: list[Kind] = []
    pending = sorted(registry.values(), key=lambda k: k.order)
    while pending:
        ready = [k for k in pending if all(a in {d.kind for d in done} or a not in registry
                                           for a in k.import_after)]
        if not ready:
            raise ValueError(f"import_after has a cycle among {[k.kind for k in pending]}")
        done.append(ready[0])
        pending.remove(ready[0])
    return done


async def import_cluster(aws: AwsApi, cluster: str, registry: Registry) -> Imported:
    """Read a cluster and what belongs with it; return minimal manifests for them."""
    ctx = Context(owner="(import)")
    ctx.account, ctx.region, ctx.partition = await aws.account_id(), aws.region, aws.partition
    kind = registry[CLUSTER]
    found_cluster = await kind.fetch(aws, [Manifest(CLUSTER, cluster, {}, "(import)", 1)], ctx, {})
    live_cluster = next(iter(found_cluster.values()), None)
    if live_cluster is None:
        raise LookupError(f"cluster {cluster!r} not found")
    found: dict[str, Sequence[Live]] = {}
    for k in _import_order(registry):
        found[k.kind] = await k.discover(aws, live_cluster, found, ctx)
    names = {live.arn: live.key.name for lives in found.values() for live in lives}
    out = Imported()
    for k in sorted(registry.values(), key=lambda k: k.order):
        for live in found.get(k.kind, ()):
            name, where, spec = k.to_manifest(live, names)
            published = k.published(Action.NOOP, live)
            if published:
                ctx.refs[live.key] = published
            file = f"{k.import_folder}/{name}.yaml"
            minimal = minimize(k, name, spec, where, ctx)
            out.add(file, k.kind, name, minimal, where)
            out.credentials.extend((file, place) for place in credential_names(minimal))
    return out


__all__ = ["Imported", "import_cluster"]


@click.command(name="import")
@click.option("--cluster", required=True, help="The live cluster to import.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Where to write the manifests (default: imported/CLUSTER).")
@click.option("--force", is_flag=True, help="Write into a folder that is not empty.")
@aws_options
def import_(cluster: str, out_dir: Path | None, force: bool, profile: str | None,
            region: str | None, endpoint_url: str | None, parallelism: int) -> None:
    """Write minimal manifests for a live cluster: its services and their task definitions,
    the schedules that target it and their scalable targets."""
    from reconciler.kinds import REGISTRY

    out_dir = out_dir or Path("imported") / cluster
    if out_dir.exists() and any(out_dir.iterdir()) and not force:
        raise click.UsageError(f"{out_dir} is not empty (use --force)")
    try:
        imported = run_async(import_cluster(make_aws(profile, region, endpoint_url, parallelism),
                                            cluster, REGISTRY))
    except LookupError as exc:
        fail(str(exc))
    for path in imported.write(out_dir):
        click.echo(str(path))
    for file, where in imported.credentials:
        click.echo(f"warning: {out_dir / file}: {where} holds a credential in the clear; "
                   "move it to Secrets Manager or SSM and name it under the container's "
                   "`secrets` (name + valueFrom) instead of `environment`", err=True)
    click.echo(f"{len(imported.documents)} manifest(s) written to {out_dir}; "
               f"`reconciler diff {out_dir}` shows them in sync and `apply` adopts them.")
