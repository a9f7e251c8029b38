"""The registry of resource kinds: adding a kind is a module and one line here."""

from __future__ import annotations

from reconciler.kinds.base import Context, Kind, Live, Refs
from reconciler.kinds.cluster import Cluster
from reconciler.kinds.scalable_target import ScalableTarget
from reconciler.kinds.scheduled_task import ScheduledTask
from reconciler.kinds.service import Service
from reconciler.kinds.spot_fleet import SpotFleet
from reconciler.kinds.task_definition import TaskDefinition

REGISTRY: dict[str, Kind] = {k.kind: k for k in (
    Cluster(), TaskDefinition(), SpotFleet(), Service(), ScheduledTask(), ScalableTarget(),
)}


def ordered() -> list[Kind]:
    """Kinds in the order they are created and updated (deleted in reverse)."""
    return sorted(REGISTRY.values(), key=lambda k: k.order)


__all__ = ["REGISTRY", "Context", "Kind", "Live", "Refs", "ordered"]
