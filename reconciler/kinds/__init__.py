"""The resource kinds: one module per kind, each implementing the Protocols of
`reconciler.core.kind` (Spec, Reader, Writer, HealthCheck) and importing only the core.
Adding a kind is its module and one line in `REGISTRY` below.
"""

from __future__ import annotations

from pathlib import Path

from reconciler.core import load
from reconciler.core.kind import Kind
from reconciler.kinds.cluster import Cluster
from reconciler.kinds.job import Job
from reconciler.kinds.scalable_target import ScalableTarget
from reconciler.kinds.scheduled_task import ScheduledTask
from reconciler.kinds.service import Service
from reconciler.kinds.spot_fleet import SpotFleet
from reconciler.kinds.task_definition import TaskDefinition

REGISTRY: dict[str, Kind] = {k.kind: k for k in (
    Cluster(),
    TaskDefinition(),
    SpotFleet(),
    Job(),
    Service(),
    ScheduledTask(),
    ScalableTarget(),
)}


def load_tree(root: Path, boundary: Path | None = None, region: str | None = None) -> load.Tree:
    """Load and validate the manifests under `root` with every registered kind (reading
    nothing outside `boundary`, by default the repository holding `root`; charts see
    `region` as `aws.region`)."""
    return load.load_tree(root, REGISTRY, boundary, {"region": region} if region else None)


__all__ = ["REGISTRY", "load_tree"]
